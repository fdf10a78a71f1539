// include/uapi/linux/kvm.h: the ioctls, flags and structs the model implements.
import { io, iow, iowr } from "@dmabuf-sdk/dmabuf-core";

/** `KVMIO`. @public */
export const KVMIO = 0xae;

/** @public */
export const KVM_API_VERSION = 12;
/** @public */
export const KVM_GET_API_VERSION = io(KVMIO, 0x00);
/** @public */
export const KVM_CREATE_VM = io(KVMIO, 0x01);
/** @public */
export const KVM_CREATE_VCPU = io(KVMIO, 0x41);
/** @public */
export const KVM_RUN = io(KVMIO, 0x80);

/** `sizeof(struct kvm_userspace_memory_region)`. @public */
export const KVM_USERSPACE_MEMORY_REGION_SIZE = 32;
/** `sizeof(struct kvm_userspace_memory_region2)`: the v1 fields, `guest_memfd_offset`, `guest_memfd`, `pad1`, `pad2[14]`. @public */
export const KVM_USERSPACE_MEMORY_REGION2_SIZE = 160;
/** @public */
export const KVM_SET_USER_MEMORY_REGION = iow(KVMIO, 0x46, KVM_USERSPACE_MEMORY_REGION_SIZE);
/** @public */
export const KVM_SET_USER_MEMORY_REGION2 = iow(KVMIO, 0x49, KVM_USERSPACE_MEMORY_REGION2_SIZE);

/** `sizeof(struct kvm_memory_attributes)`. @public */
export const KVM_MEMORY_ATTRIBUTES_SIZE = 32;
/** @public */
export const KVM_SET_MEMORY_ATTRIBUTES = iow(KVMIO, 0xd2, KVM_MEMORY_ATTRIBUTES_SIZE);
/** @public */
export const KVM_MEMORY_ATTRIBUTE_PRIVATE = 1n << 3n;

/** `sizeof(struct kvm_create_device)`. @public */
export const KVM_CREATE_DEVICE_SIZE = 12;
/** @public */
export const KVM_CREATE_DEVICE = iowr(KVMIO, 0xe0, KVM_CREATE_DEVICE_SIZE);
/** `sizeof(struct kvm_device_attr)`. @public */
export const KVM_DEVICE_ATTR_SIZE = 24;
/** @public */
export const KVM_SET_DEVICE_ATTR = iow(KVMIO, 0xe1, KVM_DEVICE_ATTR_SIZE);
/** `KVM_DEV_TYPE_VFIO` of `enum kvm_device_type`. @public */
export const KVM_DEV_TYPE_VFIO = 4;
/** @public */
export const KVM_DEV_VFIO_FILE = 1;
/** @public */
export const KVM_DEV_VFIO_FILE_ADD = 1;
/** @public */
export const KVM_DEV_VFIO_FILE_DEL = 2;

// Memslot flags.
/** @public */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
/** @public */
export const KVM_MEM_READONLY = 1 << 1;
/** @public */
export const KVM_MEM_GUEST_MEMFD = 1 << 2;
/** RFC 06/12 only: the slot is backed by the dma-buf fd passed in `guest_memfd`. @public */
export const KVM_MEM_VFIO_DMABUF = 1 << 3;
/** `KVM_SET_USER_MEMORY_REGION_V1_FLAGS`: all the legacy ioctl accepts. @public */
export const KVM_SET_USER_MEMORY_REGION_V1_FLAGS = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY;

// x86 VM types (`KVM_X86_*_VM`).
/** @public */
export const KVM_X86_DEFAULT_VM = 0;
/** @public */
export const KVM_X86_SW_PROTECTED_VM = 1;
/** @public */
export const KVM_X86_SEV_VM = 2;
/** @public */
export const KVM_X86_SEV_ES_VM = 3;
/** @public */
export const KVM_X86_SNP_VM = 4;
/** @public */
export const KVM_X86_TDX_VM = 5;

