// Tests of lib/scatterlist.c and dma_map_sgtable.
import { describe, expect, it } from "vitest";
import { Kernel, KernelBug, buildTopology, dmaRead, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import {
  dmaMapSgtable,
  dmaUnmapSgtable,
  forEachSgtableDmaSg,
  sgAllocTable,
  sgDmaAddress,
  sgDmaLen,
  sgFreeTable,
  sgPage,
  sgPhys,
  sgSetDma,
  sgSetPage,
  sgtableDmaAddressAt,
  sgtableDmaSize,
  sgtableIsMapped,
} from "@dmabuf-sdk/map-sgt";

describe("scatterlist", () => {
  it("sg_alloc_table: nents == orig_nents, zeroed; 0 entries is EINVAL; allocation can fail", () => {
    const k = new Kernel();
    const t = sgAllocTable(k, 3);
    expect([t.nents, t.origNents, t.capacity]).toEqual([3, 3, 3]);
    expect([...t.dmaAddress]).toEqual([0n, 0n, 0n]);
    expect(sgPage(t, 0)).toBeNull();
    expect(() => sgAllocTable(k, 0)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    k.faults.inject({ site: "sg_alloc_table" });
    expect(() => sgAllocTable(k, 1)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
    sgFreeTable(t);
    expect(k.leakReport().empty).toBe(true);
  });

  it.each([4096, 100_000])("sg_alloc_table of %i page-less entries after one was freed: zeroed again, and each kernel's tables are its own", (n) => {
    const k = new Kernel();
    const other = new Kernel();
    const t = sgAllocTable(k, n, { withCpuList: false });
    t.dmaAddress.fill(0xdead_beefn);
    t.dmaLength.fill(0xffff_ffff);
    sgFreeTable(t);
    const u = sgAllocTable(k, n, { withCpuList: false });
    const v = sgAllocTable(other, n, { withCpuList: false });
    for (const x of [u, v]) {
      expect(x.dmaAddress.every((a) => a === 0n)).toBe(true);
      expect(x.dmaLength.every((l) => l === 0)).toBe(true);
      expect(x.storageBytes).toBe(12 * n);
    }
    sgSetDma(v, 0, 1n, 1);
    expect([sgDmaAddress(u, 0), sgDmaLen(u, 0)]).toEqual([0n, 0]);
    sgFreeTable(u);
    sgFreeTable(v);
    expect(k.leakReport().empty).toBe(true);
    expect(other.leakReport().empty).toBe(true);
  });

  it("holds 64-bit DMA addresses exactly and 32-bit DMA lengths only", () => {
    const k = new Kernel();
    const t = sgAllocTable(k, 2, { withCpuList: false });
    sgSetDma(t, 0, (1n << 64n) - 0x1001n, 0xffff_ffff);
    expect([sgDmaAddress(t, 0), sgDmaLen(t, 0)]).toEqual([(1n << 64n) - 0x1001n, 0xffff_ffff]);
    expect(() => sgSetDma(t, 1, 0n, 2 ** 32)).toThrow(KernelBug);
    expect(() => sgSetPage(t, 0, 1, 4096, 0)).toThrow(KernelBug);
    expect(sgPage(t, 0)).toBeNull();
    sgFreeTable(t);
  });

  it("a page-less entry takes 12 bytes (at most 16); a million of them stay compact", () => {
    const k = new Kernel();
    const t = sgAllocTable(k, 1_000_000, { withCpuList: false });
    expect(t.storageBytes / t.capacity).toBe(12);
    const withCpu = sgAllocTable(k, 10);
    expect(withCpu.storageBytes / withCpu.capacity).toBe(28);
    sgFreeTable(t);
    sgFreeTable(withCpu);
  });

  it("sg_free_table frees the table whatever orig_nents says (a page-less table sets it to 0); twice WARNs", () => {
    const k = new Kernel();
    const t = sgAllocTable(k, 4, { withCpuList: false });
    t.origNents = 0;
    sgFreeTable(t);
    expect(k.leakReport().empty).toBe(true);
    sgFreeTable(t);
    expect(k.warnings()).toEqual(["sg_free_table: table already freed"]);
  });

  it("walks the DMA list", () => {
    const k = new Kernel();
    const t = sgAllocTable(k, 3, { withCpuList: false });
    sgSetDma(t, 0, 0x1000n, 0x800);
    sgSetDma(t, 1, 0x9000n, 0x1000);
    sgSetDma(t, 2, 0x20000n, 0x10);
    expect([...forEachSgtableDmaSg(t)]).toEqual([
      [0x1000n, 0x800],
      [0x9000n, 0x1000],
      [0x20000n, 0x10],
    ]);
    expect(sgtableDmaSize(t)).toBe(0x1810n);
    expect(sgtableDmaAddressAt(t, 0x7ffn)).toEqual({ addr: 0x17ffn, contiguous: 1 });
    expect(sgtableDmaAddressAt(t, 0x800n)).toEqual({ addr: 0x9000n, contiguous: 0x1000 });
    expect(() => sgtableDmaAddressAt(t, 0x1810n)).toThrow(expect.objectContaining({ errno: "ERANGE" }));
  });

  describe("dma_map_sgtable", () => {
    function pages(k: Kernel, n: number) {
      const t = sgAllocTable(k, n);
      const pfns = Array.from({ length: n }, () => k.platform.physmem.allocPages(0, "t"));
      pfns.forEach((p, i) => {
        sgSetPage(t, i, p, 4096, 0);
        k.platform.physmem.write(BigInt(p) << 12n, Uint8Array.of(i + 1));
      });
      return { t, pfns };
    }

    it("through a DMA domain: one IOVA range, entries merged into 64 KiB segments", () => {
      const k = new Kernel(topologyKernelOptions("cross-root"));
      const topo = buildTopology(k, "cross-root");
      const dev = topo.importerSlot;
      const { t } = pages(k, 20);
      dmaMapSgtable(dev, t, "DMA_BIDIRECTIONAL", 0);
      expect(sgtableIsMapped(t)).toBe(true);
      expect([...forEachSgtableDmaSg(t)].map(([, l]) => l)).toEqual([0x10000, 0x4000]);
      expect(sgDmaAddress(t, 1)).toBe(sgDmaAddress(t, 0) + 0x10000n);
      expect(dmaRead(dev, sgDmaAddress(t, 0) + 0x3000n, 1)).toEqual(Uint8Array.of(4));
      expect(sgPhys(t, 3)).toBe(BigInt(t.pagePfn![3]!) << 12n);
      dmaUnmapSgtable(dev, t, "DMA_BIDIRECTIONAL", 0);
      expect(t.nents).toBe(20);
      sgFreeTable(t);
      expect(k.leakReport().text()).toMatch(/^page t x20/);
    });

    it("with dma-direct: each entry's DMA address is its physical address", () => {
      const k = new Kernel(topologyKernelOptions("iommu-off"));
      const topo = buildTopology(k, "iommu-off");
      const { t, pfns } = pages(k, 3);
      dmaMapSgtable(topo.importerSlot, t, "DMA_TO_DEVICE", 0);
      expect([...forEachSgtableDmaSg(t)]).toEqual(pfns.map((p) => [BigInt(p) << 12n, 4096]));
      dmaUnmapSgtable(topo.importerSlot, t, "DMA_TO_DEVICE", 0);
      sgFreeTable(t);
    });

    it("a failing page-table allocation unmaps and frees the IOVA", () => {
      const k = new Kernel(topologyKernelOptions("cross-root"));
      const topo = buildTopology(k, "cross-root");
      const { t } = pages(k, 2);
      k.faults.inject({ site: "iommu_map" });
      expect(() => dmaMapSgtable(topo.importerSlot, t, "DMA_TO_DEVICE", 0)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
      expect(sgtableIsMapped(t)).toBe(false);
      sgFreeTable(t);
      expect(k.leakReport().entries.map((e) => e.kind)).toEqual(["page"]);
    });

    it("a page-less table cannot be mapped", () => {
      const k = new Kernel(topologyKernelOptions("cross-root"));
      const topo = buildTopology(k, "cross-root");
      const t = sgAllocTable(k, 1, { withCpuList: false });
      expect(() => dmaMapSgtable(topo.importerSlot, t, "DMA_TO_DEVICE", 0)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
      sgFreeTable(t);
    });
  });
});
