// Tests of drivers/iommu/dma-iommu.c: strict and flush-queue DMA-API modes, per-device default domains.
import { describe, expect, it } from "vitest";
import {
  Device,
  IOVA_FQ_SIZE,
  IOVA_FQ_TIMEOUT_MS,
  Kernel,
  buildTopology,
  dmaIovaDestroy,
  dmaIovaLink,
  dmaIovaState,
  dmaIovaTryAlloc,
  dmaIovaUnlink,
  dmaIovaFree,
  dmaMapPhys,
  dmaRead,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapPhys,
  iommuDmaFqDepth,
  iommuDmaStatsSnapshot,
  isKernelError,
  topologyKernelOptions,
  type KernelOptions,
} from "@dmabuf-sdk/dmabuf-core";

type Mode = "strict" | "lazy" | "passthrough";

/** What the IOMMU still holds (the test's own RAM page is not a leak of the DMA API). */
function iommuLeaks(k: Kernel): string[] {
  return k.leakReport().entries.filter((e) => e.kind === "iova" || e.kind === "iommu_pte").map((e) => e.detail);
}

function boot(mode: Mode) {
  const kopts: Partial<KernelOptions> = mode === "passthrough" ? topologyKernelOptions("iommu-off") : { iommu: "dma", iommuStrict: mode === "strict" };
  const k = new Kernel(kopts);
  const t = buildTopology(k, "cross-root");
  const dev = t.importerSlot;
  const pfn = k.platform.physmem.allocPages(0, "test");
  return { k, dev, phys: BigInt(pfn) << 12n, pfn };
}

