// Hot-unplug of an Xe GPU whose buffers are shared (xe_device_remove: drm_dev_unplug, then xe_bo_pci_dev_remove_all).
import { describe, expect, it } from "vitest";
import {
  DmaFence,
  ERRNO,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  UserSignal,
  dmaBufFd,
  O_RDWR,
  SpinLock,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufPut,
  dmaFenceContextAlloc,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvHeld,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  type DmaBuf,
  type DmaBufAttachment,
  type Device,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingSgt, dmaBufSgtMapAttachment, dmaBufSgtUnmapAttachment, sgtDmaRead, type SgTable } from "@dmabuf-sdk/map-sgt";
import { XE_PL_SYSTEM, XE_PL_TT, XE_PL_VRAM0, xeBoCreate, xeBoPciDevRemoveAll, xeBoPut, xeBoWrite, xeDeviceRemove, xeGemPrimeExport } from "@dmabuf-sdk/driver-xe";
import { boot, bytes, xeOn } from "./testing/machine.js";

const MiB = 1n << 20n;

/** A dynamic SGT importer on another device. */
class Importer {
  readonly attach: DmaBufAttachment;
  sgt: SgTable | null = null;
  invalidations = 0;
  constructor(
    readonly dev: Device,
    readonly dmabuf: DmaBuf,
  ) {
    this.attach = dmaBufMappingAttach(dmabuf, [dmaBufImappingSgt(dev, true)], {
      allowPeer2peer: true,
      invalidateMappings: (a) => {
        expect(dmaResvHeld(dmabuf.resv)).toBe(true);
        this.invalidations++;
        if (this.sgt) dmaBufSgtUnmapAttachment(a, this.sgt, "DMA_BIDIRECTIONAL");
        this.sgt = null;
      },
    });
  }
  read(off: bigint, len: number): Uint8Array {
    if (!this.sgt) {
      dmaResvLock(this.dmabuf.resv);
      try {
        this.sgt = dmaBufSgtMapAttachment(this.attach, "DMA_BIDIRECTIONAL");
      } finally {
        dmaResvUnlock(this.dmabuf.resv);
      }
    }
    return sgtDmaRead(this.dev, this.sgt, off, len);
  }
  detach(): void {
    if (this.sgt) {
      dmaResvLock(this.dmabuf.resv);
      dmaBufSgtUnmapAttachment(this.attach, this.sgt, "DMA_BIDIRECTIONAL");
      dmaResvUnlock(this.dmabuf.resv);
    }
    dmaBufDetach(this.dmabuf, this.attach);
  }
}

