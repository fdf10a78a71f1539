// Userspace wrappers of the syncobj ioctls, after igt's lib/igt_syncobj.c: each returns 0 / a value, or -errno.
import { UserStruct, userMemory, type Kernel, type UserSyscalls } from "@dmabuf-sdk/dmabuf-core";
import {
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_EVENTFD,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_QUERY,
  DRM_IOCTL_SYNCOBJ_RESET,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_SYNCOBJ_ARRAY_SIZE,
  DRM_SYNCOBJ_CREATE_SIZE,
  DRM_SYNCOBJ_DESTROY_SIZE,
  DRM_SYNCOBJ_EVENTFD_SIZE,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
  DRM_SYNCOBJ_HANDLE_SIZE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE,
  DRM_SYNCOBJ_TIMELINE_ARRAY_SIZE,
  DRM_SYNCOBJ_TIMELINE_WAIT_SIZE,
  DRM_SYNCOBJ_TRANSFER_SIZE,
  DRM_SYNCOBJ_WAIT_SIZE,
} from "../drm-syncobj.js";

/** Result of a wait: 0 and the first signaled index, or -errno. @public */
export interface SyncobjWaitResult {
  readonly ret: number;
  readonly firstSignaled: number;
}

/** The igt syncobj helpers on one task's syscalls and one DRM fd. @public */
export class IgtSyncobj {
  constructor(
    readonly kernel: Kernel,
    readonly sys: UserSyscalls,
    readonly fd: number,
  ) {}

