// The DRM testing kit: a booted DRM core, test devices with a fence ring, and igt's syncobj helpers.
import { Kernel, type KernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { drmModule } from "../module.js";

export { drmTestDevice, drmTestRing, DrmTestRing, type DrmTestDeviceOptions } from "./device.js";
export { IgtSyncobj, type SyncobjWaitResult } from "./igt-syncobj.js";

/** A kernel with the DRM core module loaded. */
export function bootDrm(opts: Partial<KernelOptions> = {}): Kernel {
  const k = new Kernel(opts);
  k.modprobe(drmModule);
  return k;
}
