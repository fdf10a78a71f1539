// Tests of vfio-pci revocation: device close, the kref underflow fix, DMA_BUF_REVOKE and hot reset of a device set.
import { describe, expect, it } from "vitest";
import {
  DmaFault,
  DmaFence,
  KernelBug,
  O_RDWR,
  SpinLock,
  buildTopology,
  dmaBufExport,
  dmaBufFd,
  dmaBufMappingAttach,
  dmaBufDetach,
  dmaFenceContextAlloc,
  dmaFencePut,
  dmaFenceSignal,
  dmaRead,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  type DmaBufAttachment,
  type Kernel,
  type Task,
  initDelayedWork,
  queueDelayedWork,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingPal } from "@dmabuf-sdk/map-pal";
import { CompatDynamicImporter, dmaBufImappingSgt, dmaBufSgtUnmapAttachment, dmaBufSgtMapAttachment, sgtDmaRead, type SgTable } from "@dmabuf-sdk/map-sgt";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
  VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_RESET,
  VFIO_GROUP_GET_DEVICE_FD,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_EXP_CAP,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBufRevoke,
  vfioDeviceName,
  vfioPciHotReset,
  vfioPciIndexToOffset,
  vfioPciProbe,
  vfioWriteCommand,
} from "@dmabuf-sdk/driver-vfio-pci";
import { P, barWrite, boot, exportBuf, pattern, revokeRaw, setMemory, setPowerState, teardown, type Env } from "@dmabuf-sdk/driver-vfio-pci/testing";
import { expectErrno } from "@dmabuf-sdk/dmabuf-core/testing";

const sysFeature = (e: Env, flags: number, payload: Uint8Array = new Uint8Array(0), devFd = e.devFd): number => e.user.sys.ioctl(devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(flags, payload));

function flr(e: Env): void {
  const v = new Uint8Array(2);
  new DataView(v.buffer).setUint16(0, PCI_EXP_DEVCTL_BCR_FLR, true);
  expect(e.user.sys.pwrite(e.devFd, v, vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX) + BigInt(VFIO_PCI_EXP_CAP + PCI_EXP_DEVCTL))).toBe(2);
}

/** A mapped SGT importer of a fresh buffer whose bytes are known. */
function mapped(e: Env) {
  const data = pattern(0x2000, 3);
  barWrite(e, 0, 0n, data);
  const buf = exportBuf(e, [{ offset: 0n, length: 2n * P }]);
  const imp = new CompatDynamicImporter(e.t.importerSlot, buf.dmabuf);
  imp.map();
  expect(buf.priv.outstandingMaps).toBe(1);
  return { ...buf, imp, data };
}

const TRANSITIONS = [
  { desc: "PCI_COMMAND memory disable / enable", revoke: (e: Env) => setMemory(e, false), restore: (e: Env) => setMemory(e, true), fault: "unsupported-request" },
  { desc: "PMCSR D3hot / D0", revoke: (e: Env) => setPowerState(e, 3), restore: (e: Env) => setPowerState(e, 0), fault: "unsupported-request" },
  {
    desc: "runtime PM entry / exit",
    revoke: (e: Env) => expect(sysFeature(e, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY)).toBe(0),
    restore: (e: Env) => expect(sysFeature(e, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT)).toBe(0),
    fault: "unsupported-request",
  },
];

