// The iommufd conformance fixture: a device bound to a fresh iommufd and attached to a fresh IOAS, as a VMM sets up.
import {
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  dmaBufFd,
  dmaBufPut,
  dmaRead,
  dmaWrite,
  errnoName,
  getDmaBuf,
  withGetters,
  type ConformanceFixtures,
  type DmaBuf,
  type DmaBufAttachment,
  type ImportedBuffer,
  type ImporterFixture,
  type Kernel,
  type KernelModule,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";
import { iommufdDeviceAttach, iommufdDeviceBind, iommufdDeviceUnbind, type IommufdDevice } from "./device.js";
import type { IoptArea } from "./io-pagetable.js";
import { iommufdGetIoas } from "./ioas.js";
import {
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP_FILE,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOAS_UNMAP,
  iommuIoasAlloc,
  iommuIoasMapFile,
  iommuIoasUnmap,
} from "./iommufd.js";
import { iommufdCtxFromFd, iommufdCtxPut } from "./main.js";
import { iommufdModule } from "./module.js";

function check(ret: number, op: string): number {
  if (ret < 0) throw new KernelError(errnoName(ret) ?? "EIO", op, `returned ${ret}`);
  return ret;
}

/** A device bound to a fresh iommufd and attached to a fresh IOAS, as a VMM sets one up. @public */
export interface IommufdSession {
  readonly kernel: Kernel;
  readonly task: Task;
  /** The `/dev/iommu` fd of `task`. */
  readonly fd: number;
  readonly ioasId: number;
  readonly idev: IommufdDevice;
  /**
   * `IOMMU_IOAS_MAP_FILE` of `dmabuf` (installed as a temporary fd of the
   * task) for `[start, start + length)`, readable and writeable; returns the
   * IOVA or throws the errno.
   */
  mapDmaBuf(dmabuf: DmaBuf, start?: bigint, length?: bigint): bigint;
  /** `IOMMU_IOAS_UNMAP` of `[iova, iova + length)`; returns the bytes unmapped or throws. */
  unmap(iova: bigint, length: bigint): bigint;
  /** The IOAS area at `iova`. */
  area(iova: bigint): IoptArea | undefined;
  /** Unbinds the device and closes the fd. */
  close(): void;
}

/**
 * Opens `/dev/iommu` in `task`, allocates an IOAS, binds `dev` and attaches
 * it. Nothing is left behind when a step fails.
 * @public
 */
export function iommufdOpenSession(kernel: Kernel, task: Task, dev: Parameters<typeof iommufdDeviceBind>[1]): IommufdSession {
  const sys = task.sys;
  const fd = check(sys.open("/dev/iommu", O_RDWR), "open /dev/iommu");
  let idev: IommufdDevice | undefined;
  try {
    const alloc = iommuIoasAlloc();
    check(sys.ioctl(fd, IOMMU_IOAS_ALLOC, alloc), "IOMMU_IOAS_ALLOC");
    const ioasId = new DataView(alloc.buffer).getUint32(8, true);
    const ictx = kernel.runAs(task, () => iommufdCtxFromFd(kernel, fd));
    try {
      idev = iommufdDeviceBind(ictx, dev);
    } finally {
      iommufdCtxPut(ictx);
    }
    iommufdDeviceAttach(idev, ioasId);
    const bound = idev;
    return {
      kernel,
      task,
      fd,
      ioasId,
      idev: bound,
      mapDmaBuf(dmabuf, start = 0n, length = dmabuf.size) {
        getDmaBuf(dmabuf);
        let bfd: number;
        try {
          bfd = kernel.runAs(task, () => dmaBufFd(dmabuf, O_CLOEXEC));
        } catch (e) {
          dmaBufPut(dmabuf);
          throw e;
        }
        try {
          const m = iommuIoasMapFile({ flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE, ioasId, fd: bfd, start, length });
          check(sys.ioctl(fd, IOMMU_IOAS_MAP_FILE, m), "IOMMU_IOAS_MAP_FILE");
          return new DataView(m.buffer).getBigUint64(32, true);
        } finally {
          sys.close(bfd);
        }
      },
      unmap(iova, length) {
        const u = iommuIoasUnmap(ioasId, iova, length);
        check(sys.ioctl(fd, IOMMU_IOAS_UNMAP, u), "IOMMU_IOAS_UNMAP");
        return new DataView(u.buffer).getBigUint64(16, true);
      },
      area(iova) {
        return iommufdGetIoas(bound.ictx, ioasId).iopt.areaAt(iova);
      },
      close() {
        iommufdDeviceUnbind(bound);
        sys.close(fd);
      },
    };
  } catch (e) {
    if (idev) iommufdDeviceUnbind(idev);
    sys.close(fd);
    throw e;
  }
}

/**
 * Conformance importer: iommufd on the topology's importer slot. The device
 * is bound to an iommufd and attached to an IOAS (an UNMANAGED domain of the
 * platform IOMMU); import is `IOMMU_IOAS_MAP_FILE` of the buffer's fd, which
 * attaches with `[PAL]` and installs IOPTEs; the device then DMAs through
 * its IOVA. iommufd treats an invalidation as permanent: `map()` after one
 * unmaps the dead area and maps the fd again (a new attachment), which fails
 * with the exporter's errno while it is revoked. `unmap()` is
 * `IOMMU_IOAS_UNMAP`, which also detaches.
 * @public
 */
export const iommufdImporterFixture: ImporterFixture = {
  name: "iommufd",
  description: "iommufd IOAS on the importer slot: IOMMU_IOAS_MAP_FILE of the dma-buf fd (PAL, map_phys under resv, IOMMU_MMIO IOPTEs); revoke zaps every IOPTE for good",
  get modules(): readonly KernelModule[] {
    return [iommufdModule];
  },
  placeable: (topology) => topology.kernel.platform.iommu !== undefined && topology.importerSlot.iommuGroup !== undefined,
  import(ctx, buffer): ImportedBuffer {
    const dev = ctx.topology.importerSlot;
    const s = iommufdOpenSession(ctx.kernel, ctx.task, dev);
    let iova: bigint | null = null;
    let stale: bigint | null = null;
    let last: DmaBufAttachment;
    try {
      iova = s.mapDmaBuf(buffer.dmabuf);
    } catch (e) {
      s.close();
      throw e;
    }
    last = s.area(iova)!.pages.attach!;
    const live = (): IoptArea | undefined => (iova === null ? undefined : s.area(iova));
    const dropArea = (): void => {
      const a = live();
      if (!a) return;
      if (a.pages.revoked) stale = a.iova;
      s.unmap(a.iova, a.length);
      iova = null;
    };
    const view: Omit<ImportedBuffer, "attachment" | "mapped"> = {
      map() {
        const a = live();
        if (a && !a.pages.revoked) return;
        dropArea();
        iova = s.mapDmaBuf(buffer.dmabuf);
        last = s.area(iova)!.pages.attach!;
      },
      route: () => undefined,
      dmaRead(offset, len) {
        if (iova === null) throw new KernelError("ENXIO", "iommufd fixture", "not mapped");
        return dmaRead(dev, iova + offset, len);
      },
      dmaWrite(offset, data) {
        if (iova === null) throw new KernelError("ENXIO", "iommufd fixture", "not mapped");
        dmaWrite(dev, iova + offset, data);
      },
      staleDmaRead(len) {
        const a = live();
        const at = a?.pages.revoked ? a.iova : stale;
        if (at === null) throw new KernelError("ENXIO", "iommufd fixture", "no revoked mapping");
        return dmaRead(dev, at, len);
      },
      unmap() {
        const a = live();
        if (a?.pages.revoked) stale = a.iova;
        if (a) s.unmap(a.iova, a.length);
        iova = null;
      },
      detach() {
        this.unmap();
        s.close();
      },
    };
    return withGetters(view, {
      attachment: () => live()?.pages.attach ?? last,
      mapped: () => {
        const a = live();
        return !!a && !a.pages.revoked;
      },
    });
  },
};

/** What iommufd offers the conformance matrix. @public */
export const iommufdFixtures: ConformanceFixtures = {
  package: "@dmabuf-sdk/driver-iommufd",
  exporters: [],
  importers: [iommufdImporterFixture],
};
