// sw_sync: the debugfs software timeline whose fences userspace signals, for tests (drivers/dma-buf/sw_sync.c, sync_debug.h).
import { ERRNO } from "../kernel/errno.js";
import { KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";
import { Kref } from "../kernel/kref.js";
import { SpinLock } from "../kernel/spinlock.js";
import { O_CLOEXEC, type File, type FileOperations } from "../uapi/file.js";
import { iow, iowr } from "../uapi/ioctl.js";
import { copyFromUser, copyToUser, type UserArg } from "../uapi/user-buffer.js";
import {
  DmaFence,
  dmaFenceContextAlloc,
  dmaFenceGetStatusLocked,
  dmaFencePut,
  dmaFenceSeqnoIsLater,
  dmaFenceSetError,
  dmaFenceSignalLocked,
  type DmaFenceOps,
} from "./dma-fence.js";
import { syncFileCreate, syncFileGetFence } from "./sync-file.js";

/** Where the debugfs file lives. @public */
export const SW_SYNC_PATH = "/sys/kernel/debug/sync/sw_sync";
/** `SW_SYNC_IOC_MAGIC`. @public */
export const SW_SYNC_IOC_MAGIC = 0x57;
/** `sizeof(struct sw_sync_create_fence_data)`: u32 value, char name[32], s32 fence. */
export const SW_SYNC_CREATE_FENCE_DATA_SIZE = 40;
/** `sizeof(struct sw_sync_get_deadline)`: u64 deadline_ns, s32 fence_fd, u32 pad. */
export const SW_SYNC_GET_DEADLINE_SIZE = 16;
/** `SW_SYNC_IOC_CREATE_FENCE`. @public */
export const SW_SYNC_IOC_CREATE_FENCE = iowr(SW_SYNC_IOC_MAGIC, 0, SW_SYNC_CREATE_FENCE_DATA_SIZE);
/** `SW_SYNC_IOC_INC`. @public */
export const SW_SYNC_IOC_INC = iow(SW_SYNC_IOC_MAGIC, 1, 4);
/** `SW_SYNC_GET_DEADLINE`. @public */
export const SW_SYNC_GET_DEADLINE = iowr(SW_SYNC_IOC_MAGIC, 2, SW_SYNC_GET_DEADLINE_SIZE);

const INT_MAX = 0x7fff_ffff;

/** `struct sync_timeline`: a context, a value and the pending points in seqno order. @public */
export class SyncTimeline {
  readonly #ref: Kref;
  readonly context: bigint;
  readonly lock: SpinLock;
  /** Current value (the low 32 bits are what points compare against). */
  value = 0n;
  /** `pt_list`: pending points, ascending. */
  readonly ptList: SyncPt[] = [];

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
  ) {
    this.context = dmaFenceContextAlloc(kernel, 1);
    this.lock = new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, `sync_timeline ${name}`, "sync_timeline_lock");
    this.#ref = new Kref(() => kernel.objects.untrack(this), (m) => kernel.warn(m));
    kernel.objects.track("sync_timeline", this, () => `sw_sync timeline ${name} value ${this.value}`);
  }

  /** @internal */
  get _ref(): Kref {
    return this.#ref;
  }
}

const TIMELINE_FENCE_OPS: DmaFenceOps = {
  getDriverName: () => "sw_sync",
  getTimelineName: (f) => (f as SyncPt).parent.name,
  signaled: (f) => !dmaFenceSeqnoIsLater(false, f.seqno, (f as SyncPt).parent.value),
  release: (f) => {
    const pt = f as SyncPt;
    const obj = pt.parent;
    const i = obj.ptList.indexOf(pt);
    if (i >= 0) obj.ptList.splice(i, 1);
    obj._ref.put();
  },
  setDeadline: (f, t) => {
    const pt = f as SyncPt;
    f.lock.lockIrqsave();
    try {
      if (pt.deadline === undefined || t < pt.deadline) pt.deadline = t;
    } finally {
      f.lock.unlock();
    }
  },
};

/** `struct sync_pt`: one point of a sw_sync timeline; shares the timeline's lock. @public */
export class SyncPt extends DmaFence {
  /** `deadline` with `SW_SYNC_HAS_DEADLINE_BIT`: undefined until one is set. */
  deadline: bigint | undefined;
  constructor(readonly parent: SyncTimeline, value: bigint) {
    super(parent.kernel, TIMELINE_FENCE_OPS, parent.lock, parent.context, value);
  }
}

/** `sync_pt_create(obj, value)`: a new point, or a reference to the pending point of that value; null on allocation failure. */
function syncPtCreate(obj: SyncTimeline, value: bigint): SyncPt | null {
  try {
    obj.kernel.alloc.kzalloc("sync_pt");
  } catch {
    return null;
  }
  obj._ref.get();
  let pt = new SyncPt(obj, value);
  obj.lock.lockIrqsave();
  try {
    if (dmaFenceGetStatusLocked(pt) === "unsignaled") {
      const other = obj.ptList.find((p) => p.seqno === value);
      if (other && other._ref.getUnlessZero()) {
        // The same point already exists: hand out that fence instead.
        discard(pt);
        pt = other;
      } else {
        let i = obj.ptList.findIndex((p) => dmaFenceSeqnoIsLater(false, p.seqno, value));
        if (i < 0) i = obj.ptList.length;
        obj.ptList.splice(i, 0, pt);
      }
    }
  } finally {
    obj.lock.unlock();
  }
  return pt;
}

