// drm_file: one open of a DRM minor, with its syncobj handle table (drivers/gpu/drm/drm_file.c).
import { SpinLock, type File, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import type { DrmDevice, DrmMinor } from "./drm-drv.js";
import type { DrmSyncobj } from "./drm-syncobj.js";

/**
 * `struct drm_file`: private data of an open DRM fd. Syncobj handles are per
 * file: ids from 1 (`idr_alloc(…, 1, 0, …)`), lowest free first.
 * @public
 */
export class DrmFile {
  readonly kernel: Kernel;
  /** `syncobj_idr`. */
  readonly syncobjIdr = new Map<number, DrmSyncobj>();
  /** `syncobj_table_lock`. */
  readonly syncobjTableLock: SpinLock;

  constructor(
    readonly minor: DrmMinor,
    /** The `struct file` (`filp`). */
    readonly filp: File,
  ) {
    this.kernel = minor.dev.kernel;
    this.syncobjTableLock = new SpinLock({ lockdep: this.kernel.lockdep, current: () => this.kernel.current }, "drm_file syncobj_table_lock", "syncobj_table_lock");
  }

  /** The device. */
  get dev(): DrmDevice {
    return this.minor.dev;
  }

  /** `drm_is_render_client()`. */
  get isRenderClient(): boolean {
    return this.minor.type === "render";
  }

  /** `idr_alloc(idr, ptr, 1, 0)`: the lowest free id ≥ 1. */
  idrAlloc(syncobj: DrmSyncobj): number {
    let id = 1;
    while (this.syncobjIdr.has(id)) id++;
    this.syncobjIdr.set(id, syncobj);
    return id;
  }
}
