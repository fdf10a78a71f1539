// Benchmarks of dmabuf-core (`pnpm bench`): figures, not assertions.
// Prints a table and writes bench/results.json for docs/benchmarks.md.
import { writeFileSync } from "node:fs";
import { load, median, paired, recordRatio } from "../../../scripts/bench-lib.mjs";
import { Bench } from "tinybench";
import { benchExplore } from "./explore.mjs";
import {
  IOMMU_READ,
  IOMMU_WRITE,
  Kernel,
  O_RDWR,
  Trace,
  buildTopology,
  dmaBufDetach,
  dmaBufExport,
  dmaBufMappingAttach,
  dmaBufMatchMapping,
  dmaReadInto,
  topologyKernelOptions,
} from "@dmabuf-sdk/dmabuf-core";

const results = {};
const ratios = {};
const record = (name, value, unit, target) => {
  results[name] = { value, unit, ...(target ? { target } : {}) };
  console.log(`${name.padEnd(52)} ${value.toLocaleString("en-US", { maximumFractionDigits: 2 }).padStart(16)} ${unit}${target ? `  (target ${target})` : ""}`);
};

function kernel() {
  const k = new Kernel(topologyKernelOptions("cross-root"));
  k.trace.enabled = false;
  k.faults.recordLimit = 0;
  return { k, t: buildTopology(k, "cross-root") };
}

// ---- matching and attach ---------------------------------------------------
{
  const { k } = kernel();
  const types = Array.from({ length: 8 }, (_, i) => ({ name: `T${i}`, match: (_d, e, im) => e.data === im.data, finishMatch: () => undefined }));
  // Worst case for 8x8: every pair is the same type and only the last pair accepts.
  const exp = types.map((t, i) => ({ type: types[0], data: i === 7 ? 7 : -1 - i }));
  const imp = types.map((t, i) => ({ type: types[0], data: i === 7 ? 7 : 100 + i }));
  const mixed = { exp: types.map((t) => ({ type: t, data: 1 })), imp: [...types].reverse().map((t) => ({ type: t, data: 1 })) };
  const dmabuf = dmaBufExport(k, { owner: k.modules.vmlinux, ops: { release() {}, singleExporterMatch: { type: types[0], data: 0 } }, size: 4096n, flags: O_RDWR, priv: {} });
  const plainType = { name: "P", finishMatch: (a, e) => a.attach && (a.attach.mapType = { type: plainType, expOps: e.expOps }) };
  const plainBuf = dmaBufExport(k, { owner: k.modules.vmlinux, ops: { release() {}, singleExporterMatch: { type: plainType } }, size: 4096n, flags: O_RDWR, priv: {} });
  const bench = new Bench({ time: 500 });
  bench
    .add("dma_buf_match_mapping 8x8, last pair matches", () => dmaBufMatchMapping({ dmabuf, attach: null, impMatches: imp }, exp))
    .add("dma_buf_match_mapping 8x8, 8 types, reversed", () => dmaBufMatchMapping({ dmabuf, attach: null, impMatches: mixed.imp }, mixed.exp))
    .add("dma_buf_mapping_attach + dma_buf_detach", () => dmaBufDetach(plainBuf, dmaBufMappingAttach(plainBuf, [{ type: plainType }])));
  await bench.run();
  for (const task of bench.tasks) record(task.name, task.result.throughput.mean, "ops/s");
}

// ---- IOMMU map and translate 1 GiB in 4 KiB pages ---------------------------
{
  const { k, t } = kernel();
  const iommu = k.platform.iommu;
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const d = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", `bench${r}`);
    const bar = t.exporterSlot.bars[0];
    const pages = 1 << 18;
    const t0 = performance.now();
    // 4 KiB at a time, as iommufd fills a domain page by page.
    for (let i = 0; i < pages; i++) iommu.map(d, BigInt(i) << 12n, bar.start + (BigInt(i) << 12n), 4096n, IOMMU_READ | IOMMU_WRITE);
    const t1 = performance.now();
    let sum = 0;
    const pt = d.pgtable;
    for (let i = 0; i < pages; i++) sum += pt.lookup(i);
    const t2 = performance.now();
    if (sum <= 0) throw new Error("translation failed");
    runs.push({ map: pages / ((t1 - t0) / 1000), translate: pages / ((t2 - t1) / 1000) });
    iommu.unmap(d, 0n, 1n << 30n);
    iommu.domainFree(d);
  }
  const best = (key) => Math.max(...runs.map((x) => x[key]));
  record("IOMMU map 1 GiB in 4 KiB pages (iommu_map per page)", best("map"), "pages/s", ">= 5,000,000 pages/s");
  record("IOMMU translate 1 GiB in 4 KiB pages", best("translate"), "pages/s");
}