  #u32s(values: readonly number[]): bigint {
    const b = new Uint8Array(Math.max(4, values.length * 4));
    const v = new DataView(b.buffer);
    values.forEach((x, i) => v.setUint32(i * 4, x >>> 0, true));
    return userMemory(this.kernel).map(b);
  }

  #u64s(values: readonly bigint[]): { addr: bigint; bytes: Uint8Array } {
    const bytes = new Uint8Array(Math.max(8, values.length * 8));
    const v = new DataView(bytes.buffer);
    values.forEach((x, i) => v.setBigUint64(i * 8, BigInt.asUintN(64, x), true));
    return { addr: userMemory(this.kernel).map(bytes), bytes };
  }

  /** `__syncobj_create(fd, &handle, flags)`: the handle, or -errno. */
  create(flags = 0): number {
    const d = UserStruct.alloc(DRM_SYNCOBJ_CREATE_SIZE).setU32(4, flags);
    const r = this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_CREATE, d.bytes);
    return r < 0 ? r : d.u32(0);
  }

  /** `__syncobj_destroy(fd, handle)`. */
  destroy(handle: number, pad = 0): number {
    return this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_DESTROY, UserStruct.alloc(DRM_SYNCOBJ_DESTROY_SIZE).setU32(0, handle).setU32(4, pad).bytes);
  }

  /** `__syncobj_handle_to_fd(fd, &args)` with raw fields: the fd, or -errno. */
  handleToFdRaw(handle: number, flags: number, point = 0n, pad = 0): number {
    const d = UserStruct.alloc(DRM_SYNCOBJ_HANDLE_SIZE).setU32(0, handle).setU32(4, flags).setU32(12, pad).setU64(16, point);
    const r = this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, d.bytes);
    return r < 0 ? r : d.s32(8);
  }

  /** `syncobj_handle_to_fd(fd, handle, flags)`. */
  handleToFd(handle: number, flags = 0): number {
    return this.handleToFdRaw(handle, flags);
  }

  /** `__syncobj_fd_to_handle(fd, &args)` with raw fields: the handle (or 0 for an import), or -errno. */
  fdToHandleRaw(fd: number, flags: number, handle = 0, point = 0n, pad = 0): number {
    const d = UserStruct.alloc(DRM_SYNCOBJ_HANDLE_SIZE).setU32(0, handle).setU32(4, flags).setS32(8, fd).setU32(12, pad).setU64(16, point);
    const r = this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, d.bytes);
    return r < 0 ? r : d.u32(0);
  }

  /** `syncobj_fd_to_handle(fd, syncobj_fd, flags)`. */
  fdToHandle(fd: number, flags = 0): number {
    return this.fdToHandleRaw(fd, flags);
  }

  /** `syncobj_import_sync_file(fd, handle, sync_file)`: 0 or -errno. */
  importSyncFile(handle: number, syncFile: number): number {
    const r = this.fdToHandleRaw(syncFile, DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, handle);
    return r < 0 ? r : 0;
  }

  /** Import a sync_file as timeline point `point`. */
  importSyncFilePoint(handle: number, syncFile: number, point: bigint): number {
    const r = this.fdToHandleRaw(syncFile, DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE | DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE, handle, point);
    return r < 0 ? r : 0;
  }

  /** `syncobj_export_sync_file(fd, handle)` (at `point` with the TIMELINE flag when given): the sync_file fd, or -errno. */
  exportSyncFile(handle: number, point?: bigint): number {
    if (point === undefined) return this.handleToFdRaw(handle, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE);
    return this.handleToFdRaw(handle, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE | DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE, point);
  }

  /** `__syncobj_wait(fd, &args)`. */
  wait(handles: readonly number[], timeoutNsec: bigint, flags: number, opts: { count?: number; deadline?: bigint; handlesAddr?: bigint; pad?: number } = {}): SyncobjWaitResult {
    const d = UserStruct.alloc(DRM_SYNCOBJ_WAIT_SIZE)
      .setU64(0, opts.handlesAddr ?? this.#u32s(handles))
      .setU64(8, timeoutNsec)
      .setU32(16, opts.count ?? handles.length)
      .setU32(20, flags)
      .setU32(24, 0xdead)
      .setU32(28, opts.pad ?? 0)
      .setU64(32, opts.deadline ?? 0n);
    const r = this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_WAIT, d.bytes);
    return { ret: r, firstSignaled: d.u32(24) };
  }

  /** `__syncobj_timeline_wait_ioctl(fd, &args)`; `points` null passes a NULL pointer. */
  timelineWait(handles: readonly number[], points: readonly bigint[] | null, timeoutNsec: bigint, flags: number, opts: { count?: number; deadline?: bigint } = {}): SyncobjWaitResult {
    const d = UserStruct.alloc(DRM_SYNCOBJ_TIMELINE_WAIT_SIZE)
      .setU64(0, this.#u32s(handles))
      .setU64(8, points ? this.#u64s(points).addr : 0n)
      .setU64(16, timeoutNsec)
      .setU32(24, opts.count ?? handles.length)
      .setU32(28, flags)
      .setU32(32, 0xdead)
      .setU64(40, opts.deadline ?? 0n);
    const r = this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, d.bytes);
    return { ret: r, firstSignaled: d.u32(32) };
  }

  #array(cmd: number, handles: readonly number[], count?: number, pad = 0): number {
    const d = UserStruct.alloc(DRM_SYNCOBJ_ARRAY_SIZE).setU64(0, this.#u32s(handles)).setU32(8, count ?? handles.length).setU32(12, pad);
    return this.sys.ioctl(this.fd, cmd, d.bytes);
  }

  /** `__syncobj_reset(fd, handles, count)`. */
  reset(handles: readonly number[], count?: number, pad = 0): number {
    return this.#array(DRM_IOCTL_SYNCOBJ_RESET, handles, count, pad);
  }

  /** `__syncobj_signal(fd, handles, count)`. */
  signal(handles: readonly number[], count?: number, pad = 0): number {
    return this.#array(DRM_IOCTL_SYNCOBJ_SIGNAL, handles, count, pad);
  }

  /** `__syncobj_timeline_signal(fd, handles, points, count)`; `points` null passes NULL. */
  timelineSignal(handles: readonly number[], points: readonly bigint[] | null, opts: { count?: number; flags?: number } = {}): number {
    const d = UserStruct.alloc(DRM_SYNCOBJ_TIMELINE_ARRAY_SIZE)
      .setU64(0, this.#u32s(handles))
      .setU64(8, points ? this.#u64s(points).addr : 0n)
      .setU32(16, opts.count ?? handles.length)
      .setU32(20, opts.flags ?? 0);
    return this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, d.bytes);
  }

  /** `__syncobj_timeline_query(fd, handles, points, count, flags)`: the points, or -errno. */
  query(handles: readonly number[], flags = 0, count?: number): bigint[] | number {
    const out = this.#u64s(new Array<bigint>(Math.max(1, handles.length)).fill(0n));
    const d = UserStruct.alloc(DRM_SYNCOBJ_TIMELINE_ARRAY_SIZE)
      .setU64(0, this.#u32s(handles))
      .setU64(8, out.addr)
      .setU32(16, count ?? handles.length)
      .setU32(20, flags);
    const r = this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_QUERY, d.bytes);
    if (r < 0) return r;
    const v = new DataView(out.bytes.buffer);
    return handles.map((_, i) => v.getBigUint64(i * 8, true));
  }

  /** `__syncobj_transfer(fd, dst, dst_point, src, src_point, flags)`. */
  transfer(dst: number, dstPoint: bigint, src: number, srcPoint: bigint, flags = 0, pad = 0): number {
    const d = UserStruct.alloc(DRM_SYNCOBJ_TRANSFER_SIZE).setU32(0, src).setU32(4, dst).setU64(8, srcPoint).setU64(16, dstPoint).setU32(24, flags).setU32(28, pad);
    return this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_TRANSFER, d.bytes);
  }

  /** `syncobj_binary_to_timeline(fd, timeline, point, binary)`. */
  binaryToTimeline(timeline: number, point: bigint, binary: number): number {
    return this.transfer(timeline, point, binary, 0n);
  }

  /** `syncobj_timeline_to_binary(fd, binary, timeline, point, flags)`. */
  timelineToBinary(binary: number, timeline: number, point: bigint, flags = 0): number {
    return this.transfer(binary, 0n, timeline, point, flags);
  }

  /** `__syncobj_eventfd(fd, handle, point, flags, ev_fd)`. */
  eventfd(handle: number, point: bigint, flags: number, evFd: number, pad = 0): number {
    const d = UserStruct.alloc(DRM_SYNCOBJ_EVENTFD_SIZE).setU32(0, handle).setU32(4, flags).setU64(8, point).setS32(16, evFd).setU32(20, pad);
    return this.sys.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_EVENTFD, d.bytes);
  }
}
