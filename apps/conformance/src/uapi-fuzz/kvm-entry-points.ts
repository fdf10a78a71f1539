// Fuzzer table for virt/kvm/kvm_main.c's uAPI: /dev/kvm, VM, vCPU and the kvm-vfio device ioctls, incl. dma-buf memslots.
import fc from "fast-check";
import {
  KVM_CREATE_DEVICE,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_DEV_TYPE_VFIO,
  KVM_DEV_VFIO_FILE,
  KVM_DEV_VFIO_FILE_ADD,
  KVM_DEV_VFIO_FILE_DEL,
  KVM_GET_API_VERSION,
  KVM_MEM_GUEST_MEMFD,
  KVM_MEM_READONLY,
  KVM_MEM_VFIO_DMABUF,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_RUN,
  KVM_SET_DEVICE_ATTR,
  KVM_SET_MEMORY_ATTRIBUTES,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SET_USER_MEMORY_REGION2,
  KVM_X86_DEFAULT_VM,
  KVM_X86_SW_PROTECTED_VM,
  KVM_X86_TDX_VM,
  kvmCreateDevice,
  kvmDeviceAttrFd,
  kvmMemoryAttributes,
  kvmUserspaceMemoryRegion,
  kvmUserspaceMemoryRegion2,
} from "@dmabuf-sdk/kvm";
import type { Task } from "@dmabuf-sdk/dmabuf-core";
import type { FuzzArbs, FuzzCommand, UapiEntryPoint } from "./harness.js";

const cmd = (label: string, run: FuzzCommand["run"]): FuzzCommand => ({ label, run });

/** The kvm files of a process (/dev/kvm, VMs, vCPUs, kvm-vfio devices), picked by kind at call time. */
const KVM_FOPS = new Set(["kvm", "kvm-vm", "kvm-vcpu", "kvm-vfio"]);

/** Usually one of the calling process's kvm files (by index); sometimes any small fd, for the wrong-kind paths. */
type KvmFdPick = { readonly index: number } | { readonly any: number };
const kvmFd = (a: FuzzArbs): fc.Arbitrary<KvmFdPick> => fc.oneof({ weight: 3, arbitrary: fc.nat(7).map((index) => ({ index })) }, { weight: 1, arbitrary: a.fd.map((any) => ({ any })) });

function resolveKvmFd(p: Task, pick: KvmFdPick): number {
  if ("any" in pick) return pick.any;
  const fds = p.files.fds().filter((fd) => KVM_FOPS.has(p.files.lookup(fd)?.fops.name ?? ""));
  return fds.length ? fds[pick.index % fds.length]! : -1;
}

/** Page-aligned guest-physical and host-virtual addresses near the edges, and any u64. */
const addr = (a: FuzzArbs): fc.Arbitrary<bigint> => fc.oneof(fc.constantFrom(0n, 0x1000n, 0x10_0000n, 0x1_0000_0000n, 0x7f00_0000_0000n, (1n << 52n) - 0x1000n), a.u64);