describe("IOMMU DMA-API modes (drivers/iommu/dma-iommu.c)", () => {
  it.each([
    { mode: "strict" as Mode, domain: "IOMMU_DOMAIN_DMA", ops: { iovaAlloc: 1, map: 1, unmap: 1, iotlbSync: 1, fqEnqueue: 0, iovaFree: 1, iotlbFlushAll: 0 } },
    { mode: "lazy" as Mode, domain: "IOMMU_DOMAIN_DMA_FQ", ops: { iovaAlloc: 1, map: 1, unmap: 1, iotlbSync: 0, fqEnqueue: 1, iovaFree: 0, iotlbFlushAll: 0 } },
    { mode: "passthrough" as Mode, domain: "IOMMU_DOMAIN_IDENTITY", ops: { iovaAlloc: 0, map: 0, unmap: 0, iotlbSync: 0, fqEnqueue: 0, iovaFree: 0, iotlbFlushAll: 0 } },
  ])("$mode: one dma_map_phys + dma_unmap_phys costs $ops", ({ mode, domain, ops }) => {
    const { k, dev, phys } = boot(mode);
    expect(dev.iommuGroup!.defaultDomain.type).toBe(domain);
    k.platform.physmem.write(phys, Uint8Array.of(7, 8, 9));
    const addr = dmaMapPhys(dev, phys, 4096n, "DMA_TO_DEVICE", 0);
    expect([...dmaRead(dev, addr, 3)]).toEqual([7, 8, 9]);
    dmaUnmapPhys(dev, addr, 4096n, "DMA_TO_DEVICE", 0);
    const s = iommuDmaStatsSnapshot(dev);
    expect({ iovaAlloc: s.iovaAlloc, map: s.map, unmap: s.unmap, iotlbSync: s.iotlbSync, fqEnqueue: s.fqEnqueue, iovaFree: s.iovaFree, iotlbFlushAll: s.iotlbFlushAll }).toEqual(ops);
    // The flush-queue timer gives the lazy IOVA back; then nothing is left.
    k.clock.advance(IOVA_FQ_TIMEOUT_MS * 1e6);
    expect(iommuLeaks(k)).toEqual([]);
  });

  it("lazy: the queued IOVA stays allocated (not reusable) until the flush; the timer flushes the whole domain once", () => {
    const { k, dev, phys } = boot("lazy");
    const a = dmaMapPhys(dev, phys, 4096n, "DMA_BIDIRECTIONAL", 0);
    dmaUnmapPhys(dev, a, 4096n, "DMA_BIDIRECTIONAL", 0);
    const b = dmaMapPhys(dev, phys, 4096n, "DMA_BIDIRECTIONAL", 0);
    expect(b).not.toBe(a);
    dmaUnmapPhys(dev, b, 4096n, "DMA_BIDIRECTIONAL", 0);
    const domain = dev.iommuGroup!.defaultDomain;
    expect(iommuDmaFqDepth(domain)).toBe(2);
    expect(k.leakReport().entries.filter((e) => e.kind === "iova")).toHaveLength(2);
    k.clock.advance(IOVA_FQ_TIMEOUT_MS * 1e6 - 1);
    expect(iommuDmaFqDepth(domain)).toBe(2);
    k.clock.advance(1);
    expect(iommuDmaFqDepth(domain)).toBe(0);
    expect(iommuDmaStatsSnapshot(dev)).toMatchObject({ iotlbFlushAll: 1, iovaFree: 2, iotlbSync: 0 });
    expect(iommuLeaks(k)).toEqual([]);
  });

  it("lazy: the flush-queue timer (fq_flush_timeout) runs as a timer_list callback in softirq context; &fq->lock is softirq-safe, irq-safe everywhere", () => {
    const { k, dev, phys } = boot("lazy");
    dmaUnmapPhys(dev, dmaMapPhys(dev, phys, 4096n, "DMA_BIDIRECTIONAL", 0), 4096n, "DMA_BIDIRECTIONAL", 0);
    // queue_iova() in process context takes the lock irqsave: no usage bit beyond INITIAL USE.
    expect(k.lockdep.procLockdep()).toContain("....: &fq->lock");
    k.clock.advance(IOVA_FQ_TIMEOUT_MS * 1e6);
    // fq_flush_timeout() from the timer softirq: IN-SOFTIRQ-W on &fq->lock.
    expect(k.lockdep.procLockdep()).toContain("..-.: &fq->lock");
    // Unmapping again from a hard-IRQ handler is fine: every taker disables IRQs.
    k.sched.irq(() => dmaUnmapPhys(dev, dmaMapPhys(dev, phys, 4096n, "DMA_BIDIRECTIONAL", 0), 4096n, "DMA_BIDIRECTIONAL", 0));
    k.clock.advance(IOVA_FQ_TIMEOUT_MS * 1e6);
    expect(k.lockdep.procLockdep()).toContain("-.-.: &fq->lock");
    expect(k.lockdep.reports()).toEqual([]);
    expect(iommuLeaks(k)).toEqual([]);
  });

  it(`lazy: a full flush queue (${IOVA_FQ_SIZE} entries) is drained before the next entry`, () => {
    const { dev, phys } = boot("lazy");
    for (let i = 0; i <= IOVA_FQ_SIZE; i++) dmaUnmapPhys(dev, dmaMapPhys(dev, phys, 4096n, "DMA_TO_DEVICE", 0), 4096n, "DMA_TO_DEVICE", 0);
    expect(iommuDmaStatsSnapshot(dev)).toMatchObject({ fqEnqueue: IOVA_FQ_SIZE + 1, iotlbFlushAll: 1, iovaFree: IOVA_FQ_SIZE });
    expect(iommuDmaFqDepth(dev.iommuGroup!.defaultDomain)).toBe(1);
  });

  it.each([
    { mode: "strict" as Mode, sync: 2, fq: 0 },
    { mode: "lazy" as Mode, sync: 1, fq: 1 },
  ])("$mode: dma_iova_unlink always syncs, dma_iova_destroy queues only in a lazy domain", ({ mode, sync, fq }) => {
    const { k, dev, phys } = boot(mode);
    const st = dmaIovaState();
    expect(dmaIovaTryAlloc(dev, st, phys, 8192n)).toBe(true);
    dmaIovaLink(dev, st, phys, 0n, 4096n, "DMA_TO_DEVICE", 0);
    dmaIovaLink(dev, st, phys, 4096n, 4096n, "DMA_TO_DEVICE", 0);
    dmaIovaUnlink(dev, st, 4096n, 4096n, "DMA_TO_DEVICE", 0);
    dmaIovaDestroy(dev, st, 4096n, "DMA_TO_DEVICE", 0);
    expect(iommuDmaStatsSnapshot(dev)).toMatchObject({ iovaAlloc: 1, map: 2, unmap: 2, iotlbSync: sync, fqEnqueue: fq });
    k.clock.advance(IOVA_FQ_TIMEOUT_MS * 1e6);
    expect(iommuLeaks(k)).toEqual([]);
    const st2 = dmaIovaState();
    dmaIovaTryAlloc(dev, st2, phys, 4096n);
    dmaIovaFree(dev, st2);
    expect(iommuLeaks(k)).toEqual([]);
  });

  it("dma_sync_single_for_{device,cpu} are counted and touch no IOMMU state", () => {
    const { dev } = boot("strict");
    dmaSyncSingleForDevice(dev, 0x1000n, 4096n, "DMA_FROM_DEVICE");
    dmaSyncSingleForCpu(dev, 0x1000n, 4096n, "DMA_FROM_DEVICE");
    expect(iommuDmaStatsSnapshot(dev)).toMatchObject({ dmaSync: 2, map: 0, unmap: 0, iotlbSync: 0 });
  });

  describe("per-device default domain (iommu_group_store_type)", () => {
    it("an unbound idle group switches strict → passthrough → lazy; DMA → DMA-FQ works in place while bound", () => {
      const { k, dev } = boot("strict");
      const group = dev.iommuGroup!;
      k.platform.iommu!.setGroupDefaultDomain(group, "IOMMU_DOMAIN_IDENTITY");
      expect(group.defaultDomain.type).toBe("IOMMU_DOMAIN_IDENTITY");
      k.platform.iommu!.setGroupDefaultDomain(group, "IOMMU_DOMAIN_DMA");
      dev.driver = "nvme";
      const before = group.defaultDomain;
      k.platform.iommu!.setGroupDefaultDomain(group, "IOMMU_DOMAIN_DMA_FQ");
      expect(group.defaultDomain).toBe(before);
      expect(before.type).toBe("IOMMU_DOMAIN_DMA_FQ");
    });

    it.each([
      { desc: "bound driver, DMA → identity", setup: (d: { driver?: string; untrusted: boolean }): void => void (d.driver = "nvme"), type: "IOMMU_DOMAIN_IDENTITY" as const, errno: "EBUSY" },
      { desc: "untrusted device leaving strict DMA", setup: (d: { driver?: string; untrusted: boolean }): void => void (d.untrusted = true), type: "IOMMU_DOMAIN_DMA_FQ" as const, errno: "EINVAL" },
      { desc: "a type that cannot be a default domain", setup: (_d: { driver?: string; untrusted: boolean }): void => undefined, type: "IOMMU_DOMAIN_UNMANAGED" as const, errno: "EINVAL" },
    ])("$desc → $errno, domain unchanged", ({ setup, type, errno }) => {
      const { k, dev } = boot("strict");
      setup(dev);
      const before = dev.iommuGroup!.defaultDomain;
      let err: unknown;
      try {
        k.platform.iommu!.setGroupDefaultDomain(dev.iommuGroup!, type);
      } catch (e) {
        err = e;
      }
      expect(isKernelError(err) && err.errno).toBe(errno);
      expect(dev.iommuGroup!.defaultDomain).toBe(before);
      expect(before.type).toBe("IOMMU_DOMAIN_DMA");
    });

    it("an untrusted device probed on a lazy machine gets strict DMA", () => {
      const k = new Kernel({ iommu: "dma", iommuStrict: false });
      const t = buildTopology(k, "cross-root");
      expect(t.importerSlot.iommuGroup!.defaultDomain.type).toBe("IOMMU_DOMAIN_DMA_FQ");
      const ext = new Device(k, "thunderbolt-ext", "platform");
      ext.untrusted = true;
      expect(k.platform.iommu!.probeDevice(ext).defaultDomain.type).toBe("IOMMU_DOMAIN_DMA");
    });
  });
});
