// Benchmarks of driver-xe (`pnpm bench`): IOV attach + map + translate of a
// 256 MiB VF buffer in 2 MiB ranges, and the PF GPU's read throughput through
// the translated DPAs against a plain Buffer copy of the same size.
import { writeFileSync } from "node:fs";
import { Kernel, O_RDWR, buildTopology, dmaBufExport, dmaBufMatchMapping, dmaBufPut, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufEmappingIov, dmaBufIovAllocRanges, dmaBufIovFreeRanges, dmaBufMappingIovType } from "@dmabuf-sdk/map-iov";
import { xeBoPut, xeBoValidateUnlocked, xeDeviceOf, xeGemPrimeImport, xeGpuDmaReadInto, xeModule } from "@dmabuf-sdk/driver-xe";

const results = {};
const record = (name, value, unit, target) => {
  results[name] = { value, unit, ...(target ? { target } : {}) };
  console.log(`${name.padEnd(72)} ${value.toLocaleString("en-US", { maximumFractionDigits: 2 }).padStart(12)} ${unit}${target ? `  (target ${target})` : ""}`);
};

const MiB = 1n << 20n;
const SIZE = 256n * MiB;
const RANGE = 2n * MiB;
const NR = Number(SIZE / RANGE);

const kernel = new Kernel(topologyKernelOptions("sriov"));
kernel.trace.enabled = false;
kernel.faults.recordLimit = 0;
const topo = buildTopology(kernel, "sriov");
kernel.modprobe(xeModule);
const pf = xeDeviceOf(topo.sriov.pf);
const vf = topo.sriov.vfs[0];
const bar = vf.bars[2];

// The VF's guest fills 256 MiB of its LMEM through its BAR (every page materialised).
const chunk = Uint8Array.from({ length: Number(RANGE) }, (_, i) => (i * 31 + (i >> 12)) & 0xff);
for (let i = 0n; i < SIZE; i += RANGE) kernel.platform.physmem.write(bar.start + i, chunk);

// A VF exporter: 128 ranges of 2 MiB, every other one from the upper half (not one contiguous run).
const phys = Array.from({ length: NR }, (_, i) => ({ paddr: bar.start + BigInt(i % 2 ? NR / 2 + (i >> 1) : i >> 1) * RANGE, len: RANGE }));
const ops = {
  mapRanges: (attach) => dmaBufIovAllocRanges(attach.kernel, 2, phys),
  unmapRanges: (attach, ranges) => dmaBufIovFreeRanges(attach.kernel, ranges),
};
const dmabuf = dmaBufExport(kernel, {
  owner: kernel.modules.vmlinux,
  expName: "bench_vf",
  ops: { matchMapping: (args) => dmaBufMatchMapping(args, [dmaBufEmappingIov(ops, vf, 2)]), release() {} },
  size: SIZE,
  flags: O_RDWR,
  priv: {},
});

let best = Infinity;
for (let r = 0; r < 30; r++) {
  const t0 = performance.now();
  const bo = xeGemPrimeImport(pf, dmabuf);
  xeBoValidateUnlocked(bo);
  const ms = performance.now() - t0;
  if (bo.import.attach.mapType.type !== dmaBufMappingIovType || bo.dmaData.dmaAddr.length !== NR) throw new Error("not mapped over IOV");
  xeBoPut(bo);
  best = Math.min(best, ms);
}
record("IOV attach + map + translate, 256 MiB VF buffer in 128 ranges of 2 MiB", best, "ms");
record("IOV attach + map + translate: ranges translated per second", NR / (best / 1000), "ranges/s");

// The PF's GPU reads the whole buffer through the DPAs (VRAM, no IOMMU, no PCI).
const bo = xeGemPrimeImport(pf, dmabuf);
xeBoValidateUnlocked(bo);
const dst = new Uint8Array(Number(SIZE));
let dpaMs = Infinity;
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  let pos = 0;
  for (const e of bo.dmaData.dmaAddr) {
    const len = 4096 << e.order;
    xeGpuDmaReadInto(pf, { dpa: e.addr }, dst.subarray(pos, pos + len));
    pos += len;
  }
  dpaMs = Math.min(dpaMs, performance.now() - t0);
}
for (let i = 0; i < NR; i++) if (dst[i * Number(RANGE) + 12345] !== chunk[12345]) throw new Error("DPA read returned other bytes");
xeBoPut(bo);

const src = Buffer.alloc(Number(SIZE), 7);
let copyMs = Infinity;
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  dst.set(src);
  copyMs = Math.min(copyMs, performance.now() - t0);
}
const gbps = (ms) => Number(SIZE) / (ms / 1000) / 1e9;
record("PF GPU DMA read of the 256 MiB through its DPAs", gbps(dpaMs), "GB/s");
record("reference: one 256 MiB Buffer copy", gbps(copyMs), "GB/s");
record("ratio: GPU DMA read through DPAs / Buffer copy", gbps(dpaMs) / gbps(copyMs), "x");

dmaBufPut(dmabuf);
kernel.unloadModule("xe");
if (!kernel.leakReport().empty) throw new Error(kernel.leakReport().text());
writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2) + "\n");
