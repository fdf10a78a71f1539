// Tests of dma_buf_phys_vec_to_sgt: routes, columnar phys_vec, and fault injection at each allocation and IOVA step.
import { describe, expect, it } from "vitest";
import {
  DmaFault,
  Kernel,
  KernelError,
  buildTopology,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufPut,
  dmaRead,
  dmaResvLock,
  dmaResvUnlock,
  pcimP2pdmaInit,
  pcimP2pdmaProvider,
  pciBusAddress,
  topologyKernelOptions,
  type DmaBufAttachment,
  type TopologyName,
} from "@dmabuf-sdk/dmabuf-core";
import {
  dmaBufFreeSgt,
  dmaBufImappingSgt,
  dmaBufPhysVecToSgt,
  dmaBufSgtMapAttachment,
  dmaBufSgtModule,
  dmaBufSgtRoute,
  dmaBufSgtUnmapAttachment,
  physVecColumns,
  sgtDmaRead,
  type PhysVec,
  type PhysVecColumns,
} from "@dmabuf-sdk/map-sgt";
import { mmioExporter } from "@dmabuf-sdk/map-sgt/testing";

const GiB = 1n << 30n;
const UINT_MAX = 0xffff_ffff;

function boot(name: TopologyName, opts: Parameters<typeof buildTopology>[2] = {}) {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name, opts);
  k.loadModule(dmaBufSgtModule);
  return { k, t };
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed * 7 + (i >> 8)) & 0xff);
}

/** Several ranges of the exporter's BAR0, out of order, each filled with its own bytes. */
function scatteredRanges(k: Kernel, bar: { start: bigint }): { ranges: PhysVec[]; bytes: Uint8Array } {
  const layout = [
    { off: 0x30_0000n, len: 0x3000n },
    { off: 0x1000n, len: 0x1000n },
    { off: 0x10_0000n, len: 0x5000n },
  ];
  const ranges: PhysVec[] = [];
  const parts: Uint8Array[] = [];
  layout.forEach(({ off, len }, i) => {
    const data = pattern(Number(len), i + 1);
    k.platform.physmem.write(bar.start + off, data);
    ranges.push({ paddr: bar.start + off, len });
    parts.push(data);
  });
  const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    bytes.set(p, pos);
    pos += p.length;
  }
  return { ranges, bytes };
}

function attachP2p(k: Kernel, t: ReturnType<typeof boot>["t"], ranges: PhysVec[] | PhysVecColumns) {
  const d = mmioExporter(k, t.exporterSlot, ranges);
  const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, true)], { invalidateMappings: () => undefined });
  return { d, a };
}

function withResv<T>(a: DmaBufAttachment, fn: () => T): T {
  dmaResvLock(a.dmabuf!.resv);
  try {
    return fn();
  } finally {
    dmaResvUnlock(a.dmabuf!.resv);
  }
}

