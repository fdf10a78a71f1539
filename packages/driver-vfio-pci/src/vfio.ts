// include/uapi/linux/vfio.h: the vfio ioctls, device features and structs the model implements.
/**
 * The vfio uAPI the model implements (`include/uapi/linux/vfio.h`), with
 * little-endian encoders for the structs a user program passes to `ioctl()`.
 */
import { UserStruct, io } from "@dmabuf-sdk/dmabuf-core";

/** `VFIO_TYPE` (`';'`). @public */
export const VFIO_TYPE = 0x3b;
/** `VFIO_BASE`. @public */
export const VFIO_BASE = 100;

/** `VFIO_GROUP_GET_DEVICE_FD = _IO(VFIO_TYPE, VFIO_BASE + 6)`: argument is the device name (NUL-terminated). @public */
export const VFIO_GROUP_GET_DEVICE_FD = io(VFIO_TYPE, VFIO_BASE + 6);
/** `VFIO_DEVICE_RESET = _IO(VFIO_TYPE, VFIO_BASE + 11)`. @public */
export const VFIO_DEVICE_RESET = io(VFIO_TYPE, VFIO_BASE + 11);
/** `VFIO_DEVICE_PCI_HOT_RESET = _IO(VFIO_TYPE, VFIO_BASE + 13)`: `struct vfio_pci_hot_reset`. @public */
export const VFIO_DEVICE_PCI_HOT_RESET = io(VFIO_TYPE, VFIO_BASE + 13);
/** `VFIO_DEVICE_FEATURE = _IO(VFIO_TYPE, VFIO_BASE + 17)`: `struct vfio_device_feature`. @public */
export const VFIO_DEVICE_FEATURE = io(VFIO_TYPE, VFIO_BASE + 17);

/** `VFIO_DEVICE_FEATURE_MASK`: the feature number bits of `flags`. @public */
export const VFIO_DEVICE_FEATURE_MASK = 0xffff;
/** `VFIO_DEVICE_FEATURE_GET`. @public */
export const VFIO_DEVICE_FEATURE_GET = 1 << 16;
/** `VFIO_DEVICE_FEATURE_SET`. @public */
export const VFIO_DEVICE_FEATURE_SET = 1 << 17;
/** `VFIO_DEVICE_FEATURE_PROBE`. @public */
export const VFIO_DEVICE_FEATURE_PROBE = 1 << 18;

/** `VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY` (SET, no payload): runtime PM entry. @public */
export const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY = 3;
/** `VFIO_DEVICE_FEATURE_LOW_POWER_EXIT` (SET, no payload). @public */
export const VFIO_DEVICE_FEATURE_LOW_POWER_EXIT = 5;
/** `VFIO_DEVICE_FEATURE_DMA_BUF` (GET): export BAR ranges as a dma-buf fd. @public */
export const VFIO_DEVICE_FEATURE_DMA_BUF = 11;
/**
 * `VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE` (SET): permanently revoke a dma-buf
 * (Matt Evans v3 8/9, proposed; the number collides with other proposals).
 * @public
 */
export const VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE = 13;
/**
 * `VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR` (GET/SET): CPU mapping attribute of a
 * dma-buf (Matt Evans v2/v3 9/9, proposed; number unstable).
 * @public
 */
export const VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR = 14;
/** `VFIO_DEVICE_DMA_BUF_MEMATTR_NC`: non-cached (the default). @public */
export const VFIO_DEVICE_DMA_BUF_MEMATTR_NC = 0;
/** `VFIO_DEVICE_DMA_BUF_MEMATTR_WC`: write-combining. @public */
export const VFIO_DEVICE_DMA_BUF_MEMATTR_WC = 1;

/** `VFIO_PCI_BAR0_REGION_INDEX` … `BAR5`: region index = BAR number. @public */
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
/** `VFIO_PCI_ROM_REGION_INDEX`. @public */
export const VFIO_PCI_ROM_REGION_INDEX = 6;
/** `VFIO_PCI_CONFIG_REGION_INDEX`. @public */
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
/** `VFIO_PCI_OFFSET_SHIFT`: a region's file offset is its index shifted by 40. @public */
export const VFIO_PCI_OFFSET_SHIFT = 40n;

/** `VFIO_PCI_INDEX_TO_OFFSET(index)`: the `pread`/`pwrite` offset of a region. @public */
export function vfioPciIndexToOffset(index: number): bigint {
  return BigInt(index) << VFIO_PCI_OFFSET_SHIFT;
}

