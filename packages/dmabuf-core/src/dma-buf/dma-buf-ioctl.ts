// The dma-buf file's uAPI: dma_buf_ioctl() and dma_buf_poll() (drivers/dma-buf/dma-buf.c, include/uapi/linux/dma-buf.h).
import { KernelError, isKernelError } from "../kernel/kernel-error.js";
import type { DmaDataDirection } from "../platform/dma-mapping.js";
import { O_CLOEXEC } from "../uapi/file.js";
import { fput } from "../uapi/file-table.js";
import { iow, iowr } from "../uapi/ioctl.js";
import { copyFromUser, copyToUser, strndupUser, UserStruct, type UserArg } from "../uapi/user-buffer.js";
import { dmaBufBeginCpuAccess, dmaBufEndCpuAccess } from "./dma-buf-cpu-access.js";
import type { DmaBuf } from "./dma-buf.js";
import { dmaFenceUnwrapForEach } from "./dma-fence-unwrap.js";
import { dmaFenceAddCallback, dmaFenceGet, dmaFenceGetStub, dmaFencePut, type DmaFence, type DmaFenceCb } from "./dma-fence.js";
import { dmaResvAddFence, dmaResvFences, dmaResvGetSingleton, dmaResvLock, dmaResvReserveFences, dmaResvUnlock, dmaResvUsageRw, type DmaResvUsage } from "./dma-resv.js";
import { syncFileCreate, syncFileGetFence } from "./sync-file.js";

/** `DMA_BUF_SYNC_READ`: the CPU access reads. @public */
export const DMA_BUF_SYNC_READ = 1 << 0;
/** `DMA_BUF_SYNC_WRITE`: the CPU access writes. @public */
export const DMA_BUF_SYNC_WRITE = 2 << 0;
/** `DMA_BUF_SYNC_RW`: both. @public */
export const DMA_BUF_SYNC_RW = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
/** `DMA_BUF_SYNC_START` (0): the access begins. @public */
export const DMA_BUF_SYNC_START = 0 << 2;
/** `DMA_BUF_SYNC_END`: the access ends. @public */
export const DMA_BUF_SYNC_END = 1 << 2;
/** `DMA_BUF_SYNC_VALID_FLAGS_MASK`: any other bit of `dma_buf_sync.flags` is `EINVAL`. @public */
export const DMA_BUF_SYNC_VALID_FLAGS_MASK = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END;
/** `DMA_BUF_NAME_LEN`: a name is at most 31 bytes and its NUL. @public */
export const DMA_BUF_NAME_LEN = 32;
/** `DMA_BUF_BASE` (`'b'`). @public */
export const DMA_BUF_BASE = 0x62;
/** `sizeof(struct dma_buf_sync)`: u64 flags. */
export const DMA_BUF_SYNC_SIZE = 8;
/** `sizeof(struct dma_buf_export_sync_file)` and `sizeof(struct dma_buf_import_sync_file)`: u32 flags, s32 fd. */
export const DMA_BUF_SYNC_FILE_SIZE = 8;
/** `DMA_BUF_IOCTL_SYNC`. @public */
export const DMA_BUF_IOCTL_SYNC = iow(DMA_BUF_BASE, 0, DMA_BUF_SYNC_SIZE);
/** `DMA_BUF_SET_NAME_A`: the name's user pointer as a 32-bit value. @public */
export const DMA_BUF_SET_NAME_A = iow(DMA_BUF_BASE, 1, 4);
/** `DMA_BUF_SET_NAME_B`: as a 64-bit value (`DMA_BUF_SET_NAME` on 64-bit). @public */
export const DMA_BUF_SET_NAME_B = iow(DMA_BUF_BASE, 1, 8);
/** `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`. @public */
export const DMA_BUF_IOCTL_EXPORT_SYNC_FILE = iowr(DMA_BUF_BASE, 2, DMA_BUF_SYNC_FILE_SIZE);
/** `DMA_BUF_IOCTL_IMPORT_SYNC_FILE`. @public */
export const DMA_BUF_IOCTL_IMPORT_SYNC_FILE = iow(DMA_BUF_BASE, 3, DMA_BUF_SYNC_FILE_SIZE);

/** `EPOLLIN`, `EPOLLOUT`, `EPOLLERR`. */
const EPOLLIN = 0x1;
const EPOLLOUT = 0x4;
const EPOLLERR = 0x8;

/** `struct dma_buf_sync` as user space fills it. @public */
export function dmaBufSync(flags: number | bigint): Uint8Array {
  return UserStruct.alloc(DMA_BUF_SYNC_SIZE).setU64(0, BigInt(flags)).bytes;
}

/** `struct dma_buf_export_sync_file` / `struct dma_buf_import_sync_file` as user space fills it (`fd` is the output of export). @public */
export function dmaBufSyncFile(flags: number, fd = -1): Uint8Array {
  return UserStruct.alloc(DMA_BUF_SYNC_FILE_SIZE).setU32(0, flags).setS32(4, fd).bytes;
}