describe("xe hot-unplug", () => {
  it("the importer's in-flight DMA is waited for, then the exported VRAM BO moves to system memory; the importer is invalidated and re-maps the same bytes", () => {
    const { k, t } = boot("same-switch");
    const xe = xeOn(t.exporterSlot);
    const bo = xeBoCreate(xe, 2n * MiB, { placements: [XE_PL_VRAM0, XE_PL_TT] });
    xeBoWrite(bo, 0x1000n, bytes(0x1000, 9));
    const dmabuf = xeGemPrimeExport(bo, O_RDWR);
    const other = xeBoCreate(xe, 1n * MiB, { placements: [XE_PL_VRAM0], name: "private" });
    const imp = new Importer(t.importerSlot, dmabuf);
    expect(imp.read(0x1000n, 0x1000)).toEqual(bytes(0x1000, 9));
    // The importer's DMA into the buffer is in flight: its fence sits in the resv.
    const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "importer fence lock");
    const dma = new DmaFence(k, { getDriverName: () => "importer", getTimelineName: () => "dma" }, lock, dmaFenceContextAlloc(k, 1), 1n);
    dmaResvLock(dmabuf.resv);
    dmaResvReserveFences(dmabuf.resv, 1);
    dmaResvAddFence(dmabuf.resv, dma, "DMA_RESV_USAGE_WRITE");
    dmaResvUnlock(dmabuf.resv);
    let signaledAt = -1;
    k.clock.schedule(5e6, () => {
      signaledAt = k.clock.nowNs;
      dmaFenceSignal(dma);
    });
    const before = k.clock.nowNs;
    xeDeviceRemove(xe);
    // The removal waited for the importer's DMA (virtual time moved to its completion).
    expect(signaledAt).toBeGreaterThanOrEqual(before + 5e6);
    expect([bo.memType, imp.invalidations]).toEqual([XE_PL_TT, 1]);
    expect(other.memType).toBe(XE_PL_SYSTEM); // purged
    expect(imp.read(0x1000n, 0x1000)).toEqual(bytes(0x1000, 9));
    imp.detach();
    dmaBufPut(dmabuf);
    dmaFencePut(dma);
    xeBoPut(other);
    xeBoPut(bo);
    expect(k.leakReport().text()).toBe("");
    expect(k.lockdep.reports()).toEqual([]);
  });

  it("buffers the removed GPU imported from another device: its mappings go, the exporter's buffer stays valid", () => {
    const { k, t } = boot("same-switch");
    const exporter = xeOn(t.exporterSlot);
    const gone = xeOn(t.importerSlot);
    const bo = xeBoCreate(exporter, 1n * MiB, { placements: [XE_PL_VRAM0, XE_PL_TT] });
    xeBoWrite(bo, 0n, bytes(64, 4));
    const dmabuf = xeGemPrimeExport(bo, O_RDWR);
    const imp = new Importer(t.importerSlot, dmabuf); // a second, surviving importer view
    expect(imp.read(0n, 64)).toEqual(bytes(64, 4));
    const outcome = xeBoPciDevRemoveAll(gone);
    expect([...outcome.values()]).toEqual([]);
    xeDeviceRemove(gone);
    expect(imp.read(0n, 64)).toEqual(bytes(64, 4));
    imp.detach();
    dmaBufPut(dmabuf);
    xeBoPut(bo);
    expect(k.leakReport().text()).toBe("");
  });
});

describe("xe hot-unplug: CPU mappings of its exported buffers", () => {
  it.each([
    { policy: "dummy-page" as const, after: "reads the dummy page; writes land there" },
    { policy: "sigbus" as const, after: "SIGBUS" },
  ])("$policy: before removal the mapping reaches the BO; after it, $after; new mmaps are ENODEV; nothing leaks", ({ policy }) => {
    const { k, t } = boot("same-switch");
    const xe = xeOn(t.exporterSlot, { unplugMmap: policy });
    const bo = xeBoCreate(xe, 2n * 4096n, { placements: [XE_PL_VRAM0, XE_PL_TT] });
    xeBoWrite(bo, 0n, bytes(4096, 5));
    const dmabuf = xeGemPrimeExport(bo, O_RDWR);
    xeBoPut(bo);
    const task = k.fork({ comm: "cpu-user" });
    const mine = k.runAs(task, () => dmaBufFd(dmabuf, O_RDWR)); // the fd takes over the export's reference
    const addr = task.sys.mmap(8192, PROT_READ | PROT_WRITE, MAP_SHARED, mine, 0);
    expect(addr).toBeGreaterThan(0n);
    expect(task.sys.peek(addr, 16)).toEqual(bytes(4096, 5).subarray(0, 16));
    xeDeviceRemove(xe);
    if (policy === "sigbus") {
      expect(() => task.sys.peek(addr, 16)).toThrow(UserSignal);
    } else {
      expect(task.sys.peek(addr, 16)).toEqual(new Uint8Array(16));
      task.sys.poke(addr + 4096n, Uint8Array.of(1, 2, 3));
      expect(task.sys.peek(addr, 3)).toEqual(Uint8Array.of(1, 2, 3)); // one dummy page for the whole VMA
    }
    expect(task.sys.mmap(4096, PROT_READ, MAP_SHARED, mine, 0)).toBe(BigInt(-ERRNO.ENODEV));
    expect(task.sys.munmap(addr, 8192)).toBe(0);
    task.sys.close(mine);
    expect(k.leakReport().text()).toBe("");
  });
});
