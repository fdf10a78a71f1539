// drivers/gpu/drm/scheduler/sched_fence.c: the scheduled/finished fence pair of a job, sharing one lock.
import { KernelWeakMap, DmaFence, SpinLock, dmaFenceGet, dmaFencePut, dmaFenceSetError, dmaFenceSignal, errnoName, type DmaFenceOps, type Errno, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import type { DrmGpuScheduler } from "./sched-main.js";
import type { DrmSchedEntity } from "./sched-entity.js";

/** The `spin_lock_init(&fence->lock)` site in `drm_sched_fence_init()`: one lock class for every sched fence. */
const FENCE_LOCK_KEY = { site: "drm_sched_fence_init" };

/**
 * `struct drm_sched_fence`: `scheduled` signals when the job is handed to
 * the hardware (with `parent`, the hardware fence), `finished` when it
 * completes, is cancelled or killed. Both fences share `lock`.
 * @public
 */
export class DrmSchedFence {
  scheduled: DmaFence | undefined;
  finished: DmaFence | undefined;
  /** The hardware fence (`parent`), once scheduled. */
  parent: DmaFence | null = null;
  sched: DrmGpuScheduler | undefined;
  /** The fence lock: `&fence->lock`, one class for all scheduler fences. */
  readonly lock: SpinLock;

  constructor(
    readonly kernel: Kernel,
    readonly owner: unknown,
  ) {
    this.lock = new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, "sched fence lock", "&fence->lock", FENCE_LOCK_KEY);
  }
}

const BY_FENCE = new KernelWeakMap<DmaFence, DrmSchedFence>("BY_FENCE", (f) => f.kernel);

function timelineName(f: DmaFence): string {
  return BY_FENCE.get(f)?.sched?.name ?? "unknown";
}

const scheduledOps: DmaFenceOps = {
  getDriverName: () => "drm_sched",
  getTimelineName: timelineName,
  // drm_sched_fence_release_scheduled(): puts the parent.
  release: (f) => {
    const s = BY_FENCE.get(f);
    if (s) {
      dmaFencePut(s.parent);
      s.parent = null;
    }
  },
};

const finishedOps: DmaFenceOps = {
  getDriverName: () => "drm_sched",
  getTimelineName: timelineName,
  // drm_sched_fence_release_finished(): the finished fence held the scheduled fence's first reference.
  release: (f) => dmaFencePut(BY_FENCE.get(f)?.scheduled),
};

/** `drm_sched_fence_alloc()`. @public */
export function drmSchedFenceAlloc(entity: DrmSchedEntity, owner: unknown): DrmSchedFence {
  return new DrmSchedFence(entity.kernel, owner);
}

/** `drm_sched_fence_init()`: both fences on the entity's two contexts, seqno `++entity->fence_seq`. @public */
export function drmSchedFenceInit(fence: DrmSchedFence, entity: DrmSchedEntity): void {
  const k = fence.kernel;
  fence.sched = entity.rq!.sched;
  const seq = BigInt(++entity.fenceSeq);
  fence.scheduled = new DmaFence(k, scheduledOps, fence.lock, entity.fenceContext, seq);
  fence.finished = new DmaFence(k, finishedOps, fence.lock, entity.fenceContext + 1n, seq);
  BY_FENCE.set(fence.scheduled, fence);
  BY_FENCE.set(fence.finished, fence);
}

/** `drm_sched_fence_free()`: a fence that was never initialised (job aborted before arm). @public */
export function drmSchedFenceFree(fence: DrmSchedFence): void {
  if (fence.finished) fence.kernel.warn("drm_sched_fence_free() of an initialised fence");
}

/** `drm_sched_fence_scheduled()`: records the hardware fence and signals `scheduled`. @public */
export function drmSchedFenceScheduled(fence: DrmSchedFence, parent: DmaFence | null): void {
  if (parent) {
    fence.parent = dmaFenceGet(parent);
    // The parent is reachable from an entity's last_scheduled as well.
    const by = fence.kernel.objects.heldBy(fence.finished!);
    if (by) fence.kernel.objects.hold(parent, by);
  }
  dmaFenceSignal(fence.scheduled!);
}

/** `drm_sched_fence_finished()`: sets the error (if any) and signals `finished`. @public */
export function drmSchedFenceFinished(fence: DrmSchedFence, result: number): void {
  if (result < 0) dmaFenceSetError(fence.finished!, errnoOf(result));
  dmaFenceSignal(fence.finished!);
}

function errnoOf(result: number): Errno {
  return errnoName(result) ?? "EIO";
}

/** `to_drm_sched_fence()`: the scheduler fence a fence belongs to, or undefined. @public */
export function toDrmSchedFence(f: DmaFence): DrmSchedFence | undefined {
  return BY_FENCE.get(f);
}

/** True when `f` is the `scheduled` fence of its scheduler fence. @public */
export function isScheduledFence(f: DmaFence): boolean {
  return BY_FENCE.get(f)?.scheduled === f;
}
