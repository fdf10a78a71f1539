// Tests: fault injection at every core allocation site leaves errno returns and nothing leaked.
import { describe, expect, it } from "vitest";
import {
  DMA_ATTR_MMIO,
  DMA_MAPPING_ERROR,
  DmaFence,
  IOMMU_READ,
  Kernel,
  KernelError,
  O_RDWR,
  SpinLock,
  buildTopology,
  dmaBufDetach,
  dmaBufExport,
  dmaBufFd,
  dmaBufMappingAttach,
  dmaBufPut,
  dmaFenceContextAlloc,
  dmaFencePut,
  dmaFenceSignal,
  dmaIovaDestroy,
  dmaIovaLink,
  dmaIovaState,
  dmaIovaTryAlloc,
  dmaMapPhys,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaUnmapPhys,
  pcimP2pdmaInit,
  topologyKernelOptions,
  type AllocSite,
  type DmaBufMappingType,
} from "@dmabuf-sdk/dmabuf-core";
import { faultSweep } from "@dmabuf-sdk/dmabuf-core/testing";

const T: DmaBufMappingType = { name: "Mock", finishMatch: (a, e) => a.attach && (a.attach.mapType = { type: T, expOps: e.expOps }) };

/**
 * Touches every allocation site of core, unwinding like a careful driver:
 * each acquired resource is released in reverse order, on success and on
 * failure. Returns normally only if nothing failed.
 */
function scenario(k: Kernel): void {
  const t = buildTopology(k, "cross-root");
  const user = k.fork({ comm: "user" });
  const undo: (() => void)[] = [];
  try {
    pcimP2pdmaInit(k.alloc, t.exporterSlot);
    const pfn = k.platform.physmem.allocPages(2, "scenario");
    undo.push(() => k.platform.physmem.freePages(pfn, 2));

    const dmabuf = dmaBufExport(k, { owner: k.modules.vmlinux, ops: { release: () => undefined, singleExporterMatch: { type: T } }, size: 0x4000n, flags: O_RDWR, priv: {} });
    let fd = -1;
    undo.push(() => (fd >= 0 ? user.sys.close(fd) : dmaBufPut(dmabuf)));
    fd = k.runAs(user, () => dmaBufFd(dmabuf, O_RDWR));

    const attach = dmaBufMappingAttach(dmabuf, [{ type: T }], { invalidateMappings: () => undefined });
    undo.push(() => dmaBufDetach(dmabuf, attach));

    const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "fence lock");
    const fence = new DmaFence(k, { getDriverName: () => "d", getTimelineName: () => "t" }, lock, dmaFenceContextAlloc(k, 1), 1n);
    undo.push(() => dmaFencePut(fence));
    dmaResvLock(dmabuf.resv);
    try {
      dmaResvReserveFences(dmabuf.resv, 1);
      dmaResvAddFence(dmabuf.resv, fence, "DMA_RESV_USAGE_WRITE");
    } finally {
      dmaResvUnlock(dmabuf.resv);
    }
    dmaFenceSignal(fence);

    const dev = t.importerSlot;
    const addr = dmaMapPhys(dev, BigInt(pfn) << 12n, 0x4000n, "DMA_BIDIRECTIONAL", 0);
    if (addr === DMA_MAPPING_ERROR) throw new KernelError("ENOMEM", "dma_map_phys");
    undo.push(() => dmaUnmapPhys(dev, addr, 0x4000n, "DMA_BIDIRECTIONAL", 0));

    const state = dmaIovaState();
    if (dmaIovaTryAlloc(dev, state, t.exporterSlot.bars[0]!.start, 0x2000n)) {
      let linked = 0n;
      undo.push(() => dmaIovaDestroy(dev, state, linked, "DMA_BIDIRECTIONAL", DMA_ATTR_MMIO));
      dmaIovaLink(dev, state, t.exporterSlot.bars[0]!.start, 0n, 0x2000n, "DMA_BIDIRECTIONAL", DMA_ATTR_MMIO);
      linked = 0x2000n;
    }

    const iommu = k.platform.iommu!;
    const domain = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", "scenario");
    undo.push(() => iommu.domainFree(domain));
    iommu.map(domain, 0x10_0000n, BigInt(pfn) << 12n, 0x4000n, IOMMU_READ);
    undo.push(() => void iommu.unmap(domain, 0x10_0000n, 0x4000n));
  } finally {
    while (undo.length) undo.pop()!();
    k.exitTask(user, 0);
  }
}

describe("fault injection over every core allocation site", () => {
  const sweep = faultSweep(() => new Kernel(topologyKernelOptions("cross-root")), scenario);
  const { clean, attempts } = sweep;

  it("the scenario succeeds without injection and leaves nothing behind", () => {
    expect(clean.leakReport().text()).toBe("");
  });

  it("covers every allocation site core has", () => {
    const sites = new Set(attempts.map((r) => r.site));
    const expected: AllocSite[] = ["kzalloc", "alloc_pages", "alloc_iova", "iommu_map", "get_unused_fd", "dma_resv_reserve_fences"];
    expect([...sites].sort()).toEqual([...expected].sort());
  });

  it.each(attempts.map((r) => ({ nth: r.nth, site: r.site, what: r.what })))("failing attempt $nth ($site: $what) unwinds completely", ({ nth }) => {
    const { kernel: k, error: err } = sweep.failAttempt(nth);
    expect(k.faults.failures).toBe(1);
    // A failed IOVA allocation inside dma_iova_try_alloc() falls back silently (as the kernel does).
    if (err) expect(err).toBeInstanceOf(KernelError);
    expect(k.leakReport().text()).toBe("");
    expect(k.lockdep.reports()).toEqual([]);
    expect(k.warnings()).toEqual([]);
  });
});
