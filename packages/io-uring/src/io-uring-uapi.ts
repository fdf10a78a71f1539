// include/uapi/linux/io_uring.h: the opcodes, flags and struct layouts the model implements.

/** `IORING_OP_*`. @public */
export const IORING_OP_NOP = 0;
/** @public */
export const IORING_OP_READV = 1;
/** @public */
export const IORING_OP_WRITEV = 2;
/** @public */
export const IORING_OP_READ_FIXED = 4;
/** @public */
export const IORING_OP_WRITE_FIXED = 5;
/** @public */
export const IORING_OP_READ = 22;
/** @public */
export const IORING_OP_WRITE = 23;
/** @public */
export const IORING_OP_URING_CMD = 46;
/** @public */
export const IORING_OP_READV_FIXED = 60;
/** @public */
export const IORING_OP_WRITEV_FIXED = 61;
/** @public */
export const IORING_OP_LAST = 62;

/** `IOSQE_FIXED_FILE`: `sqe->fd` is an index into the registered file table. @public */
export const IOSQE_FIXED_FILE = 1 << 0;
/** `SQE_VALID_FLAGS`: FIXED_FILE, IO_DRAIN, IO_LINK, IO_HARDLINK, ASYNC, BUFFER_SELECT, CQE_SKIP_SUCCESS; other bits are `EINVAL`. @public */
export const SQE_VALID_FLAGS = 0x7f;

/** `io_uring_setup()` flags. @public */
export const IORING_SETUP_IOPOLL = 1 << 0;
/** @public */
export const IORING_SETUP_CQSIZE = 1 << 3;
/** @public */
export const IORING_SETUP_SINGLE_ISSUER = 1 << 12;
/** Task work runs only when the task calls `io_uring_enter(GETEVENTS)`. @public */
export const IORING_SETUP_DEFER_TASKRUN = 1 << 13;
/** @public */
export const IORING_SETUP_SUPPORTED = IORING_SETUP_IOPOLL | IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
/** `IORING_MAX_ENTRIES`, `IORING_MAX_CQ_ENTRIES`. @public */
export const IORING_MAX_ENTRIES = 32768;
/** @public */
export const IORING_MAX_CQ_ENTRIES = 2 * IORING_MAX_ENTRIES;

/** `io_uring_enter()` flags. @public */
export const IORING_ENTER_GETEVENTS = 1 << 0;
/** @public */
export const IORING_ENTER_SQ_WAKEUP = 1 << 1;
/** @public */
export const IORING_ENTER_SQ_WAIT = 1 << 2;
/** @public */
export const IORING_ENTER_EXT_ARG = 1 << 3;
/** @public */
export const IORING_ENTER_REGISTERED_RING = 1 << 4;
/** @public */
export const IORING_ENTER_ABS_TIMER = 1 << 5;
/** @public */
export const IORING_ENTER_EXT_ARG_REG = 1 << 6;
/** @public */
export const IORING_ENTER_NO_IOWAIT = 1 << 7;
/** `IO_RINGFD_REG_MAX`: slots of a task's registered-ring table. @public */
export const IO_RINGFD_REG_MAX = 16;
/** `IORING_ENTER_FLAGS`: every flag the kernel knows; other bits are `EINVAL`. @public */
export const IORING_ENTER_FLAGS = 0xff;

/** `io_uring_register()` opcodes. @public */
export const IORING_REGISTER_BUFFERS = 0;
/** @public */
export const IORING_UNREGISTER_BUFFERS = 1;
/** @public */
export const IORING_REGISTER_FILES = 2;
/** @public */
export const IORING_UNREGISTER_FILES = 3;
/** @public */
export const IORING_REGISTER_FILES_UPDATE = 6;
/** @public */
export const IORING_REGISTER_FILES2 = 13;
/** @public */
export const IORING_REGISTER_FILES_UPDATE2 = 14;
/** @public */
export const IORING_REGISTER_BUFFERS2 = 15;
/** @public */
export const IORING_REGISTER_BUFFERS_UPDATE = 16;
/** `IORING_REGISTER_LAST` (as of the series' base): opcodes at or above it are `EINVAL`. @public */
export const IORING_REGISTER_LAST = 36;
/** `IORING_REGISTER_USE_REGISTERED_RING`: `fd` is a registered ring index. @public */
export const IORING_REGISTER_USE_REGISTERED_RING = 0x8000_0000;

