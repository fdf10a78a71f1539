// Tests of drivers/iommu/iommu.c: iommu_map/unmap/iova_to_phys, page-size selection and the IOVA allocator.
import { describe, expect, it } from "vitest";
import {
  DMA_ATTR_MMIO,
  DMA_MAPPING_ERROR,
  DmaFault,
  IOMMU_READ,
  IOMMU_WRITE,
  IovaDomain,
  Kernel,
  buildTopology,
  dmaIovaDestroy,
  dmaIovaLink,
  dmaIovaState,
  dmaIovaSync,
  dmaIovaTryAlloc,
  dmaMapPhys,
  dmaRead,
  dmaUnmapPhys,
  dmaUseIova,
  dmaWrite,
  topologyKernelOptions,
  type KernelError,
  type TopologyName,
} from "@dmabuf-sdk/dmabuf-core";

const U64 = 1n << 64n;

function boot(name: TopologyName = "cross-root", opts: Parameters<typeof buildTopology>[2] = {}, kopts = {}) {
  const k = new Kernel({ ...topologyKernelOptions(name), ...kopts });
  return { k, t: buildTopology(k, name, opts) };
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

describe("iommu", () => {
  describe("iommu_map / iommu_unmap / iommu_iova_to_phys", () => {
    it.each([
      { desc: "unaligned iova", iova: 0x1001n, pa: 0x10_0000n, size: 0x1000n, errno: "EINVAL" },
      { desc: "unaligned paddr", iova: 0x1000n, pa: 0x10_0010n, size: 0x1000n, errno: "EINVAL" },
      { desc: "unaligned size", iova: 0x1000n, pa: 0x10_0000n, size: 0x800n, errno: "EINVAL" },
      { desc: "zero size", iova: 0x1000n, pa: 0x10_0000n, size: 0n, errno: "EINVAL" },
      { desc: "beyond a 48-bit aperture", iova: 1n << 48n, pa: 0x10_0000n, size: 0x1000n, errno: "EFAULT" },
      { desc: "range wrapping 2^64", iova: U64 - 0x1000n, pa: 0x10_0000n, size: 0x2000n, errno: "EINVAL", wide: true },
      { desc: "range ending exactly at 2^64", iova: U64 - 0x2000n, pa: 0x10_0000n, size: 0x2000n, errno: undefined, wide: true },
      { desc: "above 2^53", iova: (1n << 60n) + 0x1000n, pa: 0x10_0000n, size: 0x3000n, errno: undefined, wide: true },
      // The number path (below 2^52) checks alignment on the low 32 bits: values past 2^32 and 2^40.
      { desc: "iova past 2^40, unaligned in its low bits", iova: (1n << 40n) + 0x10_0800n, pa: 0x10_0000n, size: 0x1000n, errno: "EINVAL" },
      { desc: "paddr past 2^44, unaligned", iova: 0x1000n, pa: (1n << 44n) + 0x8n, size: 0x1000n, errno: "EINVAL" },
      { desc: "size of 4 GiB + 2 KiB", iova: 0x1000n, pa: 0x10_0000n, size: (1n << 32n) + 0x800n, errno: "EINVAL" },
      { desc: "iova 2^47 - 2 pages, paddr past 2^51, aligned", iova: (1n << 47n) - 0x2000n, pa: (1n << 51n) + 0x7_0000_3000n, size: 0x2000n, errno: undefined },
])("$desc", ({ iova, pa, size, errno, wide }) => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", "test", wide ? { apertureStart: 0n, apertureEnd: U64 - 1n } : undefined);
      const run = () => iommu.map(d, iova, pa, size, IOMMU_READ | IOMMU_WRITE);
      if (errno) {
        expect(run).toThrow(expect.objectContaining({ errno }));
        expect(d.pgtable!.ptes).toBe(0);
        return;
      }
      run();
      expect(d.pgtable!.ptes).toBe(Number(size / 0x1000n));
      // Byte-exact translation of the last byte, far beyond what a double can hold.
      expect(iommu.iovaToPhys(d, iova + size - 1n)).toBe(pa + size - 1n);
      expect(iommu.unmap(d, iova, size)).toBe(size);
      expect(iommu.iovaToPhys(d, iova)).toBe(0n);
    });

    it.each([
      { desc: "NaN iova", iova: NaN, pa: 0x10_0000, size: 0x1000 },
      { desc: "NaN paddr", iova: 0x1000, pa: NaN, size: 0x1000 },
      { desc: "negative iova", iova: -0x1000, pa: 0x10_0000, size: 0x1000 },
      { desc: "negative size", iova: 0x1000, pa: 0x10_0000, size: -0x1000 },
      { desc: "iova unaligned past 2^32", iova: 2 ** 33 + 0x200, pa: 0x10_0000, size: 0x1000 },
    ])("mapSafe (number path): $desc → EINVAL, nothing installed", ({ iova, pa, size }) => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      expect(() => iommu.mapSafe(d, iova, pa, size, IOMMU_READ)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
      expect(d.pgtable!.ptes).toBe(0);
    });

    it("EEXIST for an overlapping map leaves the first mapping intact and nothing of the second", () => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      iommu.map(d, 0x3000n, 0x10_0000n, 0x1000n, IOMMU_READ);
      expect(() => iommu.map(d, 0x1000n, 0x20_0000n, 0x4000n, IOMMU_READ)).toThrow(expect.objectContaining({ errno: "EEXIST" }));
      expect(d.pgtable!.ptes).toBe(1);
      expect(iommu.iovaToPhys(d, 0x3000n)).toBe(0x10_0000n);
    });

    it("unmap stops at the first hole and returns what it unmapped", () => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      iommu.map(d, 0x1000n, 0x10_0000n, 0x2000n, IOMMU_READ);
      expect(iommu.unmap(d, 0x1000n, 0x4000n)).toBe(0x2000n);
    });

    it("ENOMEM from a page-table allocation unwinds the partial map", () => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      k.faults.inject({ site: "iommu_map", nth: 2 });
      // 512 pages per leaf: a 2 MiB + 4 KiB map needs two leaves.
      expect(() => iommu.map(d, 0x20_0000n - 0x1000n, 0x100_0000n, 0x20_1000n, IOMMU_READ)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
      expect(d.pgtable!.ptes).toBe(0);
    });
  });

  describe("page sizes (pgsize_bitmap 4K | 2M | 1G, iommu_pgsize)", () => {
    const K4 = 0x1000n;
    const M2 = 0x20_0000n;
    const G1 = 0x4000_0000n;
    const PA = 1n << 40n; // 1 GiB aligned

    it.each([
      { desc: "1 GiB, both aligned: one 1 GiB IOPTE", iova: G1, pa: PA, size: G1, ptes: 1, large: [0, 1] },
      { desc: "2 MiB + 4 KiB aligned: a 2 MiB and a 4 KiB IOPTE", iova: M2, pa: PA, size: M2 + K4, ptes: 2, large: [1, 0] },
      { desc: "iova 2 MiB aligned, paddr not: 4 KiB IOPTEs only", iova: M2, pa: PA + K4, size: M2, ptes: 512, large: [0, 0] },
      { desc: "same offset in 2 MiB, crossing: 4 KiB head, 2 MiB middle, 4 KiB tail", iova: M2 - 2n * K4, pa: PA + M2 - 2n * K4, size: 2n * K4 + 2n * M2 + K4, ptes: 5, large: [2, 0] },
      { desc: "1 GiB + 2 MiB from a 1 GiB boundary", iova: G1, pa: PA, size: G1 + M2, ptes: 2, large: [1, 1] },
      { desc: "1 GiB not aligned to 1 GiB in paddr: 512 2 MiB IOPTEs", iova: G1, pa: PA + M2, size: G1, ptes: 512, large: [512, 0] },
      { desc: "below 2 MiB: 4 KiB IOPTEs only", iova: M2, pa: PA, size: M2 - K4, ptes: 511, large: [0, 0] },
    ])("$desc", ({ iova, pa, size, ptes, large }) => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      iommu.map(d, iova, pa, size, IOMMU_READ);
      expect([d.pgtable!.ptes, [...d.pgtable!.largePtes]]).toEqual([ptes, large]);
      for (const off of [0n, K4 - 1n, M2 + 0x123n, size - 1n]) if (off < size) expect(iommu.iovaToPhys(d, iova + off)).toBe(pa + off);
      expect(iommu.iovaToPhys(d, iova + size)).toBe(0n);
      expect(iommu.unmap(d, iova, size)).toBe(size);
      expect(d.pgtable!.ptes).toBe(0);
      iommu.domainFree(d);
      expect(k.leakReport().empty).toBe(true);
    });

    it("a domain narrowed to 4 KiB (pgsize_bitmap 0x1000) maps 4 KiB IOPTEs only", () => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      d.pgsizeBitmap = 0x1000;
      iommu.map(d, G1, PA, G1 / 64n, IOMMU_READ);
      expect([d.pgtable!.ptes, [...d.pgtable!.largePtes]]).toEqual([4096, [0, 0]]);
    });

    it.each([
      { desc: "4 KiB inside a 2 MiB IOPTE", first: [M2, M2], second: [M2 + K4, K4] },
      { desc: "2 MiB over a 4 KiB IOPTE", first: [M2 + 5n * K4, K4], second: [M2, M2] },
      { desc: "1 GiB over a 2 MiB IOPTE", first: [G1 + 4n * M2, M2], second: [G1, G1] },
      { desc: "2 MiB inside a 1 GiB IOPTE", first: [G1, G1], second: [G1 + M2, M2] },
    ])("EEXIST: $desc, the first mapping intact and nothing of the second", ({ first, second }) => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      iommu.map(d, first[0]!, PA + (first[0]! % G1), first[1]!, IOMMU_READ);
      const before = [d.pgtable!.ptes, [...d.pgtable!.largePtes]];
      expect(() => iommu.map(d, second[0]!, PA + (second[0]! % G1), second[1]!, IOMMU_READ)).toThrow(expect.objectContaining({ errno: "EEXIST" }));
      expect([d.pgtable!.ptes, [...d.pgtable!.largePtes]]).toEqual(before);
      expect(iommu.iovaToPhys(d, first[0]!)).toBe(PA + (first[0]! % G1));
    });

    it.each([
      { desc: "from its start, 4 KiB asked: the whole 2 MiB goes (generic_pt returns the IOPTE's size)", at: M2, size: K4, unmapped: M2, left: 0 },
      { desc: "from inside it: nothing is unmapped (large IOPTEs are never split)", at: M2 + K4, size: K4, unmapped: 0n, left: 1 },
      { desc: "4 KiB pages then the 2 MiB IOPTE: both", at: M2 - 2n * K4, size: 2n * K4 + K4, unmapped: 2n * K4 + M2, left: 0 },
    ])("unmap of part of a 2 MiB IOPTE $desc", ({ at, size, unmapped, left }) => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      iommu.map(d, M2 - 2n * K4, PA + M2 - 2n * K4, 2n * K4 + M2, IOMMU_READ);
      expect(d.pgtable!.largePtes[0]).toBe(1);
      expect(iommu.unmap(d, at, size)).toBe(unmapped);
      expect(d.pgtable!.largePtes[0]).toBe(left);
      expect(iommu.iovaToPhys(d, M2 + 0x10n)).toBe(left ? PA + M2 + 0x10n : 0n);
    });

    it("a 1 GiB IOPTE unmapped from inside stays; from its start it goes whole", () => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      iommu.map(d, G1, PA, G1, IOMMU_READ);
      expect(iommu.unmap(d, G1 + M2, M2)).toBe(0n);
      expect(iommu.unmap(d, G1, M2)).toBe(G1);
      expect(d.pgtable!.ptes).toBe(0);
    });

    it("ENOMEM for the 4 KiB tail's table unwinds the large IOPTEs already installed", () => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      k.faults.inject({ site: "iommu_map", nth: 1 });
      expect(() => iommu.map(d, G1, PA, G1 + M2 + K4, IOMMU_READ)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
      expect([d.pgtable!.ptes, [...d.pgtable!.largePtes]]).toEqual([0, [0, 0]]);
    });

    it("the number path leaves addresses at or above 2^52 to the exact bigint path", () => {
      const { k } = boot();
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", "wide", { apertureStart: 0n, apertureEnd: U64 - 1n });
      iommu.mapSafe(d, 2 ** 60, 2 ** 40, 0x20_0000, IOMMU_READ);
      expect(iommu.iovaToPhys(d, (1n << 60n) + 0x1f_ffffn)).toBe((1n << 40n) + 0x1f_ffffn);
      expect(d.pgtable!.largePtes[0]).toBe(1);
    });

    it("a device DMA reads and writes through 2 MiB IOPTEs with their permissions", () => {
      const { k, t } = boot("cross-root");
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc();
      iommu.attachGroup(d, t.importerSlot.iommuGroup!);
      const pa = BigInt(k.platform.physmem.allocPages(10, "test")) << 12n; // 4 MiB
      const data = bytes(0x3000, 9);
      k.platform.physmem.write(pa + M2 - 0x1000n, data);
      const iova = 0x4000_0000n;
      const aligned = pa % M2 === 0n;
      iommu.map(d, iova, pa, 2n * M2, IOMMU_READ);
      if (aligned) expect(d.pgtable!.largePtes[0]).toBe(2);
      expect(dmaRead(t.importerSlot, iova + M2 - 0x1000n, 0x3000)).toEqual(data);
      expect(() => dmaWrite(t.importerSlot, iova + 0x10n, new Uint8Array(4))).toThrow(expect.objectContaining({ reason: "iommu-write" }));
      iommu.unmap(d, iova, 2n * M2);
      iommu.detachGroup(d, t.importerSlot.iommuGroup!);
      iommu.domainFree(d);
      k.platform.physmem.freePages(Number(pa >> 12n), 10);
    });
  });

  describe("iova allocator", () => {
    it("allocates top-down, size-aligned, skipping reserved ranges, and reuses freed ranges", () => {
      const k = new Kernel();
      const iovad = new IovaDomain(k.alloc, "test");
      iovad.reserve(0xf0, 0xff);
      const a = iovad.allocIova(4, 0xff)!;
      expect(a).toEqual({ pfnLo: 0xec, pfnHi: 0xef });
      const b = iovad.allocIova(3, 0xff)!; // rounded up to 4 pages
      expect(b).toEqual({ pfnLo: 0xe8, pfnHi: 0xeb });
      const c = iovad.allocIova(64, 0xff)!; // 64-page alignment
      expect(c.pfnLo % 64).toBe(0);
      expect(c.pfnHi).toBeLessThan(0xe8);
      expect(iovad.freeIova(a.pfnLo)).toBe(true);
      expect(iovad.freeIova(a.pfnLo)).toBe(false);
      expect(iovad.allocIova(4, 0xff)).toEqual(a);
      expect(iovad.findIova(0xe9)).toEqual(b);
      expect(iovad.allocIova(1 << 20, 0xff)).toBeUndefined();
    });

    it("dma-iommu hands PCI devices 32-bit IOVAs first, avoiding the PCI windows and the MSI range", () => {
      const { t } = boot("cross-root");
      const dev = t.importerSlot;
      const addrs = [0, 1, 2].map(() => dmaMapPhys(dev, 0x20_0000n, 0x1000n, "DMA_TO_DEVICE", 0));
      expect(addrs).toEqual([0xffff_f000n, 0xffff_e000n, 0xffff_d000n]);
      const big = dmaMapPhys(dev, 0x20_0000n, 0x1000_0000n, "DMA_TO_DEVICE", 0);
      expect(big < 0xc000_0000n || big >= 0xff00_0000n).toBe(true);
    });
  });

  describe("DMA API", () => {
    it("dma_map_phys through a DMA domain: the device reads the bytes, unmap faults and frees", () => {
      const { k, t } = boot("cross-root");
      const data = bytes(0x2000, 3);
      k.platform.physmem.write(0x30_0800n, data);
      const addr = dmaMapPhys(t.importerSlot, 0x30_0800n, 0x2000n, "DMA_BIDIRECTIONAL", 0);
      expect(addr & 0xfffn).toBe(0x800n);
      expect(dmaRead(t.importerSlot, addr, 0x2000)).toEqual(data);
      dmaUnmapPhys(t.importerSlot, addr, 0x2000n, "DMA_BIDIRECTIONAL", 0);
      expect(() => dmaRead(t.importerSlot, addr, 1)).toThrow(DmaFault);
      expect(k.leakReport().empty).toBe(true);
    });

    it.each([
      { dir: "DMA_TO_DEVICE" as const, read: true, write: false },
      { dir: "DMA_FROM_DEVICE" as const, read: false, write: true },
      { dir: "DMA_BIDIRECTIONAL" as const, read: true, write: true },
    ])("$dir maps with the matching IOMMU permissions", ({ dir, read, write }) => {
      const { t } = boot("cross-root");
      const addr = dmaMapPhys(t.importerSlot, 0x30_0000n, 0x1000n, dir, 0);
      const tryIt = (fn: () => unknown) => {
        try {
          fn();
          return true;
        } catch (e) {
          expect((e as DmaFault).reason).toMatch(/iommu-(read|write)/);
          return false;
        }
      };
      expect(tryIt(() => dmaRead(t.importerSlot, addr, 4))).toBe(read);
      expect(tryIt(() => dmaWrite(t.importerSlot, addr, new Uint8Array(4)))).toBe(write);
    });

    it("dma-direct (identity domain) returns the physical address and checks the DMA mask", () => {
      const { t } = boot("iommu-off");
      expect(dmaMapPhys(t.importerSlot, 0x1234_5000n, 0x1000n, "DMA_TO_DEVICE", 0)).toBe(0x1234_5000n);
      t.importerSlot.dmaMask = (1n << 32n) - 1n;
      expect(dmaMapPhys(t.importerSlot, 0x1_0000_0000n, 0x1000n, "DMA_TO_DEVICE", DMA_ATTR_MMIO)).toBe(DMA_MAPPING_ERROR);
    });

    it("dma_map_phys returns DMA_MAPPING_ERROR when the IOVA space is exhausted, with nothing left behind", () => {
      const { k, t } = boot("cross-root");
      t.importerSlot.dmaMask = (1n << 33n) - 1n;
      expect(dmaMapPhys(t.importerSlot, 0x20_0000n, 1n << 34n, "DMA_TO_DEVICE", 0)).toBe(DMA_MAPPING_ERROR);
      expect(k.leakReport().empty).toBe(true);
    });

    it("dma_iova_try_alloc / link / sync / destroy map several ranges into one contiguous IOVA range", () => {
      const { k, t } = boot("cross-root");
      const dev = t.importerSlot;
      const parts = [bytes(0x1000, 1), bytes(0x3000, 2), bytes(0x2000, 3)];
      const phys = [0x40_0000n, 0x80_0000n, 0x20_0000n];
      parts.forEach((p, i) => k.platform.physmem.write(phys[i]!, p));
      const state = dmaIovaState();
      expect(dmaIovaTryAlloc(dev, state, phys[0]!, 0x6000n)).toBe(true);
      expect(dmaUseIova(state)).toBe(true);
      let off = 0n;
      parts.forEach((p, i) => {
        dmaIovaLink(dev, state, phys[i]!, off, BigInt(p.length), "DMA_TO_DEVICE", 0);
        off += BigInt(p.length);
      });
      dmaIovaSync(dev, state, 0n, off);
      const all = dmaRead(dev, state.addr, 0x6000);
      expect(all).toEqual(Uint8Array.from([...parts[0]!, ...parts[1]!, ...parts[2]!]));
      dmaIovaDestroy(dev, state, off, "DMA_TO_DEVICE", 0);
      expect(k.leakReport().empty).toBe(true);
    });

    it("dma_iova_try_alloc is false with dma-direct and for size 0", () => {
      const { t } = boot("iommu-off");
      const s = dmaIovaState();
      expect(dmaIovaTryAlloc(t.importerSlot, s, 0n, 0x1000n)).toBe(false);
      expect(dmaUseIova(s)).toBe(false);
      const { k: k2, t: t2 } = boot("cross-root");
      expect(dmaIovaTryAlloc(t2.importerSlot, s, 0n, 0n)).toBe(false);
      expect(k2.warnings()).toHaveLength(1);
    });
  });

  describe("DMA engine", () => {
    it("same-switch: a peer's bus address is routed by the switch without the IOMMU", () => {
      const { k, t } = boot("same-switch");
      const bar = t.exporterSlot.bars[0]!;
      k.platform.physmem.write(bar.start + 0x5000n, bytes(64, 9));
      expect(dmaRead(t.importerSlot, bar.start + 0x5000n, 64)).toEqual(bytes(64, 9));
      dmaWrite(t.importerSlot, bar.start + 0x6000n, bytes(16, 1));
      expect(k.platform.physmem.read(bar.start + 0x6000n, 16)).toEqual(bytes(16, 1));
    });

    it.each(["same-switch-acs", "cross-root"] as const)("%s: the bus address goes upstream and faults without an IOPTE", (name) => {
      const { k, t } = boot(name);
      const bar = t.exporterSlot.bars[0]!;
      expect(() => dmaRead(t.importerSlot, bar.start, 4)).toThrow(expect.objectContaining({ reason: "iommu-not-present" }));
      expect(k.printk.contains("DMAR: [DMA Read NO_PASID] Request device")).toBe(true);
      expect(k.trace.events("io_page_fault")).toHaveLength(1);
    });

    it.each([
      { name: "cross-root" as const, ok: true },
      { name: "cross-root-no-p2p" as const, ok: false },
    ])("$name: a peer BAR mapped in the IOMMU is reached only if the host bridge forwards P2P", ({ name, ok }) => {
      const { k, t } = boot(name);
      const bar = t.exporterSlot.bars[0]!;
      k.platform.physmem.write(bar.start, bytes(8, 5));
      const addr = dmaMapPhys(t.importerSlot, bar.start, 0x1000n, "DMA_BIDIRECTIONAL", DMA_ATTR_MMIO);
      const read = () => dmaRead(t.importerSlot, addr, 8);
      if (ok) expect(read()).toEqual(bytes(8, 5));
      else expect(read).toThrow(expect.objectContaining({ reason: "p2p-host-bridge" }));
    });

    it("a BAR whose memory decode is off (or in D3hot) answers Unsupported Request; the CPU reads all-ones", () => {
      const { k, t } = boot("same-switch");
      const bar = t.exporterSlot.bars[0]!;
      t.exporterSlot.command.memory = false;
      expect(() => dmaRead(t.importerSlot, bar.start, 4)).toThrow(expect.objectContaining({ reason: "unsupported-request" }));
      expect(k.platform.physmem.read(bar.start, 2)).toEqual(Uint8Array.of(0xff, 0xff));
      t.exporterSlot.command.memory = true;
      t.exporterSlot.currentState = "D3hot";
      expect(() => dmaRead(t.importerSlot, bar.start, 4)).toThrow(DmaFault);
    });

    it("a blocking domain faults every access", () => {
      const { k, t } = boot("cross-root");
      const iommu = k.platform.iommu!;
      const blocked = iommu.domainAlloc("IOMMU_DOMAIN_BLOCKED");
      iommu.attachGroup(blocked, t.importerSlot.iommuGroup!);
      expect(() => dmaRead(t.importerSlot, 0x10_0000n, 4)).toThrow(expect.objectContaining({ reason: "iommu-blocked" }));
      iommu.detachGroup(blocked, t.importerSlot.iommuGroup!);
      iommu.domainFree(blocked);
    });

    it("IOVAs above 2^53 translate byte-exactly through an unmanaged domain", () => {
      const { k, t } = boot("cross-root");
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", "wide", { apertureStart: 0n, apertureEnd: U64 - 1n });
      iommu.attachGroup(d, t.importerSlot.iommuGroup!);
      const bar = t.exporterSlot.bars[0]!;
      const data = bytes(0x3000, 7);
      k.platform.physmem.write(bar.start, data);
      const base = (1n << 60n) + 0x1000n;
      iommu.map(d, base, bar.start, 0x3000n, IOMMU_READ | IOMMU_WRITE);
      // An odd offset above 2^53 is not representable as a double: this fails if anything rounds.
      expect(dmaRead(t.importerSlot, base + 0x1001n, 5)).toEqual(data.subarray(0x1001, 0x1006));
      expect(dmaRead(t.importerSlot, base, 0x3000)).toEqual(data);
      dmaWrite(t.importerSlot, base + 0x2fffn, Uint8Array.of(0xab));
      expect(k.platform.physmem.read(bar.start + 0x2fffn, 1)).toEqual(Uint8Array.of(0xab));
    });

    it("a DMA that would cross 2^64 faults instead of wrapping to 0", () => {
      const { k, t } = boot("cross-root");
      const iommu = k.platform.iommu!;
      const d = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", "wide", { apertureStart: 0n, apertureEnd: U64 - 1n });
      iommu.attachGroup(d, t.importerSlot.iommuGroup!);
      iommu.map(d, 0n, 0x10_0000n, 0x1000n, IOMMU_READ);
      iommu.map(d, U64 - 0x1000n, 0x20_0000n, 0x1000n, IOMMU_READ);
      k.platform.physmem.write(0x20_0ffen, Uint8Array.of(1, 2));
      expect(dmaRead(t.importerSlot, U64 - 2n, 2)).toEqual(Uint8Array.of(1, 2));
      const e = (() => {
        try {
          dmaRead(t.importerSlot, U64 - 2n, 4);
        } catch (err) {
          return err as DmaFault;
        }
      })()!;
      expect(e.reason).toBe("address-overflow");
      expect(e.addr).toBe(U64);
      expect(() => dmaRead(t.importerSlot, U64, 1)).toThrow(expect.objectContaining({ reason: "address-overflow" }));
      expect(() => k.platform.physmem.read(U64 - 1n, 2)).toThrow(expect.objectContaining({ errno: "EFAULT" }) as unknown as KernelError);
    });

    it("a BAR placed above 2^53 is reached byte-exactly with the IOMMU in identity mode", () => {
      const { k, t } = boot("iommu-off", { mem64Base: 1n << 56n });
      const bar = t.exporterSlot.bars[0]!;
      expect(bar.start >= 1n << 56n).toBe(true);
      k.platform.physmem.write(bar.start + 0x1235n, Uint8Array.of(0x5a));
      expect(dmaRead(t.importerSlot, bar.start + 0x1235n, 1)).toEqual(Uint8Array.of(0x5a));
      expect(dmaRead(t.importerSlot, bar.start + 0x1234n, 1)).toEqual(Uint8Array.of(0));
    });
  });
});
