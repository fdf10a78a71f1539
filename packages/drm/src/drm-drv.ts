// DRM devices, their minors, and hot-unplug with drm_dev_enter/exit (drivers/gpu/drm/drm_drv.c, include/drm/drm_drv.h).
import { KernelLocal, KernelBug, KernelError, Kref, unmapMappingRange, type Device, type Errno, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import type { DrmFile } from "./drm-file.js";
import { drmOpen, DRM_FOPS, type DrmIoctlDesc } from "./drm-ioctl.js";

/** `enum drm_driver_feature` bits the model uses. @public */
export const DRIVER_GEM = 0x1;
/** @public */
export const DRIVER_MODESET = 0x2;
/** @public */
export const DRIVER_RENDER = 0x8;
/** @public */
export const DRIVER_ATOMIC = 0x10;
/** @public */
export const DRIVER_SYNCOBJ = 0x20;
/** @public */
export const DRIVER_SYNCOBJ_TIMELINE = 0x40;

/**
 * What happens to a removed device's CPU mappings: the documented rule
 * (`drm-uapi.rst` "Device Hot-Unplug": accesses complete, redirected to a
 * dummy page; SIGBUS "not an option") or the maintainer's statement in the
 * 2026 /dev/syncobj thread that drivers may also raise SIGBUS.
 * @public
 */
export type DrmUnplugMmapPolicy = "dummy-page" | "sigbus";

/** `struct drm_driver`: the driver's name, features and ioctl table. @public */
export interface DrmDriver {
  readonly name: string;
  readonly desc: string;
  /** `driver_features` (`DRIVER_*`). */
  readonly driverFeatures: number;
  /** Driver-private ioctls, indexed from `DRM_COMMAND_BASE`. */
  readonly ioctls?: readonly DrmIoctlDesc[];
  /**
   * The error a removed device's unsignaled fences end with. The documented
   * rule is `ENODEV` (the neutral default); amdgpu's force completion uses
   * `ECANCELED`, killed scheduler jobs `ESRCH`, xe's hardware fences no
   * error at all (`null`).
   */
  readonly unplugFenceError?: Errno | null;
  /** CPU mappings after unplug (default `"dummy-page"`). */
  readonly unplugMmap?: DrmUnplugMmapPolicy;
  /** `open`: a new file of the device. */
  open?(dev: DrmDevice, file: DrmFile): void;
  /** `postclose`: the file's last close. */
  postclose?(dev: DrmDevice, file: DrmFile): void;
}

/** `enum drm_minor_type`. @public */
export type DrmMinorType = "primary" | "render";

/** `struct drm_minor`: a `/dev/dri` node of a device. @public */
export class DrmMinor {
  #unregister: (() => void) | null = null;
  constructor(
    readonly dev: DrmDevice,
    readonly type: DrmMinorType,
    /** Minor number: 0–63 primary (`card<N>`), 128–191 render (`renderD<N>`). */
    readonly index: number,
  ) {}

  /** Path under `/dev`. */
  get path(): string {
    return this.type === "primary" ? `dri/card${this.index}` : `dri/renderD${this.index}`;
  }

  /** @internal `drm_minor_register` */
  _register(): void {
    this.#unregister = this.dev.kernel.devfs.register(this.path, { fops: DRM_FOPS, open: (file) => drmOpen(this, file) });
  }

  /** @internal `drm_minor_unregister` */
  _unregister(): void {
    this.#unregister?.();
    this.#unregister = null;
  }

  /** The node is published. */
  get registered(): boolean {
    return this.#unregister !== null;
  }
}

interface MinorSpace {
  readonly used: Set<number>;
}
const MINORS = new KernelLocal<MinorSpace>("MINORS");

function minorAlloc(kernel: Kernel, type: DrmMinorType): number {
  let s = MINORS.get(kernel);
  if (!s) MINORS.set(kernel, (s = { used: new Set() }));
  const base = type === "primary" ? 0 : 128;
  for (let i = base; i < base + 64; i++) {
    if (!s.used.has(i)) {
      s.used.add(i);
      return i;
    }
  }
  throw new KernelError("ENOSPC", "drm_minor_alloc");
}

function minorFree(kernel: Kernel, index: number): void {
  MINORS.get(kernel)?.used.delete(index);
}

/** The DRM core's SRCU domain (`drm_unplug_srcu`): readers per kernel. */
const SRCU_READERS = new KernelLocal<number>("SRCU_READERS");

/**
 * `struct drm_device`. Refcounted: the driver holds one reference, each open
 * file another, so a removed device lives until its last file is closed.
 * @public
 */
export class DrmDevice {
  readonly kernel: Kernel;
  readonly #ref: Kref;
  readonly primary: DrmMinor;
  readonly render: DrmMinor | null;
  /** `unplugged`: set by {@link drmDevUnplug}. */
  unplugged = false;
  registered = false;
  /** Open files (`filelist`). */
  readonly files = new Set<DrmFile>();
  /** Called by {@link drmDevUnplug} after the unplugged flag is visible: the driver's removal work. */
  readonly unplugHooks: ((dev: DrmDevice) => void)[] = [];

  constructor(
    readonly driver: DrmDriver,
    /** The parent device (`dev->dev`). */
    readonly dev: Device,
  ) {
    const k = dev.kernel;
    this.kernel = k;
    this.#ref = new Kref(() => this.#release(), (m) => k.warn(m));
    this._track();
    this.primary = new DrmMinor(this, "primary", minorAlloc(k, "primary"));
    this.render = driver.driverFeatures & DRIVER_RENDER ? new DrmMinor(this, "render", minorAlloc(k, "render")) : null;
  }

  /**
   * @internal Leak tracking: a registered device belongs to its bound driver
   * (machine state, not a leak); allocated-but-unregistered or unregistered
   * devices are tracked until their last reference goes.
   */
  _track(): void {
    if (!this.kernel.objects.isLive(this)) this.kernel.objects.track("drm_device", this, () => `drm_device ${this.driver.name} ${this.dev.name}${this.unplugged ? " (unplugged)" : ""}`);
  }

  /** `drm_dev_get()`. */
  get(): this {
    this.#ref.get();
    return this;
  }

  /** `drm_dev_put()`. */
  put(): void {
    this.#ref.put();
  }

  #release(): void {
    minorFree(this.kernel, this.primary.index);
    if (this.render) minorFree(this.kernel, this.render.index);
    this.kernel.objects.untrack(this);
  }

  /** The fence error the driver's removal uses (`ENODEV` by default), `null` for none. */
  get unplugFenceError(): Errno | null {
    return this.driver.unplugFenceError === undefined ? "ENODEV" : this.driver.unplugFenceError;
  }

  toString(): string {
    return `${this.driver.name} ${this.dev.name}`;
  }
}