describe("revocation", () => {
  it.each(TRANSITIONS)("$desc: importers invalidated under resv and drained, maps ENODEV, DMA faults; back on re-enable", ({ revoke, restore, fault }) => {
    const e = boot();
    const { imp, priv, data } = mapped(e);
    const stale = imp.sgt!.dmaAddress[0]!;
    revoke(e);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_TEMP_REVOKED");
    expect(imp.invalidations).toBe(1);
    expect(imp.sgt).toBeNull();
    expect(priv.kref.refcount).toBe(1); // drained and re-armed
    expect(() => imp.map()).toThrow(expect.objectContaining({ errno: "ENODEV", operation: "vfio_pci_dma_buf_map" }));
    expect(() => dmaRead(e.t.importerSlot, stale, 16)).toThrow(expect.objectContaining({ reason: fault }));
    restore(e);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    expect(imp.invalidations).toBe(2); // notified again, while still revoked
    expect(sgtDmaRead(e.t.importerSlot, imp.ensureMapped(), 0n, data.length)).toEqual(data);
    imp.detach();
    teardown(e);
  });

  it("a VF (sriov): clearing PCI_COMMAND.MEMORY revokes and un-revokes at once (no_command_memory keeps memory enabled); D3hot revokes", () => {
    const e = boot("sriov");
    expect(e.t.exporterSlot.isVirtfn).toBe(true);
    const { imp, priv } = mapped(e);
    setMemory(e, false);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    expect(imp.invalidations).toBe(2);
    expect(e.t.exporterSlot.command.memory).toBe(true); // the VF's memory decode is the PF's
    setPowerState(e, 3);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_TEMP_REVOKED");
    setPowerState(e, 0);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    imp.detach();
    teardown(e);
  });

  it("runtime PM entry twice: EINVAL and the buffers stay revoked", () => {
    const e = boot();
    const { priv, imp } = mapped(e);
    expect(sysFeature(e, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY)).toBe(0);
    expectErrno(sysFeature(e, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY), "EINVAL");
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_TEMP_REVOKED");
    expectErrno(sysFeature(e, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY), "EINVAL");
    expect(sysFeature(e, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT)).toBe(0);
    expect(sysFeature(e, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT)).toBe(0);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    imp.detach();
    teardown(e);
  });

  it.each([
    { desc: "an FLR through PCI_EXP_DEVCTL", act: (e: Env) => flr(e) },
    { desc: "VFIO_DEVICE_RESET", act: (e: Env) => expect(e.user.sys.ioctl(e.devFd, VFIO_DEVICE_RESET)).toBe(0) },
    { desc: "VFIO_DEVICE_PCI_HOT_RESET (cdev, one device in the set)", act: (e: Env) => expect(e.user.sys.ioctl(e.devFd, VFIO_DEVICE_PCI_HOT_RESET, vfioPciHotReset())).toBe(0) },
  ])("$desc revokes around the reset and un-revokes at once (the virtual command register still has MEMORY)", ({ act }) => {
    const e = boot();
    const { imp, priv, data } = mapped(e);
    act(e);
    expect(e.vdev.resets).toBeGreaterThanOrEqual(1);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    expect(imp.invalidations).toBe(2);
    expect(imp.sgt).toBeNull();
    expect(sgtDmaRead(e.t.importerSlot, imp.ensureMapped(), 0n, 16)).toEqual(data.subarray(0, 16));
    imp.detach();
    teardown(e);
  });

  it("a reset with memory decode off leaves the buffers revoked", () => {
    const e = boot();
    const { priv, imp } = mapped(e);
    setMemory(e, false);
    expect(e.user.sys.ioctl(e.devFd, VFIO_DEVICE_RESET)).toBe(0);
    flr(e);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_TEMP_REVOKED");
    expect(imp.invalidations).toBe(1);
    imp.detach();
    teardown(e);
  });

  it("an FLR on a function that cannot do one does nothing", () => {
    const e = boot("same-switch", { probe: { flrCapable: false } });
    const { imp } = mapped(e);
    flr(e);
    expect(imp.invalidations).toBe(0);
    expect(e.vdev.resets).toBe(0);
    imp.detach();
    teardown(e);
  });

  it("invalidation runs with the buffer's resv held, every attachment, newest first", () => {
    const e = boot();
    const { dmabuf } = exportBuf(e);
    const seen: string[] = [];
    const mk = (name: string): DmaBufAttachment =>
      dmaBufMappingAttach(dmabuf, [dmaBufImappingPal()], { invalidateMappings: (a) => void seen.push(`${name} ${e.k.lockdep.isHeld(a.dmabuf!.resv.lock)}`) });
    const a = mk("first");
    const b = mk("second");
    setMemory(e, false);
    expect(seen).toEqual(["second true", "first true"]);
    dmaBufDetach(dmabuf, a);
    dmaBufDetach(dmabuf, b);
    teardown(e);
  });

  it("the revoke waits (in virtual time) for an importer that unmaps from deferred work, and for the fences", () => {
    const e = boot();
    const { dmabuf, priv } = exportBuf(e);
    let sgt: SgTable | null = null;
    const unmapWork = initDelayedWork(e.k, "&importer->unmap_work", () => {
      dmaResvLock(dmabuf.resv);
      try {
        dmaBufSgtUnmapAttachment(attach, sgt!, "DMA_BIDIRECTIONAL");
      } finally {
        dmaResvUnlock(dmabuf.resv);
      }
      sgt = null;
    });
    const attach: DmaBufAttachment = dmaBufMappingAttach(dmabuf, [dmaBufImappingSgt(e.t.importerSlot, true)], {
      allowPeer2peer: true,
      invalidateMappings: () => {
        // like io_uring's token: unmap from a kworker when in-flight I/O drains, 5 ms later
        queueDelayedWork(e.k.workqueues.systemWq, unmapWork, 5e6);
      },
    });
    const lock = new SpinLock({ lockdep: e.k.lockdep, current: () => e.k.current }, "fence");
    const fence = new DmaFence(e.k, { getDriverName: () => "test", getTimelineName: () => "dma" }, lock, dmaFenceContextAlloc(e.k, 1), 1n);
    dmaResvLock(dmabuf.resv);
    sgt = dmaBufSgtMapAttachment(attach, "DMA_BIDIRECTIONAL");
    dmaResvReserveFences(dmabuf.resv, 1);
    dmaResvAddFence(dmabuf.resv, fence, "DMA_RESV_USAGE_BOOKKEEP");
    dmaResvUnlock(dmabuf.resv);
    e.k.sched.raiseIrq("fence", () => dmaFenceSignal(fence), 2e6); // the device completes: IRQ
    const t0 = e.k.clock.nowNs;
    setMemory(e, false);
    expect(e.k.clock.nowNs - t0).toBe(5e6);
    expect(sgt).toBeNull();
    expect(priv.kref.refcount).toBe(1);
    dmaFencePut(fence);
    dmaBufDetach(dmabuf, attach);
    teardown(e);
  });

  it("an importer that never gives its mapping back hangs the revoke (a hung task, as in the kernel)", () => {
    const e = boot();
    const { dmabuf } = exportBuf(e);
    const attach = dmaBufMappingAttach(dmabuf, [dmaBufImappingSgt(e.t.importerSlot, true)], { allowPeer2peer: true, invalidateMappings: () => undefined });
    dmaResvLock(dmabuf.resv);
    dmaBufSgtMapAttachment(attach, "DMA_BIDIRECTIONAL");
    dmaResvUnlock(dmabuf.resv);
    // The syscall boundary turns the model's hung-task report into an oops and -EFAULT.
    expectErrno(vfioWriteCommand(e.user, e.devFd, false), "EFAULT");
    expect(e.k.oopses().map((o) => String(o.error))).toEqual([expect.stringMatching(/hung_task: .* blocked in vfio_pci_dma_buf_set_status: 1 mapping reference\(s\) of dma-buf ino \d+ never returned/)]);
    expect(e.k.oopses()[0]!.error).toBeInstanceOf(KernelBug);
    expect(e.vdev.memoryLock.writer).toBeUndefined();
    expect(e.k.lockdep.reports()).toEqual([]);
  });
});

