// drivers/vfio/vfio_main.c: struct vfio_device, device sets reset together, and the device file.
import { KernelError, Mutex, copyFromUser, type File, type FileOperations, type Kernel, type UserArg } from "@dmabuf-sdk/dmabuf-core";
import type { VfioPciCoreDevice } from "./vfio-pci-core.js";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MASK,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_FEATURE_SIZE,
  VFIO_GROUP_GET_DEVICE_FD,
} from "./vfio.js";

/**
 * `struct vfio_device_set`: devices that must be reset together (the
 * functions of one bus). `lock` serialises open, close and hot reset, and is
 * taken before any device's `memory_lock`.
 * @public
 */
export class VfioDeviceSet {
  readonly lock: Mutex;
  /** `device_list`, in registration order. */
  readonly devices: VfioPciCoreDevice[] = [];
  constructor(kernel: Kernel, name: string) {
    this.lock = new Mutex({ lockdep: kernel.lockdep, current: () => kernel.current }, `${name} dev_set->lock`, "&dev_set->lock");
  }
}

/**
 * `vfio_check_feature(flags, argsz, supported_ops, minsz)`: 1 to go on, 0
 * for a successful PROBE. @throws KernelError `EINVAL` for an op the feature
 * does not support (even with PROBE), no GET/SET without PROBE, or
 * `argsz < minsz`.
 * @public
 */
export function vfioCheckFeature(flags: number, argsz: number, supportedOps: number, minsz: number): 0 | 1 {
  if (flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET) & ~supportedOps) throw new KernelError("EINVAL", "vfio_check_feature", "unsupported GET/SET");
  if (flags & VFIO_DEVICE_FEATURE_PROBE) return 0;
  if (!(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET))) throw new KernelError("EINVAL", "vfio_check_feature", "neither GET nor SET");
  if (argsz < minsz) throw new KernelError("EINVAL", "vfio_check_feature", `argsz ${argsz} < ${minsz}`);
  return 1;
}

/**
 * `vfio_ioctl_device_feature()`: the checks of vfio core before the driver
 * sees the feature: copy of `{argsz, flags}` (`EFAULT`), `argsz < 8`,
 * unknown flag bits, GET and SET together without PROBE (`EINVAL`); then the
 * driver's `device_feature` with `argsz - 8` bytes at `arg->data`.
 */
export function vfioIoctlDeviceFeature(vdev: VfioPciCoreDevice, arg: UserArg): number {
  const hdr = copyFromUser(arg, 0, VFIO_DEVICE_FEATURE_SIZE, "vfio_ioctl_device_feature");
  const argsz = hdr.getUint32(0, true);
  const flags = hdr.getUint32(4, true);
  if (argsz < VFIO_DEVICE_FEATURE_SIZE) throw new KernelError("EINVAL", "vfio_ioctl_device_feature", "argsz");
  if ((flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE)) !== 0) {
    throw new KernelError("EINVAL", "vfio_ioctl_device_feature", "unknown flags");
  }
  if (!(flags & VFIO_DEVICE_FEATURE_PROBE) && flags & VFIO_DEVICE_FEATURE_SET && flags & VFIO_DEVICE_FEATURE_GET) {
    throw new KernelError("EINVAL", "vfio_ioctl_device_feature", "GET and SET");
  }
  return vdev.deviceFeature(flags, arg, VFIO_DEVICE_FEATURE_SIZE, argsz - VFIO_DEVICE_FEATURE_SIZE);
}

/** What a vfio device file's `private_data` is. @public */
export interface VfioDeviceFile {
  /** The device. */
  readonly vdev: VfioPciCoreDevice;
  /** Opened through `/dev/vfio/devices/vfioN` (else through a group fd). */
  readonly cdev: boolean;
}

/** `vfio_device_fops`: the device fd. */
export const vfioDeviceFops: FileOperations = {
  name: "vfio-device",
  unlockedIoctl(file: File, cmd: number, arg: UserArg): number {
    const df = file.privateData as VfioDeviceFile;
    if (cmd === VFIO_DEVICE_FEATURE) return vfioIoctlDeviceFeature(df.vdev, arg);
    return df.vdev.ioctl(df, cmd, arg);
  },
  read(file: File, buf: Uint8Array, pos: bigint): number {
    return (file.privateData as VfioDeviceFile).vdev.rw(buf, pos, false);
  },
  write(file: File, data: Uint8Array, pos: bigint): number {
    return (file.privateData as VfioDeviceFile).vdev.rw(data, pos, true);
  },
  release(file: File): void {
    const df = file.privateData as VfioDeviceFile | undefined;
    if (df) df.vdev.closeFile(df);
  },
};

/**
 * A vfio group (`/dev/vfio/<iommu group>`). Holding its fd is what owns the
 * group's devices for `VFIO_DEVICE_PCI_HOT_RESET`; `VFIO_GROUP_GET_DEVICE_FD`
 * opens one of them. The container and IOMMU set-up of the legacy interface
 * are not modelled.
 * @public
 */
export class VfioGroup {
  readonly devices: VfioPciCoreDevice[] = [];
  /** The group's file while it is open (one opener at a time). */
  file: File | null = null;
  constructor(readonly id: number) {}
}

/** `vfio_group_fops`. */
export const vfioGroupFops: FileOperations = {
  name: "vfio-group",
  unlockedIoctl(file: File, cmd: number, arg: UserArg): number {
    const group = file.privateData as VfioGroup;
    if (cmd !== VFIO_GROUP_GET_DEVICE_FD) throw new KernelError("ENOTTY", "vfio_group_fops_unl_ioctl");
    if (!(arg instanceof Uint8Array)) throw new KernelError("EFAULT", "vfio_group_ioctl_get_device_fd");
    const nul = arg.indexOf(0);
    if (nul < 0) throw new KernelError("EFAULT", "vfio_group_ioctl_get_device_fd", "name not terminated");
    const name = new TextDecoder().decode(arg.subarray(0, nul));
    const vdev = group.devices.find((d) => d.pdev.name === name);
    if (!vdev) throw new KernelError("ENODEV", "vfio_group_ioctl_get_device_fd", name);
    return vdev.openFd(false);
  },
  release(file: File): void {
    const group = file.privateData as VfioGroup | undefined;
    if (group && group.file === file) group.file = null;
  },
};

/** Whether `file` is a vfio group file (`vfio_file_is_group()`). */
export function vfioFileIsGroup(file: File): boolean {
  return file.fops === vfioGroupFops;
}