/** `IORING_RSRC_REGISTER_SPARSE`: `io_uring_rsrc_register.flags`, an empty table of `nr` slots. @public */
export const IORING_RSRC_REGISTER_SPARSE = 1 << 0;
/** `IORING_RSRC_UPDATE_EXTENDED` (v3+): `data` points to `io_uring_regbuf_desc`s. @public */
export const IORING_RSRC_UPDATE_EXTENDED = 1 << 1;
/** `IORING_MAX_REG_BUFFERS`, `IORING_MAX_FIXED_FILES`. @public */
export const IORING_MAX_REG_BUFFERS = 1 << 14;
/** @public */
export const IORING_MAX_FIXED_FILES = 1 << 20;

/** `enum io_uring_regbuf_type`. @public */
export const IO_REGBUF_TYPE_EMPTY = 0;
/** @public */
export const IO_REGBUF_TYPE_UADDR = 1;
/** @public */
export const IO_REGBUF_TYPE_DMABUF = 2;
/** @public */
export const __IO_REGBUF_TYPE_MAX = 3;

/** `struct io_uring_rsrc_register` (32 bytes): nr u32 @0, flags u32 @4, resv2 u64 @8, data u64 @16, tags u64 @24. @public */
export const IO_URING_RSRC_REGISTER_SIZE = 32;
/** `struct io_uring_rsrc_update2` (32 bytes): offset u32 @0, flags u32 @4 (was resv), data u64 @8, tags u64 @16, nr u32 @24, resv2 u32 @28. @public */
export const IO_URING_RSRC_UPDATE2_SIZE = 32;
/** `struct io_uring_regbuf_desc` (80 bytes): type u32 @0, flags u32 @4, size u64 @8, uaddr u64 @16, dmabuf_fd s32 @24, target_fd s32 @28, __resv u64[6] @32. @public */
export const IO_URING_REGBUF_DESC_SIZE = 80;
/** `struct iovec` (16 bytes): iov_base u64 @0, iov_len u64 @8. @public */
export const IOVEC_SIZE = 16;

/** `MAX_RW_COUNT`: INT_MAX & PAGE_MASK. @public */
export const MAX_RW_COUNT = 0x7fff_f000;
/** v3's registration cap for a dma-buf (`SZ_1G`); v6 relaxed it. @public */
export const IO_DMABUF_MAX_SIZE_V3 = 1n << 30n;

/** A submission queue entry (`struct io_uring_sqe`), as the fields the model reads. @public */
export interface IoUringSqe {
  opcode: number;
  flags: number;
  /** File descriptor, or a registered-file index with {@link IOSQE_FIXED_FILE}. */
  fd: number;
  /** File offset. */
  off: bigint;
  /** Buffer address: a user address, or a byte offset into a registered buffer (base 0 for dma-buf). */
  addr: bigint;
  len: number;
  bufIndex: number;
  rwFlags: number;
  userData: bigint;
}

/** A completion queue entry (`struct io_uring_cqe`). @public */
export interface IoUringCqe {
  readonly userData: bigint;
  /** Bytes transferred, or -errno. */
  readonly res: number;
  readonly flags: number;
}

/** A zeroed SQE (`io_uring_get_sqe()` + memset). @public */
export function ioUringSqe(fields: Partial<IoUringSqe> = {}): IoUringSqe {
  return { opcode: IORING_OP_NOP, flags: 0, fd: -1, off: 0n, addr: 0n, len: 0, bufIndex: 0, rwFlags: 0, userData: 0n, ...fields };
}
