// Benchmark of driver-nvme (`pnpm bench`): the seed's table in shape. The same 4 KiB random-read workload
// (QD 32) runs with per-I/O DMA mapping (READ_FIXED on an ordinary registered buffer: pinned once, mapped
// and unmapped by nvme-pci per I/O) and with a registered dma-buf (READ_FIXED on a long-term map), in each
// IOMMU mode (strict, lazy, passthrough). It reports the IOMMU operations per I/O measured in the model,
// the IOPS the cost model (bench/cost-model.mjs) gives for them, and the model's own wall time per I/O
// beside an anchor measured in the same run (passthrough, per-I/O mapping) as a ratio.
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { Kernel, O_CLOEXEC, O_RDWR, buildTopology, dmaBufFd, iommuDmaStats } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import { IoUring, O_DIRECT, userAlloc } from "@dmabuf-sdk/io-uring";
import { nvmeHwAttach, nvmeModule, nvmeProbe, nvmeRemove } from "@dmabuf-sdk/driver-nvme";
import { COST, SEED, iommuNsPerIo, iops } from "./cost-model.mjs";

const QD = 32;
const IOS = 8192;
const BUF = 1 << 20;
const OPS = ["iovaAlloc", "iovaFree", "map", "unmap", "iotlbSync", "fqEnqueue", "iotlbFlushAll", "dmaSync"];

function machine(mode) {
  const k = new Kernel(mode === "passthrough" ? { iommu: "identity" } : { iommu: "dma", iommuStrict: mode === "strict" });
  k.trace.enabled = false;
  k.faults.recordLimit = 0;
  const t = buildTopology(k, "cross-root");
  k.modprobe(nvmeModule);
  nvmeHwAttach(t.importerSlot, { namespaces: [{ size: 256n << 20n }], latencyNs: 1000 });
  const dev = nvmeProbe(k, t.importerSlot, { ioQueueDepth: 256 });
  const task = k.fork({ comm: "fio" });
  return { k, t, dev, task };
}

function workload(mode, kind) {
  const { k, t, dev, task } = machine(mode);
  const ring = new IoUring(task, 64);
  const blk = task.sys.open(`/dev/nvme${dev.instance}n1`, O_RDWR | O_DIRECT);
  let base = 0n;
  let dmabuf; // its pages go with the last reference: the fd (closed after registration) and the registration
  if (kind === "dmabuf") {
    dmabuf = compatExporterAlloc(k, k.modules.vmlinux, BigInt(BUF));
    const fd = k.runAs(task, () => dmaBufFd(dmabuf, O_CLOEXEC));
    ring.registerBuffersSparse(1);
    if (ring.registerDmabuf(0, fd, blk) !== 1) throw new Error("register dma-buf");
    task.sys.close(fd);
  } else {
    base = userAlloc(task, BUF);
    if (ring.registerBuffers([[base, BigInt(BUF)]]) !== 0) throw new Error("register buffer");
  }
  let seed = 12345;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  const submit = (n) => {
    for (let i = 0; i < n; i++) ring.queueFixed(false, blk, base + BigInt(rnd(BUF / 4096) * 4096), 4096, BigInt(rnd(65536) * 4096), 0, 0n);
  };
  // Warm-up: the dma-buf path maps on its first I/O; pools and caches fill.
  submit(QD);
  ring.run(QD);
  k.clock.advance(20e6);
  const pdev = t.importerSlot;
  const s0 = { ...iommuDmaStats(pdev) };
  const t0 = performance.now();
  let done = 0;
  submit(QD);
  ring.submit();
  while (done < IOS) {
    const cqes = ring.waitCqes(1);
    for (const c of cqes) if (c.res !== 4096) throw new Error(`I/O failed: ${c.res}`);
    done += cqes.length;
    const more = Math.min(cqes.length, IOS - done);
    if (more > 0) {
      submit(more);
      ring.submit();
    }
  }
  const wall = (performance.now() - t0) / IOS;
  // Drain the lazy flush queue so its IOVA frees are counted against the I/Os that queued them.
  k.clock.advance(20e6);
  const s1 = { ...iommuDmaStats(pdev) };
  const ops = Object.fromEntries(OPS.map((o) => [o, (s1[o] - s0[o]) / IOS]));
  ring.close();
  task.sys.close(blk);
  if (kind !== "dmabuf") task.sys.munmap(base, BUF);
  k.clock.advance(100e6);
  nvmeRemove(dev);
  k.exitTask(task, 0);
  k.clock.advance(100e6);
  if (!k.leakReport().empty) throw new Error(k.leakReport().text());
  return { ops, wallNsPerIo: wall * 1e6 };
}

