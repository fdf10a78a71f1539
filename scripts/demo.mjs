#!/usr/bin/env node
// A first runnable demonstration of dmabuf-core alone (`pnpm demo`; the
// README's first command runs the conformance matrix): the named topologies and their P2P
// routes, a dma-buf negotiated between two mapping types, an importer's DMA
// through the IOMMU, the module loader refusing a restricted symbol, and an
// empty leak report at the end.
import {
  DMA_ATTR_MMIO,
  Kernel,
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  TOPOLOGY_NAMES,
  buildTopology,
  calcMapTypeAndDist,
  dmaBufDebugShow,
  dmaBufDetach,
  dmaBufExport,
  dmaBufFd,
  dmaBufGet,
  dmaBufMappingAttach,
  dmaBufMatchMapping,
  dmaBufPut,
  dmaMapPhys,
  dmaRead,
  dmaUnmapPhys,
  exportSymbolForModules,
  hex,
  p2pdmaMapTypeShort,
  provideSymbol,
  topologyKernelOptions,
} from "@dmabuf-sdk/dmabuf-core";

const line = (s = "") => console.log(s);

line("dmabuf-sdk core demonstration");
line("==============================");
line();
line("P2P route between the exporter and importer slots of each named topology:");
for (const name of TOPOLOGY_NAMES) {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name);
  const p = calcMapTypeAndDist(t.exporterSlot, t.importerSlot);
  line(`  ${name.padEnd(18)} ${t.exporterSlot.name} -> ${t.importerSlot.name}  ${p2pdmaMapTypeShort(p.mapType).padEnd(16)} distance ${p.distance}`);
}

line();
line("A dma-buf offering [FAST, SLOW]; an importer asking for [SLOW, FAST] gets FAST (exporter priority):");
const k = new Kernel(topologyKernelOptions("cross-root"));
const t = buildTopology(k, "cross-root");
const mk = (name) => {
  const type = { name, finishMatch: (args, exp) => args.attach && (args.attach.mapType = { type, expOps: exp.expOps }) };
  return type;
};
const FAST = mk("FAST");
const SLOW = mk("SLOW");
const bar = t.exporterSlot.bars[0];
k.platform.physmem.write(bar.start, new TextEncoder().encode("hello from the exporter's BAR"));
const dmabuf = dmaBufExport(k, {
  owner: k.modules.vmlinux,
  expName: "demo_exporter",
  ops: { release() {}, matchMapping: (args) => dmaBufMatchMapping(args, [{ type: FAST }, { type: SLOW }]) },
  size: 0x1000n,
  flags: O_RDWR,
  priv: { bar },
});
const user = k.fork({ comm: "demo" });
const fd = k.runAs(user, () => dmaBufFd(dmabuf, O_RDWR | O_CLOEXEC));
const got = k.runAs(user, () => dmaBufGet(k, fd));
const attach = dmaBufMappingAttach(got, [{ type: SLOW }, { type: FAST }], { invalidateMappings() {} });
line(`  negotiated: ${attach.mapType.type.name}`);
line(dmaBufDebugShow(k).replace(/^/gm, "  "));

line("The importer (on a different root port) maps the BAR page through its IOMMU and reads it:");
const iova = dmaMapPhys(t.importerSlot, bar.start, 0x1000n, "DMA_TO_DEVICE", DMA_ATTR_MMIO);
line(`  IOVA ${hex(iova)} -> "${new TextDecoder().decode(dmaRead(t.importerSlot, iova, 29))}"`);
dmaUnmapPhys(t.importerSlot, iova, 0x1000n, "DMA_TO_DEVICE", DMA_ATTR_MMIO);
try {
  dmaRead(t.importerSlot, iova, 4);
} catch (e) {
  line(`  after unmap: ${e.message}`);
}
dmaBufDetach(got, attach);
dmaBufPut(got);
user.sys.close(fd);

line();
line('The loader enforces EXPORT_SYMBOL_FOR_MODULES(secret, "iommufd"):');
const decl = exportSymbolForModules("secret_map_phys", "iommufd");
k.loadModule({ name: "map_pal_demo", license: "GPL", exports: [decl], init: (ctx) => provideSymbol(ctx, decl.name, () => 0) });
try {
  k.loadModule({ name: "kvm", license: "GPL", importNs: ["DMA_BUF"], uses: ["secret_map_phys"] });
} catch (e) {
  if (!(e instanceof KernelError)) throw e;
  for (const r of k.printk.records().slice(-2)) line(`  dmesg: ${r.text}`);
  line(`  insmod kvm: ${e.errno}`);
}
line(`  insmod iommufd: ${k.loadModule({ name: "iommufd", license: "GPL", uses: ["secret_map_phys"] }).state}`);

line();
const leaks = k.leakReport();
line(`Leak report: ${leaks.empty ? "empty" : leaks.text()}`);
line(`Lockdep reports: ${k.lockdep.reports().length}`);
