// Integration env: vfio-pci on the exporter slot and iommufd on the importer slot, both opened by one VMM process (the VFIO + iommufd cdev flow).
import { Kernel, O_RDWR, buildTopology, topologyKernelOptions, type TopologyName, type TopologyOptions } from "@dmabuf-sdk/dmabuf-core";
import { check } from "@dmabuf-sdk/dmabuf-core/testing";
import { vfioPciModule, vfioPciProbe, type VfioPciCoreDevice } from "@dmabuf-sdk/driver-vfio-pci";
import { iommufdModule, iommufdOpenSession } from "@dmabuf-sdk/driver-iommufd";
import type { IommufdEnv } from "@dmabuf-sdk/driver-iommufd/testing";

export { P, barWrite, exportBuf as vfioExport, pattern } from "@dmabuf-sdk/driver-vfio-pci/testing";
export { ioptes, teardown } from "@dmabuf-sdk/driver-iommufd/testing";

export interface Env extends IommufdEnv {
  readonly vdev: VfioPciCoreDevice;
  /** vfio device fd of `user`. */
  readonly devFd: number;
}

/** vfio-pci on the exporter slot, iommufd with the importer slot attached to an IOAS, both opened by one VMM process. */
export function boot(name: TopologyName = "same-switch", topo?: TopologyOptions): Env {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name, topo);
  k.modprobe(vfioPciModule);
  k.modprobe(iommufdModule);
  const vdev = vfioPciProbe(k, t.exporterSlot);
  const user = k.fork({ comm: "vmm" });
  const devFd = user.sys.open(vdev.cdevPath, O_RDWR);
  check(devFd >= 0, `open ${vdev.cdevPath}: ${devFd}`);
  const s = iommufdOpenSession(k, user, t.importerSlot);
  return { k, t, user, vdev, devFd, s };
}
