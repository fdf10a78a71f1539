// The DRM ioctl entry: unplug check, table lookup, permissions, argument copy with zero-extension (drivers/gpu/drm/drm_ioctl.c, drm_file.c open/release).
import {
  KernelError,
  UserStruct,
  copyFromUser,
  copyToUser,
  iocDir,
  iocNr,
  iocSize,
  IOC_READ,
  IOC_WRITE,
  type File,
  type FileOperations,
  type UserArg,
} from "@dmabuf-sdk/dmabuf-core";
import { drmCoreCheckFeature, DRIVER_SYNCOBJ, DRIVER_SYNCOBJ_TIMELINE, type DrmDevice, type DrmMinor } from "./drm-drv.js";
import { DrmFile } from "./drm-file.js";
import * as so from "./drm-syncobj.js";
import { DRM_COMMAND_BASE, DRM_COMMAND_END, drmIowr } from "./drm-uapi.js";

export { DRM_IOCTL_BASE, DRM_COMMAND_BASE, DRM_COMMAND_END, drmIowr } from "./drm-uapi.js";

/** `drm_ioctl_desc` flags. @public */
export const DRM_AUTH = 0x1;
/** @public */
export const DRM_MASTER = 0x2;
/** @public */
export const DRM_ROOT_ONLY = 0x4;
/** @public */
export const DRM_RENDER_ALLOW = 0x20;


/** An ioctl handler: the kernel copy of the argument; returns 0 or throws `KernelError`. @public */
export type DrmIoctlFunc = (dev: DrmDevice, data: UserStruct, file: DrmFile) => number;

/** `struct drm_ioctl_desc`. @public */
export interface DrmIoctlDesc {
  readonly cmd: number;
  readonly flags: number;
  readonly func: DrmIoctlFunc;
  readonly name: string;
}

/** `struct drm_get_cap`: u64 capability, u64 value. @public */
export const DRM_GET_CAP_SIZE = 16;
/** @public */
export const DRM_IOCTL_GET_CAP = drmIowr(0x0c, DRM_GET_CAP_SIZE);
/** @public */
export const DRM_CAP_SYNCOBJ = 0x13n;
/** @public */
export const DRM_CAP_SYNCOBJ_TIMELINE = 0x14n;

function getCap(dev: DrmDevice, data: UserStruct): number {
  const cap = data.u64(0);
  data.setU64(8, 0n);
  if (cap === DRM_CAP_SYNCOBJ) data.setU64(8, drmCoreCheckFeature(dev, DRIVER_SYNCOBJ) ? 1n : 0n);
  else if (cap === DRM_CAP_SYNCOBJ_TIMELINE) data.setU64(8, drmCoreCheckFeature(dev, DRIVER_SYNCOBJ_TIMELINE) ? 1n : 0n);
  else throw new KernelError("EINVAL", "drm_getcap", `capability ${cap}`);
  return 0;
}

const ioctl = (cmd: number, func: DrmIoctlFunc, flags: number, name: string): DrmIoctlDesc => ({ cmd, func, flags, name });

/** `drm_ioctls[]`: the core ioctls the model has, by number. @public */
export const DRM_CORE_IOCTLS: ReadonlyMap<number, DrmIoctlDesc> = new Map(
  [
    ioctl(DRM_IOCTL_GET_CAP, (d, a) => getCap(d, a), DRM_RENDER_ALLOW, "DRM_IOCTL_GET_CAP"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_CREATE, so.drmSyncobjCreateIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_CREATE"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_DESTROY, so.drmSyncobjDestroyIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_DESTROY"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, so.drmSyncobjHandleToFdIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, so.drmSyncobjFdToHandleIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_WAIT, so.drmSyncobjWaitIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_WAIT"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_RESET, so.drmSyncobjResetIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_RESET"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_SIGNAL, so.drmSyncobjSignalIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_SIGNAL"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, so.drmSyncobjTimelineWaitIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_QUERY, so.drmSyncobjQueryIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_QUERY"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_TRANSFER, so.drmSyncobjTransferIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_TRANSFER"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, so.drmSyncobjTimelineSignalIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL"),
    ioctl(so.DRM_IOCTL_SYNCOBJ_EVENTFD, so.drmSyncobjEventfdIoctl, DRM_RENDER_ALLOW, "DRM_IOCTL_SYNCOBJ_EVENTFD"),
  ].map((d) => [iocNr(d.cmd), d]),
);

