// drivers/gpu/drm/drm_drv.c module_init(drm_core_init): the DRM core as one module.
import type { KernelModule } from "@dmabuf-sdk/dmabuf-core";

/**
 * The DRM core (`drm.ko`) as a kernel module. The GPU scheduler
 * (`gpu-sched.ko` upstream) is built into it here: one package, one module
 * descriptor.
 */
export const drmModule: KernelModule = {
  name: "drm",
  license: "GPL and additional rights",
  description: "DRM shared core routines",
};