function discard(pt: SyncPt): void {
  // kfree of a point that was never published: drop its timeline reference without the fence release path.
  pt.kernel.objects.untrack(pt);
  pt.parent._ref.put();
}

/** `sync_timeline_signal(obj, inc)`: advances the value and signals, in order, every point it reached. */
export function syncTimelineSignal(obj: SyncTimeline, inc: number): void {
  obj.lock.lockIrqsave();
  const done: SyncPt[] = [];
  try {
    obj.value = BigInt.asUintN(64, obj.value + BigInt(inc));
    while (obj.ptList.length) {
      const pt = obj.ptList[0]!;
      if (dmaFenceSeqnoIsLater(false, pt.seqno, obj.value)) break;
      pt._ref.get();
      obj.ptList.shift();
      dmaFenceSignalLocked(pt);
      done.push(pt);
    }
  } finally {
    obj.lock.unlock();
  }
  for (const pt of done) dmaFencePut(pt);
}

function ioctlCreateFence(obj: SyncTimeline, arg: UserArg): number {
  const k = obj.kernel;
  const files = k.current.files;
  const fd = files.getUnusedFdFlags(O_CLOEXEC);
  try {
    const v = copyFromUser(arg, 0, SW_SYNC_CREATE_FENCE_DATA_SIZE, "sw_sync_ioctl_create_fence");
    const pt = syncPtCreate(obj, BigInt(v.getUint32(0, true)));
    if (!pt) throw new KernelError("ENOMEM", "sw_sync_ioctl_create_fence");
    const sf = syncFileCreate(k, pt);
    dmaFencePut(pt);
    if (!sf) throw new KernelError("ENOMEM", "sw_sync_ioctl_create_fence");
    const out = new Uint8Array(4);
    new DataView(out.buffer).setInt32(0, fd, true);
    try {
      copyToUser(arg, 36, out, "sw_sync_ioctl_create_fence");
    } catch (e) {
      sf.file.put();
      throw e;
    }
    files.fdInstall(fd, sf.file);
    return 0;
  } catch (e) {
    files.putUnusedFd(fd);
    throw e;
  }
}

function ioctlInc(obj: SyncTimeline, arg: UserArg): number {
  let value = copyFromUser(arg, 0, 4, "sw_sync_ioctl_inc").getUint32(0, true);
  while (value > INT_MAX) {
    syncTimelineSignal(obj, INT_MAX);
    value -= INT_MAX;
  }
  syncTimelineSignal(obj, value);
  return 0;
}

function ioctlGetDeadline(obj: SyncTimeline, arg: UserArg): number {
  const v = copyFromUser(arg, 0, SW_SYNC_GET_DEADLINE_SIZE, "sw_sync_ioctl_get_deadline");
  if (v.getBigUint64(0, true) !== 0n || v.getUint32(12, true) !== 0) throw new KernelError("EINVAL", "sw_sync_ioctl_get_deadline", "deadline_ns or pad");
  const fence = syncFileGetFence(obj.kernel, v.getInt32(8, true));
  if (!fence) throw new KernelError("EINVAL", "sw_sync_ioctl_get_deadline", "not a sync_file");
  let deadline: bigint | undefined;
  try {
    if (!(fence instanceof SyncPt)) throw new KernelError("EINVAL", "sw_sync_ioctl_get_deadline", "not a sw_sync fence");
    fence.lock.lockIrqsave();
    deadline = fence.deadline;
    fence.lock.unlock();
  } finally {
    dmaFencePut(fence);
  }
  if (deadline === undefined) throw new KernelError("ENOENT", "sw_sync_ioctl_get_deadline", "no deadline set");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, deadline, true);
  copyToUser(arg, 0, out, "sw_sync_ioctl_get_deadline");
  return 0;
}

/** `sw_sync_debugfs_fops`. @public */
export const SW_SYNC_FOPS: FileOperations = {
  name: "sw_sync",
  unlockedIoctl(file, cmd, arg) {
    const obj = file.privateData as SyncTimeline;
    switch (cmd) {
      case SW_SYNC_IOC_CREATE_FENCE:
        return ioctlCreateFence(obj, arg);
      case SW_SYNC_IOC_INC:
        return ioctlInc(obj, arg);
      case SW_SYNC_GET_DEADLINE:
        return ioctlGetDeadline(obj, arg);
      default:
        throw new KernelError("ENOTTY", "sw_sync_ioctl");
    }
  },
  release(file) {
    // The producer went away: every pending point ends with -ENOENT.
    const obj = file.privateData as SyncTimeline;
    obj.lock.lockIrqsave();
    try {
      for (const pt of [...obj.ptList]) {
        dmaFenceSetError(pt, "ENOENT");
        dmaFenceSignalLocked(pt);
      }
    } finally {
      obj.lock.unlock();
    }
    obj._ref.put();
  },
};

/** The open of the debugfs file: a new timeline named after the opening task. */
function swSyncOpen(file: File): void {
  const k = file.kernel;
  k.alloc.kzalloc("sync_timeline");
  file.privateData = new SyncTimeline(k, k.current.comm);
}

/**
 * Creates `/sys/kernel/debug/sync/sw_sync` (`CONFIG_SW_SYNC`'s debugfs init);
 * returns the function that removes it.
 * @public
 */
export function swSyncDebugfsInit(kernel: Kernel): () => void {
  return kernel.devfs.register(SW_SYNC_PATH, { fops: SW_SYNC_FOPS, open: swSyncOpen });
}

/** `-ENOENT`, the error a closed timeline leaves on its pending points. */
export const SW_SYNC_CLOSED_ERROR = -ERRNO.ENOENT;