// ---- DMA read of 64 MiB through a paging IOMMU ------------------------------
{
  const { k, t } = kernel();
  const iommu = k.platform.iommu;
  const d = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", "dma-bench");
  iommu.attachGroup(d, t.importerSlot.iommuGroup);
  const size = 64 << 20;
  const pfn0 = k.platform.physmem.allocPages(10, "bench");
  const chunks = [pfn0];
  for (let i = 1; i < size / (4 << 20); i++) chunks.push(k.platform.physmem.allocPages(10, "bench"));
  let iova = 0x1000_0000n;
  for (const pfn of chunks) {
    const pa = BigInt(pfn) << 12n;
    k.platform.physmem.write(pa, new Uint8Array(4 << 20).fill(pfn & 0xff));
    iommu.map(d, iova, pa, 4n << 20n, IOMMU_READ);
    iova += 4n << 20n;
  }
  const dst = new Uint8Array(size);
  const times = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    dmaReadInto(t.importerSlot, 0x1000_0000n, dst);
    times.push(performance.now() - t0);
  }
  if (dst[size - 1] !== (chunks.at(-1) & 0xff)) throw new Error("wrong bytes");
  const best = Math.min(...times);
  record("DMA read of 64 MiB through a paging IOMMU", size / (best / 1000) / 1e9, "GB/s", ">= 2 GB/s");
  const copy = new Uint8Array(size).fill(1);
  const c0 = performance.now();
  dst.set(copy);
  record("reference: one Buffer copy of 64 MiB", size / ((performance.now() - c0) / 1000) / 1e9, "GB/s");
}

// ---- issue 18: each figure beside an anchor measured in the same run ---------
console.log(`\nratios (medians; 2 shared cores, load ${load()}):`);

// The trace buffer is a ring: cost per event with a full buffer vs an empty one.
{
  const fields = { domain: "d", iova: 0x1000n };
  const emitN = (tr, n) => {
    for (let i = 0; i < n; i++) tr.emit("map", fields);
  };
  const full = [];
  const empty = [];
  for (let r = 0; r < 7; r++) {
    const trF = new Trace(() => 0, () => "bench");
    emitN(trF, trF.limit);
    let t0 = performance.now();
    emitN(trF, 100_000);
    full.push((performance.now() - t0) / 100_000);
    const trE = new Trace(() => 0, () => "bench");
    t0 = performance.now();
    emitN(trE, 100_000);
    empty.push((performance.now() - t0) / 100_000);
  }
  const fullNs = median(full) * 1e6;
  const emptyNs = median(empty) * 1e6;
  recordRatio(ratios, "trace emit, buffer full (100,000 events), cost per event", fullNs, "ns/event", "the same, buffer empty", emptyNs, "<= 1.5x");
}

