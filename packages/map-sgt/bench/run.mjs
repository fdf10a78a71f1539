// Benchmarks of map-sgt (`pnpm bench`): phys_vec -> SGT fill rates and entry size.
import { writeFileSync } from "node:fs";
import {
  Kernel,
  buildTopology,
  dmaBufDetach,
  dmaBufExport,
  dmaBufMappingAttach,
  dmaBufMatchMapping,
  dmaBufPut,
  dmaResvLock,
  dmaResvUnlock,
  pcimP2pdmaInit,
  pcimP2pdmaProvider,
  topologyKernelOptions,
  O_RDWR,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufEmappingSgtP2p, dmaBufFreeSgt, dmaBufImappingSgt, dmaBufPhysVecToSgt, dmaBufSgtModule, dmaBufSgtRoute } from "@dmabuf-sdk/map-sgt";

const results = {};
const record = (name, value, unit, target) => {
  results[name] = { value, unit, ...(target ? { target } : {}) };
  console.log(`${name.padEnd(58)} ${value.toLocaleString("en-US", { maximumFractionDigits: 2 }).padStart(14)} ${unit}${target ? `  (target ${target})` : ""}`);
};

function setup(topo, barSize) {
  const k = new Kernel(topologyKernelOptions(topo));
  k.trace.enabled = false;
  k.faults.recordLimit = 0;
  const t = buildTopology(k, topo, { endpointBars: [{ index: 0, size: barSize }] });
  t.importerSlot.dmaMask = (1n << 48n) - 1n;
  k.loadModule(dmaBufSgtModule);
  pcimP2pdmaInit(k.alloc, t.exporterSlot);
  const provider = pcimP2pdmaProvider(t.exporterSlot, 0);
  const ops = { mapDmaBuf: () => null, unmapDmaBuf: () => undefined };
  const d = dmaBufExport(k, { owner: k.modules.vmlinux, ops: { release() {}, matchMapping: (a) => dmaBufMatchMapping(a, [dmaBufEmappingSgtP2p(ops, t.exporterSlot)]) }, size: 4096n, flags: O_RDWR, priv: {} });
  const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, true)], { invalidateMappings() {} });
  return { k, t, provider, d, a };
}

function measure(name, topo, ranges, size, expectRoute, target, perEntry) {
  const { k, t, provider, d, a } = setup(topo, 1n << 37n);
  const bar = t.exporterSlot.bars[0];
  const vec = ranges.map((r) => ({ paddr: bar.start + r.off, len: r.len }));
  let best = Infinity;
  let bytesPerEntry = 0;
  for (let r = 0; r < 5; r++) {
    dmaResvLock(d.resv);
    const t0 = performance.now();
    const sgt = dmaBufPhysVecToSgt(a, provider, vec, vec.length, size, "DMA_BIDIRECTIONAL");
    const ms = performance.now() - t0;
    if (dmaBufSgtRoute(sgt) !== expectRoute) throw new Error(`route ${dmaBufSgtRoute(sgt)}`);
    bytesPerEntry = sgt.storageBytes / sgt.capacity;
    dmaBufFreeSgt(a, sgt, "DMA_BIDIRECTIONAL");
    dmaResvUnlock(d.resv);
    best = Math.min(best, ms);
  }
  record(name, vec.length / (best / 1000), "ranges/s", target);
  if (perEntry) record(`${name}: memory per entry`, bytesPerEntry, "bytes", "<= 16 bytes");
  dmaBufDetach(d, a);
  dmaBufPut(d);
  if (!k.leakReport().empty) throw new Error(k.leakReport().text());
  return best;
}

const N = 1_000_000;
const pages = Array.from({ length: N }, (_, i) => ({ off: BigInt(i) * 8192n, len: 4096n }));
measure("phys_vec_to_sgt: 1,000,000 single-page ranges, BUS_ADDR", "same-switch", pages, BigInt(N) * 4096n, "bus-addr", ">= 30,000,000 ranges/s", true);
measure("phys_vec_to_sgt: 1,000,000 single-page ranges, IOVA", "cross-root", pages, BigInt(N) * 4096n, "iova", ">= 10,000,000 ranges/s", true);
const big = [{ off: 0n, len: 64n << 30n }];
const busMs = measure("phys_vec_to_sgt: one 64 GiB range, BUS_ADDR (16 entries)", "same-switch", big, 64n << 30n, "bus-addr");
record("phys_vec_to_sgt: one 64 GiB range, BUS_ADDR: time", busMs, "ms");
const iovaMs = measure("phys_vec_to_sgt: one 64 GiB range, IOVA (16.7 M IOPTEs)", "cross-root", big, 64n << 30n, "iova");
record("phys_vec_to_sgt: one 64 GiB range, IOVA: time", iovaMs, "ms");

writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2) + "\n");
