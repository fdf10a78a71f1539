// drm_syncobj: binary and timeline sync objects, their handles, fds and ioctls (drivers/gpu/drm/drm_syncobj.c, include/uapi/drm/drm.h).
import {
  KernelLocal,
  File,
  HZ,
  KernelBug,
  KernelError,
  Kref,
  MAX_SCHEDULE_TIMEOUT,
  O_CLOEXEC,
  O_RDONLY,
  SpinLock,
  dmaFenceAddCallback,
  dmaFenceAllocatePrivateStub,
  dmaFenceChainAlloc,
  dmaFenceChainFindSeqno,
  dmaFenceChainForEach,
  dmaFenceChainFree,
  dmaFenceChainInit,
  dmaFenceGet,
  dmaFenceGetStub,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceSetDeadline,
  dmaFenceUnwrapMerge,
  eventfdCtxFdget,
  eventfdCtxPut,
  eventfdSignal,
  iocNr,
  syncFileCreate,
  syncFileGetFence,
  toDmaFenceChain,
  userMemory,
  type DmaFence,
  type DmaFenceCb,
  type DmaFenceChainSlot,
  type EventfdCtx,
  type FileOperations,
  type Kernel,
  type UserStruct,
} from "@dmabuf-sdk/dmabuf-core";
import { drmCoreCheckFeature, DRIVER_SYNCOBJ, DRIVER_SYNCOBJ_TIMELINE, type DrmDevice } from "./drm-drv.js";
import type { DrmFile } from "./drm-file.js";
import { drmIowr } from "./drm-uapi.js";

/** Struct sizes of `include/uapi/drm/drm.h`. @public */
export const DRM_SYNCOBJ_CREATE_SIZE = 8; // u32 handle, u32 flags
/** @public */
export const DRM_SYNCOBJ_DESTROY_SIZE = 8; // u32 handle, u32 pad
/** @public */
export const DRM_SYNCOBJ_HANDLE_SIZE = 24; // u32 handle, u32 flags, s32 fd, u32 pad, u64 point
/** @public */
export const DRM_SYNCOBJ_WAIT_SIZE = 40; // u64 handles, s64 timeout_nsec, u32 count_handles, u32 flags, u32 first_signaled, u32 pad, u64 deadline_nsec
/** @public */
export const DRM_SYNCOBJ_TIMELINE_WAIT_SIZE = 48; // u64 handles, u64 points, s64 timeout_nsec, u32 count_handles, u32 flags, u32 first_signaled, u32 pad, u64 deadline_nsec
/** @public */
export const DRM_SYNCOBJ_ARRAY_SIZE = 16; // u64 handles, u32 count_handles, u32 pad
/** @public */
export const DRM_SYNCOBJ_TIMELINE_ARRAY_SIZE = 24; // u64 handles, u64 points, u32 count_handles, u32 flags
/** @public */
export const DRM_SYNCOBJ_TRANSFER_SIZE = 32; // u32 src_handle, u32 dst_handle, u64 src_point, u64 dst_point, u32 flags, u32 pad
/** @public */
export const DRM_SYNCOBJ_EVENTFD_SIZE = 24; // u32 handle, u32 flags, u64 point, s32 fd, u32 pad

