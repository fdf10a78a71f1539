// include/uapi/linux/dma-heap.h: DMA_HEAP_IOCTL_ALLOC and struct dma_heap_allocation_data.
import { O_ACCMODE, O_CLOEXEC, iowr } from "@dmabuf-sdk/dmabuf-core";

/** `DMA_HEAP_IOC_MAGIC` (`'H'`). @public */
export const DMA_HEAP_IOC_MAGIC = 0x48;

/** `sizeof(struct dma_heap_allocation_data)` with the RFC's `charge_pid_fd` and `__padding`. @public */
export const DMA_HEAP_ALLOCATION_DATA_SIZE = 32;
/** The size before the RFC (`len`, `fd`, `fd_flags`, `heap_flags`). @public */
export const DMA_HEAP_ALLOCATION_DATA_SIZE_V1 = 24;

/** `DMA_HEAP_IOCTL_ALLOC` = `_IOWR('H', 0x0, struct dma_heap_allocation_data)` with the RFC's 32-byte struct (0xc0204800). @public */
export const DMA_HEAP_IOCTL_ALLOC = iowr(DMA_HEAP_IOC_MAGIC, 0x0, DMA_HEAP_ALLOCATION_DATA_SIZE);
/** The number an older (24-byte) userspace uses (0xc0184800); accepted by the size-agnostic copy. @public */
export const DMA_HEAP_IOCTL_ALLOC_V1 = iowr(DMA_HEAP_IOC_MAGIC, 0x0, DMA_HEAP_ALLOCATION_DATA_SIZE_V1);

/** `DMA_HEAP_VALID_FD_FLAGS` (`O_CLOEXEC | O_ACCMODE`). @public */
export const DMA_HEAP_VALID_FD_FLAGS = O_CLOEXEC | O_ACCMODE;
/** `DMA_HEAP_VALID_HEAP_FLAGS` (none defined yet). @public */
export const DMA_HEAP_VALID_HEAP_FLAGS = 0n;

/** The fields of `struct dma_heap_allocation_data`. @public */
export interface DmaHeapAllocationFields {
  /** `len` (u64): requested size in bytes; the kernel page-aligns it. */
  readonly len: bigint;
  /** `fd` (u32): must be 0 on input; the dma-buf fd on return. */
  readonly fd: number;
  /** `fd_flags` (u32): `O_RDWR`/`O_CLOEXEC` (`DMA_HEAP_VALID_FD_FLAGS`). */
  readonly fdFlags: number;
  /** `heap_flags` (u64): must be within `DMA_HEAP_VALID_HEAP_FLAGS`. */
  readonly heapFlags: bigint;
  /** `charge_pid_fd` (u32, RFC): pidfd of the process whose cgroup is charged; 0 = not set. */
  readonly chargePidFd: number;
  /** `__padding` (u32, RFC): "reserved, must be zero", not checked by the kernel. */
  readonly padding: number;
}

/**
 * `struct dma_heap_allocation_data` as the bytes user space passes to
 * `ioctl()` (little-endian):
 *
 * | offset | field | type |
 * |---|---|---|
 * | 0 | `len` | u64 |
 * | 8 | `fd` | u32 |
 * | 12 | `fd_flags` | u32 |
 * | 16 | `heap_flags` | u64 |
 * | 24 | `charge_pid_fd` | u32 |
 * | 28 | `__padding` | u32 |
 *
 * A smaller or larger `size` models an older or newer user space: fields past
 * the end read as 0 and writes to them are dropped.
 * @public
 */
export class DmaHeapAllocationData implements DmaHeapAllocationFields {
  /** The user memory (pass it as the ioctl argument). */
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  constructor(size = DMA_HEAP_ALLOCATION_DATA_SIZE) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  /** A struct of `size` bytes with the given fields (others 0). */
  static from(fields: Partial<DmaHeapAllocationFields>, size = DMA_HEAP_ALLOCATION_DATA_SIZE): DmaHeapAllocationData {
    const d = new DmaHeapAllocationData(size);
    if (fields.len !== undefined) d.len = fields.len;
    if (fields.fd !== undefined) d.fd = fields.fd;
    if (fields.fdFlags !== undefined) d.fdFlags = fields.fdFlags;
    if (fields.heapFlags !== undefined) d.heapFlags = fields.heapFlags;
    if (fields.chargePidFd !== undefined) d.chargePidFd = fields.chargePidFd;
    if (fields.padding !== undefined) d.padding = fields.padding;
    return d;
  }

  /** `sizeof` this struct (what `_IOC_SIZE` of the matching ioctl number says). */
  get size(): number {
    return this.bytes.length;
  }

  /** `_IOWR('H', 0, <this struct>)`: the ioctl number for this struct's size. */
  get ioctl(): number {
    return iowr(DMA_HEAP_IOC_MAGIC, 0x0, this.size);
  }

  #u32(off: number): number {
    return off + 4 <= this.size ? this.#view.getUint32(off, true) : 0;
  }
  #setU32(off: number, v: number): void {
    if (off + 4 <= this.size) this.#view.setUint32(off, v >>> 0, true);
  }
  #u64(off: number): bigint {
    return off + 8 <= this.size ? this.#view.getBigUint64(off, true) : 0n;
  }
  #setU64(off: number, v: bigint): void {
    if (off + 8 <= this.size) this.#view.setBigUint64(off, BigInt.asUintN(64, v), true);
  }

  /** {@inheritDoc DmaHeapAllocationFields.len} */
  get len(): bigint {
    return this.#u64(0);
  }
  set len(v: bigint) {
    this.#setU64(0, v);
  }
  /** {@inheritDoc DmaHeapAllocationFields.fd} */
  get fd(): number {
    return this.#u32(8);
  }
  set fd(v: number) {
    this.#setU32(8, v);
  }
  /** {@inheritDoc DmaHeapAllocationFields.fdFlags} */
  get fdFlags(): number {
    return this.#u32(12);
  }
  set fdFlags(v: number) {
    this.#setU32(12, v);
  }
  /** {@inheritDoc DmaHeapAllocationFields.heapFlags} */
  get heapFlags(): bigint {
    return this.#u64(16);
  }
  set heapFlags(v: bigint) {
    this.#setU64(16, v);
  }
  /** {@inheritDoc DmaHeapAllocationFields.chargePidFd} */
  get chargePidFd(): number {
    return this.#u32(24);
  }
  set chargePidFd(v: number) {
    this.#setU32(24, v);
  }
  /** {@inheritDoc DmaHeapAllocationFields.padding} */
  get padding(): number {
    return this.#u32(28);
  }
  set padding(v: number) {
    this.#setU32(28, v);
  }
}