describe("device close (cleanup) and the kref underflow fix", () => {
  it("closing the device kills every buffer: invalidated, drained, off the device; attach and map ENODEV", () => {
    const e = boot();
    const { imp, priv, dmabuf, fd } = mapped(e);
    expect(e.vdev.registrations).toBe(3);
    e.user.sys.close(e.devFd);
    expect(imp.invalidations).toBe(1);
    expect(priv.vdev).toBeNull();
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_TEMP_REVOKED");
    expect(e.vdev.registrations).toBe(1); // neither the file nor the buffer holds the device
    expect(e.vdev.vconfig).toBeNull();
    expect(() => imp.map()).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    expect(() => new CompatDynamicImporter(e.t.importerSlot, dmabuf)).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    // the device can be unbound while the orphaned buffer lives on
    e.vdev.unregister();
    expect(e.vdev.registrations).toBe(0);
    imp.detach();
    e.user.sys.close(fd);
    e.k.clock.flush();
    expect(e.k.leakReport().text()).toBe("");
  });

  it("cleanup runs before vfio_pci_core_disable(): importers are invalidated while the BAR is still claimed and the config space still there", () => {
    const e = boot();
    const { dmabuf } = exportBuf(e);
    const seen: string[] = [];
    const a = dmaBufMappingAttach(dmabuf, [dmaBufImappingPal()], {
      invalidateMappings: () => void seen.push(`claimed=${e.t.exporterSlot.bars[0]!.claimed} vconfig=${e.vdev.vconfig !== null}`),
    });
    e.user.sys.close(e.devFd);
    expect(seen).toEqual(["claimed=true vconfig=true"]);
    expect(e.t.exporterSlot.bars[0]!.claimed).toBe(false);
    dmaBufDetach(dmabuf, a);
    teardown(e);
  });

  it("un-revoke notifies while still revoked: a map from inside the callback fails with ENODEV, a map after succeeds", () => {
    const e = boot();
    const { dmabuf, priv } = exportBuf(e);
    const tries: string[] = [];
    let revoking = true;
    const attach: DmaBufAttachment = dmaBufMappingAttach(dmabuf, [dmaBufImappingSgt(e.t.importerSlot, true)], {
      allowPeer2peer: true,
      invalidateMappings: () => {
        if (revoking) return;
        try {
          dmaBufSgtMapAttachment(attach, "DMA_BIDIRECTIONAL");
          tries.push("mapped");
        } catch (x) {
          tries.push((x as { errno: string }).errno);
        }
      },
    });
    setMemory(e, false);
    revoking = false;
    setMemory(e, true);
    expect(tries).toEqual(["ENODEV"]);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    dmaResvLock(dmabuf.resv);
    const sgt = dmaBufSgtMapAttachment(attach, "DMA_BIDIRECTIONAL");
    dmaBufSgtUnmapAttachment(attach, sgt, "DMA_BIDIRECTIONAL");
    dmaResvUnlock(dmabuf.resv);
    dmaBufDetach(dmabuf, attach);
    teardown(e);
  });

  it("revoke, then close: cleanup drains nothing twice (no refcount underflow, no hang)", () => {
    const e = boot();
    const { imp, priv } = mapped(e);
    setMemory(e, false);
    expect(priv.kref.refcount).toBe(1);
    e.user.sys.close(e.devFd);
    expect(e.k.warnings()).toEqual([]);
    expect(e.k.oopses()).toEqual([]);
    expect(priv.kref.refcount).toBe(1);
    expect(imp.invalidations).toBe(1);
    imp.detach();
    teardown(e);
  });

  it("a buffer whose fd is closed before the device leaves the list in release()", () => {
    const e = boot();
    const { fd } = exportBuf(e);
    expect(e.vdev.dmabufs).toHaveLength(1);
    e.user.sys.close(fd);
    expect(e.vdev.dmabufs).toHaveLength(0);
    expect(e.vdev.registrations).toBe(2);
    teardown(e);
  });

  it("two files of the device: close_device runs on the last close only", () => {
    const e = boot();
    const { priv } = exportBuf(e);
    const fd2 = e.user.sys.open(e.vdev.cdevPath, O_RDWR);
    expect(e.vdev.openCount).toBe(2);
    e.user.sys.close(e.devFd);
    expect(priv.vdev).toBe(e.vdev);
    e.user.sys.close(fd2);
    expect(priv.vdev).toBeNull();
    teardown(e);
  });
});