export const kvmEntryPoints: readonly UapiEntryPoint[] = [
  {
    name: "kvm ioctls",
    // kvm_dev_ioctl / kvm_vm_ioctl / kvm_vcpu_ioctl / kvm_device_ioctl and what they reach:
    // __kvm_set_memory_region (EINVAL, EEXIST, EFAULT, ENOMEM), dma-buf slots (EBADF, ENODEV, EOPNOTSUPP),
    // kvm_vm_ioctl_create_vcpu (EINVAL, EEXIST, ENOMEM), kvm_ioctl_create_device (ENODEV, EEXIST, ENOMEM, EMFILE),
    // kvm_vfio_set_attr (EBADF, EINVAL, ENOENT, EEXIST, ENXIO), KVM_RUN (EIO from another mm, EFAULT on an unbacked access).
    errnos: ["EBADF", "EINVAL", "EFAULT", "ENOTTY", "ENOMEM", "EMFILE", "EEXIST", "ENOENT", "ENODEV", "ENXIO", "EIO", "EOPNOTSUPP", "EPERM", "E2BIG", "EBUSY", "EACCES"],
    command: (a) => {
      const flags = fc.oneof(fc.constantFrom(0, KVM_MEM_READONLY, KVM_MEM_VFIO_DMABUF, KVM_MEM_GUEST_MEMFD, KVM_MEM_VFIO_DMABUF | KVM_MEM_READONLY), a.u32);
      const region = fc.record({
        v2: fc.boolean(),
        slot: fc.oneof(fc.nat(4), fc.constant(0x1_0000), a.u32),
        flags,
        guestPhysAddr: addr(a),
        memorySize: fc.oneof(fc.constantFrom(0n, 0x1000n, 0x2000n, 0x10_0000n), a.u64),
        userspaceAddr: addr(a),
        guestMemfdOffset: fc.oneof(fc.constantFrom(0n, 0x1000n), a.u64),
        guestMemfd: fc.oneof(fc.nat(10), a.u32),
      });
      const ops: fc.Arbitrary<{ label: string; c: number; arg: Uint8Array | number | null }> = fc.oneof(
        fc.oneof(fc.constant(0), a.u32).map((v) => ({ label: `KVM_GET_API_VERSION(${v})`, c: KVM_GET_API_VERSION, arg: v })),
        fc.oneof(fc.constantFrom(KVM_X86_DEFAULT_VM, KVM_X86_SW_PROTECTED_VM, KVM_X86_TDX_VM), a.u32).map((t) => ({ label: `KVM_CREATE_VM(type ${t})`, c: KVM_CREATE_VM, arg: t })),
        region.map((r) => ({
          label: `KVM_SET_USER_MEMORY_REGION${r.v2 ? "2" : ""}(slot ${r.slot}, flags ${r.flags}, gpa ${r.guestPhysAddr}n, size ${r.memorySize}n, hva ${r.userspaceAddr}n, fd ${r.guestMemfd}, offset ${r.guestMemfdOffset}n)`,
          c: r.v2 ? KVM_SET_USER_MEMORY_REGION2 : KVM_SET_USER_MEMORY_REGION,
          arg: r.v2 ? kvmUserspaceMemoryRegion2(r) : kvmUserspaceMemoryRegion(r),
        })),
        fc.record({ address: addr(a), size: fc.oneof(fc.constantFrom(0x1000n, 0x2000n), a.u64), attributes: fc.oneof(fc.constantFrom(0n, KVM_MEMORY_ATTRIBUTE_PRIVATE), a.u64), flags: fc.oneof(fc.constant(0n), a.u64) }).map((m) => ({
          label: `KVM_SET_MEMORY_ATTRIBUTES(${m.address}n, ${m.size}n, ${m.attributes}n, flags ${m.flags}n)`,
          c: KVM_SET_MEMORY_ATTRIBUTES,
          arg: kvmMemoryAttributes(m.address, m.size, m.attributes, m.flags),
        })),
        fc.oneof(fc.nat(3), fc.constant(4096), a.anyNumber).map((id) => ({ label: `KVM_CREATE_VCPU(${id})`, c: KVM_CREATE_VCPU, arg: id })),
        fc.record({ type: fc.oneof(fc.constant(KVM_DEV_TYPE_VFIO), a.u32), flags: fc.oneof(fc.constant(0), a.u32) }).map((d) => ({ label: `KVM_CREATE_DEVICE(type ${d.type}, flags ${d.flags})`, c: KVM_CREATE_DEVICE, arg: kvmCreateDevice(d.type, d.flags) })),
        fc.record({ group: fc.oneof(fc.constant(KVM_DEV_VFIO_FILE), a.u32), attr: fc.oneof(fc.constantFrom(KVM_DEV_VFIO_FILE_ADD, KVM_DEV_VFIO_FILE_DEL), a.u32), fd: a.fd }).map((s) => ({
          label: `KVM_SET_DEVICE_ATTR(group ${s.group}, attr ${s.attr}, fd ${s.fd})`,
          c: KVM_SET_DEVICE_ATTR,
          arg: kvmDeviceAttrFd(s.group, s.attr, Number.isInteger(s.fd) ? s.fd : -1),
        })),
        fc.constant({ label: "KVM_RUN", c: KVM_RUN, arg: 0 }),
      );
      return fc.record({ fd: kvmFd(a), op: ops, junk: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) }).map(({ fd, op, junk }) => {
        // Now and then the right command with the wrong kind of argument (random bytes, NULL).
        const arg = junk && op.arg instanceof Uint8Array ? null : op.arg;
        const shown = "any" in fd ? String(fd.any) : `kvm file #${fd.index}`;
        return cmd(`kvm ioctl(${shown}, ${op.label}${arg === null ? ", NULL" : ""})`, (_w, p) => p.sys.ioctl(resolveKvmFd(p, fd), op.c, arg));
      });
    },
  },
];
