// virt/kvm/vfio.c: the KVM-VFIO pseudo device that tells vfio which VM a device file belongs to (vfio_file_set_kvm).
import { File, KernelError, O_CLOEXEC, O_RDWR, copyFromUser, copyToUser, type FileOperations, type UserArg } from "@dmabuf-sdk/dmabuf-core";
import type { Kvm } from "./kvm-main.js";
import { KVM_CREATE_DEVICE_SIZE, KVM_DEV_TYPE_VFIO, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, KVM_DEV_VFIO_FILE_DEL, KVM_DEVICE_ATTR_SIZE, KVM_SET_DEVICE_ATTR } from "./kvm-uapi.js";

/** `vfio_file_is_valid()`. @public */
export type VfioFileIsValid = (file: File) => boolean;
/** `vfio_file_set_kvm()`: `kvm` null to disassociate. @public */
export type VfioFileSetKvm = (file: File, kvm: unknown) => void;
/** @public */
export const VFIO_FILE_IS_VALID = "vfio_file_is_valid";
/** @public */
export const VFIO_FILE_SET_KVM = "vfio_file_set_kvm";

/** `struct kvm_device` of type VFIO: the files added with `KVM_DEV_VFIO_FILE_ADD`. @public */
export class KvmDevice {
  readonly files: File[] = [];
  file!: File;
  constructor(readonly kvm: Kvm) {}

  /** Calls a vfio symbol through `symbol_get()`; `false` when vfio is not loaded. */
  #vfio<T>(name: string, fn: (f: T) => void): boolean {
    const loader = this.kvm.kernel.modules;
    const f = loader.symbolGet(name, this.kvm.build.module) as T | undefined;
    if (!f) return false;
    try {
      fn(f);
    } finally {
      loader.symbolPut(name);
    }
    return true;
  }

  /** `kvm_vfio_file_add()`: `EBADF`; not a vfio file `EINVAL`; already added `EEXIST`. */
  add(fd: number): number {
    const file = this.kvm.kernel.current.files.fget(fd);
    let valid = false;
    this.#vfio<VfioFileIsValid>(VFIO_FILE_IS_VALID, (f) => (valid = f(file)));
    if (!valid) {
      file.put();
      throw new KernelError("EINVAL", "kvm_vfio_file_add", `fd ${fd} is not a vfio file`);
    }
    if (this.files.includes(file)) {
      file.put();
      throw new KernelError("EEXIST", "kvm_vfio_file_add", `fd ${fd} already added`);
    }
    this.files.push(file);
    this.#vfio<VfioFileSetKvm>(VFIO_FILE_SET_KVM, (f) => f(file, this.kvm));
    return 0;
  }

  /** `kvm_vfio_file_del()`: `EBADF`; not added `ENOENT`. */
  del(fd: number): number {
    const file = this.kvm.kernel.current.files.fget(fd);
    try {
      const i = this.files.indexOf(file);
      if (i < 0) throw new KernelError("ENOENT", "kvm_vfio_file_del", `fd ${fd} was not added`);
      this.files.splice(i, 1);
      this.#vfio<VfioFileSetKvm>(VFIO_FILE_SET_KVM, (f) => f(file, null));
      file.put();
    } finally {
      file.put();
    }
    return 0;
  }

  /** `kvm_vfio_release()` at VM destruction: every file disassociated and put. */
  destroy(): void {
    for (const file of this.files.splice(0)) {
      this.#vfio<VfioFileSetKvm>(VFIO_FILE_SET_KVM, (f) => f(file, null));
      file.put();
    }
  }
}

/** `kvm_device_fops`: `KVM_SET_DEVICE_ATTR` with group `KVM_DEV_VFIO_FILE`; `addr` is an offset into the argument where the fd is. */
const kvmDeviceFops: FileOperations = {
  name: "kvm-vfio",
  unlockedIoctl(file: File, cmd: number, arg: UserArg): number {
    const dev = file.privateData as KvmDevice;
    if (cmd !== KVM_SET_DEVICE_ATTR) throw new KernelError("ENOTTY", "kvm_device_ioctl", `cmd ${cmd.toString(16)}`);
    const v = copyFromUser(arg, 0, KVM_DEVICE_ATTR_SIZE, "kvm_device_ioctl_attr");
    const group = v.getUint32(4, true);
    const attr = Number(v.getBigUint64(8, true));
    const addr = Number(v.getBigUint64(16, true));
    if (group !== KVM_DEV_VFIO_FILE) throw new KernelError("ENXIO", "kvm_vfio_set_attr", `group ${group}`);
    const fd = copyFromUser(arg, addr, 4, "kvm_vfio_set_file").getInt32(0, true);
    if (attr === KVM_DEV_VFIO_FILE_ADD) return dev.add(fd);
    if (attr === KVM_DEV_VFIO_FILE_DEL) return dev.del(fd);
    throw new KernelError("ENXIO", "kvm_vfio_set_file", `attr ${attr}`);
  },
  release(file: File): void {
    (file.privateData as KvmDevice).kvm.put();
  },
};

/** `KVM_CREATE_DEVICE`: only `KVM_DEV_TYPE_VFIO` (`ENODEV` otherwise); writes the fd back and returns 0. @public */
export function kvmIoctlCreateDevice(kvm: Kvm, arg: UserArg): number {
  const v = copyFromUser(arg, 0, KVM_CREATE_DEVICE_SIZE, "kvm_ioctl_create_device");
  const type = v.getUint32(0, true);
  if (type !== KVM_DEV_TYPE_VFIO) throw new KernelError("ENODEV", "kvm_ioctl_create_device", `type ${type}`);
  if (kvm.devices.length) throw new KernelError("EBUSY", "kvm_vfio_create", "one KVM-VFIO device per VM");
  const k = kvm.kernel;
  k.alloc.kzalloc("kvm_device");
  const dev = new KvmDevice(kvm);
  const files = k.current.files;
  const fd = files.getUnusedFdFlags(O_CLOEXEC);
  dev.file = new File(k, kvmDeviceFops, dev, O_RDWR);
  kvm.devices.push(dev);
  kvm.get();
  files.fdInstall(fd, dev.file);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, fd, true);
  copyToUser(arg, 4, out, "kvm_ioctl_create_device");
  return 0;
}