/** @public */
export const DRM_IOCTL_SYNCOBJ_CREATE = drmIowr(0xbf, DRM_SYNCOBJ_CREATE_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_DESTROY = drmIowr(0xc0, DRM_SYNCOBJ_DESTROY_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD = drmIowr(0xc1, DRM_SYNCOBJ_HANDLE_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE = drmIowr(0xc2, DRM_SYNCOBJ_HANDLE_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_WAIT = drmIowr(0xc3, DRM_SYNCOBJ_WAIT_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_RESET = drmIowr(0xc4, DRM_SYNCOBJ_ARRAY_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_SIGNAL = drmIowr(0xc5, DRM_SYNCOBJ_ARRAY_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT = drmIowr(0xca, DRM_SYNCOBJ_TIMELINE_WAIT_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_QUERY = drmIowr(0xcb, DRM_SYNCOBJ_TIMELINE_ARRAY_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_TRANSFER = drmIowr(0xcc, DRM_SYNCOBJ_TRANSFER_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL = drmIowr(0xcd, DRM_SYNCOBJ_TIMELINE_ARRAY_SIZE);
/** @public */
export const DRM_IOCTL_SYNCOBJ_EVENTFD = drmIowr(0xcf, DRM_SYNCOBJ_EVENTFD_SIZE);

/** @public */
export const DRM_SYNCOBJ_CREATE_SIGNALED = 1 << 0;
/** @public */
export const DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE = 1 << 0;
/** @public */
export const DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE = 1 << 1;
/** @public */
export const DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE = 1 << 0;
/** @public */
export const DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE = 1 << 1;
/** @public */
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL = 1 << 0;
/** @public */
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT = 1 << 1;
/** @public */
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE = 1 << 2;
/** @public */
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE = 1 << 3;
/** @public */
export const DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED = 1 << 0;

/** `DRM_SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT`: how long `find_fence` waits for a point to appear. */
const WAIT_FOR_SUBMIT_TIMEOUT_NS = 5e9;
/** `KMALLOC_MAX_SIZE` of the model (order-10 pages): larger handle/point arrays fail with `ENOMEM`. */
const KMALLOC_MAX_SIZE = 4 << 20;

/**
 * How HANDLE_TO_FD / FD_TO_HANDLE treat `point` for whole-syncobj transfers:
 * before timeline points existed (`TIMELINE` flag → `EINVAL`), c2d3a7300695
 * (any non-zero `point` → `EINVAL`, even without the flag: breaks old binaries
 * with stack garbage) and the 2e3649e23723 fix (only `TIMELINE` with a point).
 * @public
 */
export type SyncobjHandleIoctlVersion = "pre-timeline" | "timeline-strict-point" | "timeline-fixed";
const VERSION = new KernelLocal<SyncobjHandleIoctlVersion>("VERSION");

/** Selects the HANDLE_TO_FD / FD_TO_HANDLE behaviour (default `"timeline-fixed"`). @public */
export function drmSyncobjSetHandleIoctlVersion(kernel: Kernel, v: SyncobjHandleIoctlVersion): void {
  VERSION.set(kernel, v);
}

function handleVersion(kernel: Kernel): SyncobjHandleIoctlVersion {
  return VERSION.get(kernel) ?? "timeline-fixed";
}

/** `struct syncobj_wait_entry`: a host waiter. */
interface SyncobjWaitEntry {
  fence: DmaFence | null;
  readonly point: bigint;
  readonly fenceCb: DmaFenceCb;
}

/** `struct syncobj_eventfd_entry`. */
interface SyncobjEventfdEntry {
  readonly ctx: EventfdCtx;
  fence: DmaFence | null;
  readonly fenceCb: DmaFenceCb;
  readonly point: bigint;
  readonly flags: number;
}

/**
 * `struct drm_syncobj`: a container for a fence (or a timeline of chain
 * nodes), device-independent once created, alive while any handle, fd or
 * ioctl holds it.
 * @public
 */
export class DrmSyncobj {
  readonly #ref: Kref;
  /** The current fence; null means "unsubmitted". */
  fence: DmaFence | null = null;
  /** `cb_list`: host waiters waiting for a point to materialise. */
  readonly cbList: SyncobjWaitEntry[] = [];
  /** `ev_fd_list`: eventfd registrations waiting for a point to materialise. */
  readonly evFdList: SyncobjEventfdEntry[] = [];
  readonly lock: SpinLock;

  constructor(readonly kernel: Kernel) {
    this.lock = new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, "drm_syncobj lock", "drm_syncobj_lock");
    this.#ref = new Kref(() => drmSyncobjFree(this), (m) => kernel.warn(m));
    kernel.objects.track("drm_syncobj", this, () => `drm_syncobj ${this.fence ? `fence ${this.fence.context}:${this.fence.seqno}` : "(no fence)"}`);
  }

  /** @internal */
  get _ref(): Kref {
    return this.#ref;
  }
}

/** `drm_syncobj_get()`. @public */
export function drmSyncobjGet(syncobj: DrmSyncobj): DrmSyncobj {
  syncobj._ref.get();
  return syncobj;
}

/** `drm_syncobj_put()`. @public */
export function drmSyncobjPut(syncobj: DrmSyncobj | null | undefined): void {
  syncobj?._ref.put();
}

/** `drm_syncobj_find(file, handle)`: a new reference, or null. @public */
export function drmSyncobjFind(file: DrmFile, handle: number): DrmSyncobj | null {
  file.syncobjTableLock.lock();
  try {
    const s = file.syncobjIdr.get(handle);
    return s ? drmSyncobjGet(s) : null;
  } finally {
    file.syncobjTableLock.unlock();
  }
}

/**
 * `drm_syncobj_fence_get(syncobj)`: a new reference to the current fence, or
 * null (`dma_fence_get_rcu_safe()`: no reference once the count reached zero).
 * @public
 */
export function drmSyncobjFenceGet(syncobj: DrmSyncobj): DmaFence | null {
  const f = syncobj.fence;
  return f && f.refcount > 0 ? dmaFenceGet(f) : null;
}

/** `syncobj_wait_syncobj_func`: under the syncobj lock, a waiter looks for its point. */
function syncobjWaitSyncobjFunc(syncobj: DrmSyncobj, wait: SyncobjWaitEntry): void {
  const ref = { fence: syncobj.fence ? dmaFenceGet(syncobj.fence) : null };
  if (!ref.fence || dmaFenceChainFindSeqno(ref, wait.point)) {
    dmaFencePut(ref.fence);
    return;
  }
  wait.fence = ref.fence ?? dmaFenceGetStub(syncobj.kernel);
  const i = syncobj.cbList.indexOf(wait);
  if (i >= 0) syncobj.cbList.splice(i, 1);
}

function syncobjEventfdEntryFree(syncobj: DrmSyncobj | null, entry: SyncobjEventfdEntry): void {
  eventfdCtxPut(entry.ctx);
  dmaFencePut(entry.fence);
  entry.fence = null;
  if (syncobj) {
    const i = syncobj.evFdList.indexOf(entry);
    if (i >= 0) syncobj.evFdList.splice(i, 1);
  }
}

/** `syncobj_eventfd_entry_func`: under the syncobj lock, an eventfd registration looks for its point. */
function syncobjEventfdEntryFunc(syncobj: DrmSyncobj, entry: SyncobjEventfdEntry): void {
  if (!syncobj.fence) return;
  const ref = { fence: dmaFenceGet(syncobj.fence) as DmaFence | null };
  if (dmaFenceChainFindSeqno(ref, entry.point) !== 0) {
    dmaFencePut(ref.fence);
    return; // not submitted yet: stay registered
  }
  const fence = ref.fence ?? dmaFenceGetStub(syncobj.kernel);
  syncobj.evFdList.splice(syncobj.evFdList.indexOf(entry), 1);
  entry.fence = fence;
  if (entry.flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE) {
    eventfdSignal(entry.ctx);
    syncobjEventfdEntryFree(null, entry);
    return;
  }
  try {
    dmaFenceAddCallback(syncobj.kernel, fence, entry.fenceCb, () => {
      // In the fence's signal context: "signaled" is all the eventfd can say.
      eventfdSignal(entry.ctx);
      syncobjEventfdEntryFree(null, entry);
    });
  } catch {
    eventfdSignal(entry.ctx);
    syncobjEventfdEntryFree(null, entry);
  }
}

function rerunWaiters(syncobj: DrmSyncobj): void {
  for (const w of [...syncobj.cbList]) syncobjWaitSyncobjFunc(syncobj, w);
  for (const e of [...syncobj.evFdList]) syncobjEventfdEntryFunc(syncobj, e);
}

/**
 * `drm_syncobj_add_point(syncobj, chain, fence, point)`: links `fence` as
 * timeline point `point` (an unordered point is allowed and starts a new
 * context) and wakes waiters; then walks once to collect signaled links.
 * @public
 */
export function drmSyncobjAddPoint(syncobj: DrmSyncobj, chain: DmaFenceChainSlot, fence: DmaFence, point: bigint): void {
  dmaFenceGet(fence);
  syncobj.lock.lock();
  let prev: DmaFence | null;
  try {
    prev = drmSyncobjFenceGet(syncobj);
    if (prev && prev.seqno >= point) syncobj.kernel.printk.debug("[drm] You are adding an unorder point to timeline!");
    syncobj.fence = dmaFenceChainInit(chain, prev, fence, point);
    rerunWaiters(syncobj);
  } finally {
    syncobj.lock.unlock();
  }
  if (prev) {
    for (const _iter of dmaFenceChainForEach(prev)) {
      // the walk itself collects signaled links
    }
  }
  // The syncobj's reference on the old head passed to nobody: drop it.
  dmaFencePut(prev);
}

/** `drm_syncobj_replace_fence(syncobj, fence)`: binary update (null resets); waiters re-run only on a change. @public */
export function drmSyncobjReplaceFence(syncobj: DrmSyncobj, fence: DmaFence | null): void {
  if (fence) dmaFenceGet(fence);
  syncobj.lock.lock();
  let old: DmaFence | null;
  try {
    old = syncobj.fence;
    syncobj.fence = fence;
    if (fence !== old) rerunWaiters(syncobj);
  } finally {
    syncobj.lock.unlock();
  }
  dmaFencePut(old);
}

/** `drm_syncobj_assign_null_handle()`: a private stub signaled "now". @throws KernelError `ENOMEM`. */
function drmSyncobjAssignNullHandle(syncobj: DrmSyncobj): void {
  const f = dmaFenceAllocatePrivateStub(syncobj.kernel, syncobj.kernel.clock.nowNs);
  if (!f) throw new KernelError("ENOMEM", "drm_syncobj_assign_null_handle");
  drmSyncobjReplaceFence(syncobj, f);
  dmaFencePut(f);
}

/** `drm_syncobj_free()`: drops the fence; pending eventfd registrations vanish without firing. */
function drmSyncobjFree(syncobj: DrmSyncobj): void {
  drmSyncobjReplaceFence(syncobj, null);
  for (const e of [...syncobj.evFdList]) syncobjEventfdEntryFree(syncobj, e);
  syncobj.kernel.objects.untrack(syncobj);
}

/**
 * `drm_syncobj_create(flags, fence)`: a new syncobj (one reference), signaled
 * with a stub for `DRM_SYNCOBJ_CREATE_SIGNALED`. @throws KernelError `ENOMEM`.
 * @public
 */
export function drmSyncobjCreate(kernel: Kernel, flags: number, fence: DmaFence | null = null): DrmSyncobj {
  kernel.alloc.kzalloc("drm_syncobj");
  const s = new DrmSyncobj(kernel);
  if (flags & DRM_SYNCOBJ_CREATE_SIGNALED) {
    try {
      drmSyncobjAssignNullHandle(s);
    } catch (e) {
      drmSyncobjPut(s);
      throw e;
    }
  }
  if (fence) drmSyncobjReplaceFence(s, fence);
  return s;
}

/** `drm_syncobj_get_handle(file, syncobj)`: a new handle holding its own reference. @public */
export function drmSyncobjGetHandle(file: DrmFile, syncobj: DrmSyncobj): number {
  drmSyncobjGet(syncobj);
  try {
    file.kernel.alloc.attempt("kzalloc", "idr_layer", "idr_alloc");
  } catch (e) {
    drmSyncobjPut(syncobj);
    throw e;
  }
  file.syncobjTableLock.lock();
  try {
    return file.idrAlloc(syncobj);
  } finally {
    file.syncobjTableLock.unlock();
  }
}

function drmSyncobjDestroy(file: DrmFile, handle: number): void {
  file.syncobjTableLock.lock();
  const s = file.syncobjIdr.get(handle);
  file.syncobjIdr.delete(handle);
  file.syncobjTableLock.unlock();
  if (!s) throw new KernelError("EINVAL", "drm_syncobj_destroy", `handle ${handle}`);
  drmSyncobjPut(s);
}

/** `drm_syncobj_file_fops`: a syncobj fd can only be closed. @public */
export const DRM_SYNCOBJ_FILE_FOPS: FileOperations = {
  name: "syncobj_file",
  release(file) {
    drmSyncobjPut(file.privateData as DrmSyncobj);
  },
};

/** `drm_syncobj_get_fd(syncobj)`: a new `syncobj_file` fd (O_CLOEXEC) in the current task. @public */
export function drmSyncobjGetFd(syncobj: DrmSyncobj): number {
  const k = syncobj.kernel;
  const files = k.current.files;
  const fd = files.getUnusedFdFlags(O_CLOEXEC);
  try {
    k.alloc.kzalloc("syncobj_file");
  } catch (e) {
    files.putUnusedFd(fd);
    throw e;
  }
  drmSyncobjGet(syncobj);
  files.fdInstall(fd, new File(k, DRM_SYNCOBJ_FILE_FOPS, syncobj, O_RDONLY));
  return fd;
}

function schedTimeoutNs(jiffies: number): number {
  return jiffies >= MAX_SCHEDULE_TIMEOUT - 1 ? MAX_SCHEDULE_TIMEOUT : (jiffies * 1e9) / HZ;
}

/** `drm_syncobj_fence_add_wait()`: under the lock, fill the entry or queue it on `cb_list`. */
function drmSyncobjFenceAddWait(syncobj: DrmSyncobj, wait: SyncobjWaitEntry): void {
  if (wait.fence) return;
  syncobj.lock.lock();
  try {
    const ref = { fence: syncobj.fence ? dmaFenceGet(syncobj.fence) : null };
    if (!ref.fence || dmaFenceChainFindSeqno(ref, wait.point)) {
      dmaFencePut(ref.fence);
      syncobj.cbList.push(wait);
    } else {
      wait.fence = ref.fence ?? dmaFenceGetStub(syncobj.kernel);
    }
  } finally {
    syncobj.lock.unlock();
  }
}

function drmSyncobjRemoveWait(syncobj: DrmSyncobj, wait: SyncobjWaitEntry): void {
  syncobj.lock.lock();
  const i = syncobj.cbList.indexOf(wait);
  if (i >= 0) syncobj.cbList.splice(i, 1);
  syncobj.lock.unlock();
}

/**
 * `drm_syncobj_find_fence(file, handle, point, flags)`: the fence covering
 * `point` (the global stub if it already signaled). @throws KernelError
 * `EINVAL` (bad flags, nothing submitted), `ENOENT` (no such handle),
 * `ETIME` (WAIT_FOR_SUBMIT and nothing appeared within 5 s).
 * @public
 */
export function drmSyncobjFindFence(file: DrmFile, handle: number, point: bigint, flags: number): DmaFence {
  const syncobj = drmSyncobjFind(file, handle);
  try {
    // The kernel returns here without dropping the lookup reference (a leak in
    // F10/F11); the model drops it so bad input leaves nothing behind.
    if (flags & ~DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT) throw new KernelError("EINVAL", "drm_syncobj_find_fence", "flags");
    if (!syncobj) throw new KernelError("ENOENT", "drm_syncobj_find_fence", `handle ${handle}`);
    const k = file.kernel;
    if (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT) k.lockdep.mightSleep("drm_syncobj_find_fence");
    const ref = { fence: drmSyncobjFenceGet(syncobj) };
    if (ref.fence) {
      if (dmaFenceChainFindSeqno(ref, point) === 0) return ref.fence ?? dmaFenceGetStub(k);
      dmaFencePut(ref.fence);
    }
    if (!(flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT)) throw new KernelError("EINVAL", "drm_syncobj_find_fence", `point ${point} not submitted`);
    const wait: SyncobjWaitEntry = { fence: null, point, fenceCb: { func: null } };
    drmSyncobjFenceAddWait(syncobj, wait);
    try {
      if (!wait.fence) k.clock.waitUntil(() => wait.fence !== null, WAIT_FOR_SUBMIT_TIMEOUT_NS);
      if (!wait.fence) throw new KernelError("ETIME", "drm_syncobj_find_fence", "no fence within 5 s");
      return wait.fence;
    } finally {
      drmSyncobjRemoveWait(syncobj, wait);
    }
  } finally {
    drmSyncobjPut(syncobj);
  }
}

/** `drm_syncobj_release(file)`: the file's handles go away with it. @public */
export function drmSyncobjRelease(file: DrmFile): void {
  const all = [...file.syncobjIdr.values()];
  file.syncobjIdr.clear();
  for (const s of all) drmSyncobjPut(s);
}

/** `drm_timeout_abs_to_jiffies(timeout_nsec)`: an absolute CLOCK_MONOTONIC time; 0 or the past is a poll. @public */
export function drmTimeoutAbsToJiffies(kernel: Kernel, timeoutNsec: bigint): number {
  if (timeoutNsec === 0n) return 0;
  const now = BigInt(Math.floor(kernel.clock.nowNs));
  if (timeoutNsec <= now) return 0;
  const j = Number(((timeoutNsec - now) * BigInt(HZ) + 999_999_999n) / 1_000_000_000n);
  if (j >= MAX_SCHEDULE_TIMEOUT - 1) return MAX_SCHEDULE_TIMEOUT - 1;
  return j + 1;
}

// ---- ioctls ---------------------------------------------------------------

function checkFeature(dev: DrmDevice, feature: number, op: string): void {
  if (!drmCoreCheckFeature(dev, feature)) throw new KernelError("EOPNOTSUPP", op, "driver lacks the feature");
}

/** `copy_from_user` of `count` u32 handles. */
function copyHandles(kernel: Kernel, addr: bigint, count: number, op: string): number[] {
  if (count * 4 > KMALLOC_MAX_SIZE) throw new KernelError("ENOMEM", op, "handle array");
  kernel.alloc.kvmalloc("syncobj handles");
  const b = userMemory(kernel).copyFrom(addr, count * 4, op);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: count }, (_, i) => v.getUint32(i * 4, true));
}

/** Points from user memory; a NULL pointer means all zero. */
function copyPoints(kernel: Kernel, addr: bigint, count: number, op: string): bigint[] {
  if (count * 8 > KMALLOC_MAX_SIZE) throw new KernelError("ENOMEM", op, "point array");
  kernel.alloc.kvmalloc("syncobj points");
  if (addr === 0n) return new Array<bigint>(count).fill(0n);
  const b = userMemory(kernel).copyFrom(addr, count * 8, op);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: count }, (_, i) => v.getBigUint64(i * 8, true));
}

/** `drm_syncobj_array_find()`: every handle in order; the first missing one is `ENOENT` and nothing is kept. */
function drmSyncobjArrayFind(file: DrmFile, addr: bigint, count: number, op: string): DrmSyncobj[] {
  const handles = copyHandles(file.kernel, addr, count, op);
  file.kernel.alloc.kvmalloc("syncobj array");
  const out: DrmSyncobj[] = [];
  for (const h of handles) {
    const s = drmSyncobjFind(file, h);
    if (!s) {
      for (const o of out) drmSyncobjPut(o);
      throw new KernelError("ENOENT", op, `handle ${h}`);
    }
    out.push(s);
  }
  return out;
}

function arrayFree(syncobjs: DrmSyncobj[]): void {
  for (const s of syncobjs) drmSyncobjPut(s);
}

/** `DRM_IOCTL_SYNCOBJ_CREATE`. @public */
export function drmSyncobjCreateIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  checkFeature(dev, DRIVER_SYNCOBJ, "drm_syncobj_create_ioctl");
  const flags = d.u32(4);
  if (flags & ~DRM_SYNCOBJ_CREATE_SIGNALED) throw new KernelError("EINVAL", "drm_syncobj_create_ioctl", "flags");
  const s = drmSyncobjCreate(file.kernel, flags);
  try {
    d.setU32(0, drmSyncobjGetHandle(file, s));
  } finally {
    drmSyncobjPut(s);
  }
  return 0;
}

/** `DRM_IOCTL_SYNCOBJ_DESTROY`: an unknown handle is `EINVAL`. @public */
export function drmSyncobjDestroyIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  checkFeature(dev, DRIVER_SYNCOBJ, "drm_syncobj_destroy_ioctl");
  if (d.u32(4) !== 0) throw new KernelError("EINVAL", "drm_syncobj_destroy_ioctl", "pad");
  drmSyncobjDestroy(file, d.u32(0));
  return 0;
}

function pointCheck(kernel: Kernel, flags: number, timelineFlag: number, point: bigint, op: string): void {
  const v = handleVersion(kernel);
  if (v === "timeline-strict-point" ? point !== 0n : flags & timelineFlag && point !== 0n) throw new KernelError("EINVAL", op, "point on a whole-syncobj transfer");
}

/** `DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD`: a syncobj fd, or with EXPORT_SYNC_FILE a sync_file of the fence (at `point`). @public */
export function drmSyncobjHandleToFdIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  const op = "drm_syncobj_handle_to_fd_ioctl";
  checkFeature(dev, DRIVER_SYNCOBJ, op);
  if (d.u32(12) !== 0) throw new KernelError("EINVAL", op, "pad");
  const flags = d.u32(4);
  const allowed = handleVersion(file.kernel) === "pre-timeline" ? DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE : DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE | DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE;
  if (flags & ~allowed) throw new KernelError("EINVAL", op, "flags");
  const point = flags & DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE ? d.u64(16) : 0n;
  const k = file.kernel;
  if (flags & DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE) {
    const files = k.current.files;
    const fd = files.getUnusedFdFlags(O_CLOEXEC);
    try {
      const fence = drmSyncobjFindFence(file, d.u32(0), point, 0);
      const sf = syncFileCreate(k, fence);
      dmaFencePut(fence);
      if (!sf) throw new KernelError("EINVAL", op, "sync_file_create");
      files.fdInstall(fd, sf.file);
    } catch (e) {
      files.putUnusedFd(fd);
      throw e;
    }
    d.setS32(8, fd);
    return 0;
  }
  if (handleVersion(k) !== "pre-timeline") pointCheck(k, flags, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE, d.u64(16), op);
  const s = drmSyncobjFind(file, d.u32(0));
  if (!s) throw new KernelError("EINVAL", op, `handle ${d.u32(0)}`);
  try {
    d.setS32(8, drmSyncobjGetFd(s));
  } finally {
    drmSyncobjPut(s);
  }
  return 0;
}

/** `DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE`: a new handle for a syncobj fd, or with IMPORT_SYNC_FILE the sync_file's fence into an existing handle (at `point`). @public */
export function drmSyncobjFdToHandleIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  const op = "drm_syncobj_fd_to_handle_ioctl";
  checkFeature(dev, DRIVER_SYNCOBJ, op);
  if (d.u32(12) !== 0) throw new KernelError("EINVAL", op, "pad");
  const flags = d.u32(4);
  const k = file.kernel;
  const allowed = handleVersion(k) === "pre-timeline" ? DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE : DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE | DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE;
  if (flags & ~allowed) throw new KernelError("EINVAL", op, "flags");
  const point = flags & DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE ? d.u64(16) : 0n;
  const fd = d.s32(8);
  if (flags & DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE) {
    const fence = syncFileGetFence(k, fd);
    if (!fence) throw new KernelError("EINVAL", op, "not a sync_file");
    try {
      const s = drmSyncobjFind(file, d.u32(0));
      if (!s) throw new KernelError("ENOENT", op, `handle ${d.u32(0)}`);
      try {
        if (point) drmSyncobjAddPoint(s, dmaFenceChainAlloc(k), fence, point);
        else drmSyncobjReplaceFence(s, fence);
      } finally {
        drmSyncobjPut(s);
      }
    } finally {
      dmaFencePut(fence);
    }
    return 0;
  }
  if (handleVersion(k) !== "pre-timeline") pointCheck(k, flags, DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE, d.u64(16), op);
  const f = k.current.files.lookup(fd);
  if (!f) throw new KernelError("EINVAL", op, `fd ${fd}`);
  if (f.fops !== DRM_SYNCOBJ_FILE_FOPS) throw new KernelError("EINVAL", op, `${f.fops.name} is not a syncobj`);
  d.setU32(0, drmSyncobjGetHandle(file, f.privateData as DrmSyncobj));
  return 0;
}

/**
 * `drm_syncobj_array_wait_timeout()`: pass 1 snapshots every entry (an
 * unsubmitted one is `EINVAL` unless WAIT_FOR_SUBMIT/WAIT_AVAILABLE), then
 * the wait proper. Returns the index found done first (WAIT_ALL: the first
 * done in pass 1, else 0xffffffff). @throws KernelError `EINVAL`, `ETIME`.
 */
function drmSyncobjArrayWaitTimeout(kernel: Kernel, syncobjs: DrmSyncobj[], points: bigint[], flags: number, timeout: number, deadline: bigint | null): number {
  const count = syncobjs.length;
  const submitFlags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;
  if (flags & submitFlags) kernel.lockdep.mightSleep("drm_syncobj_array_wait_timeout");
  kernel.alloc.kvmalloc("syncobj wait entries");
  const entries: SyncobjWaitEntry[] = points.map((point) => ({ fence: null, point, fenceCb: { func: null } }));
  let idx = 0xffffffff;
  try {
    let signaled = 0;
    for (let i = 0; i < count; i++) {
      const ref = { fence: drmSyncobjFenceGet(syncobjs[i]!) };
      if (!ref.fence || dmaFenceChainFindSeqno(ref, entries[i]!.point)) {
        dmaFencePut(ref.fence);
        if (flags & submitFlags) continue;
        throw new KernelError("EINVAL", "drm_syncobj_array_wait_timeout", `entry ${i} has no fence for point ${entries[i]!.point}`);
      }
      entries[i]!.fence = ref.fence ?? dmaFenceGetStub(kernel);
      if (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE || dmaFenceIsSignaled(entries[i]!.fence!)) {
        if (signaled === 0) idx = i;
        signaled++;
      }
    }
    if (signaled === count || (signaled > 0 && !(flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL))) return idx;
    if (flags & submitFlags) for (let i = 0; i < count; i++) drmSyncobjFenceAddWait(syncobjs[i]!, entries[i]!);
    if (deadline !== null) for (const e of entries) if (e.fence) dmaFenceSetDeadline(e.fence, deadline);
    const wakeUp = (): void => undefined;
    const done = (): boolean => {
      let n = 0;
      for (let i = 0; i < count; i++) {
        const e = entries[i]!;
        if (!e.fence) continue;
        let hit = (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE) !== 0 || dmaFenceIsSignaled(e.fence);
        if (!hit && !e.fenceCb.func) {
          try {
            dmaFenceAddCallback(kernel, e.fence, e.fenceCb, wakeUp);
          } catch {
            hit = true;
          }
        }
        if (hit) {
          if (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL) n++;
          else {
            idx = i;
            return true;
          }
        }
      }
      return n === count;
    };
    if (done()) return idx;
    if (timeout === 0) throw new KernelError("ETIME", "drm_syncobj_array_wait_timeout");
    const ns = schedTimeoutNs(timeout);
    if (kernel.clock.waitUntil(done, ns) === 0 && !done()) {
      if (ns >= MAX_SCHEDULE_TIMEOUT) throw new KernelBug("hung_task", `task ${kernel.current.comm}:${kernel.current.pid} waits forever on syncobjs nobody will signal`);
      throw new KernelError("ETIME", "drm_syncobj_array_wait_timeout");
    }
    return idx;
  } finally {
    for (let i = 0; i < count; i++) {
      const e = entries[i]!;
      drmSyncobjRemoveWait(syncobjs[i]!, e);
      if (e.fenceCb.func && e.fence) dmaFenceRemoveCallback(e.fence, e.fenceCb);
      dmaFencePut(e.fence);
    }
  }
}

function waitIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile, timeline: boolean): number {
  const op = timeline ? "drm_syncobj_timeline_wait_ioctl" : "drm_syncobj_wait_ioctl";
  checkFeature(dev, timeline ? DRIVER_SYNCOBJ_TIMELINE : DRIVER_SYNCOBJ, op);
  // Field offsets differ: TIMELINE_WAIT has the points pointer after handles.
  const o = timeline ? 8 : 0;
  const flags = d.u32(20 + o);
  const valid = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE | (timeline ? DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE : 0);
  if (flags & ~valid) throw new KernelError("EINVAL", op, "flags");
  const count = d.u32(16 + o);
  if (count === 0) return 0;
  const k = file.kernel;
  const syncobjs = drmSyncobjArrayFind(file, d.u64(0), count, op);
  try {
    const deadline = flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE ? d.u64(32 + o) : null;
    const timeout = drmTimeoutAbsToJiffies(k, BigInt.asIntN(64, d.u64(8 + o)));
    const points = timeline ? copyPoints(k, d.u64(8), count, op) : new Array<bigint>(count).fill(0n);
    d.setU32(24 + o, drmSyncobjArrayWaitTimeout(k, syncobjs, points, flags, timeout, deadline));
    return 0;
  } finally {
    arrayFree(syncobjs);
  }
}

