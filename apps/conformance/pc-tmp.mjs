const core = await import("@dmabuf-sdk/dmabuf-core");
const { loadFixtures, defaultRequests } = await import("./dist/index.js");
const set = await loadFixtures(defaultRequests());
const [expName, impName, topo, mode] = process.argv.slice(2);
const ex = set.exporters.find((e) => (e.fixture ?? e).name === expName);
const im = set.importers.find((i) => (i.fixture ?? i).name === impName);
const E = ex.fixture ?? ex, I = im.fixture ?? im;
for (let i = 0; i < 150; i++) {
  if (mode === "k") { const k = new core.Kernel({ ...core.topologyKernelOptions(topo), seed: i }); }
  else if (mode === "topo") { const k = new core.Kernel({ ...core.topologyKernelOptions(topo), seed: i }); core.buildTopology(k, topo, {}); }
  else if (mode === "mods") { const k = new core.Kernel({ ...core.topologyKernelOptions(topo), seed: i }); core.buildTopology(k, topo, {}); for (const m of [...I.modules, ...E.modules]) k.modprobe(m); }
  else if (mode === "boot") { const k = new core.Kernel({ ...core.topologyKernelOptions(topo), seed: i }); core.buildTopology(k, topo, {}); for (const m of [...I.modules, ...E.modules]) k.modprobe(m); k.fork({ comm: "c" }); }
  else core.runPairCase(topo, E, I, i);
}