/** `KVM_MEM_SLOTS_NUM` (`SHRT_MAX`). @public */
export const KVM_MEM_SLOTS_NUM = 32767;
/** `KVM_INTERNAL_MEM_SLOTS` on x86 (TSS, identity map, APIC access). @public */
export const KVM_INTERNAL_MEM_SLOTS = 3;
/** `KVM_USER_MEM_SLOTS`. @public */
export const KVM_USER_MEM_SLOTS = KVM_MEM_SLOTS_NUM - KVM_INTERNAL_MEM_SLOTS;
/** `KVM_MEM_MAX_NR_PAGES`: `(1UL << 31) - 1`. @public */
export const KVM_MEM_MAX_NR_PAGES = (1n << 31n) - 1n;
/** x86-64 `TASK_SIZE_MAX` with 4-level paging: `access_ok()`'s limit. @public */
export const TASK_SIZE_MAX = (1n << 47n) - 4096n;

// Exit reasons.
/** @public */
export const KVM_EXIT_HLT = 5;
/** @public */
export const KVM_EXIT_MMIO = 6;
/** @public */
export const KVM_EXIT_MEMORY_FAULT = 39;
/** `KVM_MEMORY_EXIT_FLAG_PRIVATE`. @public */
export const KVM_MEMORY_EXIT_FLAG_PRIVATE = 1n << 3n;

/** `struct kvm_userspace_memory_region2` as user space fills it in. @public */
export interface KvmUserspaceMemoryRegion2 {
  /** `(as_id << 16) | id`. */
  readonly slot: number;
  readonly flags: number;
  readonly guestPhysAddr: bigint;
  readonly memorySize: bigint;
  readonly userspaceAddr: bigint;
  readonly guestMemfdOffset?: bigint;
  /** The guest_memfd, or with `KVM_MEM_VFIO_DMABUF` the dma-buf fd (as `u32`). */
  readonly guestMemfd?: number;
}

/** Encodes a `struct kvm_userspace_memory_region2` (160 bytes) for the REGION2 ioctl. @public */
export function kvmUserspaceMemoryRegion2(r: KvmUserspaceMemoryRegion2): Uint8Array {
  const b = new Uint8Array(KVM_USERSPACE_MEMORY_REGION2_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, r.slot >>> 0, true);
  v.setUint32(4, r.flags >>> 0, true);
  v.setBigUint64(8, BigInt.asUintN(64, r.guestPhysAddr), true);
  v.setBigUint64(16, BigInt.asUintN(64, r.memorySize), true);
  v.setBigUint64(24, BigInt.asUintN(64, r.userspaceAddr), true);
  v.setBigUint64(32, BigInt.asUintN(64, r.guestMemfdOffset ?? 0n), true);
  v.setUint32(40, (r.guestMemfd ?? 0) >>> 0, true);
  return b;
}

/** Encodes the legacy `struct kvm_userspace_memory_region` (32 bytes). @public */
export function kvmUserspaceMemoryRegion(r: KvmUserspaceMemoryRegion2): Uint8Array {
  return kvmUserspaceMemoryRegion2(r).slice(0, KVM_USERSPACE_MEMORY_REGION_SIZE);
}

/** Encodes `struct kvm_memory_attributes`. @public */
export function kvmMemoryAttributes(address: bigint, size: bigint, attributes: bigint, flags = 0n): Uint8Array {
  const b = new Uint8Array(KVM_MEMORY_ATTRIBUTES_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt.asUintN(64, address), true);
  v.setBigUint64(8, BigInt.asUintN(64, size), true);
  v.setBigUint64(16, BigInt.asUintN(64, attributes), true);
  v.setBigUint64(24, BigInt.asUintN(64, flags), true);
  return b;
}

/** Encodes `struct kvm_create_device`; the kernel writes the new fd at offset 4. @public */
export function kvmCreateDevice(type: number, flags = 0): Uint8Array {
  const b = new Uint8Array(KVM_CREATE_DEVICE_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, true);
  v.setUint32(8, flags, true);
  return b;
}

/** Encodes `struct kvm_device_attr` whose `addr` points at an `int32` fd (the model passes the 4 bytes inline). @public */
export function kvmDeviceAttrFd(group: number, attr: number, fd: number): Uint8Array {
  const b = new Uint8Array(KVM_DEVICE_ATTR_SIZE + 4);
  const v = new DataView(b.buffer);
  v.setUint32(4, group, true);
  v.setBigUint64(8, BigInt(attr), true);
  v.setBigUint64(16, BigInt(KVM_DEVICE_ATTR_SIZE), true);
  v.setInt32(KVM_DEVICE_ATTR_SIZE, fd, true);
  return b;
}
