// Integration: fault injection over the vfio-pci → iommufd import path (VFIO_DEVICE_FEATURE_DMA_BUF, IOMMU_IOAS_MAP_FILE); every failure unwinds.
import { describe, expect, it } from "vitest";
import { Kernel, KernelError, O_CLOEXEC, O_RDWR, buildTopology, dmaRead, topologyKernelOptions, type AllocSite } from "@dmabuf-sdk/dmabuf-core";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_GET,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioPciModule,
  vfioPciProbe,
  vfioWriteCommand,
} from "@dmabuf-sdk/driver-vfio-pci";
import {
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP_FILE,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_UNMAP,
  iommuIoasAlloc,
  iommuIoasMapFile,
  iommuIoasUnmap,
  iommufdCtxFromFd,
  iommufdCtxPut,
  iommufdDeviceAttach,
  iommufdDeviceBind,
  iommufdDeviceUnbind,
  iommufdModule,
} from "@dmabuf-sdk/driver-iommufd";
import { faultSweep, syscallOk } from "@dmabuf-sdk/dmabuf-core/testing";

/**
 * The import path end to end, unwinding like a careful VMM: vfio export,
 * /dev/iommu, an IOAS, the importer bound and attached, MAP_FILE, a DMA,
 * a revoke (memory off) and restore, UNMAP and MAP_FILE again, then close.
 */
function scenario(k: Kernel): void {
  const t = buildTopology(k, "cross-root");
  k.modprobe(vfioPciModule);
  k.modprobe(iommufdModule);
  const user = k.fork({ comm: "vmm" });
  const undo: (() => void)[] = [];
  try {
    const vdev = vfioPciProbe(k, t.exporterSlot);
    const devFd = syscallOk(user.sys.open(vdev.cdevPath, O_RDWR), "open vfio");
    undo.push(() => void user.sys.close(devFd));
    const bufFd = syscallOk(
      user.sys.ioctl(devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, vfioDeviceFeatureDmaBuf({ regionIndex: 0, openFlags: O_RDWR | O_CLOEXEC, ranges: [{ offset: 0x8000n, length: 0x2000n }, { offset: 0n, length: 0x2000n }] }))),
      "export",
    );
    undo.push(() => void user.sys.close(bufFd));
    const fd = syscallOk(user.sys.open("/dev/iommu", O_RDWR), "open iommufd");
    undo.push(() => void user.sys.close(fd));
    const alloc = iommuIoasAlloc();
    syscallOk(user.sys.ioctl(fd, IOMMU_IOAS_ALLOC, alloc), "IOAS_ALLOC");
    const ioasId = new DataView(alloc.buffer).getUint32(8, true);
    const ictx = k.runAs(user, () => iommufdCtxFromFd(k, fd));
    let idev;
    try {
      idev = iommufdDeviceBind(ictx, t.importerSlot);
    } finally {
      iommufdCtxPut(ictx);
    }
    const bound = idev;
    undo.push(() => iommufdDeviceUnbind(bound));
    iommufdDeviceAttach(bound, ioasId);
    const map = (): bigint => {
      const m = iommuIoasMapFile({ flags: IOMMU_IOAS_MAP_READABLE, ioasId, fd: bufFd, start: 0n, length: 0x4000n });
      syscallOk(user.sys.ioctl(fd, IOMMU_IOAS_MAP_FILE, m), "MAP_FILE");
      const iova = new DataView(m.buffer).getBigUint64(32, true);
      undo.push(() => void user.sys.ioctl(fd, IOMMU_IOAS_UNMAP, iommuIoasUnmap(ioasId, iova, 0x4000n)));
      return iova;
    };
    const iova = map();
    dmaRead(t.importerSlot, iova, 0x4000);
    syscallOk(vfioWriteCommand(user, devFd, false), "memory off");
    syscallOk(vfioWriteCommand(user, devFd, true), "memory on");
    syscallOk(user.sys.ioctl(fd, IOMMU_IOAS_UNMAP, iommuIoasUnmap(ioasId, iova, 0x4000n)), "UNMAP");
    undo.pop();
    dmaRead(t.importerSlot, map(), 0x4000);
  } finally {
    while (undo.length) undo.pop()!();
    k.exitTask(user, 0);
    k.clock.flush();
  }
}

describe("fault injection over the iommufd import path", () => {
  const sweep = faultSweep(() => new Kernel(topologyKernelOptions("cross-root")), scenario);
  const { clean, attempts } = sweep;

  it("the scenario succeeds without injection and leaves nothing behind", () => {
    expect(clean.leakReport().text()).toBe("");
    expect(clean.lockdep.reports()).toEqual([]);
    expect(clean.warnings()).toEqual([]);
  });

  it("reaches the allocation sites of the import path", () => {
    expect([...new Set<AllocSite>(attempts.map((r) => r.site))].sort()).toEqual(["get_unused_fd", "iommu_map", "kvmalloc", "kzalloc"]);
    expect(attempts.map((r) => r.what)).toEqual(
      expect.arrayContaining(["iommufd_ctx", "iommufd_ioas", "iommufd_device", "iommu_domain", "iommufd_hwpt_paging", "iopt_pages", "dma_buf_attachment", "dma_buf_phys_list", "iopt_area", "iopt_pages_dmabuf_track"]),
    );
  });

  it.each(attempts.map((r) => ({ nth: r.nth, site: r.site, what: r.what })))("failing attempt $nth ($site: $what) unwinds completely", ({ nth }) => {
    const { kernel: k, error: err } = sweep.failAttempt(nth);
    expect(k.faults.failures).toBe(1);
    if (err) expect(err).toBeInstanceOf(KernelError);
    expect(k.leakReport().text()).toBe("");
    expect(k.lockdep.reports()).toEqual([]);
    expect(k.warnings()).toEqual([]);
    expect(k.oopses()).toEqual([]);
  });
});