describe("dma_buf_phys_vec_to_sgt", () => {
  it.each(
    [
      { topo: "same-switch" as const, route: "bus-addr", nents: 3 },
      { topo: "same-switch-acs" as const, route: "iova", nents: 1 },
      { topo: "cross-root" as const, route: "iova", nents: 1 },
      { topo: "iommu-off" as const, route: "per-range", nents: 3 },
    ].flatMap((c) => [
      { ...c, form: "objects" },
      { ...c, form: "columns" },
    ]),
  )("$topo: $route route, $nents entries, the importer's DMA reads every range in order ($form)", ({ topo, route, nents, form }) => {
    const { k, t } = boot(topo);
    const { ranges, bytes } = scatteredRanges(k, t.exporterSlot.bars[0]!);
    const { d, a } = attachP2p(k, t, form === "columns" ? physVecColumns(ranges) : ranges);
    const sgt = withResv(a, () => dmaBufSgtMapAttachment(a, "DMA_BIDIRECTIONAL"));
    expect(dmaBufSgtRoute(sgt)).toBe(route);
    expect([sgt.nents, sgt.origNents, sgt.pagePfn]).toEqual([nents, 0, null]);
    expect(sgtDmaRead(t.importerSlot, sgt, 0n, bytes.length)).toEqual(bytes);
    if (route === "bus-addr") expect(sgt.dmaAddress[0]).toBe(pciBusAddress(t.exporterSlot.bars[0]!) + 0x30_0000n);
    if (route === "iova") {
      expect(sgt.dmaLength[0]).toBe(bytes.length);
      // One contiguous IOVA range: a single DMA read across all ranges.
      expect(dmaRead(t.importerSlot, sgt.dmaAddress[0]!, bytes.length)).toEqual(bytes);
    }
    withResv(a, () => dmaBufSgtUnmapAttachment(a, sgt, "DMA_BIDIRECTIONAL"));
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  describe("columnar phys_vec", () => {
    function mapBoth(topo: TopologyName, ranges: (bar: bigint) => PhysVec[], barSize = 8n * GiB) {
      const { k, t } = boot(topo, { endpointBars: [{ index: 0, size: barSize }] });
      const bar = t.exporterSlot.bars[0]!;
      const vec = ranges(bar.start);
      const out = (["objects", "columns"] as const).map((form) => {
        const { d, a } = attachP2p(k, t, form === "columns" ? physVecColumns(vec) : vec);
        const sgt = withResv(a, () => dmaBufSgtMapAttachment(a, "DMA_BIDIRECTIONAL"));
        const entries = [[...sgt.dmaAddress.subarray(0, sgt.nents)], [...sgt.dmaLength.subarray(0, sgt.nents)]];
        withResv(a, () => dmaBufSgtUnmapAttachment(a, sgt, "DMA_BIDIRECTIONAL"));
        dmaBufDetach(d, a);
        dmaBufPut(d);
        return entries;
      });
      expect(k.leakReport().text()).toBe("");
      return out;
    }

    it.each([
      { desc: "ranges around the 4 GiB boundaries of the low half (carry into the high half)", ranges: (s: bigint) => [0xffff_f000n, 0x1_0000_0000n, 0x1_ffff_e000n].map((o) => ({ paddr: s + o, len: 0x2000n })) },
      { desc: "a zero-length range takes no entry", ranges: (s: bigint) => [{ paddr: s, len: 0x1000n }, { paddr: s + 0x2000n, len: 0n }, { paddr: s + 0x3000n, len: 0x1000n }] },
      { desc: "a 5 GiB range among single pages splits at UINT_MAX", ranges: (s: bigint) => [{ paddr: s, len: 0x1000n }, { paddr: s + 0x1000n, len: 5n * GiB }, { paddr: s + 6n * GiB, len: 0x1000n }] },
      { desc: "a range of exactly 2^32 - 1 bytes is one entry", ranges: (s: bigint) => [{ paddr: s, len: BigInt(UINT_MAX) }] },
      { desc: "an empty range and a 5 GiB range: as many entries as ranges, yet not one each", ranges: (s: bigint) => [{ paddr: s, len: 0x1000n }, { paddr: s + 0x2000n, len: 0n }, { paddr: s + GiB, len: 5n * GiB }] },
    ])("BUS_ADDR: the same table as the object form: $desc", ({ ranges }) => {
      const [objects, columns] = mapBoth("same-switch", ranges);
      expect(columns).toEqual(objects);
    });

    it.each([
      { desc: "no translation (the columns are copied)", off: 0n },
      { desc: "a low-half offset that carries", off: 0xffff_f000n },
      { desc: "a high-half offset", off: 0x10_0000_0000n },
      { desc: "an offset that wraps at 2^64", off: (1n << 64n) - 0x1000n },
    ])("BUS_ADDR with a bus offset, $desc: the same table as the object form", ({ off }) => {
      const { k, t } = boot("same-switch");
      const s = t.exporterSlot.bars[0]!.start;
      const vec = [0xffff_f000n, 0x1_0000_0000n, 0x1_ffff_e000n, 0x2000n].map((o) => ({ paddr: s + o, len: 0x1000n }));
      const { d, a } = attachP2p(k, t, vec);
      pcimP2pdmaInit(k.alloc, t.exporterSlot);
      const provider = { ...pcimP2pdmaProvider(t.exporterSlot, 0)!, busOffset: off };
      const [objects, columns] = [vec, physVecColumns(vec)].map((v) =>
        withResv(a, () => {
          const sgt = dmaBufPhysVecToSgt(a, provider, v, vec.length, 0x4000n, "DMA_BIDIRECTIONAL");
          const entries = [[...sgt.dmaAddress.subarray(0, sgt.nents)], [...sgt.dmaLength.subarray(0, sgt.nents)]];
          dmaBufFreeSgt(a, sgt, "DMA_BIDIRECTIONAL");
          return entries;
        }),
      );
      expect(columns).toEqual(objects);
      expect(objects![0]).toEqual(vec.map((v) => BigInt.asUintN(64, v.paddr + off)));
      dmaBufDetach(d, a);
      dmaBufPut(d);
      expect(k.leakReport().text()).toBe("");
    });

    it("a table built in the storage of a freed one of the same size holds only its own entries", () => {
      // 5,000 entries each: 5,000 pages, then 4,998 pages, an empty range and a 5 GiB range (two entries).
      const first = (s: bigint): PhysVec[] => Array.from({ length: 5000 }, (_, i) => ({ paddr: s + BigInt(i) * 0x2000n, len: 0x1000n }));
      const second = (s: bigint): PhysVec[] => [
        ...Array.from({ length: 4998 }, (_, i) => ({ paddr: s + 0x1_0000_0000n + BigInt(i) * 0x3000n, len: 0x800n })),
        { paddr: s, len: 0n },
        { paddr: s + GiB, len: 5n * GiB },
      ];
      const table = (k: Kernel, t: ReturnType<typeof boot>["t"], vec: PhysVec[], keep: boolean) => {
        const { d, a } = attachP2p(k, t, physVecColumns(vec));
        const sgt = withResv(a, () => dmaBufSgtMapAttachment(a, "DMA_BIDIRECTIONAL"));
        const entries = [[...sgt.dmaAddress.subarray(0, sgt.nents)], [...sgt.dmaLength.subarray(0, sgt.nents)]];
        if (!keep) {
          withResv(a, () => dmaBufSgtUnmapAttachment(a, sgt, "DMA_BIDIRECTIONAL"));
          dmaBufDetach(d, a);
          dmaBufPut(d);
        }
        return { entries, nents: sgt.nents };
      };
      const reused = boot("same-switch", { endpointBars: [{ index: 0, size: 16n * GiB }] });
      const fresh = boot("same-switch", { endpointBars: [{ index: 0, size: 16n * GiB }] });
      const s = reused.t.exporterSlot.bars[0]!.start;
      expect(fresh.t.exporterSlot.bars[0]!.start).toBe(s);
      expect(table(reused.k, reused.t, first(s), false).nents).toBe(5000);
      const again = table(reused.k, reused.t, second(s), false);
      const expected = table(fresh.k, fresh.t, second(s), false);
      expect(again.nents).toBe(5000);
      expect(again.entries).toEqual(expected.entries);
      expect(again.entries[1]!.slice(-3)).toEqual([0x800, UINT_MAX, Number(5n * GiB - BigInt(UINT_MAX))]);
      expect([reused.k.leakReport().text(), fresh.k.leakReport().text()]).toEqual(["", ""]);
    });

    it.each(["cross-root", "iommu-off"] as const)("%s: the same table as the object form", (topo) => {
      const [objects, columns] = mapBoth(topo, (s) => [
        { paddr: s + 0x30_0000n, len: 0x3000n },
        { paddr: s + 0x1000n, len: 0x1000n },
      ]);
      expect(columns).toEqual(objects);
    });

    it.each([
      { desc: "columns of different lengths", vec: () => ({ paddr: new BigUint64Array(2), len: new BigUint64Array(1) }), errno: "EINVAL" },
      { desc: "a column that is not a BigUint64Array", vec: () => ({ paddr: new BigUint64Array(1), len: new BigInt64Array(1) as unknown as BigUint64Array }), errno: "EINVAL" },
    ])("$desc: $errno, nothing mapped or allocated", ({ vec, errno }) => {
      const { k, t } = boot("same-switch");
      const { d, a } = attachP2p(k, t, [{ paddr: t.exporterSlot.bars[0]!.start, len: 0x1000n }]);
      pcimP2pdmaInit(k.alloc, t.exporterSlot);
      const provider = pcimP2pdmaProvider(t.exporterSlot, 0);
      const attempts = k.faults.attempts;
      expect(() => withResv(a, () => dmaBufPhysVecToSgt(a, provider, vec(), 1, 0x1000n, "DMA_BIDIRECTIONAL"))).toThrow(expect.objectContaining({ errno }));
      expect(k.faults.attempts).toBe(attempts);
      dmaBufDetach(d, a);
      dmaBufPut(d);
      expect(k.leakReport().text()).toBe("");
    });

    it("nr_ranges beyond the columns is the same oops as beyond an array", () => {
      const { k, t } = boot("same-switch");
      const { d, a } = attachP2p(k, t, [{ paddr: t.exporterSlot.bars[0]!.start, len: 0x1000n }]);
      const provider = pcimP2pdmaProvider(t.exporterSlot, 0);
      expect(() => withResv(a, () => dmaBufPhysVecToSgt(a, provider, physVecColumns(1), 2, 0x1000n, "DMA_BIDIRECTIONAL"))).toThrow(/nr_ranges 2 beyond the 1-entry array/);
      dmaBufDetach(d, a);
      dmaBufPut(d);
    });

    it.each([
      { desc: "a negative count", arg: -1 },
      { desc: "a fractional count", arg: 1.5 },
      { desc: "a paddr beyond u64", arg: [{ paddr: 1n << 64n, len: 1n }] },
      { desc: "a negative length", arg: [{ paddr: 0n, len: -1n }] },
    ])("physVecColumns refuses $desc with EINVAL", ({ arg }) => {
      expect(() => physVecColumns(arg)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    });

    it("columns take 16 bytes a range", () => {
      const c = physVecColumns(1000);
      expect((c.paddr.byteLength + c.len.byteLength) / 1000).toBe(16);
    });
  });

  it("per-range mode through a paging IOMMU when no IOVA range can be allocated up front", () => {
    const { k, t } = boot("cross-root");
    const { ranges, bytes } = scatteredRanges(k, t.exporterSlot.bars[0]!);
    const { d, a } = attachP2p(k, t, ranges);
    k.faults.inject({ site: "alloc_iova", nth: 1 }); // dma_iova_try_alloc() fails silently
    const sgt = withResv(a, () => dmaBufSgtMapAttachment(a, "DMA_TO_DEVICE"));
    expect(dmaBufSgtRoute(sgt)).toBe("per-range");
    expect(sgt.nents).toBe(3);
    expect(sgtDmaRead(t.importerSlot, sgt, 0n, bytes.length)).toEqual(bytes);
    withResv(a, () => dmaBufSgtUnmapAttachment(a, sgt, "DMA_TO_DEVICE"));
    expect(() => dmaRead(t.importerSlot, sgt.dmaAddress[0]!, 1)).toThrow(DmaFault);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it("a 5 GiB BUS_ADDR range splits into entries of 4294967295 bytes and the rest", () => {
    const { k, t } = boot("same-switch", { endpointBars: [{ index: 0, size: 8n * GiB }] });
    const bar = t.exporterSlot.bars[0]!;
    const { d, a } = attachP2p(k, t, [{ paddr: bar.start, len: 5n * GiB }]);
    const sgt = withResv(a, () => dmaBufSgtMapAttachment(a, "DMA_BIDIRECTIONAL"));
    const bus = pciBusAddress(bar);
    expect([...sgt.dmaLength]).toEqual([UINT_MAX, Number(5n * GiB) - UINT_MAX]);
    expect([...sgt.dmaAddress]).toEqual([bus, bus + BigInt(UINT_MAX)]);
    // The second entry starts at an odd byte: check the byte there is the BAR's.
    k.platform.physmem.write(bar.start + BigInt(UINT_MAX), Uint8Array.of(0x77));
    expect(dmaRead(t.importerSlot, sgt.dmaAddress[1]!, 1)).toEqual(Uint8Array.of(0x77));
    withResv(a, () => dmaBufSgtUnmapAttachment(a, sgt, "DMA_BIDIRECTIONAL"));
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("IOVA mode over more than 4 GiB keeps the whole mapped length (the posted unsigned int would wrap)", () => {
    const { k, t } = boot("cross-root", { endpointBars: [{ index: 0, size: 8n * GiB }] });
    t.importerSlot.dmaMask = (1n << 48n) - 1n;
    const bar = t.exporterSlot.bars[0]!;
    const ranges = [
      { paddr: bar.start, len: 3n * GiB },
      { paddr: bar.start + 4n * GiB, len: 2n * GiB },
    ];
    k.platform.physmem.write(bar.start + 4n * GiB + 5n, Uint8Array.of(0x42));
    const { d, a } = attachP2p(k, t, ranges);
    const sgt = withResv(a, () => dmaBufSgtMapAttachment(a, "DMA_TO_DEVICE"));
    expect(dmaBufSgtRoute(sgt)).toBe("iova");
    expect(sgt.nents).toBe(2);
    expect(BigInt(sgt.dmaLength[0]!) + BigInt(sgt.dmaLength[1]!)).toBe(5n * GiB);
    expect(dmaRead(t.importerSlot, sgt.dmaAddress[0]! + 3n * GiB + 5n, 1)).toEqual(Uint8Array.of(0x42));
    withResv(a, () => dmaBufSgtUnmapAttachment(a, sgt, "DMA_TO_DEVICE"));
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it.each([
    { desc: "NOT_SUPPORTED route", topo: "cross-root-no-p2p" as const, provider: true, errno: "EINVAL", warn: 0 },
    { desc: "NULL provider", topo: "same-switch" as const, provider: false, errno: "EINVAL", warn: 1 },
  ])("$desc → $errno", ({ topo, provider, errno, warn }) => {
    const { k, t } = boot(topo);
    // An exporter offering plain SGT lets the attach succeed on any topology; the map then decides.
    const bar = t.exporterSlot.bars[0]!;
    const d = mmioExporter(k, t.exporterSlot, [{ paddr: bar.start, len: 0x1000n }], {}, "sgt-and-p2p");
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, false)], { invalidateMappings: () => undefined });
    pcimP2pdmaInit(k.alloc, t.exporterSlot);
    const p = provider ? pcimP2pdmaProvider(t.exporterSlot, 0) : null;
    const run = () => withResv(a, () => dmaBufPhysVecToSgt(a, p, [{ paddr: bar.start, len: 0x1000n }], 1, 0x1000n, "DMA_TO_DEVICE"));
    expect(run).toThrow(expect.objectContaining({ errno }));
    expect(k.warnings()).toHaveLength(warn);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it("asserts the resv lock", () => {
    const { k, t } = boot("same-switch");
    const bar = t.exporterSlot.bars[0]!;
    const { d, a } = attachP2p(k, t, [{ paddr: bar.start, len: 0x1000n }]);
    const sgt = dmaBufPhysVecToSgt(a, pcimP2pdmaProvider(t.exporterSlot, 0), [{ paddr: bar.start, len: 0x1000n }], 1, 0x1000n, "DMA_TO_DEVICE");
    expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["assert"]);
    withResv(a, () => dmaBufFreeSgt(a, sgt, "DMA_TO_DEVICE"));
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("no ranges: sg_alloc_table(0) refuses with EINVAL", () => {
    const { k, t } = boot("same-switch");
    const { d, a } = attachP2p(k, t, [{ paddr: t.exporterSlot.bars[0]!.start, len: 0x1000n }]);
    expect(() => withResv(a, () => dmaBufPhysVecToSgt(a, pcimP2pdmaProvider(t.exporterSlot, 0), [], 0, 0n, "DMA_TO_DEVICE"))).toThrow(
      expect.objectContaining({ errno: "EINVAL" }),
    );
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  describe("fault injection at every allocation and IOVA step leaves nothing behind", () => {
    const cases: { topo: TopologyName; forcePerRange: boolean }[] = [
      { topo: "same-switch", forcePerRange: false },
      { topo: "cross-root", forcePerRange: false },
      { topo: "cross-root", forcePerRange: true },
      { topo: "iommu-off", forcePerRange: false },
    ];
    const run = (k: Kernel, t: ReturnType<typeof boot>["t"]) => {
      const { ranges } = scatteredRanges(k, t.exporterSlot.bars[0]!);
      const d = mmioExporter(k, t.exporterSlot, ranges);
      try {
        const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, true)], { invalidateMappings: () => undefined });
        try {
          const sgt = withResv(a, () => dmaBufSgtMapAttachment(a, "DMA_BIDIRECTIONAL"));
          withResv(a, () => dmaBufSgtUnmapAttachment(a, sgt, "DMA_BIDIRECTIONAL"));
        } finally {
          dmaBufDetach(d, a);
        }
      } finally {
        dmaBufPut(d);
      }
    };
    for (const c of cases) {
      const { k: dry, t: dryT } = boot(c.topo);
      dry.faults.reset();
      if (c.forcePerRange) dry.faults.inject({ site: "alloc_iova", nth: 1 });
      run(dry, dryT);
      const attempts = dry.faults.records().filter((r) => !r.failed);
      it.each(attempts.map((r) => ({ ...r, topo: c.topo, perRange: c.forcePerRange })))(
        "$topo (forced per-range: $perRange): fail attempt $nth ($site $what)",
        ({ nth, topo, perRange }) => {
          const { k, t } = boot(topo);
          if (perRange) k.faults.inject({ site: "alloc_iova", nth: 1 });
          k.faults.failNth(nth);
          let err: unknown;
          try {
            run(k, t);
          } catch (e) {
            err = e;
          }
          if (err) expect(err).toBeInstanceOf(KernelError);
          expect(k.leakReport().text()).toBe("");
          expect(k.warnings()).toEqual([]);
        },
      );
    }
  });

  it("a failing dma_iova_link (page-table allocation) unwinds the ranges already linked", () => {
    const { k, t } = boot("cross-root");
    const bar = t.exporterSlot.bars[0]!;
    // The second range spans several 2 MiB page-table leaves; fail the second leaf allocation.
    const ranges = [
      { paddr: bar.start, len: 0x1000n },
      { paddr: bar.start + 0x100_0000n, len: 0x40_0000n },
      { paddr: bar.start + 0x1000n, len: 0x1000n },
    ];
    const { d, a } = attachP2p(k, t, ranges);
    k.faults.inject({ site: "iommu_map", nth: 2 });
    expect(() => withResv(a, () => dmaBufSgtMapAttachment(a, "DMA_BIDIRECTIONAL"))).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
    expect(k.faults.failures).toBe(1);
    expect(k.faults.records().filter((r) => r.site === "iommu_map")).toHaveLength(2);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });
});
