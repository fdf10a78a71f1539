// drivers/gpu/drm/scheduler/sched_entity.c: entities, push/pop, dependencies, flush/fini and the kill path.
import {
  KernelBug,
  KernelError,
  MAX_SCHEDULE_TIMEOUT,
  SpinLock,
  dmaFenceAddCallback,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceSetError,
  initWork,
  isKernelError,
  scheduleWork,
  type DmaFence,
  type DmaFenceCb,
  type Kernel,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";
import { isScheduledFence, toDrmSchedFence } from "./sched-fence.js";
import { _drmSchedJobFencesKilled, drmSchedJobDependency, drmSchedPickBest, drmSchedWakeup, type DrmGpuScheduler, type DrmSchedJob } from "./sched-main.js";
import { DRM_SCHED_POLICY_FIFO, drmSchedPolicy, drmSchedRqAddEntity, drmSchedRqRemoveEntity, drmSchedRqUpdateFifoLocked, type DrmSchedRq } from "./sched-rq.js";

const ENTITY_LOCK_KEY = { site: "drm_sched_entity_init" };

/** `MAX_WAIT_SCHED_ENTITY_Q_EMPTY`: 1 s, in virtual ns. @public */
export const MAX_WAIT_SCHED_ENTITY_Q_EMPTY_NS = 1_000_000_000;

/** `struct drm_sched_entity`. @public */
export class DrmSchedEntity {
  rq: DrmSchedRq | null;
  schedList: DrmGpuScheduler[] | null;
  priority: number;
  /** `&entity->lock`: protects rq, sched_list, priority, stopped. */
  readonly lock: SpinLock;
  /** The SPSC job queue. */
  readonly jobQueue: DrmSchedJob[] = [];
  /** `fence_context`: scheduled fences use it, finished fences `+1`. */
  readonly fenceContext: bigint;
  fenceSeq = 0;
  /** The fence the head job waits for, with {@link DrmSchedEntity.cb} installed on it. */
  dependency: DmaFence | null = null;
  readonly cb: DmaFenceCb = { func: null };
  /** The finished fence of the last job handed to the hardware. */
  lastScheduled: DmaFence | null = null;
  /** `entity_idle` completion: the scheduler is not inside this entity. */
  idle = true;
  stopped = false;
  guilty: { value: number } | undefined;
  lastUser: Task | null = null;
  /** `oldest_job_waiting`: the FIFO key, the submission time of the next job. */
  oldestJobWaiting = 0;

  constructor(
    readonly kernel: Kernel,
    priority: number,
    schedList: DrmGpuScheduler[],
    guilty?: { value: number },
  ) {
    this.priority = priority;
    this.schedList = schedList.length > 1 ? schedList : null;
    this.rq = schedList.length ? schedList[0]!.schedRq[Math.min(priority, schedList[0]!.schedRq.length - 1)]! : null;
    this.lock = new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, "entity lock", "&entity->lock", ENTITY_LOCK_KEY);
    this.fenceContext = dmaFenceContextAlloc(kernel, 2);
    this.guilty = guilty;
  }
}

/**
 * `drm_sched_entity_init(entity, priority, sched_list, num_sched_list, guilty)`.
 * An empty list gives an entity without run queue (jobs on it fail `ENOENT`).
 * @throws KernelError `EINVAL` for an invalid priority.
 * @public
 */
export function drmSchedEntityInit(k: Kernel, priority: number, schedList: DrmGpuScheduler[], guilty?: { value: number }): DrmSchedEntity {
  if (priority < 0 || !Number.isInteger(priority)) throw new KernelError("EINVAL", "drm_sched_entity_init", `priority ${priority}`);
  if (schedList[0] && priority >= schedList[0].schedRq.length) {
    // drm_sched_entity_init(): "Entity priority is out of range", clamped to the lowest run queue.
    k.printk.err(`drm_sched_entity_init: entity priority ${priority} is out of range`);
  }
  return new DrmSchedEntity(k, priority, schedList, guilty);
}

/** `drm_sched_entity_is_idle()`. @public */
export function drmSchedEntityIsIdle(entity: DrmSchedEntity): boolean {
  return !entity.rq || !entity.rq.entities.includes(entity) || entity.jobQueue.length === 0 || entity.stopped;
}