const rows = [];
for (const mode of ["strict", "lazy", "passthrough"]) {
  for (const kind of ["per-io", "dmabuf"]) {
    const best = [];
    let ops;
    for (let r = 0; r < 3; r++) {
      const w = workload(mode, kind);
      ops = w.ops;
      best.push(w.wallNsPerIo);
    }
    rows.push({ mode, kind, ops, wallNsPerIo: Math.min(...best), iops: iops(ops), iommuNs: iommuNsPerIo(ops) });
  }
}
const anchor = rows.find((r) => r.mode === "passthrough" && r.kind === "per-io").wallNsPerIo;
const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} K`);
console.log("4 KiB random reads, QD 32, 8192 I/Os per run; ops per I/O measured in the model, IOPS from bench/cost-model.mjs");
console.log(`${"mode".padEnd(12)}${"path".padEnd(8)}${"IOVA a/f".padStart(10)}${"map/unmap".padStart(11)}${"sync inv".padStart(9)}${"FQ".padStart(6)}${"flushAll".padStart(9)}${"dmaSync".padStart(8)}${"IOPS".padStart(9)}${"seed".padStart(9)}${"model ns/IO".padStart(13)}${"× anchor".padStart(10)}`);
for (const r of rows) {
  const o = r.ops;
  const seed = SEED[r.mode][r.kind === "dmabuf" ? "after" : "before"];
  console.log(
    `${r.mode.padEnd(12)}${r.kind.padEnd(8)}${`${o.iovaAlloc.toFixed(2)}/${o.iovaFree.toFixed(2)}`.padStart(10)}${`${o.map.toFixed(2)}/${o.unmap.toFixed(2)}`.padStart(11)}${o.iotlbSync.toFixed(2).padStart(9)}${o.fqEnqueue.toFixed(2).padStart(6)}${o.iotlbFlushAll.toFixed(4).padStart(9)}${o.dmaSync.toFixed(2).padStart(8)}${fmt(r.iops).padStart(9)}${fmt(seed).padStart(9)}${r.wallNsPerIo.toFixed(0).padStart(13)}${(r.wallNsPerIo / anchor).toFixed(2).padStart(10)}`,
  );
}
const gains = {};
for (const mode of ["strict", "lazy", "passthrough"]) {
  const b = rows.find((r) => r.mode === mode && r.kind === "per-io").iops;
  const a = rows.find((r) => r.mode === mode && r.kind === "dmabuf").iops;
  gains[mode] = a / b;
  console.log(`gain ${mode.padEnd(12)} ${(a / b).toFixed(2)}×   (seed ${(SEED[mode].after / SEED[mode].before).toFixed(2)}×)`);
}
console.log(`anchor: passthrough per-I/O mapping, ${anchor.toFixed(0)} ns of model wall time per I/O`);
console.log(`cost model: ${Object.entries(COST).map(([key, v]) => `${key}=${v.toFixed(1)}ns`).join(" ")}`);
console.log(`machine: ${cpus().length} CPU(s), load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
writeFileSync(
  new URL("./results.json", import.meta.url),
  JSON.stringify({ node: process.version, date: new Date().toISOString(), loadavg: loadavg(), cost: COST, rows, gains, anchorNsPerIo: anchor }, null, 2) + "\n",
);
