// Integration env: vfio-pci on the exporter slot and iommufd on the importer slot, both opened by one VMM process (the VFIO + iommufd cdev flow).
import { Kernel, buildTopology, topologyKernelOptions, type TopologyName, type TopologyOptions } from "@dmabuf-sdk/dmabuf-core";
import { vfioOpen, type VfioOpen } from "@dmabuf-sdk/driver-vfio-pci/testing";
import { iommufdModule, iommufdOpenSession } from "@dmabuf-sdk/driver-iommufd";
import type { IommufdEnv } from "@dmabuf-sdk/driver-iommufd/testing";

export { P, barWrite, exportBuf as vfioExport, pattern } from "@dmabuf-sdk/driver-vfio-pci/testing";
export { ioptes, teardown } from "@dmabuf-sdk/driver-iommufd/testing";

export type Env = IommufdEnv & VfioOpen;

/** vfio-pci on the exporter slot, iommufd with the importer slot attached to an IOAS, both opened by one VMM process. */
export function boot(name: TopologyName = "same-switch", topo?: TopologyOptions): Env {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name, topo);
  k.modprobe(iommufdModule);
  const v = vfioOpen(k, t.exporterSlot);
  return { k, t, ...v, s: iommufdOpenSession(k, v.user, t.importerSlot) };
}
