// Userspace sync_file / sw_sync helpers, as tools/testing/selftests/sync/sync.c and igt's lib/sw_sync.c wrap the ioctls.
import { ERRNO } from "../kernel/errno.js";
import type { Kernel } from "../kernel/kernel.js";
import { SW_SYNC_GET_DEADLINE, SW_SYNC_GET_DEADLINE_SIZE, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, SW_SYNC_PATH, SW_SYNC_CREATE_FENCE_DATA_SIZE } from "../dma-buf/sw-sync.js";
import { SYNC_FENCE_INFO_SIZE, SYNC_FILE_INFO_SIZE, SYNC_IOC_FILE_INFO, SYNC_IOC_MERGE, SYNC_IOC_SET_DEADLINE, SYNC_MERGE_DATA_SIZE, SYNC_SET_DEADLINE_SIZE } from "../dma-buf/sync-file.js";
import { O_RDWR } from "./file.js";
import type { UserSyscalls } from "./syscalls.js";
import { POLLERR, POLLIN } from "./syscalls.js";
import { UserStruct } from "./user-buffer.js";
import { userMemory } from "./user-ptr.js";

/** One `struct sync_fence_info` as read back. @public */
export interface SyncFenceInfo {
  readonly objName: string;
  readonly driverName: string;
  readonly status: number;
  readonly flags: number;
  readonly timestampNs: bigint;
}

/** `struct sync_file_info` with its fences. @public */
export interface SyncFileInfo {
  readonly name: string;
  readonly status: number;
  readonly numFences: number;
  readonly fences: readonly SyncFenceInfo[];
}

const cstr = (b: Uint8Array): string => {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
};

/**
 * The ioctl wrappers userspace test suites use, on one task's syscalls.
 * Each returns what the C helper returns: an fd or 0 on success, `-errno`
 * otherwise.
 * @public
 */
export class LibSync {
  constructor(
    readonly kernel: Kernel,
    readonly sys: UserSyscalls,
  ) {}

  /** `sw_sync_timeline_create()`: opens the debugfs file. */
  timelineCreate(): number {
    return this.sys.open(SW_SYNC_PATH, O_RDWR);
  }

  /** `sw_sync_timeline_create_fence(timeline, seqno)` (igt; the selftests' `sw_sync_fence_create` ignores its name too). */
  createFence(timeline: number, seqno: number, name = "fence"): number {
    const d = UserStruct.alloc(SW_SYNC_CREATE_FENCE_DATA_SIZE).setU32(0, seqno);
    d.bytes.set(new TextEncoder().encode(name).subarray(0, 31), 4);
    const r = this.sys.ioctl(timeline, SW_SYNC_IOC_CREATE_FENCE, d.bytes);
    return r < 0 ? r : d.s32(36);
  }

  /** `sw_sync_timeline_inc(timeline, count)`. */
  inc(timeline: number, count: number): number {
    return this.sys.ioctl(timeline, SW_SYNC_IOC_INC, UserStruct.alloc(4).setU32(0, count).bytes);
  }

  /** `SW_SYNC_GET_DEADLINE`: the earliest deadline set on the sw_sync fence `fence`, or `-errno`. */
  getDeadline(timeline: number, fence: number): bigint | number {
    const d = UserStruct.alloc(SW_SYNC_GET_DEADLINE_SIZE).setS32(8, fence);
    const r = this.sys.ioctl(timeline, SW_SYNC_GET_DEADLINE, d.bytes);
    return r < 0 ? r : d.u64(0);
  }

  /** `sync_merge(name, fd1, fd2)`: the new fd, or `-errno`. */
  merge(fd1: number, fd2: number, name = "merge"): number {
    const d = UserStruct.alloc(SYNC_MERGE_DATA_SIZE).setS32(32, fd2);
    d.bytes.set(new TextEncoder().encode(name).subarray(0, 31), 0);
    const r = this.sys.ioctl(fd1, SYNC_IOC_MERGE, d.bytes);
    return r < 0 ? r : d.s32(36);
  }

  /** `SYNC_IOC_SET_DEADLINE`. */
  setDeadline(fd: number, deadlineNs: bigint): number {
    return this.sys.ioctl(fd, SYNC_IOC_SET_DEADLINE, UserStruct.alloc(SYNC_SET_DEADLINE_SIZE).setU64(0, deadlineNs).bytes);
  }

  /** The selftests' `sync_wait(fd, timeout)`: poll's result (1 signaled, 0 timeout). */
  wait(fd: number, timeoutMs: number): number {
    return this.sys.poll([{ fd, events: POLLIN | POLLERR }], timeoutMs);
  }

  /** igt's `sync_fence_wait(fd, timeout)`: 0 once signaled, `-ETIME` on timeout, `-errno` on failure. */
  fenceWait(fd: number, timeoutMs: number): number {
    const r = this.wait(fd, timeoutMs);
    return r > 0 ? 0 : r === 0 ? -ERRNO.ETIME : r;
  }

  /**
   * `sync_file_info(fd)`: FILE_INFO twice, first to learn the count, then
   * with a buffer for the fences. `-errno` on failure.
   */
  fileInfo(fd: number): SyncFileInfo | number {
    const info = UserStruct.alloc(SYNC_FILE_INFO_SIZE);
    let r = this.sys.ioctl(fd, SYNC_IOC_FILE_INFO, info.bytes);
    if (r < 0) return r;
    const n = info.u32(40);
    const fences: SyncFenceInfo[] = [];
    if (n) {
      const buf = new Uint8Array(n * SYNC_FENCE_INFO_SIZE);
      const mem = userMemory(this.kernel);
      const addr = mem.map(buf);
      try {
        info.setU32(36, 0).setU32(40, n).setU64(48, addr);
        r = this.sys.ioctl(fd, SYNC_IOC_FILE_INFO, info.bytes);
        if (r < 0) return r;
      } finally {
        mem.unmap(addr);
      }
      for (let i = 0; i < info.u32(40); i++) {
        const e = new UserStruct(buf.subarray(i * SYNC_FENCE_INFO_SIZE, (i + 1) * SYNC_FENCE_INFO_SIZE));
        fences.push({ objName: cstr(e.bytes.subarray(0, 32)), driverName: cstr(e.bytes.subarray(32, 64)), status: e.s32(64), flags: e.u32(68), timestampNs: e.u64(72) });
      }
    }
    return { name: cstr(info.bytes.subarray(0, 32)), status: info.s32(32), numFences: info.u32(40), fences };
  }

  /** `sync_fence_size(fd)`: number of fences, 0 on failure. */
  size(fd: number): number {
    const i = this.fileInfo(fd);
    return typeof i === "number" ? 0 : i.numFences;
  }

  /** `sync_fence_count_with_status(fd, status)` (0 active, 1 signaled, < 0 error); -1 on failure. */
  countWithStatus(fd: number, status: number): number {
    const i = this.fileInfo(fd);
    if (typeof i === "number") return -1;
    return i.fences.filter((f) => (status < 0 ? f.status < 0 : f.status === status)).length;
  }

  /** igt's `sync_fence_status(fd)`: the aggregate status of a FILE_INFO size query. */
  status(fd: number): number {
    const info = UserStruct.alloc(SYNC_FILE_INFO_SIZE);
    const r = this.sys.ioctl(fd, SYNC_IOC_FILE_INFO, info.bytes);
    return r < 0 ? r : info.s32(32);
  }
}