/** `drm_ioctl_permit()`: render nodes only run `DRM_RENDER_ALLOW` ioctls; root-only needs euid 0. */
function drmIoctlPermit(flags: number, file: DrmFile): void {
  if (flags & DRM_ROOT_ONLY && file.kernel.current.cred.euid !== 0) throw new KernelError("EACCES", "drm_ioctl_permit", "root only");
  if (file.isRenderClient && !(flags & DRM_RENDER_ALLOW)) throw new KernelError("EACCES", "drm_ioctl_permit", "not allowed on a render node");
}

/**
 * `drm_ioctl()`: `ENODEV` for an unplugged device before anything else;
 * unknown numbers `EINVAL`; then the permission check, the argument copy
 * (a shorter user struct is zero-extended, a longer one truncated), the
 * handler, and the copy back — whatever the handler returned.
 * @public
 */
export function drmIoctl(filp: File, cmd: number, arg: UserArg): number {
  const file = filp.privateData as DrmFile;
  const dev = file.dev;
  if (dev.unplugged) throw new KernelError("ENODEV", "drm_ioctl", `${dev} is unplugged`);
  const nr = iocNr(cmd);
  let desc: DrmIoctlDesc | undefined;
  if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END) {
    desc = dev.driver.ioctls?.[nr - DRM_COMMAND_BASE];
    if (!desc) throw new KernelError("EINVAL", "drm_ioctl", `driver ioctl ${nr.toString(16)}`);
  } else {
    desc = DRM_CORE_IOCTLS.get(nr);
    if (!desc) throw new KernelError("EINVAL", "drm_ioctl", `core ioctl ${nr.toString(16)}`);
  }
  const drvSize = iocSize(desc.cmd);
  let inSize = iocSize(cmd);
  let outSize = inSize;
  if (!(iocDir(cmd) & iocDir(desc.cmd) & IOC_WRITE)) inSize = 0;
  if (!(iocDir(cmd) & iocDir(desc.cmd) & IOC_READ)) outSize = 0;
  const ksize = Math.max(inSize, outSize, drvSize);
  const kdata = UserStruct.alloc(ksize);
  if (inSize) {
    const v = copyFromUser(arg, 0, inSize, desc.name);
    kdata.bytes.set(new Uint8Array(v.buffer, v.byteOffset, inSize));
  }
  let ret = 0;
  let err: unknown;
  try {
    // drm_ioctl_kernel(): the unplug check again, then the permission check.
    if (dev.unplugged) throw new KernelError("ENODEV", "drm_ioctl_kernel");
    drmIoctlPermit(desc.flags, file);
    ret = desc.func(dev, kdata, file);
  } catch (e) {
    err = e;
  }
  if (outSize) {
    try {
      copyToUser(arg, 0, kdata.bytes.subarray(0, outSize), desc.name);
    } catch (e) {
      err = e;
    }
  }
  if (err) throw err;
  return ret;
}

/**
 * `drm_open()` for a minor's devfs node: `ENODEV` once the device is
 * unplugged (`drm_minor_acquire` fails). Sets up the `drm_file`.
 */
export function drmOpen(minor: DrmMinor, filp: File): void {
  const dev = minor.dev;
  if (dev.unplugged) throw new KernelError("ENODEV", "drm_open", `${dev} is unplugged`);
  dev.kernel.alloc.kzalloc("drm_file");
  const file = new DrmFile(minor, filp);
  filp.privateData = file;
  dev.get();
  try {
    dev.driver.open?.(dev, file);
  } catch (e) {
    dev.put();
    throw e;
  }
  dev.files.add(file);
}

/** `drm_release()`: drops every syncobj handle, lets the driver clean up, puts the device. */
function drmRelease(filp: File): void {
  const file = filp.privateData as DrmFile;
  const dev = file.dev;
  so.drmSyncobjRelease(file);
  dev.driver.postclose?.(dev, file);
  dev.files.delete(file);
  dev.put();
}

/** `drm_fops`-style file operations of every DRM minor. @public */
export const DRM_FOPS: FileOperations = {
  name: "drm",
  unlockedIoctl: drmIoctl,
  release: drmRelease,
};
