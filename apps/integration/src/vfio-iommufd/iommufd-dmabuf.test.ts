// Integration: a vfio-pci BAR dma-buf imported by iommufd (drivers/iommu/iommufd/pages.c), DMA through the IOVA, revoke and remap.
import { describe, expect, it } from "vitest";
import { DmaFault, IOMMU_MMIO, IOMMU_READ, IOMMU_WRITE, dmaRead, dmaWrite, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufMappingPalType } from "@dmabuf-sdk/map-pal";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_RESET,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBufRevoke,
  vfioWriteCommand,
  vfioWritePowerState,
} from "@dmabuf-sdk/driver-vfio-pci";
import {
  iommufdCtxFromFd,
  iommufdCtxPut,
  iommufdDeviceAttach,
  iommufdDeviceBind,
  iommufdDeviceDetach,
  iommufdDeviceUnbind,
  iommufdOpenSession,
} from "@dmabuf-sdk/driver-iommufd";
import { P, barWrite, boot, ioptes, pattern, teardown, vfioExport, type Env } from "./env.js";

/** Memory disable on a PF, D3hot on a VF (which has no memory enable of its own). */
function revokeTemp(e: Env, on: boolean): void {
  const r = e.t.exporterSlot.noCommandMemory ? vfioWritePowerState(e.user, e.devFd, on ? "D0" : "D3hot") : vfioWriteCommand(e.user, e.devFd, on);
  expect(r).toBe(2);
}

/** Three out-of-order BAR ranges with known bytes: buffer [0,2P)=BAR[6P,8P), [2P,3P)=BAR[P,2P), [3P,5P)=BAR[10P,12P). */
function threeRanges(e: Env) {
  const bar = e.t.exporterSlot.bars[0]!.index;
  const data = pattern(5 * 0x1000, 2);
  barWrite(e, bar, 6n * P, data.subarray(0, 0x2000));
  barWrite(e, bar, P, data.subarray(0x2000, 0x3000));
  barWrite(e, bar, 10n * P, data.subarray(0x3000));
  const buf = vfioExport(e, [{ offset: 6n * P, length: 2n * P }, { offset: P, length: P }, { offset: 10n * P, length: 2n * P }], bar);
  return { ...buf, data, bar };
}

const TOPOLOGIES: TopologyName[] = ["same-switch", "same-switch-acs", "cross-root", "iommu-off", "sriov"];

