// include/uapi/linux/iommufd.h: the iommufd ioctls and structs the model implements.
/**
 * The iommufd uAPI the model implements (`include/uapi/linux/iommufd.h`),
 * with little-endian encoders for the command structs.
 */
import { UserStruct, io } from "@dmabuf-sdk/dmabuf-core";

/** `IOMMUFD_TYPE` (`';'`, shared with vfio). @public */
export const IOMMUFD_TYPE = 0x3b;
/** `IOMMUFD_CMD_BASE`: iommufd's command numbers start here. @public */
export const IOMMUFD_CMD_BASE = 0x80;
/** `IOMMUFD_CMD_DESTROY`. @public */
export const IOMMUFD_CMD_DESTROY = 0x80;
/** `IOMMUFD_CMD_IOAS_ALLOC`. @public */
export const IOMMUFD_CMD_IOAS_ALLOC = 0x81;
/** `IOMMUFD_CMD_IOAS_UNMAP`. @public */
export const IOMMUFD_CMD_IOAS_UNMAP = 0x86;
/** `IOMMUFD_CMD_IOAS_MAP_FILE`. @public */
export const IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f;
/** The last command number the kernel's table has (`IOMMUFD_CMD_*`, 2026); the model implements four of them. @public */
export const IOMMUFD_CMD_LAST = 0x97;

/** `IOMMU_DESTROY = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)`: `struct iommu_destroy { u32 size; u32 id; }`. @public */
export const IOMMU_DESTROY = io(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY);
/** `IOMMU_IOAS_ALLOC`: `struct iommu_ioas_alloc { u32 size; u32 flags; u32 out_ioas_id; }`. @public */
export const IOMMU_IOAS_ALLOC = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC);
/** `IOMMU_IOAS_UNMAP`: `struct iommu_ioas_unmap { u32 size; u32 ioas_id; u64 iova; u64 length; }`. @public */
export const IOMMU_IOAS_UNMAP = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP);
/**
 * `IOMMU_IOAS_MAP_FILE`: `struct iommu_ioas_map_file { u32 size; u32 flags;
 * u32 ioas_id; s32 fd; u64 start; u64 length; u64 iova; }`.
 * @public
 */
export const IOMMU_IOAS_MAP_FILE = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE);

/** `IOMMU_IOAS_MAP_FIXED_IOVA`: map at `iova` instead of allocating one. @public */
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
/** `IOMMU_IOAS_MAP_WRITEABLE`: the device may write. @public */
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
/** `IOMMU_IOAS_MAP_READABLE`: the device may read. @public */
export const IOMMU_IOAS_MAP_READABLE = 1 << 2;

/** `sizeof(struct iommu_destroy)`. @public */
export const IOMMU_DESTROY_SIZE = 8;
/** `sizeof(struct iommu_ioas_alloc)`. @public */
export const IOMMU_IOAS_ALLOC_SIZE = 12;
/** `sizeof(struct iommu_ioas_unmap)`. @public */
export const IOMMU_IOAS_UNMAP_SIZE = 24;
/** `sizeof(struct iommu_ioas_map_file)`. @public */
export const IOMMU_IOAS_MAP_FILE_SIZE = 40;

/** Encodes `struct iommu_destroy`. @public */
export function iommuDestroy(id: number, size = IOMMU_DESTROY_SIZE): Uint8Array {
  return UserStruct.alloc(Math.max(size, IOMMU_DESTROY_SIZE)).setU32(0, size).setU32(4, id).bytes;
}

/** Encodes `struct iommu_ioas_alloc`; the kernel writes `out_ioas_id` at offset 8. @public */
export function iommuIoasAlloc(flags = 0, size = IOMMU_IOAS_ALLOC_SIZE): Uint8Array {
  return UserStruct.alloc(Math.max(size, IOMMU_IOAS_ALLOC_SIZE)).setU32(0, size).setU32(4, flags).bytes;
}

/** Encodes `struct iommu_ioas_unmap`; the kernel writes the unmapped length back at offset 16. @public */
export function iommuIoasUnmap(ioasId: number, iova: bigint, length: bigint, size = IOMMU_IOAS_UNMAP_SIZE): Uint8Array {
  return UserStruct.alloc(Math.max(size, IOMMU_IOAS_UNMAP_SIZE)).setU32(0, size).setU32(4, ioasId).setU64(8, iova).setU64(16, length).bytes;
}

/** The fields of `struct iommu_ioas_map_file`. @public */
export interface IommuIoasMapFile {
  /** `IOMMU_IOAS_MAP_*`. */
  readonly flags: number;
  /** The IOAS to map into. */
  readonly ioasId: number;
  /** The file: a dma-buf fd. */
  readonly fd: number;
  /** Byte offset in the file (the dma-buf). */
  readonly start: bigint;
  /** Bytes to map. */
  readonly length: bigint;
  /** With `IOMMU_IOAS_MAP_FIXED_IOVA`, where to map; else written back by the kernel (offset 32). */
  readonly iova?: bigint;
  /** `size`, when it should differ from the struct's. */
  readonly size?: number;
}

/** Encodes `struct iommu_ioas_map_file`. @public */
export function iommuIoasMapFile(m: IommuIoasMapFile): Uint8Array {
  const size = m.size ?? IOMMU_IOAS_MAP_FILE_SIZE;
  return UserStruct.alloc(Math.max(size, IOMMU_IOAS_MAP_FILE_SIZE))
    .setU32(0, size)
    .setU32(4, m.flags)
    .setU32(8, m.ioasId)
    .setS32(12, m.fd)
    .setU64(16, m.start)
    .setU64(24, m.length)
    .setU64(32, m.iova ?? 0n).bytes;
}
