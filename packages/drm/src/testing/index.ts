// Fixtures for tests of the DRM core and of the drivers built on it.
import { Kernel, type KernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { drmModule } from "../module.js";

/** A kernel with the DRM core module loaded. */
export function bootDrm(opts: Partial<KernelOptions> = {}): Kernel {
  const k = new Kernel(opts);
  k.modprobe(drmModule);
  return k;
}