describe("older revoke forms (dmabufRevokeVersion)", () => {
  /** A mapped importer whose invalidation only queues its unmap on a kworker. */
  function deferred(e: Env) {
    const data = pattern(0x1000, 7);
    barWrite(e, 0, 0n, data);
    const { dmabuf, priv, fd } = exportBuf(e);
    const imp: { sgt: SgTable | null } = { sgt: null };
    const unmapWork = initDelayedWork(e.k, "&importer->unmap_work", () => {
      dmaResvLock(dmabuf.resv);
      try {
        dmaBufSgtUnmapAttachment(attach, imp.sgt!, "DMA_BIDIRECTIONAL");
      } finally {
        dmaResvUnlock(dmabuf.resv);
      }
      imp.sgt = null;
    });
    const attach: DmaBufAttachment = dmaBufMappingAttach(dmabuf, [dmaBufImappingSgt(e.t.importerSlot, true)], {
      allowPeer2peer: true,
      invalidateMappings: () => void queueDelayedWork(e.k.workqueues.systemWq, unmapWork, 5e6),
    });
    dmaResvLock(dmabuf.resv);
    imp.sgt = dmaBufSgtMapAttachment(attach, "DMA_BIDIRECTIONAL");
    dmaResvUnlock(dmabuf.resv);
    return { dmabuf, priv, fd, imp, attach, data };
  }

  it("pre-1a8a5227f229: the revoke only notifies; the mapping outlives it and DMA through it hits the disabled BAR until the kworker unmaps", () => {
    const e = boot();
    e.vdev.dmabufRevokeVersion = "pre-1a8a5227f229";
    const { dmabuf, priv, imp, attach, data } = deferred(e);
    expect(sgtDmaRead(e.t.importerSlot, imp.sgt!, 0n, data.length)).toEqual(data);
    const t0 = e.k.clock.nowNs;
    setMemory(e, false);
    expect(e.k.clock.nowNs).toBe(t0); // nothing waited
    expect([priv.status, priv.outstandingMaps]).toEqual(["VFIO_PCI_DMA_BUF_TEMP_REVOKED", 1]);
    expect(() => sgtDmaRead(e.t.importerSlot, imp.sgt!, 0n, 16)).toThrow(expect.objectContaining({ reason: "unsupported-request" }));
    e.k.clock.advance(5e6);
    expect([imp.sgt, priv.outstandingMaps]).toEqual([null, 0]);
    setMemory(e, true);
    dmaBufDetach(dmabuf, attach);
    teardown(e);
  });

  it("the current form waits for the same importer: the mapping is gone when the revoke returns", () => {
    const e = boot();
    const { dmabuf, priv, imp, attach } = deferred(e);
    setMemory(e, false);
    expect([imp.sgt, priv.outstandingMaps, priv.kref.refcount]).toEqual([null, 0, 1]);
    dmaBufDetach(dmabuf, attach);
    teardown(e);
  });

  it("1a8a5227f229: the revoke drains without re-arming (kref 0) and the un-revoke re-arms", () => {
    const e = boot();
    e.vdev.dmabufRevokeVersion = "1a8a5227f229";
    const { imp, priv } = mapped(e);
    setMemory(e, false);
    expect([imp.sgt, priv.kref.refcount, priv.comp.done]).toEqual([null, 0, false]);
    setMemory(e, true);
    expect([priv.status, priv.kref.refcount]).toEqual(["VFIO_PCI_DMA_BUF_OK", 1]);
    imp.map();
    expect(priv.outstandingMaps).toBe(1);
    imp.detach();
    teardown(e);
  });

  it("1a8a5227f229: revoke, then close drains again: refcount_t underflow WARN and a wait that never ends", () => {
    const e = boot();
    e.vdev.dmabufRevokeVersion = "1a8a5227f229";
    const { imp } = mapped(e);
    setMemory(e, false);
    // The syscall boundary turns the oops of the release into -EFAULT.
    expectErrno(e.user.sys.close(e.devFd), "EFAULT");
    expect(e.k.warnings()).toEqual(["refcount_t: underflow; use-after-free."]);
    expect(e.k.oopses().map((o) => String(o.error))).toEqual([expect.stringMatching(/hung_task: .* blocked in vfio_pci_dma_buf_cleanup: 0 mapping reference\(s\)/)]);
    expect(imp.invalidations).toBe(2);
  });
});

