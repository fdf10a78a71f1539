// drivers/gpu/drm/drm_drv.c module_init(drm_core_init): the DRM core as one module.
import type { KernelModule } from "@dmabuf-sdk/dmabuf-core";

/**
 * The DRM core (`drm.ko`) as a kernel module. The GPU scheduler
 * (`gpu-sched.ko` upstream) is built into it here: one package, one module
 * descriptor. Devices, files and sync objects live in the DRM devices the
 * drivers allocate; the module itself holds no state.
 */
export const drmModule: KernelModule = {
  name: "drm",
  license: "GPL and additional rights",
  description: "DRM shared core routines",
  uses: [
    "dma_fence_add_callback",
    "dma_fence_remove_callback",
    "dma_fence_set_deadline",
    "dma_fence_get_stub",
    "dma_fence_allocate_private_stub",
    "dma_fence_chain_init",
    "dma_fence_chain_walk",
    "dma_fence_chain_find_seqno",
    "__dma_fence_unwrap_merge",
    "sync_file_create",
    "sync_file_get_fence",
    "eventfd_ctx_fdget",
    "eventfd_signal",
    "eventfd_ctx_put",
  ],
};