/**
 * `dma_buf_ioctl()`: the dma-buf file's `unlocked_ioctl`.
 * - `DMA_BUF_IOCTL_SYNC`: `EFAULT` (struct), `EINVAL` for flags outside
 *   `DMA_BUF_SYNC_VALID_FLAGS_MASK`, then `EINVAL` without a read or write
 *   direction; `DMA_BUF_SYNC_END` ends CPU access, else it begins (waiting
 *   for the implicit fences); the exporter's errno.
 * - `DMA_BUF_SET_NAME_A`/`_B`: `strndup_user(arg, DMA_BUF_NAME_LEN)`:
 *   `EFAULT`, `EINVAL` for a name without a NUL in 32 bytes, `ENOMEM`.
 * - `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` / `DMA_BUF_IOCTL_IMPORT_SYNC_FILE`:
 *   see `dma_buf_export_sync_file()` and `dma_buf_import_sync_file()` below.
 * - anything else: `ENOTTY`.
 */
export function dmaBufIoctl(dmabuf: DmaBuf, cmd: number, arg: UserArg): number {
  switch (cmd) {
    case DMA_BUF_IOCTL_SYNC: {
      const flags = copyFromUser(arg, 0, DMA_BUF_SYNC_SIZE, "dma_buf_ioctl").getBigUint64(0, true);
      if (flags & ~BigInt(DMA_BUF_SYNC_VALID_FLAGS_MASK)) throw new KernelError("EINVAL", "dma_buf_ioctl", `DMA_BUF_IOCTL_SYNC flags 0x${flags.toString(16)}`);
      let dir: DmaDataDirection;
      switch (Number(flags) & DMA_BUF_SYNC_RW) {
        case DMA_BUF_SYNC_READ:
          dir = "DMA_FROM_DEVICE";
          break;
        case DMA_BUF_SYNC_WRITE:
          dir = "DMA_TO_DEVICE";
          break;
        case DMA_BUF_SYNC_RW:
          dir = "DMA_BIDIRECTIONAL";
          break;
        default:
          throw new KernelError("EINVAL", "dma_buf_ioctl", "DMA_BUF_IOCTL_SYNC without DMA_BUF_SYNC_READ or _WRITE");
      }
      if (Number(flags) & DMA_BUF_SYNC_END) dmaBufEndCpuAccess(dmabuf, dir);
      else dmaBufBeginCpuAccess(dmabuf, dir);
      return 0;
    }
    case DMA_BUF_SET_NAME_A:
    case DMA_BUF_SET_NAME_B:
      return dmaBufSetName(dmabuf, arg);
    case DMA_BUF_IOCTL_EXPORT_SYNC_FILE:
      return dmaBufExportSyncFile(dmabuf, arg);
    case DMA_BUF_IOCTL_IMPORT_SYNC_FILE:
      return dmaBufImportSyncFile(dmabuf, arg);
    default:
      throw new KernelError("ENOTTY", "dma_buf_ioctl", `cmd 0x${cmd.toString(16)}`);
  }
}

/** `dma_buf_set_name()`: replaces the name (shown in bufinfo); no check of attachments. */
function dmaBufSetName(dmabuf: DmaBuf, arg: UserArg): number {
  dmabuf.name = strndupUser(dmabuf.kernel, arg, DMA_BUF_NAME_LEN, "dma_buf_set_name");
  return 0;
}

/** The flags of both sync_file ioctls: only `DMA_BUF_SYNC_RW` bits, and at least one. */
function syncFileFlags(raw: DataView, op: string): number {
  const flags = raw.getUint32(0, true);
  if (flags & ~DMA_BUF_SYNC_RW) throw new KernelError("EINVAL", op, `flags 0x${flags.toString(16)}`);
  if ((flags & DMA_BUF_SYNC_RW) === 0) throw new KernelError("EINVAL", op, "neither DMA_BUF_SYNC_READ nor _WRITE");
  return flags;
}

/**
 * `dma_buf_export_sync_file()`: a new sync_file fd (`O_CLOEXEC`) whose one
 * fence stands for the buffer's unsignaled fences a reader
 * (`DMA_BUF_SYNC_READ`: the writers) or a writer (`DMA_BUF_SYNC_WRITE`: every
 * reader and writer) must wait for (`dma_resv_get_singleton()`); the signaled
 * stub fence when there is none. Errnos in order: `EFAULT`, `EINVAL` (flags),
 * `EMFILE`, `ENOMEM`, `EFAULT` (writing `fd` back; nothing installed).
 */