/** `DRM_IOCTL_SYNCOBJ_WAIT`. @public */
export function drmSyncobjWaitIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  return waitIoctl(dev, d, file, false);
}

/** `DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT`. @public */
export function drmSyncobjTimelineWaitIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  return waitIoctl(dev, d, file, true);
}

function arrayIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile, op: string, fn: (s: DrmSyncobj) => void): number {
  checkFeature(dev, DRIVER_SYNCOBJ, op);
  if (d.u32(12) !== 0) throw new KernelError("EINVAL", op, "pad");
  const count = d.u32(8);
  if (count === 0) throw new KernelError("EINVAL", op, "count_handles == 0");
  const syncobjs = drmSyncobjArrayFind(file, d.u64(0), count, op);
  try {
    for (const s of syncobjs) fn(s);
  } finally {
    arrayFree(syncobjs);
  }
  return 0;
}

/** `DRM_IOCTL_SYNCOBJ_RESET`: every syncobj back to "no fence". @public */
export function drmSyncobjResetIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  return arrayIoctl(dev, d, file, "drm_syncobj_reset_ioctl", (s) => drmSyncobjReplaceFence(s, null));
}

/** `DRM_IOCTL_SYNCOBJ_SIGNAL`: each gets a new signaled stub; an allocation failure stops midway (`ENOMEM`). @public */
export function drmSyncobjSignalIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  return arrayIoctl(dev, d, file, "drm_syncobj_signal_ioctl", drmSyncobjAssignNullHandle);
}