/** `drm_core_check_feature(dev, feature)`. @public */
export function drmCoreCheckFeature(dev: DrmDevice, feature: number): boolean {
  return (dev.driver.driverFeatures & feature) === feature;
}

/**
 * `drm_dev_alloc(driver, parent)` / `devm_drm_dev_alloc`: a device with its
 * minors reserved, not yet visible. @throws KernelError `ENOMEM`, `ENOSPC`.
 * @public
 */
export function drmDevAlloc(driver: DrmDriver, parent: Device): DrmDevice {
  parent.kernel.alloc.kzalloc("drm_device");
  return new DrmDevice(driver, parent);
}

/** `drm_dev_register(dev)`: publishes `/dev/dri/card<N>` (and `renderD<N>`). @public */
export function drmDevRegister(dev: DrmDevice): void {
  if (dev.registered) throw new KernelError("EBUSY", "drm_dev_register", `${dev} is registered`);
  if (dev.unplugged) throw new KernelError("ENODEV", "drm_dev_register", `${dev} is unplugged`);
  dev.render?._register();
  try {
    dev.primary._register();
  } catch (e) {
    dev.render?._unregister();
    throw e;
  }
  dev.registered = true;
  dev.kernel.objects.untrack(dev);
  dev.kernel.printk.info(`[drm] Initialized ${dev.driver.name} for ${dev.dev.name} on minor ${dev.primary.index}`);
}

/** `drm_dev_unregister(dev)`: the nodes disappear; open files stay valid. @public */
export function drmDevUnregister(dev: DrmDevice): void {
  if (!dev.registered) return;
  dev.registered = false;
  dev._track();
  dev.primary._unregister();
  dev.render?._unregister();
}

/**
 * `drm_dev_enter(dev, &idx)`: enters the device's SRCU read section.
 * Returns the cookie for {@link drmDevExit}, or null once the device is
 * unplugged (then nothing must touch the hardware).
 * @public
 */
export function drmDevEnter(dev: DrmDevice): number | null {
  const k = dev.kernel;
  const n = (SRCU_READERS.get(k) ?? 0) + 1;
  SRCU_READERS.set(k, n);
  if (dev.unplugged) {
    SRCU_READERS.set(k, n - 1);
    return null;
  }
  return n;
}

/** `drm_dev_exit(idx)`. @public */
export function drmDevExit(dev: DrmDevice, idx: number): void {
  const k = dev.kernel;
  const n = SRCU_READERS.get(k) ?? 0;
  if (n <= 0 || idx <= 0) {
    k.warn("drm_dev_exit without drm_dev_enter");
    return;
  }
  SRCU_READERS.set(k, n - 1);
}

/** `drm_dev_is_unplugged(dev)`: racy by design; prefer enter/exit. @public */
export function drmDevIsUnplugged(dev: DrmDevice): boolean {
  return dev.unplugged;
}

/**
 * `drm_dev_unplug(dev)`: (1) mark unplugged; (2) `synchronize_srcu` — every
 * `drm_dev_enter` section has ended (calling it from inside one is a
 * deadlock); (3) unregister the minors; (4) zap every CPU mapping made through
 * any file of the device (2021, `unmap_mapping_range` on the device's
 * address space). Open files stay; every ioctl on them is `ENODEV` from now
 * on. Then the driver's removal hooks run.
 * @public
 */
export function drmDevUnplug(dev: DrmDevice): void {
  const k = dev.kernel;
  dev.unplugged = true;
  if ((SRCU_READERS.get(k) ?? 0) > 0) throw new KernelBug("deadlock", `drm_dev_unplug(${dev}) inside a drm_dev_enter() section: synchronize_srcu() never returns`);
  drmDevUnregister(dev);
  for (const f of dev.files) unmapMappingRange(k, f.filp, 0n, 0n);
  for (const hook of dev.unplugHooks) hook(dev);
  k.printk.info(`[drm] ${dev} unplugged`);
}