function dmaBufExportSyncFile(dmabuf: DmaBuf, arg: UserArg): number {
  const op = "dma_buf_export_sync_file";
  const k = dmabuf.kernel;
  const flags = syncFileFlags(copyFromUser(arg, 0, DMA_BUF_SYNC_FILE_SIZE, op), op);
  const files = k.current.files;
  const fd = files.getUnusedFdFlags(O_CLOEXEC);
  try {
    const usage = dmaResvUsageRw((flags & DMA_BUF_SYNC_WRITE) !== 0);
    const fence = dmaResvGetSingleton(dmabuf.resv, usage) ?? dmaFenceGetStub(k);
    const syncFile = syncFileCreate(k, fence);
    dmaFencePut(fence);
    if (!syncFile) throw new KernelError("ENOMEM", op, "sync_file_create");
    try {
      // arg.fd = fd; copy_to_user(user_data, &arg, sizeof(arg))
      copyToUser(arg, 0, UserStruct.alloc(DMA_BUF_SYNC_FILE_SIZE).setU32(0, flags).setS32(4, fd).bytes, op);
    } catch (e) {
      syncFile.file.put();
      throw e;
    }
    files.fdInstall(fd, syncFile.file);
    return 0;
  } catch (e) {
    files.putUnusedFd(fd);
    throw e;
  }
}

/**
 * `dma_buf_import_sync_file()`: adds the fences of the sync_file `fd`
 * (unwrapped from arrays and chains) to the buffer's reservation object as
 * writers (`DMA_BUF_SYNC_WRITE` set) or readers. Errnos in order: `EFAULT`,
 * `EINVAL` (flags), `EINVAL` when `fd` is not a sync_file, `ENOMEM`
 * (reserving the slots; nothing added).
 */
function dmaBufImportSyncFile(dmabuf: DmaBuf, arg: UserArg): number {
  const op = "dma_buf_import_sync_file";
  const raw = copyFromUser(arg, 0, DMA_BUF_SYNC_FILE_SIZE, op);
  const flags = syncFileFlags(raw, op);
  const fence = syncFileGetFence(dmabuf.kernel, raw.getInt32(4, true));
  if (!fence) throw new KernelError("EINVAL", op, "fd is not a sync_file");
  try {
    const usage: DmaResvUsage = flags & DMA_BUF_SYNC_WRITE ? "DMA_RESV_USAGE_WRITE" : "DMA_RESV_USAGE_READ";
    const fences = [...dmaFenceUnwrapForEach(fence)];
    if (fences.length > 0) {
      dmaResvLock(dmabuf.resv);
      try {
        dmaResvReserveFences(dmabuf.resv, fences.length);
        for (const f of fences) dmaResvAddFence(dmabuf.resv, f, usage);
      } finally {
        dmaResvUnlock(dmabuf.resv);
      }
    }
  } finally {
    dmaFencePut(fence);
  }
  return 0;
}

type PollCb = DmaFenceCb & { active: number };

/** `dma_buf_poll_cb()`: the fence signaled (or nothing was pending): wake the pollers, drop the references. */
function dmaBufPollCb(dmabuf: DmaBuf, fence: DmaFence | null, dcb: PollCb): void {
  // wake_up_locked_poll(): the model's pollers re-scan whenever time moves.
  dcb.active = 0;
  dmaFencePut(fence);
  // Paired with the file reference taken in dma_buf_poll().
  fput(dmabuf.file);
}

/** `dma_buf_poll_add_cb()`: a callback on the first fence a reader (or writer) would wait for that has not signaled. */
function dmaBufPollAddCb(dmabuf: DmaBuf, write: boolean, dcb: PollCb): boolean {
  for (const fence of dmaResvFences(dmabuf.resv, dmaResvUsageRw(write))) {
    dmaFenceGet(fence);
    try {
      dmaFenceAddCallback(dmabuf.kernel, fence, dcb, (f, cb) => dmaBufPollCb(dmabuf, f, cb as PollCb));
      return true;
    } catch (e) {
      if (!isKernelError(e, "ENOENT")) throw e;
    }
    dmaFencePut(fence);
  }
  return false;
}

function pollDirection(dmabuf: DmaBuf, events: number, bit: number, write: boolean, dcb: PollCb): number {
  // A callback already pending for this direction: not ready.
  if (dcb.active) return events & ~bit;
  dcb.active = bit;
  dmabuf.file.get();
  if (!dmaBufPollAddCb(dmabuf, write, dcb)) {
    dmaBufPollCb(dmabuf, null, dcb);
    return events;
  }
  return events & ~bit;
}

/**
 * `dma_buf_poll()`: `EPOLLIN` once every writer fence has signaled (a read
 * may start), `EPOLLOUT` once every reader and writer fence has (a write
 * may start), each only if `requested`; `EPOLLERR` without a buffer. A
 * direction that is not ready arms one fence callback (holding a file
 * reference until it runs) and stays not ready while it is pending.
 */
export function dmaBufPoll(dmabuf: DmaBuf | undefined, requested: number): number {
  if (!dmabuf || !dmabuf.resv) return EPOLLERR;
  let events = requested & (EPOLLIN | EPOLLOUT);
  if (!events) return 0;
  dmaResvLock(dmabuf.resv);
  try {
    if (events & EPOLLOUT) events = pollDirection(dmabuf, events, EPOLLOUT, true, dmabuf.pollCb.out);
    if (events & EPOLLIN) events = pollDirection(dmabuf, events, EPOLLIN, false, dmabuf.pollCb.in);
  } finally {
    dmaResvUnlock(dmabuf.resv);
  }
  return events;
}