/** `DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL`: a signaled stub as point `points[i]` (also for point 0). @public */
export function drmSyncobjTimelineSignalIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  const op = "drm_syncobj_timeline_signal_ioctl";
  checkFeature(dev, DRIVER_SYNCOBJ_TIMELINE, op);
  if (d.u32(20) !== 0) throw new KernelError("EINVAL", op, "flags");
  const count = d.u32(16);
  if (count === 0) throw new KernelError("EINVAL", op, "count_handles == 0");
  const k = file.kernel;
  const syncobjs = drmSyncobjArrayFind(file, d.u64(0), count, op);
  try {
    const points = copyPoints(k, d.u64(8), count, op);
    k.alloc.kvmalloc("syncobj chains");
    const chains: DmaFenceChainSlot[] = [];
    try {
      for (let i = 0; i < count; i++) chains.push(dmaFenceChainAlloc(k));
    } catch (e) {
      for (const c of chains) dmaFenceChainFree(c);
      throw e;
    }
    for (let i = 0; i < count; i++) {
      const stub = dmaFenceGetStub(k);
      drmSyncobjAddPoint(syncobjs[i]!, chains[i]!, stub, points[i]!);
      dmaFencePut(stub);
    }
  } finally {
    arrayFree(syncobjs);
  }
  return 0;
}