/**
 * `drm_sched_entity_select_rq()`: with an empty queue and the last job done,
 * the entity may move to the least loaded scheduler of its list; a list of
 * one is dropped once used.
 * @public
 */
export function drmSchedEntitySelectRq(entity: DrmSchedEntity): void {
  if (!entity.schedList) return;
  if (entity.jobQueue.length) return;
  if (entity.lastScheduled && !entity.lastScheduled.signaledFlag) return;
  entity.lock.lock();
  try {
    const best = drmSchedPickBest(entity.schedList);
    const rq = best ? best.schedRq[Math.min(entity.priority, best.schedRq.length - 1)]! : null;
    if (rq !== entity.rq) {
      if (entity.rq) drmSchedRqRemoveEntity(entity.rq, entity);
      entity.rq = rq;
    }
  } finally {
    entity.lock.unlock();
  }
  if (entity.schedList.length === 1) entity.schedList = null;
}

/**
 * `drm_sched_entity_push_job()`: queue an armed job. The first job of an
 * empty queue puts the entity on its run queue and wakes the scheduler; a
 * stopped (killed) entity keeps the job, which never runs.
 * @public
 */
export function drmSchedEntityPushJob(job: DrmSchedJob): void {
  const entity = job.entity!;
  const k = entity.kernel;
  const sched = entity.rq!.sched;
  sched.score++;
  entity.lastUser = k.current;
  job.submitTs = k.clock.nowNs;
  const first = entity.jobQueue.length === 0;
  entity.jobQueue.push(job);
  k.trace.emit("drm_sched_job_queue", { sched: sched.name, id: Number(job.id), entity: Number(entity.fenceContext) });
  if (!first) return;
  entity.lock.lock();
  try {
    if (entity.stopped) {
      k.printk.err("[drm] *ERROR* Trying to push to a killed entity");
      return;
    }
    const rq = entity.rq!;
    drmSchedRqAddEntity(rq, entity);
    if (drmSchedPolicy(k) === DRM_SCHED_POLICY_FIFO) drmSchedRqUpdateFifoLocked(entity, rq, job.submitTs);
  } finally {
    entity.lock.unlock();
  }
  drmSchedWakeup(sched);
}

/** `drm_sched_entity_wakeup()`: the dependency signalled. */
function drmSchedEntityWakeup(f: DmaFence, entity: DrmSchedEntity): void {
  entity.dependency = null;
  dmaFencePut(f);
  if (entity.rq) drmSchedWakeup(entity.rq.sched);
}

/**
 * `drm_sched_entity_add_dependency_cb()`: true when the entity must wait.
 * Fences of the entity itself are ignored; a finished fence of the same
 * scheduler is only waited for until it is scheduled.
 */
function drmSchedEntityAddDependencyCb(entity: DrmSchedEntity): boolean {
  let fence = entity.dependency!;
  if (fence.context === entity.fenceContext || fence.context === entity.fenceContext + 1n) {
    dmaFencePut(entity.dependency);
    entity.dependency = null;
    return false;
  }
  const sFence = toDrmSchedFence(fence);
  if (!fence.error && sFence && sFence.sched === entity.rq?.sched && sFence.finished === fence) {
    fence = dmaFenceGet(sFence.scheduled!);
    dmaFencePut(entity.dependency);
    entity.dependency = fence;
  }
  try {
    dmaFenceAddCallback(entity.kernel, entity.dependency, entity.cb, (f) => drmSchedEntityWakeup(f, entity));
    return true;
  } catch (e) {
    if (!isKernelError(e, "ENOENT")) throw e;
  }
  dmaFencePut(entity.dependency);
  entity.dependency = null;
  return false;
}

/**
 * `rcu_assign_pointer(entity->last_scheduled, …)`: the entity keeps the
 * finished fence (with its scheduled fence and hardware parent) for as long
 * as it lives; the leak checker treats them as held by the entity.
 */
function setLastScheduled(entity: DrmSchedEntity, fence: DmaFence | null): void {
  const objects = entity.kernel.objects;
  const trio = (f: DmaFence | null): (DmaFence | null | undefined)[] => {
    const s = f ? toDrmSchedFence(f) : undefined;
    return [f, s?.scheduled, s?.parent];
  };
  const old = entity.lastScheduled;
  for (const f of trio(old)) if (f) objects.unhold(f);
  dmaFencePut(old);
  entity.lastScheduled = fence;
  for (const f of trio(fence)) if (f) objects.hold(f, "drm_sched_entity last_scheduled");
}