describe("VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE (permanent revoke, Matt Evans v3)", () => {
  it("revokes for good: importers invalidated and drained; memory toggles and resets do not bring it back", () => {
    const e = boot();
    const { imp, priv, fd } = mapped(e);
    expect(revokeRaw(e, fd)).toBe(0);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_PERM_REVOKED");
    expect(imp.invalidations).toBe(1);
    expect(priv.kref.refcount).toBe(1);
    setMemory(e, false);
    setMemory(e, true);
    expect(e.user.sys.ioctl(e.devFd, VFIO_DEVICE_RESET)).toBe(0);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_PERM_REVOKED");
    expect(imp.invalidations).toBe(1);
    expect(() => imp.map()).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    expectErrno(revokeRaw(e, fd), "EBADFD");
    imp.detach();
    teardown(e);
  });

  it("a temporarily revoked buffer becomes permanent without a second drain", () => {
    const e = boot();
    const { imp, priv, fd } = mapped(e);
    setMemory(e, false);
    expect(revokeRaw(e, fd)).toBe(0);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_PERM_REVOKED");
    expect(imp.invalidations).toBe(1);
    setMemory(e, true);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_PERM_REVOKED");
    expect(imp.invalidations).toBe(1);
    imp.detach();
    teardown(e);
  });

  /** A second vfio device (a function on another bus) and a non-vfio dma-buf. */
  function others(e: Env): { otherFd: number; otherBufFd: number; mockFd: number } {
    const other = vfioPciProbe(e.k, e.t.importerSlot);
    const otherDev = e.user.sys.open(other.cdevPath, O_RDWR);
    const otherBufFd = exportBuf(e, undefined, 0, otherDev).fd;
    const mock = dmaBufExport(e.k, { owner: e.k.modules.vmlinux, ops: { release: () => undefined, matchMapping: () => undefined }, size: P, flags: O_RDWR, priv: {} });
    const mockFd = e.k.runAs(e.user, () => dmaBufFd(mock, O_RDWR));
    return { otherFd: otherDev, otherBufFd, mockFd };
  }

  it.each([
    { desc: "a variant driver without get_dmabuf_phys", boot: { probe: { pciOps: null } }, call: (e: Env) => revokeRaw(e, 99), ret: "EOPNOTSUPP" },
    { desc: "GET", call: (e: Env) => sysFeature(e, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, vfioDeviceFeatureDmaBufRevoke(3)), ret: "EINVAL" },
    { desc: "PROBE with SET", call: (e: Env) => sysFeature(e, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE), ret: 0 },
    { desc: "argsz - 8 < 4", call: (e: Env) => sysFeature(e, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, new Uint8Array(3)), ret: "EINVAL" },
    {
      desc: "argsz says 4, the buffer is shorter",
      call: (e: Env) => e.user.sys.ioctl(e.devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, new Uint8Array(2), 12)),
      ret: "EFAULT",
    },
    { desc: "an fd that is not open", call: (e: Env) => revokeRaw(e, 99), ret: "EBADF" },
    { desc: "an fd that is not a dma-buf (the device fd)", call: (e: Env) => revokeRaw(e, e.devFd), ret: "EINVAL" },
    { desc: "a dma-buf of another exporter", call: (e: Env) => revokeRaw(e, others(e).mockFd), ret: "ENODEV" },
    { desc: "a dma-buf of another vfio device", call: (e: Env) => revokeRaw(e, others(e).otherBufFd), ret: "ENODEV" },
    { desc: "a buffer of this device", call: (e: Env) => revokeRaw(e, exportBuf(e).fd), ret: 0 },
    {
      desc: "a buffer cleaned up by the last close, from a new open",
      call: (e: Env) => {
        const { fd } = exportBuf(e);
        e.user.sys.close(e.devFd);
        const reopened = e.user.sys.open(e.vdev.cdevPath, O_RDWR);
        return revokeRaw(e, fd, reopened);
      },
      ret: "ENODEV",
    },
  ])("$desc → $ret", ({ call, ret, boot: opts }) => {
    const e = boot("same-switch", opts);
    const r = call(e);
    if (ret === 0) expect(r).toBe(0);
    else expectErrno(r, ret as string);
    teardown(e);
  });
});