describe("vfio-pci BAR → iommufd IOAS → device DMA", () => {
  it.each(TOPOLOGIES)("%s: the device DMA-reads (and writes) the BAR's bytes through its IOVA; revoke faults it and leaves no IOPTE; re-enable and re-map works", (topo) => {
    const e = boot(topo);
    const dev = e.t.importerSlot;
    const { dmabuf, data, fd } = threeRanges(e);
    const iova = e.s.mapDmaBuf(dmabuf);
    const area = e.s.area(iova)!;
    expect(area.pages.attach!.mapType!.type).toBe(dmaBufMappingPalType);
    expect(dmabuf.priv.outstandingMaps).toBe(1);
    expect(dev.iommuGroup!.domain.type).toBe("IOMMU_DOMAIN_UNMANAGED");
    expect(ioptes(e.t)).toBe(5);
    expect(dev.iommuGroup!.domain.pgtable!.prot(Number(iova >> 12n))).toBe(IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO);
    expect(dmaRead(dev, iova, data.length)).toEqual(data);
    dmaWrite(dev, iova + 0x1ff8n, pattern(16, 5)); // straddles ranges 0 and 1
    expect(dmaRead(dev, iova + 0x1ff8n, 16)).toEqual(pattern(16, 5));

    revokeTemp(e, false);
    expect(area.pages.revoked).toBe(true);
    expect(ioptes(e.t)).toBe(0);
    expect(dmabuf.priv.outstandingMaps).toBe(0);
    expect(() => dmaRead(dev, iova, 16)).toThrow(expect.objectContaining({ reason: "iommu-not-present" }));
    expect(() => e.s.mapDmaBuf(dmabuf)).toThrow(expect.objectContaining({ errno: "ENODEV" }));

    revokeTemp(e, true);
    // iommufd took the invalidation as permanent: still nothing mapped until user space maps again.
    expect(ioptes(e.t)).toBe(0);
    expect(() => dmaRead(dev, iova, 16)).toThrow(DmaFault);
    expect(e.s.unmap(iova, area.length)).toBe(5n * P);
    const iova2 = e.s.mapDmaBuf(dmabuf);
    expect(dmaRead(dev, iova2 + 0x1ff8n, 16)).toEqual(pattern(16, 5));
    expect(dmaRead(dev, iova2 + 0x3000n, 0x2000)).toEqual(data.subarray(0x3000));
    expect(e.s.unmap(iova2, 5n * P)).toBe(5n * P);
    expect(dmabuf.attachments).toEqual([]);
    e.user.sys.close(fd);
    teardown(e);
  });

  it("cross-root-no-p2p: the PAL import succeeds (iommufd does not ask P2P routing), and the device's DMA dies at the host bridge", () => {
    const e = boot("cross-root-no-p2p");
    const { dmabuf } = threeRanges(e);
    const iova = e.s.mapDmaBuf(dmabuf);
    expect(ioptes(e.t)).toBe(5);
    expect(() => dmaRead(e.t.importerSlot, iova, 16)).toThrow(expect.objectContaining({ reason: "p2p-host-bridge", errno: "EIO" }));
    teardown(e);
  });

  it("a partial map at an offset of the buffer", () => {
    const e = boot();
    const { dmabuf, data } = threeRanges(e);
    const iova = e.s.mapDmaBuf(dmabuf, 2n * P, 2n * P);
    expect(ioptes(e.t)).toBe(2);
    expect(dmaRead(e.t.importerSlot, iova, 0x2000)).toEqual(data.subarray(0x2000, 0x4000));
    teardown(e);
  });

  it("a second device attached later gets the mapping; detaching the last device of a domain frees its IOPTEs", () => {
    const e = boot();
    const { dmabuf, data } = threeRanges(e);
    const iova = e.s.mapDmaBuf(dmabuf);
    const second = e.t.builder.endpoint(e.t.importerSlot.bus, 0x01);
    const ictx = e.k.runAs(e.user, () => iommufdCtxFromFd(e.k, e.s.fd));
    const idev = iommufdDeviceBind(ictx, second);
    iommufdCtxPut(ictx);
    iommufdDeviceAttach(idev, e.s.ioasId);
    expect(second.iommuGroup!.domain).toBe(e.t.importerSlot.iommuGroup!.domain); // the IOAS's one domain
    expect(dmaRead(second, iova, 16)).toEqual(data.subarray(0, 16));
    iommufdDeviceDetach(idev);
    expect(() => iommufdDeviceDetach(idev)).not.toThrow();
    expect(ioptes(e.t)).toBe(5);
    iommufdDeviceUnbind(idev);
    revokeTemp(e, false);
    expect(ioptes(e.t)).toBe(0);
    teardown(e);
  });

  it("two IOASes importing one buffer: one revoke zaps both", () => {
    const e = boot();
    const { dmabuf } = threeRanges(e);
    e.s.mapDmaBuf(dmabuf);
    const other = e.t.builder.endpoint(e.t.importerSlot.bus, 0x01);
    const s2 = iommufdOpenSession(e.k, e.user, other);
    const iova2 = s2.mapDmaBuf(dmabuf);
    expect(dmabuf.attachments).toHaveLength(2);
    expect(dmabuf.priv.outstandingMaps).toBe(2);
    revokeTemp(e, false);
    expect(ioptes(e.t)).toBe(0);
    expect(other.iommuGroup!.domain.pgtable!.ptes).toBe(0);
    expect(dmabuf.priv.outstandingMaps).toBe(0);
    expect(s2.area(iova2)!.pages.revoked).toBe(true);
    s2.close();
    teardown(e);
  });

  it.each([
    {
      desc: "a permanent revoke (VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE)",
      act: (e: Env, fd: number) => expect(e.user.sys.ioctl(e.devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, vfioDeviceFeatureDmaBufRevoke(fd)))).toBe(0),
    },
    { desc: "closing the vfio device", act: (e: Env) => expect(e.user.sys.close(e.devFd)).toBe(0) },
    { desc: "VFIO_DEVICE_RESET (revoke and un-revoke in one call)", act: (e: Env) => expect(e.user.sys.ioctl(e.devFd, VFIO_DEVICE_RESET)).toBe(0) },
  ])("$desc zaps every IOPTE; the area stays until unmapped", ({ act }) => {
    const e = boot();
    const { dmabuf, fd } = threeRanges(e);
    const iova = e.s.mapDmaBuf(dmabuf);
    act(e, fd);
    expect(ioptes(e.t)).toBe(0);
    expect(e.s.area(iova)!.pages.revoked).toBe(true);
    expect(() => dmaRead(e.t.importerSlot, iova, 16)).toThrow(DmaFault);
    expect(e.s.unmap(iova, 5n * P)).toBe(5n * P);
    teardown(e);
  });

  it("revoke runs under resv and nests pages->mutex inside it; nothing inverts", () => {
    const e = boot();
    const { dmabuf } = threeRanges(e);
    e.s.mapDmaBuf(dmabuf);
    revokeTemp(e, false);
    const deps = e.k.lockdep.dependencies();
    expect(deps).toContain("reservation_ww_class_mutex -> &pages->mutex/dmabuf");
    // lockdep links the nearest held lock only: memory_lock reaches pages->mutex through resv
    expect(deps).toContain("&vdev->memory_lock -> reservation_ww_class_mutex");
    expect(deps).not.toContain("&pages->mutex/dmabuf -> reservation_ww_class_mutex");
    teardown(e);
  });

  it("closing the iommufd with the device still bound keeps the ctx (the device holds it) until unbind", () => {
    const e = boot();
    const { dmabuf } = threeRanges(e);
    e.s.mapDmaBuf(dmabuf);
    const fds = e.user.files.fds().length;
    expect(e.user.sys.close(e.s.fd)).toBe(0);
    expect(e.user.files.fds().length).toBe(fds - 1);
    expect(ioptes(e.t)).toBe(5);
    expect(dmabuf.attachments).toHaveLength(1);
    e.s.close = () => iommufdDeviceUnbind(e.s.idev);
    teardown(e);
  });
});