/**
 * `drm_sched_entity_pop_job()`: the head job once it has no unsignalled
 * dependency (else null, with a callback installed); it becomes the
 * entity's `last_scheduled`.
 * @public
 */
export function drmSchedEntityPopJob(entity: DrmSchedEntity): DrmSchedJob | null {
  const job = entity.jobQueue[0];
  if (!job) return null;
  while ((entity.dependency = drmSchedJobDependency(job, entity))) {
    if (drmSchedEntityAddDependencyCb(entity)) return null;
  }
  if (entity.guilty && entity.guilty.value) dmaFenceSetError(job.sFence!.finished!, "ECANCELED");
  setLastScheduled(entity, dmaFenceGet(job.sFence!.finished!));
  entity.jobQueue.shift();
  // FIFO: the entity's place in the run queue follows its next job's submission time.
  const next = entity.jobQueue[0];
  if (next && drmSchedPolicy(entity.kernel) === DRM_SCHED_POLICY_FIFO) {
    entity.lock.lock();
    try {
      drmSchedRqUpdateFifoLocked(entity, entity.rq!, next.submitTs);
    } finally {
      entity.lock.unlock();
    }
  }
  job.entity = null;
  return job;
}

// ---- kill ----------------------------------------------------------------------------

/** `dma_fence_get_rcu()`: a reference unless the fence already died. */
function dmaFenceGetRcu(f: DmaFence | undefined): DmaFence | null {
  if (!f || f.refcount === 0) return null;
  return dmaFenceGet(f);
}

/**
 * The dependency walk of a killed job: wait for every dependency (a
 * scheduled fence is replaced by its finished fence: "Wait for all
 * dependencies to avoid data corruptions"). True when a callback was armed
 * (the walk continues when it runs).
 */
function killJobsWalk(job: DrmSchedJob): boolean {
  const deps = job.dependencies!;
  for (const [index, dep] of deps.entries()) {
    let f: DmaFence | null = dep;
    const sFence = toDrmSchedFence(dep);
    if (sFence && isScheduledFence(dep)) {
      f = dmaFenceGetRcu(sFence.finished);
      dmaFencePut(sFence.scheduled);
    }
    deps.erase(index);
    if (f) {
      try {
        dmaFenceAddCallback(job.sched!.kernel, f, job.finishCb, (g) => drmSchedEntityKillJobsCb(g, job));
        return true;
      } catch (e) {
        if (!isKernelError(e, "ENOENT")) throw e;
      }
    }
    dmaFencePut(f);
  }
  return false;
}

/** The end of a killed job: both fences signalled (`-ESRCH`), then `free_job`. */
function killJobsFinish(job: DrmSchedJob): void {
  _drmSchedJobFencesKilled(job);
  job.sched!.kernel.warnOn(job.sFence!.parent !== null, "drm_sched_entity_kill_jobs_work: WARN_ON(job->s_fence->parent)");
  job.sched!.ops.freeJob(job);
}

/** `drm_sched_entity_kill_jobs_work()`. */
function drmSchedEntityKillJobsWork(job: DrmSchedJob): void {
  if (job.sched!.killJobsVersion === "post-487df8b" && killJobsWalk(job)) return;
  killJobsFinish(job);
}

/**
 * `drm_sched_entity_kill_jobs_cb()`: runs as a fence callback (the fence's
 * lock held, IRQs off, in whatever context signalled it) or directly.
 * Pre-fix it walks the dependencies here — `xa_erase()` takes `xa_lock`
 * under the fence lock, and re-arming takes another fence's lock; fixed,
 * it only queues the work.
 */
function drmSchedEntityKillJobsCb(f: DmaFence | null, job: DrmSchedJob): void {
  dmaFencePut(f);
  if (job.sched!.killJobsVersion === "pre-487df8b" && killJobsWalk(job)) return;
  job.work = initWork(job.sched!.kernel, "&job->work", () => drmSchedEntityKillJobsWork(job));
  scheduleWork(job.work);
}