describe("VFIO_DEVICE_PCI_HOT_RESET over a device set", () => {
  /** Three functions on the exporter's bus (one device set), A opened through its group by `user`. */
  function multi() {
    const e = boot("same-switch", { open: false });
    const bus = e.t.exporterSlot.bus;
    const fns = [e.t.exporterSlot, e.t.builder.endpoint(bus, 0x01), e.t.builder.endpoint(bus, 0x02)];
    for (const f of fns.slice(1)) e.t.builder.bar(f, 0, 1n << 20n);
    const [a, b, c] = [e.vdev, vfioPciProbe(e.k, fns[1]!), vfioPciProbe(e.k, fns[2]!)] as const;
    expect(a.devSet).toBe(b.devSet);
    const groupFds = [a, b, c].map((d) => e.user.sys.open(d.groupPath, O_RDWR));
    const fdA = e.user.sys.ioctl(groupFds[0]!, VFIO_GROUP_GET_DEVICE_FD, vfioDeviceName(a.pdev.name));
    const fdC = e.user.sys.ioctl(groupFds[2]!, VFIO_GROUP_GET_DEVICE_FD, vfioDeviceName(c.pdev.name));
    expect(fdA).toBeGreaterThanOrEqual(0);
    const env: Env = { ...e, devFd: fdA };
    const bufA = exportBuf(env);
    const bufC = exportBuf(env, [{ offset: 0n, length: P }], 0, fdC);
    const impA = new CompatDynamicImporter(e.t.importerSlot, bufA.dmabuf);
    const impC = new CompatDynamicImporter(e.t.importerSlot, bufC.dmabuf);
    impA.map();
    impC.map();
    return { e: env, a, b, c, groupFds, fdA, fdC, bufA, bufC, impA, impC };
  }

  function done(m: ReturnType<typeof multi>): void {
    m.impA.detach();
    m.impC.detach();
    for (const d of [m.a, m.b, m.c]) expect(d.memoryLock.writer).toBeUndefined();
    m.e.k.exitTask(m.e.user, 0);
    m.e.k.clock.flush();
    expect(m.e.k.leakReport().text()).toBe("");
    expect(m.e.k.lockdep.reports()).toEqual([]);
  }

  it("every device owned: each locked and revoked in list order, the bus reset, then the reverse undo (the unopened B skipped by the open_count guard)", () => {
    const m = multi();
    expect(m.b.openCount).toBe(0);
    expect(m.e.user.sys.ioctl(m.fdA, VFIO_DEVICE_PCI_HOT_RESET, vfioPciHotReset(m.groupFds))).toBe(0);
    expect(m.e.k.oopses()).toEqual([]); // no NULL vconfig dereference for B
    expect([m.a.resets, m.b.resets, m.c.resets]).toEqual([1, 1, 1]);
    expect([m.impA.invalidations, m.impC.invalidations]).toEqual([2, 2]);
    expect([m.bufA.priv.status, m.bufC.priv.status]).toEqual(["VFIO_PCI_DMA_BUF_OK", "VFIO_PCI_DMA_BUF_OK"]);
    done(m);
  });

  it("B's memory_lock held elsewhere: EBUSY; A undone (back to OK), B and C never touched", () => {
    const m = multi();
    const other: Task = m.e.k.fork({ comm: "other", parent: m.e.k.init });
    m.e.k.runAs(other, () => m.b.memoryLock.downRead());
    expectErrno(m.e.user.sys.ioctl(m.fdA, VFIO_DEVICE_PCI_HOT_RESET, vfioPciHotReset(m.groupFds)), "EBUSY");
    expect([m.a.resets, m.b.resets, m.c.resets]).toEqual([0, 0, 0]);
    expect([m.impA.invalidations, m.impC.invalidations]).toEqual([2, 0]);
    expect(m.bufA.priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    expect(m.a.memoryLock.writer).toBeUndefined();
    expect(m.b.memoryLock.readers).toBe(1);
    m.e.k.runAs(other, () => m.b.memoryLock.upRead());
    m.e.k.exitTask(other, 0);
    done(m);
  });

  it("C not owned (its group fd not passed): EINVAL after A and B were locked; both undone in reverse", () => {
    const m = multi();
    expectErrno(m.e.user.sys.ioctl(m.fdA, VFIO_DEVICE_PCI_HOT_RESET, vfioPciHotReset(m.groupFds.slice(0, 2))), "EINVAL");
    expect([m.impA.invalidations, m.impC.invalidations]).toEqual([2, 0]);
    expect([m.a.resets, m.c.resets]).toEqual([0, 0]);
    expect(m.e.k.oopses()).toEqual([]);
    done(m);
  });

  it.each([
    { desc: "argsz < 12", arg: () => vfioPciHotReset([], { argsz: 11 }), fd: "cdev", ret: "EINVAL" },
    { desc: "flags", arg: () => vfioPciHotReset([], { flags: 1 }), fd: "cdev", ret: "EINVAL" },
    { desc: "NULL", arg: () => null, fd: "cdev", ret: "EFAULT" },
    { desc: "group fds from a cdev-opened device", arg: (g: number[]) => vfioPciHotReset(g), fd: "cdev", ret: "EINVAL" },
    { desc: "no group fds from a group-opened device", arg: () => vfioPciHotReset([]), fd: "group", ret: "EINVAL" },
    { desc: "more group fds than devices in the set", arg: (g: number[]) => vfioPciHotReset([g[0]!, g[0]!, g[0]!, g[0]!]), fd: "group", ret: "EINVAL" },
    { desc: "a group fd that is not open", arg: () => vfioPciHotReset([77]), fd: "group", ret: "EBADF" },
    { desc: "an fd that is not a group", arg: (_g: number[], dev: number) => vfioPciHotReset([dev]), fd: "group", ret: "EINVAL" },
    { desc: "a cdev caller that has not opened B and C", arg: () => vfioPciHotReset([]), fd: "cdev", ret: "EINVAL" },
  ])("$desc → $ret", ({ arg, fd, ret }) => {
    const m = multi();
    const cdev = m.e.user.sys.open(m.a.cdevPath, O_RDWR);
    const r = m.e.user.sys.ioctl(fd === "cdev" ? cdev : m.fdA, VFIO_DEVICE_PCI_HOT_RESET, arg(m.groupFds, m.fdA));
    expectErrno(r, ret);
    done(m);
  });

  it("a group opens once: a second open is EBUSY", () => {
    const e = boot();
    const g = e.user.sys.open(e.vdev.groupPath, O_RDWR);
    expect(g).toBeGreaterThanOrEqual(0);
    expectErrno(e.user.sys.open(e.vdev.groupPath, O_RDWR), "EBUSY");
    expectErrno(e.user.sys.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, vfioDeviceName("0000:99:00.0")), "ENODEV");
    teardown(e);
  });
});

