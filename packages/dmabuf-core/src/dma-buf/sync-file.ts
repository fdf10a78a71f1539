// sync_file: an fd holding one fence, with merge, info, deadline and poll (drivers/dma-buf/sync_file.c, include/uapi/linux/sync_file.h).
import { KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";
import { File, O_CLOEXEC, O_RDWR, type FileOperations } from "../uapi/file.js";
import { iow, iowr } from "../uapi/ioctl.js";
import { copyFromUser, copyToUser, UserStruct, type UserArg } from "../uapi/user-buffer.js";
import { userMemory } from "../uapi/user-ptr.js";
import { dmaFenceUnwrapForEach, dmaFenceUnwrapMerge } from "./dma-fence-unwrap.js";
import {
  dmaFenceAddCallback,
  dmaFenceDriverName,
  dmaFenceGet,
  dmaFenceGetStatusNumber,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceSetDeadline,
  dmaFenceTimelineName,
  dmaFenceTimestamp,
  type DmaFence,
  type DmaFenceCb,
} from "./dma-fence.js";

/** `SYNC_IOC_MAGIC`. @public */
export const SYNC_IOC_MAGIC = 0x3e;
/** `sizeof(struct sync_merge_data)`: name[32], s32 fd2, s32 fence, u32 flags, u32 pad. @internal */
export const SYNC_MERGE_DATA_SIZE = 48;
/** `sizeof(struct sync_fence_info)`: obj_name[32], driver_name[32], s32 status, u32 flags, u64 timestamp_ns. */
export const SYNC_FENCE_INFO_SIZE = 80;
/** `sizeof(struct sync_file_info)`: name[32], s32 status, u32 flags, u32 num_fences, u32 pad, u64 sync_fence_info. @internal */
export const SYNC_FILE_INFO_SIZE = 56;
/** `sizeof(struct sync_set_deadline)`: u64 deadline_ns, u64 pad. */
export const SYNC_SET_DEADLINE_SIZE = 16;
/** `SYNC_IOC_MERGE`. @public */
export const SYNC_IOC_MERGE = iowr(SYNC_IOC_MAGIC, 3, SYNC_MERGE_DATA_SIZE);
/** `SYNC_IOC_FILE_INFO`. @public */
export const SYNC_IOC_FILE_INFO = iowr(SYNC_IOC_MAGIC, 4, SYNC_FILE_INFO_SIZE);
/** `SYNC_IOC_SET_DEADLINE`. @public */
export const SYNC_IOC_SET_DEADLINE = iow(SYNC_IOC_MAGIC, 5, SYNC_SET_DEADLINE_SIZE);

/** `EPOLLIN`. @public */
export const EPOLLIN = 0x1;

/** `struct sync_file`: immutable once created; it belongs to no device. @public */
export class SyncFile {
  /** The one fence (possibly a container). */
  fence: DmaFence | null = null;
  /** `user_name`, set by merge. */
  userName = "";
  /** `POLL_ENABLED`. */
  pollEnabled = false;
  readonly cb: DmaFenceCb = { func: null };
  readonly file: File;

  constructor(readonly kernel: Kernel) {
    // anon_inode_getfile(): no FMODE_PREAD/PWRITE.
    this.file = new File(kernel, SYNC_FILE_FOPS, this, O_RDWR, 0);
  }
}

function encodeName(s: string): Uint8Array {
  // strscpy into char[32]: at most 31 bytes and a NUL.
  const out = new Uint8Array(32);
  out.set(new TextEncoder().encode(s).subarray(0, 31));
  return out;
}

function decodeName(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}

/** `copy_from_user()` of a whole struct into a kernel-side copy. @throws KernelError `EFAULT`. */
function copyIn(arg: UserArg, size: number, op: string): Uint8Array {
  const v = copyFromUser(arg, 0, size, op);
  return new Uint8Array(v.buffer, v.byteOffset, size).slice();
}

function syncFileAlloc(kernel: Kernel): SyncFile | null {
  try {
    kernel.alloc.kzalloc("sync_file");
  } catch {
    return null;
  }
  return new SyncFile(kernel);
}

/**
 * `sync_file_create(fence)`: a new sync_file (its `file` holds the only
 * reference) with a new reference on `fence`; null on allocation failure.
 * The caller installs the fd.
 * @public
 */
export function syncFileCreate(kernel: Kernel, fence: DmaFence): SyncFile | null {
  const sf = syncFileAlloc(kernel);
  if (!sf) return null;
  sf.fence = dmaFenceGet(fence);
  return sf;
}

/** The sync_file of an open file, or null. @public */
export function syncFileFromFile(file: File | undefined): SyncFile | null {
  return file && file.fops === SYNC_FILE_FOPS ? (file.privateData as SyncFile) : null;
}

/** `sync_file_get_fence(fd)`: a new reference to the fence of the current task's sync_file `fd`, or null. @public */
export function syncFileGetFence(kernel: Kernel, fd: number): DmaFence | null {
  const sf = syncFileFromFile(kernel.current.files.lookup(fd));
  return sf?.fence ? dmaFenceGet(sf.fence) : null;
}

/** `sync_file_get_name()`: the merge name, or `<driver>-<timeline><context>-<seqno>` (truncated to 31 bytes). @public */
export function syncFileGetName(sf: SyncFile): string {
  if (sf.userName) return sf.userName;
  const f = sf.fence!;
  return decodeName(encodeName(`${dmaFenceDriverName(f)}-${dmaFenceTimelineName(f)}${f.context}-${f.seqno}`));
}

function syncFileMerge(kernel: Kernel, name: string, a: SyncFile, b: SyncFile): SyncFile | null {
  const sf = syncFileAlloc(kernel);
  if (!sf) return null;
  const fence = dmaFenceUnwrapMerge(kernel, [a.fence!, b.fence!]);
  if (!fence) {
    sf.file.put();
    return null;
  }
  sf.fence = fence;
  sf.userName = name;
  return sf;
}

function ioctlMerge(sf: SyncFile, arg: UserArg): number {
  const k = sf.kernel;
  const files = k.current.files;
  const fd = files.getUnusedFdFlags(O_CLOEXEC);
  let merged: SyncFile | null = null;
  try {
    const raw = copyIn(arg, SYNC_MERGE_DATA_SIZE, "sync_file_ioctl_merge");
    const d = new UserStruct(raw);
    if (d.u32(40) !== 0 || d.u32(44) !== 0) throw new KernelError("EINVAL", "sync_file_ioctl_merge", "flags or pad");
    const f2 = files.lookup(d.s32(32))?.get();
    try {
      const sf2 = syncFileFromFile(f2);
      if (!sf2) throw new KernelError("ENOENT", "sync_file_ioctl_merge", "fd2 is not a sync_file");
      raw[31] = 0;
      merged = syncFileMerge(k, decodeName(raw.subarray(0, 32)), sf, sf2);
      if (!merged) throw new KernelError("ENOMEM", "sync_file_ioctl_merge");
    } finally {
      f2?.put();
    }
    d.setS32(36, fd);
    copyToUser(arg, 0, raw, "sync_file_ioctl_merge");
    files.fdInstall(fd, merged.file);
    merged = null;
    return 0;
  } catch (e) {
    merged?.file.put();
    files.putUnusedFd(fd);
    throw e;
  }
}

function ioctlFileInfo(sf: SyncFile, arg: UserArg): number {
  const k = sf.kernel;
  const raw = copyIn(arg, SYNC_FILE_INFO_SIZE, "sync_file_ioctl_fence_info");
  const info = new UserStruct(raw);
  if (info.u32(36) !== 0 || info.u32(44) !== 0) throw new KernelError("EINVAL", "sync_file_ioctl_fence_info", "flags or pad");
  let numFences = 0;
  for (const _f of dmaFenceUnwrapForEach(sf.fence!)) ++numFences;
  if (info.u32(40) === 0) {
    info.setS32(32, dmaFenceGetStatusNumber(sf.fence!));
  } else {
    let status = 1;
    if (info.u32(40) < numFences) throw new KernelError("EINVAL", "sync_file_ioctl_fence_info", "num_fences too small");
    k.alloc.kzalloc("sync_fence_info array");
    const out: Uint8Array[] = [];
    for (const f of dmaFenceUnwrapForEach(sf.fence!)) {
      const e = new UserStruct(new Uint8Array(SYNC_FENCE_INFO_SIZE));
      e.bytes.set(encodeName(dmaFenceTimelineName(f)), 0);
      e.bytes.set(encodeName(dmaFenceDriverName(f)), 32);
      const st = dmaFenceGetStatusNumber(f);
      e.setS32(64, st);
      e.setU64(72, dmaFenceIsSignaled(f) ? dmaFenceTimestamp(f) : 0n);
      out.push(e.bytes);
      status = status <= 0 ? status : st;
    }
    numFences = out.length;
    const all = new Uint8Array(numFences * SYNC_FENCE_INFO_SIZE);
    out.forEach((b, i) => all.set(b, i * SYNC_FENCE_INFO_SIZE));
    userMemory(k).copyTo(info.u64(48), all, "sync_file_ioctl_fence_info");
    info.setS32(32, status);
  }
  raw.set(encodeName(syncFileGetName(sf)), 0);
  info.setU32(40, numFences);
  copyToUser(arg, 0, raw, "sync_file_ioctl_fence_info");
  return 0;
}

function ioctlSetDeadline(sf: SyncFile, arg: UserArg): number {
  const v = copyFromUser(arg, 0, SYNC_SET_DEADLINE_SIZE, "sync_file_ioctl_set_deadline");
  const deadline = v.getBigUint64(0, true);
  if (v.getBigUint64(8, true) !== 0n) throw new KernelError("EINVAL", "sync_file_ioctl_set_deadline", "pad");
  dmaFenceSetDeadline(sf.fence!, deadline);
  return 0;
}

function wakeUp(): void {
  // The model's waiters re-check their condition whenever time moves; the
  // callback only needs to exist so the fence's signalling is enabled.
}

/** `sync_file_fops`. */
export const SYNC_FILE_FOPS: FileOperations = {
  name: "sync_file",
  unlockedIoctl(file, cmd, arg) {
    const sf = file.privateData as SyncFile;
    switch (cmd) {
      case SYNC_IOC_MERGE:
        return ioctlMerge(sf, arg);
      case SYNC_IOC_FILE_INFO:
        return ioctlFileInfo(sf, arg);
      case SYNC_IOC_SET_DEADLINE:
        return ioctlSetDeadline(sf, arg);
      default:
        throw new KernelError("ENOTTY", "sync_file_ioctl");
    }
  },
  poll(file) {
    const sf = file.privateData as SyncFile;
    if (!sf.pollEnabled && !sf.cb._pending) {
      sf.pollEnabled = true;
      try {
        dmaFenceAddCallback(sf.kernel, sf.fence!, sf.cb, wakeUp);
      } catch {
        // already signaled: wake_up_all
      }
    }
    return dmaFenceIsSignaled(sf.fence!) ? EPOLLIN : 0;
  },
  release(file) {
    const sf = file.privateData as SyncFile;
    if (sf.pollEnabled && sf.fence) dmaFenceRemoveCallback(sf.fence, sf.cb);
    dmaFencePut(sf.fence);
    sf.fence = null;
  },
};