/** `DRM_IOCTL_SYNCOBJ_QUERY`: the last signaled point (or, with LAST_SUBMITTED, the newest) of each timeline. @public */
export function drmSyncobjQueryIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  const op = "drm_syncobj_query_ioctl";
  checkFeature(dev, DRIVER_SYNCOBJ_TIMELINE, op);
  const flags = d.u32(20);
  if (flags & ~DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) throw new KernelError("EINVAL", op, "flags");
  const count = d.u32(16);
  if (count === 0) throw new KernelError("EINVAL", op, "count_handles == 0");
  const k = file.kernel;
  const syncobjs = drmSyncobjArrayFind(file, d.u64(0), count, op);
  try {
    const mem = userMemory(k);
    for (let i = 0; i < count; i++) {
      const fence = drmSyncobjFenceGet(syncobjs[i]!);
      let point = 0n;
      if (fence && toDmaFenceChain(fence)) {
        if (flags & DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) point = fence.seqno;
        else {
          let last = dmaFenceGet(fence);
          for (const iter of dmaFenceChainForEach(fence)) {
            if (iter.context !== fence.context) break;
            dmaFencePut(last);
            last = dmaFenceGet(iter);
          }
          point = dmaFenceIsSignaled(last) ? last.seqno : toDmaFenceChain(last)!.prevSeqno;
          dmaFencePut(last);
        }
      }
      dmaFencePut(fence);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, point, true);
      mem.copyTo(d.u64(8) + BigInt(i * 8), b, op);
    }
  } finally {
    arrayFree(syncobjs);
  }
  return 0;
}