describe("lock order dev_set->lock → memory_lock → resv", () => {
  function cycle(k: Kernel, e: Env): void {
    const { imp, fd } = mapped(e);
    setMemory(e, false);
    setMemory(e, true);
    imp.map();
    expect(revokeRaw(e, fd)).toBe(0);
    imp.detach();
    void k;
  }

  it("the export, revoke, reset and close paths record exactly that order, and nothing against it", () => {
    const e = boot();
    cycle(e.k, e);
    expect(e.user.sys.ioctl(e.devFd, VFIO_DEVICE_PCI_HOT_RESET, vfioPciHotReset())).toBe(0);
    e.user.sys.close(e.devFd);
    const deps = e.k.lockdep.dependencies();
    expect(deps).toContain("&dev_set->lock -> &vdev->memory_lock");
    expect(deps).toContain("&vdev->memory_lock -> reservation_ww_class_mutex");
    expect(deps).not.toContain("reservation_ww_class_mutex -> &vdev->memory_lock");
    expect(deps).not.toContain("&vdev->memory_lock -> &dev_set->lock");
    teardown(e);
  });

  it("taking memory_lock under a resv is the inversion lockdep reports", () => {
    const e = boot();
    const { dmabuf } = exportBuf(e);
    setMemory(e, false); // records memory_lock -> resv
    e.k.runAs(e.user, () => {
      dmaResvLock(dmabuf.resv);
      e.vdev.memoryLock.downRead();
      e.vdev.memoryLock.upRead();
      dmaResvUnlock(dmabuf.resv);
    });
    expect(e.k.lockdep.reports().map((r) => [r.kind, r.classes.join(" -> ")])).toEqual([["circular", "&vdev->memory_lock -> reservation_ww_class_mutex -> &vdev->memory_lock"]]);
  });

  it("a new topology is clean before the test (guard against a polluted validator)", () => {
    const e = boot();
    expect(buildTopology).toBeTypeOf("function");
    expect(e.k.lockdep.reports()).toEqual([]);
    expect(DmaFault).toBeTypeOf("function");
    teardown(e);
  });
});
