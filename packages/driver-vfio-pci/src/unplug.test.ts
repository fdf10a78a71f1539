// Surprise removal of a vfio-pci function whose BAR ranges are shared as dma-bufs.
import { describe, expect, it } from "vitest";
import { DmaFence, MAP_SHARED, PROT_READ, SpinLock, UserSignal, dmaFenceContextAlloc, dmaFencePut, dmaFenceSignal, dmaRead, dmaResvAddFence, dmaResvLock, dmaResvReserveFences, dmaResvUnlock } from "@dmabuf-sdk/dmabuf-core";
import { CompatDynamicImporter } from "@dmabuf-sdk/map-sgt";
import { vfioPciRemove, vfioPciUnplug } from "@dmabuf-sdk/driver-vfio-pci";
import { P, barWrite, boot, exportBuf, pattern, teardown } from "@dmabuf-sdk/driver-vfio-pci/testing";

describe("vfio-pci hot-unplug", () => {
  it("in-flight DMA of the importer is waited for, then the buffer is revoked for good: importer invalidated, maps ENODEV, stale DMA faults, CPU mappings SIGBUS; the device unbinds once the user closes it", () => {
    const e = boot();
    const data = pattern(0x2000, 5);
    barWrite(e, 0, 0n, data);
    const buf = exportBuf(e, [{ offset: 0n, length: 2n * P }]);
    const imp = new CompatDynamicImporter(e.t.importerSlot, buf.dmabuf);
    imp.map();
    const stale = imp.sgt!.dmaAddress[0]!;
    const addr = e.user.sys.mmap(2n * P, PROT_READ, MAP_SHARED, buf.fd);
    expect(e.user.sys.peek(addr, 16)).toEqual(data.subarray(0, 16));
    const k = e.k;
    const fence = new DmaFence(k, { getDriverName: () => "importer", getTimelineName: () => "dma" }, new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "dma fence lock"), dmaFenceContextAlloc(k, 1), 1n);
    dmaResvLock(buf.dmabuf.resv);
    dmaResvReserveFences(buf.dmabuf.resv, 1);
    dmaResvAddFence(buf.dmabuf.resv, fence, "DMA_RESV_USAGE_WRITE");
    dmaResvUnlock(buf.dmabuf.resv);
    let dmaDoneAt = -1;
    let decodingThen = false;
    k.clock.schedule(3e6, () => {
      // The importer's DMA completes while the BAR still decodes.
      decodingThen = !e.vdev.pdev.removed;
      dmaDoneAt = k.clock.nowNs;
      dmaFenceSignal(fence);
    });
    expect(vfioPciUnplug(e.vdev)).toBe(false); // still open: removal waits for the user
    expect([dmaDoneAt >= 3e6, decodingThen]).toEqual([true, true]);
    expect(imp.invalidations).toBe(1);
    expect(() => imp.map()).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    expect(() => dmaRead(e.t.importerSlot, stale, 16)).toThrow();
    expect(() => e.user.sys.peek(addr, 16)).toThrow(UserSignal);
    imp.detach();
    dmaFencePut(fence);
    expect(e.user.sys.munmap(addr, 2n * P)).toBe(0);
    teardown(e);
    vfioPciRemove(e.vdev);
    expect(e.vdev.pdev.driver).toBeUndefined();
    expect(k.leakReport().text()).toBe("");
  });

  it("a device nobody has open is unbound at once", () => {
    const e = boot("same-switch", { open: false });
    expect(vfioPciUnplug(e.vdev)).toBe(true);
    expect(e.vdev.pdev.driver).toBeUndefined();
    expect(e.k.leakReport().text()).toBe("");
  });
});