/** `DRM_IOCTL_SYNCOBJ_TRANSFER`: a point of one syncobj into another (as a new timeline point, or replacing a binary fence). @public */
export function drmSyncobjTransferIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  const op = "drm_syncobj_transfer_ioctl";
  checkFeature(dev, DRIVER_SYNCOBJ_TIMELINE, op);
  if (d.u32(28) !== 0) throw new KernelError("EINVAL", op, "pad");
  const k = file.kernel;
  const dstPoint = d.u64(16);
  const dst = drmSyncobjFind(file, d.u32(4));
  if (!dst) throw new KernelError("ENOENT", op, `dst handle ${d.u32(4)}`);
  try {
    const fence = drmSyncobjFindFence(file, d.u32(0), d.u64(8), d.u32(24));
    if (dstPoint) {
      // To a timeline: flatten first; signaled fences (and their errors) drop out.
      const merged = dmaFenceUnwrapMerge(k, [fence]);
      dmaFencePut(fence);
      if (!merged) throw new KernelError("ENOMEM", op, "merge");
      try {
        drmSyncobjAddPoint(dst, dmaFenceChainAlloc(k), merged, dstPoint);
      } finally {
        dmaFencePut(merged);
      }
    } else {
      drmSyncobjReplaceFence(dst, fence);
      dmaFencePut(fence);
    }
  } finally {
    drmSyncobjPut(dst);
  }
  return 0;
}

