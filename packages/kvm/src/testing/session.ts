// A VMM in a few calls: /dev/kvm, a VM, a vCPU, memslots, and guest loads and stores run with KVM_RUN.
import { ERRNO, KernelError, O_RDWR, errnoName, type Task } from "@dmabuf-sdk/dmabuf-core";
import type { Kvm } from "../kvm-main.js";
import { kvmFromFd } from "../kvm-main.js";
import {
  KVM_CREATE_DEVICE,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_DEV_TYPE_VFIO,
  KVM_DEV_VFIO_FILE,
  KVM_DEV_VFIO_FILE_ADD,
  KVM_DEV_VFIO_FILE_DEL,
  KVM_RUN,
  KVM_SET_DEVICE_ATTR,
  KVM_SET_MEMORY_ATTRIBUTES,
  KVM_SET_USER_MEMORY_REGION2,
  kvmCreateDevice,
  kvmDeviceAttrFd,
  kvmMemoryAttributes,
  kvmUserspaceMemoryRegion2,
  type KvmUserspaceMemoryRegion2,
} from "../kvm-uapi.js";
import type { GuestAccess, KvmVcpu } from "../vcpu.js";

function check(ret: number, op: string): number {
  if (ret < 0) throw new KernelError(errnoName(ret) ?? "EIO", op, `returned ${ret}`);
  return ret;
}

/** A VM as a VMM holds it: the fds of `task` and the kernel objects behind them. @public */
export interface KvmSession {
  readonly task: Task;
  readonly kvmFd: number;
  readonly vmFd: number;
  readonly vcpuFd: number;
  readonly kvm: Kvm;
  readonly vcpu: KvmVcpu;
  /** `KVM_SET_USER_MEMORY_REGION2`: 0 or `-errno`. */
  setRegion(r: KvmUserspaceMemoryRegion2): number;
  /** `KVM_SET_MEMORY_ATTRIBUTES`: 0 or `-errno`. */
  setAttributes(address: bigint, size: bigint, attributes: bigint): number;
  /** `KVM_CREATE_DEVICE(VFIO)` once, then `KVM_DEV_VFIO_FILE_ADD` of `fd`: 0 or `-errno`. */
  addVfioFile(fd: number): number;
  /** `KVM_DEV_VFIO_FILE_DEL` of `fd`: 0 or `-errno`. */
  delVfioFile(fd: number): number;
  /** Queues `access` and runs `KVM_RUN`: 0 or `-errno`. */
  run(...access: GuestAccess[]): number;
  /** A guest load of `len` bytes at `gpa` (shared unless `priv`): the bytes, or `-errno` of `KVM_RUN`. */
  read(gpa: bigint, len: number, priv?: boolean): Uint8Array | number;
  /** A guest store; 0 or `-errno`. */
  write(gpa: bigint, data: Uint8Array, priv?: boolean): number;
  /** Closes the vCPU, device, VM and /dev/kvm fds. */
  close(): void;
}

/** Opens `/dev/kvm` in `task`, creates a VM of `type` and vCPU 0. @public */
export function kvmOpenSession(task: Task, type = 0): KvmSession {
  const sys = task.sys;
  const k = task.kernel;
  const kvmFd = check(sys.open("/dev/kvm", O_RDWR), "open /dev/kvm");
  let vmFd = -1;
  let vcpuFd = -1;
  let devFd = -1;
  try {
    vmFd = check(sys.ioctl(kvmFd, KVM_CREATE_VM, type), "KVM_CREATE_VM");
    vcpuFd = check(sys.ioctl(vmFd, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
  } catch (e) {
    if (vmFd >= 0) sys.close(vmFd);
    sys.close(kvmFd);
    throw e;
  }
  const { kvm, file } = k.runAs(task, () => kvmFromFd(k, vmFd));
  file.put();
  const vcpu = kvm.vcpus[0]!;
  const s: KvmSession = {
    task,
    kvmFd,
    vmFd,
    vcpuFd,
    kvm,
    vcpu,
    setRegion: (r) => sys.ioctl(vmFd, KVM_SET_USER_MEMORY_REGION2, kvmUserspaceMemoryRegion2(r)),
    setAttributes: (address, size, attributes) => sys.ioctl(vmFd, KVM_SET_MEMORY_ATTRIBUTES, kvmMemoryAttributes(address, size, attributes)),
    addVfioFile(fd) {
      if (devFd < 0) {
        const cd = kvmCreateDevice(KVM_DEV_TYPE_VFIO);
        const r = sys.ioctl(vmFd, KVM_CREATE_DEVICE, cd);
        if (r < 0) return r;
        devFd = new DataView(cd.buffer).getUint32(4, true);
      }
      return sys.ioctl(devFd, KVM_SET_DEVICE_ATTR, kvmDeviceAttrFd(KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, fd));
    },
    delVfioFile(fd) {
      if (devFd < 0) return -ERRNO.ENOENT;
      return sys.ioctl(devFd, KVM_SET_DEVICE_ATTR, kvmDeviceAttrFd(KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_DEL, fd));
    },
    run(...access) {
      vcpu.program.push(...access);
      return sys.ioctl(vcpuFd, KVM_RUN);
    },
    read(gpa, len, priv = false) {
      const before = vcpu.loads.length;
      const r = s.run({ op: "read", gpa, len, private: priv });
      if (r < 0) {
        vcpu.program.length = 0;
        return r;
      }
      return vcpu.loads.length > before ? vcpu.loads[vcpu.loads.length - 1]! : -1;
    },
    write(gpa, data, priv = false) {
      const r = s.run({ op: "write", gpa, data, private: priv });
      if (r < 0) vcpu.program.length = 0;
      return r;
    },
    close() {
      sys.close(vcpuFd);
      if (devFd >= 0) sys.close(devFd);
      sys.close(vmFd);
      sys.close(kvmFd);
    },
  };
  return s;
}