// iommu_map: 1 GiB in one call (2 MiB / 1 GiB IOPTEs via iommu_pgsize) vs page by page (bigint API).
{
  const { k, t } = kernel();
  const iommu = k.platform.iommu;
  const bar = t.exporterSlot.bars[0];
  const pages = 1 << 18;
  const prot = IOMMU_READ | IOMMU_WRITE;
  // A 1 GiB-aligned physical range (the BAR is smaller: only the page table sees it).
  const pa = 1n << 40n;
  const paNum = 2 ** 40;
  const one = [];
  const perPageBig = [];
  const perPageNum = [];
  const minimal = [];
  for (let r = 0; r < 5; r++) {
    const d = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", `big${r}`);
    let t0 = performance.now();
    iommu.map(d, 1n << 30n, pa, 1n << 30n, prot);
    one.push(performance.now() - t0);
    if (d.pgtable.ptes !== 1) throw new Error("expected one 1 GiB IOPTE");
    iommu.unmap(d, 1n << 30n, 1n << 30n);
    t0 = performance.now();
    for (let i = 0; i < pages; i++) iommu.map(d, BigInt(i) << 12n, pa + (BigInt(i) << 12n), 4096n, prot);
    perPageBig.push(performance.now() - t0);
    iommu.unmap(d, 0n, 1n << 30n);
    t0 = performance.now();
    for (let i = 0; i < pages; i++) iommu.mapSafe(d, i * 4096, paNum + i * 4096, 4096, prot);
    perPageNum.push(performance.now() - t0);
    if (d.pgtable.ptes !== pages) throw new Error("expected 4 KiB IOPTEs");
    iommu.unmap(d, 0n, 1n << 30n);
    iommu.domainFree(d);
    // Anchor: a minimal JS page table (512-entry Float64Array leaves in a Map), one call per page.
    const leaves = new Map();
    const mapPage = (iovaPfn, physPfn) => {
      const key = Math.floor(iovaPfn / 512);
      let leaf = leaves.get(key);
      if (!leaf) leaves.set(key, (leaf = new Float64Array(512)));
      const idx = iovaPfn - key * 512;
      if (leaf[idx] !== 0) throw new Error("EEXIST");
      leaf[idx] = physPfn + 1;
    };
    t0 = performance.now();
    for (let i = 0; i < pages; i++) mapPage(i, paNum / 4096 + i);
    minimal.push(performance.now() - t0);
  }
  void bar;
  const rate = (ms) => pages / (median(ms) / 1000);
  recordRatio(ratios, "iommu_map 1 GiB in one call (one 1 GiB IOPTE)", rate(one), "pages/s", "iommu_map page by page (bigint)", rate(perPageBig), ">= 10x");
  recordRatio(ratios, "iommu_map per 4 KiB page, number path (mapSafe)", rate(perPageNum), "pages/s", "a minimal JS page table", rate(minimal), ">= 15 M pages/s");
}

// dmaReadInto 64 MiB through a paging IOMMU (4 KiB IOPTEs, and 2 MiB ones) vs a page-by-page JS copy.
for (const pgsize of [0x1000, undefined]) {
  const { k, t } = kernel();
  const iommu = k.platform.iommu;
  const d = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", "dma-bench");
  if (pgsize) d.pgsizeBitmap = pgsize;
  iommu.attachGroup(d, t.importerSlot.iommuGroup);
  const size = 64 << 20;
  let iova = 0x4000_0000n;
  const chunks = [];
  for (let i = 0; i < size / (4 << 20); i++) chunks.push(k.platform.physmem.allocPages(10, "bench"));
  for (const pfn of chunks) {
    const pa = BigInt(pfn) << 12n;
    k.platform.physmem.write(pa, new Uint8Array(4 << 20).fill(pfn & 0xff));
    iommu.map(d, iova, pa, 4n << 20n, IOMMU_READ);
    iova += 4n << 20n;
  }
  const dst = new Uint8Array(size);
  const src = new Uint8Array(size).fill(7);
  const { project, anchor } = paired(
    size,
    () => {
      dmaReadInto(t.importerSlot, 0x4000_0000n, dst);
      return size / 1e9;
    },
    () => {
      for (let o = 0; o < size; o += 4096) dst.set(src.subarray(o, o + 4096), o);
      return size / 1e9;
    },
    7,
  );
  const [p2m] = d.pgtable.largePtes;
  recordRatio(ratios, `dmaReadInto 64 MiB, ${pgsize ? "4 KiB IOPTEs" : `${p2m} 2 MiB IOPTEs`}`, project, "GB/s", "page-by-page JS copy (4 KiB set per page)", anchor, ">= 0.7x");
}

// ---- the interleaving explorer ----------------------------------------------
await benchExplore(ratios);

writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify({ node: process.version, date: new Date().toISOString(), results, ratios }, null, 2) + "\n");