/** `DRM_IOCTL_SYNCOBJ_EVENTFD`: signal an eventfd once the point materialises (WAIT_AVAILABLE) or signals. @public */
export function drmSyncobjEventfdIoctl(dev: DrmDevice, d: UserStruct, file: DrmFile): number {
  const op = "drm_syncobj_eventfd_ioctl";
  checkFeature(dev, DRIVER_SYNCOBJ_TIMELINE, op);
  const flags = d.u32(4);
  if (flags & ~DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE) throw new KernelError("EINVAL", op, "flags");
  if (d.u32(20) !== 0) throw new KernelError("EINVAL", op, "pad");
  const k = file.kernel;
  const syncobj = drmSyncobjFind(file, d.u32(0));
  if (!syncobj) throw new KernelError("ENOENT", op, `handle ${d.u32(0)}`);
  try {
    const ctx = eventfdCtxFdget(k, d.s32(16));
    try {
      k.alloc.kzalloc("syncobj_eventfd_entry");
    } catch (e) {
      eventfdCtxPut(ctx);
      throw e;
    }
    const entry: SyncobjEventfdEntry = { ctx, fence: null, fenceCb: { func: null }, point: d.u64(8), flags };
    syncobj.lock.lock();
    try {
      syncobj.evFdList.push(entry);
      syncobjEventfdEntryFunc(syncobj, entry);
    } finally {
      syncobj.lock.unlock();
    }
  } finally {
    drmSyncobjPut(syncobj);
  }
  return 0;
}

/** The ioctl number (low byte) of each syncobj command, for tables and fuzzers. @public */
export const DRM_SYNCOBJ_IOCTL_NRS: readonly number[] = [
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_IOCTL_SYNCOBJ_RESET,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
  DRM_IOCTL_SYNCOBJ_QUERY,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
  DRM_IOCTL_SYNCOBJ_EVENTFD,
].map(iocNr);