/**
 * `drm_sched_entity_kill()`: stop the entity, wait until the scheduler is
 * out of it, then kill every queued job in order, each after its
 * predecessor's finished fence.
 * @public
 */
export function drmSchedEntityKill(entity: DrmSchedEntity): void {
  if (!entity.rq) return;
  const k = entity.kernel;
  entity.lock.lock();
  try {
    entity.stopped = true;
    drmSchedRqRemoveEntity(entity.rq, entity);
  } finally {
    entity.lock.unlock();
  }
  // wait_for_completion(&entity->entity_idle)
  k.lockdep.mightSleep("drm_sched_entity_kill");
  if (k.clock.waitUntil(() => entity.idle, MAX_SCHEDULE_TIMEOUT) === 0) throw new KernelBug("hung_task", `${k.current.comm}:${k.current.pid} blocked in drm_sched_entity_kill`);
  let prev = entity.lastScheduled ? dmaFenceGet(entity.lastScheduled) : null;
  for (let job = entity.jobQueue.shift(); job; job = entity.jobQueue.shift()) {
    const finished = dmaFenceGet(job.sFence!.finished!);
    let armed = false;
    if (prev) {
      const j = job;
      try {
        dmaFenceAddCallback(entity.kernel, prev, j.finishCb, (g) => drmSchedEntityKillJobsCb(g, j));
        armed = true;
      } catch (e) {
        if (!isKernelError(e, "ENOENT")) throw e;
      }
    }
    if (!armed) {
      dmaFencePut(prev);
      drmSchedEntityKillJobsCb(null, job);
    }
    prev = finished;
  }
  dmaFencePut(prev);
}

/**
 * `drm_sched_entity_flush(entity, timeout)`: wait for the queue to drain
 * (bounded when the caller is exiting); a caller exiting on SIGKILL that was
 * the last user kills the entity. Returns the time left.
 * @public
 */
export function drmSchedEntityFlush(entity: DrmSchedEntity, timeoutNs: number, how: { exiting?: boolean; sigkill?: boolean } = {}): number {
  if (!entity.rq) return 0;
  const k = entity.kernel;
  let ret = timeoutNs;
  k.lockdep.mightSleep("drm_sched_entity_flush");
  if (how.exiting) {
    if (timeoutNs) ret = k.clock.waitUntil(() => drmSchedEntityIsIdle(entity), timeoutNs);
  } else if (k.clock.waitUntil(() => drmSchedEntityIsIdle(entity), MAX_SCHEDULE_TIMEOUT) === 0) {
    throw new KernelBug("hung_task", `${k.current.comm}:${k.current.pid} blocked in drm_sched_entity_flush: the queue cannot drain`);
  }
  const last = entity.lastUser;
  if (!last || last === k.current) entity.lastUser = null;
  if ((!last || last === k.current) && how.exiting && how.sigkill) drmSchedEntityKill(entity);
  return ret;
}

/** `drm_sched_entity_fini()`: kill, drop the pending dependency and `last_scheduled`. @public */
export function drmSchedEntityFini(entity: DrmSchedEntity): void {
  drmSchedEntityKill(entity);
  if (entity.dependency) {
    dmaFenceRemoveCallback(entity.dependency, entity.cb);
    dmaFencePut(entity.dependency);
    entity.dependency = null;
  }
  setLastScheduled(entity, null);
}

/** `drm_sched_entity_destroy()`: flush (1 s) then fini. @public */
export function drmSchedEntityDestroy(entity: DrmSchedEntity): void {
  drmSchedEntityFlush(entity, MAX_WAIT_SCHED_ENTITY_Q_EMPTY_NS);
  drmSchedEntityFini(entity);
}

/** `drm_sched_entity_set_priority()`. @public */
export function drmSchedEntitySetPriority(entity: DrmSchedEntity, priority: number): void {
  entity.lock.lock();
  try {
    entity.priority = priority;
  } finally {
    entity.lock.unlock();
  }
}

/** `drm_sched_entity_modify_sched()`: a new scheduler list, used at the next `select_rq`. @public */
export function drmSchedEntityModifySched(entity: DrmSchedEntity, schedList: DrmGpuScheduler[]): void {
  entity.lock.lock();
  try {
    entity.schedList = schedList;
  } finally {
    entity.lock.unlock();
  }
}