/** `sizeof(struct vfio_device_feature)`: `{ u32 argsz; u32 flags; u8 data[]; }`. @public */
export const VFIO_DEVICE_FEATURE_SIZE = 8;
/** `sizeof(struct vfio_device_feature_dma_buf)` without the ranges. @public */
export const VFIO_DEVICE_FEATURE_DMA_BUF_SIZE = 16;
/** `sizeof(struct vfio_region_dma_range)`. @public */
export const VFIO_REGION_DMA_RANGE_SIZE = 16;

/** `struct vfio_region_dma_range`: a slice of the region. @public */
export interface VfioRegionDmaRange {
  /** Byte offset in the region (page aligned). */
  readonly offset: bigint;
  /** Length in bytes (page aligned, not 0). */
  readonly length: bigint;
}

/**
 * `struct vfio_device_feature` with its payload: `argsz` defaults to the
 * whole struct, `flags` is the feature number or'ed with GET/SET/PROBE.
 * @public
 */
export function vfioDeviceFeature(flags: number, data: Uint8Array = new Uint8Array(0), argsz = VFIO_DEVICE_FEATURE_SIZE + data.length): Uint8Array {
  const s = UserStruct.alloc(VFIO_DEVICE_FEATURE_SIZE + data.length);
  s.setU32(0, argsz).setU32(4, flags);
  s.bytes.set(data, VFIO_DEVICE_FEATURE_SIZE);
  return s.bytes;
}

/** The fields of `struct vfio_device_feature_dma_buf`. @public */
export interface VfioDeviceFeatureDmaBuf {
  /** `region_index`: the BAR. */
  readonly regionIndex: number;
  /** `open_flags`: flags of the dma-buf file and fd (`O_RDWR | O_CLOEXEC` typically). */
  readonly openFlags: number;
  /** `flags`: must be 0. */
  readonly flags?: number;
  /** `dma_ranges[]`. */
  readonly ranges: readonly VfioRegionDmaRange[];
  /** `nr_ranges`, when it should differ from `ranges.length` (the kernel trusts it). */
  readonly nrRanges?: number;
}

/** Encodes `struct vfio_device_feature_dma_buf` (the payload of `VFIO_DEVICE_FEATURE_DMA_BUF`). @public */
export function vfioDeviceFeatureDmaBuf(f: VfioDeviceFeatureDmaBuf): Uint8Array {
  const s = UserStruct.alloc(VFIO_DEVICE_FEATURE_DMA_BUF_SIZE + VFIO_REGION_DMA_RANGE_SIZE * f.ranges.length);
  s.setU32(0, f.regionIndex).setU32(4, f.openFlags).setU32(8, f.flags ?? 0).setU32(12, f.nrRanges ?? f.ranges.length);
  f.ranges.forEach((r, i) => s.setU64(16 + 16 * i, r.offset).setU64(24 + 16 * i, r.length));
  return s.bytes;
}

/** Encodes `struct vfio_device_feature_dma_buf_revoke { s32 dmabuf_fd; }`. @public */
export function vfioDeviceFeatureDmaBufRevoke(dmabufFd: number): Uint8Array {
  return UserStruct.alloc(4).setS32(0, dmabufFd).bytes;
}

/** Encodes `struct vfio_device_feature_dma_buf_memattr { s32 dmabuf_fd; u32 memattr; }`. @public */
export function vfioDeviceFeatureDmaBufMemattr(dmabufFd: number, memattr: number): Uint8Array {
  return UserStruct.alloc(8).setS32(0, dmabufFd).setU32(4, memattr).bytes;
}

/** `sizeof(struct vfio_pci_hot_reset)` without the group fds: `{ u32 argsz; u32 flags; u32 count; s32 group_fds[]; }`. @public */
export const VFIO_PCI_HOT_RESET_SIZE = 12;

/** Encodes `struct vfio_pci_hot_reset` (no fds: the cdev form; fds: the group form). @public */
export function vfioPciHotReset(groupFds: readonly number[] = [], opts: { flags?: number; argsz?: number } = {}): Uint8Array {
  const s = UserStruct.alloc(VFIO_PCI_HOT_RESET_SIZE + 4 * groupFds.length);
  s.setU32(0, opts.argsz ?? VFIO_PCI_HOT_RESET_SIZE + 4 * groupFds.length)
    .setU32(4, opts.flags ?? 0)
    .setU32(8, groupFds.length);
  groupFds.forEach((fd, i) => s.setS32(12 + 4 * i, fd));
  return s.bytes;
}

/** A NUL-terminated device name, the argument of `VFIO_GROUP_GET_DEVICE_FD`. @public */
export function vfioDeviceName(name: string): Uint8Array {
  return new TextEncoder().encode(`${name}\0`);
}
