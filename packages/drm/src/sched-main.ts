// drivers/gpu/drm/scheduler/sched_main.c: the GPU scheduler, its jobs, run/free/timeout work.
import {
  ERRNO,
  KernelError,
  MAX_SCHEDULE_TIMEOUT,
  SpinLock,
  XArray,
  allocOrderedWorkqueue,
  cancelDelayedWork,
  cancelDelayedWorkSync,
  cancelWorkSync,
  destroyWorkqueue,
  dmaFenceAddCallback,
  dmaFenceGet,
  dmaFencePut,
  dmaResvAssertHeld,
  dmaResvFences,
  initDelayedWork,
  initWork,
  isKernelError,
  modDelayedWork,
  queueWork,
  workqueueLockdepMap,
  type DelayedWork,
  type DmaFence,
  type DmaFenceCb,
  type DmaResv,
  type DmaResvUsage,
  type Kernel,
  type LockdepMap,
  type WorkStruct,
  type Workqueue,
} from "@dmabuf-sdk/dmabuf-core";
import { drmSchedFenceAlloc, drmSchedFenceFinished, drmSchedFenceFree, drmSchedFenceInit, drmSchedFenceScheduled, type DrmSchedFence } from "./sched-fence.js";
import { drmSchedEntityPopJob, drmSchedEntitySelectRq, type DrmSchedEntity } from "./sched-entity.js";

/** `enum drm_sched_priority`, highest first. */
export const DRM_SCHED_PRIORITY_KERNEL = 0;
export const DRM_SCHED_PRIORITY_HIGH = 1;
export const DRM_SCHED_PRIORITY_NORMAL = 2;
export const DRM_SCHED_PRIORITY_LOW = 3;
export const DRM_SCHED_PRIORITY_COUNT = 4;

/** `enum drm_gpu_sched_stat`: what `timedout_job` reports. */
export type DrmGpuSchedStat = "DRM_GPU_SCHED_STAT_RESET" | "DRM_GPU_SCHED_STAT_ENODEV" | "DRM_GPU_SCHED_STAT_NO_HANG";

/**
 * Which `drm_sched_entity_kill_jobs_cb` the kernel has: before
 * 487df8b69834 ("drm/sched: Fix deadlock in drm_sched_entity_kill_jobs_cb",
 * Nov 2025) the fence callback walks the job's dependencies itself;
 * after it, the callback only queues `kill_jobs_work`, which does.
 */
export type DrmSchedKillVersion = "pre-487df8b" | "post-487df8b";

/** `struct drm_sched_backend_ops`. */
export interface DrmSchedBackendOps {
  /** `prepare_job`: one more fence to wait for before running, or null. */
  prepareJob?(job: DrmSchedJob, entity: DrmSchedEntity): DmaFence | null;
  /** `run_job`: hand the job to the hardware; the hardware fence (a reference for the scheduler), null, or an error. */
  runJob(job: DrmSchedJob): DmaFence | null | KernelError;
  /** `timedout_job`: the job's timeout expired. */
  timedoutJob(job: DrmSchedJob): DrmGpuSchedStat;
  /** `free_job`: the driver's cleanup; must call `drmSchedJobCleanup()`. */
  freeJob(job: DrmSchedJob): void;
  /** `cancel_job`: at `drm_sched_fini()`, make the hardware fence of a pending job signal with `-ECANCELED`. */
  cancelJob?(job: DrmSchedJob): void;
}

/** `struct drm_sched_init_args`. */
export interface DrmSchedInitArgs {
  readonly ops: DrmSchedBackendOps;
  /** The driver's submission queue; default an own ordered queue named after the scheduler. */
  readonly submitWq?: Workqueue;
  /** Where the timeout work runs; default `system_wq`. */
  readonly timeoutWq?: Workqueue;
  readonly numRqs?: number;
  readonly creditLimit: number;
  readonly hangLimit?: number;
  /** Job timeout in virtual ns; `MAX_SCHEDULE_TIMEOUT` for none. */
  readonly timeoutNs: number;
  readonly name: string;
  /** The kill-path form (default: the fixed one). */
  readonly killJobsVersion?: DrmSchedKillVersion;
}

/** `struct drm_sched_rq`: one run queue per priority. */
export class DrmSchedRq {
  readonly lock: SpinLock;
  readonly entities: DrmSchedEntity[] = [];
  currentEntity: DrmSchedEntity | undefined;
  constructor(
    readonly sched: DrmGpuScheduler,
    readonly priority: number,
  ) {
    const k = sched.kernel;
    this.lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, `${sched.name} rq ${priority}`, "&rq->lock", RQ_LOCK_KEY);
  }
}

const RQ_LOCK_KEY = { site: "drm_sched_rq_init" };
const JOB_LIST_LOCK_KEY = { site: "drm_sched_init job_list_lock" };
/** The `xa_init_flags(&job->dependencies, XA_FLAGS_ALLOC)` site in `drm_sched_job_init()`. */
const JOB_DEPS_KEY = { site: "drm_sched_job_init" };
/** `drm_sched_lockdep_map`: every scheduler's own submit queue shares it. */
const SUBMIT_WQ_MAP = new WeakMap<Kernel, LockdepMap>();

/** `struct drm_gpu_scheduler`. */
export class DrmGpuScheduler {
  readonly ops: DrmSchedBackendOps;
  readonly name: string;
  readonly creditLimit: number;
  creditCount = 0;
  readonly hangLimit: number;
  readonly timeoutNs: number;
  readonly killJobsVersion: DrmSchedKillVersion;
  readonly schedRq: DrmSchedRq[];
  readonly pendingList: DrmSchedJob[] = [];
  readonly jobListLock: SpinLock;
  readonly submitWq: Workqueue;
  readonly timeoutWq: Workqueue;
  readonly ownSubmitWq: boolean;
  readonly workRunJob: WorkStruct;
  readonly workFreeJob: WorkStruct;
  readonly workTdr: DelayedWork;
  /** `score`: jobs pushed and not done, used to pick the least loaded scheduler. */
  score = 0;
  ready = false;
  pauseSubmit = false;
  /** `job_id_count`. */
  jobIdCount = 0;

  constructor(
    readonly kernel: Kernel,
    args: DrmSchedInitArgs,
  ) {
    this.ops = args.ops;
    this.name = args.name;
    this.creditLimit = args.creditLimit;
    this.hangLimit = args.hangLimit ?? 0;
    this.timeoutNs = args.timeoutNs;
    this.killJobsVersion = args.killJobsVersion ?? "post-487df8b";
    this.schedRq = Array.from({ length: args.numRqs ?? DRM_SCHED_PRIORITY_COUNT }, (_, i) => new DrmSchedRq(this, i));
    this.jobListLock = new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, `${args.name} job_list_lock`, "&sched->job_list_lock", JOB_LIST_LOCK_KEY);
    if (args.submitWq) {
      this.submitWq = args.submitWq;
      this.ownSubmitWq = false;
    } else {
      let map = SUBMIT_WQ_MAP.get(kernel);
      if (!map) SUBMIT_WQ_MAP.set(kernel, (map = workqueueLockdepMap(kernel, "drm_sched_lockdep_map")));
      this.submitWq = allocOrderedWorkqueue(kernel, args.name, { memReclaim: true }, map);
      this.ownSubmitWq = true;
    }
    this.timeoutWq = args.timeoutWq ?? kernel.workqueues.systemWq;
    this.workRunJob = initWork(kernel, "&sched->work_run_job", () => drmSchedRunJobWork(this));
    this.workFreeJob = initWork(kernel, "&sched->work_free_job", () => drmSchedFreeJobWork(this));
    this.workTdr = initDelayedWork(kernel, "&sched->work_tdr", () => drmSchedJobTimedout(this));
  }
}

/**
 * `drm_sched_init()`.
 * @throws KernelError `EINVAL` for no run queues, a zero credit limit or a timeout that is not positive.
 */
export function drmSchedInit(k: Kernel, args: DrmSchedInitArgs): DrmGpuScheduler {
  if ((args.numRqs ?? DRM_SCHED_PRIORITY_COUNT) < 1 || args.numRqs! > DRM_SCHED_PRIORITY_COUNT) throw new KernelError("EINVAL", "drm_sched_init", "num_rqs");
  if (args.creditLimit < 1) throw new KernelError("EINVAL", "drm_sched_init", "credit_limit");
  if (!(args.timeoutNs > 0)) throw new KernelError("EINVAL", "drm_sched_init", "timeout");
  const sched = new DrmGpuScheduler(k, args);
  sched.ready = true;
  return sched;
}

/**
 * `drm_sched_fini()`: stop submission, stop entities still attached,
 * cancel pending jobs through `cancel_job` (their hardware fences signal
 * `-ECANCELED`) and free them, stop the timeout, destroy an own submit queue.
 */
export function drmSchedFini(sched: DrmGpuScheduler): void {
  drmSchedWqueueStop(sched);
  for (const rq of sched.schedRq) {
    rq.lock.lock();
    try {
      for (const e of rq.entities) e.stopped = true;
    } finally {
      rq.lock.unlock();
    }
  }
  if (sched.ops.cancelJob) {
    for (const job of [...sched.pendingList]) sched.ops.cancelJob(job);
    for (;;) {
      const job = drmSchedGetFinishedJob(sched);
      if (!job) break;
      sched.ops.freeJob(job);
    }
  }
  cancelDelayedWorkSync(sched.workTdr);
  if (sched.ownSubmitWq) destroyWorkqueue(sched.submitWq);
  sched.ready = false;
  if (sched.pendingList.length) sched.kernel.warn(`${sched.name}: Tearing down scheduler while jobs are pending!`);
}

/** `drm_sched_wqueue_stop()`: no more run/free work. */
export function drmSchedWqueueStop(sched: DrmGpuScheduler): void {
  sched.pauseSubmit = true;
  cancelWorkSync(sched.workRunJob);
  cancelWorkSync(sched.workFreeJob);
}

/** `drm_sched_wqueue_start()`. */
export function drmSchedWqueueStart(sched: DrmGpuScheduler): void {
  sched.pauseSubmit = false;
  queueWork(sched.submitWq, sched.workRunJob);
  queueWork(sched.submitWq, sched.workFreeJob);
}

/** `drm_sched_wakeup()` / `drm_sched_run_job_queue()`. */
export function drmSchedWakeup(sched: DrmGpuScheduler): void {
  if (!sched.pauseSubmit) queueWork(sched.submitWq, sched.workRunJob);
}

function drmSchedRunFreeQueue(sched: DrmGpuScheduler): void {
  if (!sched.pauseSubmit) queueWork(sched.submitWq, sched.workFreeJob);
}

// ---- jobs ---------------------------------------------------------------------------

/** `struct drm_sched_job`. Drivers extend it. */
export class DrmSchedJob {
  entity: DrmSchedEntity | null = null;
  sched: DrmGpuScheduler | undefined;
  sFence: DrmSchedFence | undefined;
  credits = 0;
  dependencies: XArray<DmaFence> | undefined;
  /** `last_dependency`: the next index `drm_sched_job_dependency()` looks at. */
  lastDependency = 0;
  /** `finish_cb`: the kill path's callback node. */
  readonly finishCb: DmaFenceCb = { func: null };
  /** `cb`: the hardware fence callback node. */
  readonly cb: DmaFenceCb = { func: null };
  /** `work`: the kill path's work. */
  work: WorkStruct | undefined;
  karma = 0;
  id = 0n;
  sPriority = DRM_SCHED_PRIORITY_NORMAL;
  submitTs = 0;
  owner: unknown;
  /** True once armed (point of no return). */
  armed = false;
}

/**
 * `drm_sched_job_init(job, entity, credits, owner)`.
 * @throws KernelError `ENOENT` (entity without run queue), `EINVAL` (zero credits), `ENOMEM`.
 */
export function drmSchedJobInit(job: DrmSchedJob, entity: DrmSchedEntity, credits: number, owner: unknown): void {
  const k = entity.kernel;
  if (!entity.rq) {
    // drm_sched_entity_init() was called with an empty scheduler list, or the entity was fini'd.
    k.printk.err(`drm_sched_job_init: entity has no rq!`);
    throw new KernelError("ENOENT", "drm_sched_job_init", "entity has no rq");
  }
  if (credits === 0) {
    k.printk.err(`drm_sched_job_init: credits cannot be 0!`);
    throw new KernelError("EINVAL", "drm_sched_job_init", "credits cannot be 0");
  }
  job.entity = entity;
  job.credits = credits;
  k.alloc.kzalloc("drm_sched_fence");
  job.sFence = drmSchedFenceAlloc(entity, owner);
  job.owner = owner;
  job.dependencies = new XArray<DmaFence>(k, JOB_DEPS_KEY, { alloc: true });
  job.lastDependency = 0;
}

/** `drm_sched_job_arm()`: picks the scheduler, assigns the id and seqno, initialises the fences. */
export function drmSchedJobArm(job: DrmSchedJob): void {
  const entity = job.entity!;
  drmSchedEntitySelectRq(entity);
  const sched = entity.rq!.sched;
  job.sched = sched;
  job.sPriority = entity.priority;
  job.id = BigInt(++sched.jobIdCount);
  drmSchedFenceInit(job.sFence!, entity);
  job.armed = true;
}

/**
 * `drm_sched_job_add_dependency()`: consumes the reference. Fences of one
 * context are deduplicated, keeping the later one.
 * @throws KernelError from `xa_alloc` (the reference is dropped).
 */
export function drmSchedJobAddDependency(job: DrmSchedJob, fence: DmaFence | null): void {
  if (!fence) return;
  const deps = job.dependencies!;
  for (const [index, entry] of deps.entries()) {
    if (entry.context !== fence.context) continue;
    if (dmaFenceIsLater(fence, entry)) {
      dmaFencePut(entry);
      deps.store(index, fence);
    } else {
      dmaFencePut(fence);
    }
    return;
  }
  try {
    deps.alloc(fence);
  } catch (e) {
    dmaFencePut(fence);
    throw e;
  }
}

/** `drm_sched_job_add_resv_dependencies()`: every fence of `resv` at `usage` (resv held). */
export function drmSchedJobAddResvDependencies(job: DrmSchedJob, resv: DmaResv, usage: DmaResvUsage): void {
  dmaResvAssertHeld(resv, "drm_sched_job_add_resv_dependencies");
  for (const f of dmaResvFences(resv, usage)) drmSchedJobAddDependency(job, dmaFenceGet(f));
}

/** `drm_sched_job_has_dependency()`. */
export function drmSchedJobHasDependency(job: DrmSchedJob, fence: DmaFence): boolean {
  for (const [, f] of job.dependencies!.entries()) if (f === fence) return true;
  return false;
}

/**
 * `drm_sched_job_cleanup()`: after arm, drops the finished fence; before,
 * frees the unused fence. Drops every remaining dependency.
 */
export function drmSchedJobCleanup(job: DrmSchedJob): void {
  if (job.sFence) {
    if (job.armed) dmaFencePut(job.sFence.finished);
    else drmSchedFenceFree(job.sFence);
    job.sFence = undefined;
  }
  const deps = job.dependencies;
  if (deps) {
    for (const [, f] of deps.entries()) dmaFencePut(f);
    deps.destroy();
  }
}

/** `drm_sched_job_dependency()`: the next dependency to wait for (a new reference), else `prepare_job`. */
export function drmSchedJobDependency(job: DrmSchedJob, entity: DrmSchedEntity): DmaFence | null {
  const f = job.dependencies!.load(job.lastDependency);
  if (f) {
    job.lastDependency++;
    return dmaFenceGet(f);
  }
  return job.sched?.ops.prepareJob?.(job, entity) ?? null;
}

/** `drm_sched_job_done()`: credits back, `finished` signalled with `result`, free work queued. */
function drmSchedJobDone(job: DrmSchedJob, result: number): void {
  const sched = job.sched!;
  const sFence = job.sFence!;
  sched.creditCount -= job.credits;
  sched.score--;
  sched.kernel.trace.emit("drm_sched_job_done", { sched: sched.name, id: Number(job.id), result });
  const finished = dmaFenceGet(sFence.finished!);
  try {
    drmSchedFenceFinished(sFence, result);
  } finally {
    dmaFencePut(finished);
  }
  drmSchedRunFreeQueue(sched);
}

/** `drm_sched_job_done_cb()`: the hardware fence signalled (often in hard IRQ). */
function drmSchedJobDoneCb(f: DmaFence, job: DrmSchedJob): void {
  drmSchedJobDone(job, f.error);
}

/** `drm_sched_can_queue()`: enough free credits for the entity's next job. */
function drmSchedCanQueue(sched: DrmGpuScheduler, entity: DrmSchedEntity): boolean {
  const job = entity.jobQueue[0];
  if (!job) return false;
  // A job asking for more than the limit is run alone (its credits clamped).
  const credits = Math.min(job.credits, sched.creditLimit);
  return sched.creditLimit - sched.creditCount >= credits;
}

/** `drm_sched_select_entity()`: the first ready entity, highest priority first, FIFO by oldest submission. */
function drmSchedSelectEntity(sched: DrmGpuScheduler): DrmSchedEntity | undefined {
  for (const rq of sched.schedRq) {
    rq.lock.lock();
    try {
      const ready = rq.entities.filter((e) => e.jobQueue.length > 0 && !e.dependency && !e.stopped);
      ready.sort((a, b) => a.jobQueue[0]!.submitTs - b.jobQueue[0]!.submitTs);
      const entity = ready[0];
      if (!entity) continue;
      if (!drmSchedCanQueue(sched, entity)) return undefined;
      entity.idle = false; // reinit_completion(&entity->entity_idle)
      rq.currentEntity = entity;
      return entity;
    } finally {
      rq.lock.unlock();
    }
  }
  return undefined;
}

/** `drm_sched_job_begin()`: on the pending list, timeout armed. */
function drmSchedJobBegin(job: DrmSchedJob): void {
  const sched = job.sched!;
  sched.jobListLock.lock();
  try {
    sched.pendingList.push(job);
    drmSchedStartTimeout(sched);
  } finally {
    sched.jobListLock.unlock();
  }
}

/** `drm_sched_start_timeout()`. */
function drmSchedStartTimeout(sched: DrmGpuScheduler): void {
  if (sched.timeoutNs !== MAX_SCHEDULE_TIMEOUT && sched.pendingList.length) modDelayedWork(sched.timeoutWq, sched.workTdr, sched.timeoutNs);
}

/** `drm_sched_run_job_work()`: one job from the best entity to the hardware. */
function drmSchedRunJobWork(sched: DrmGpuScheduler): void {
  if (sched.pauseSubmit) return;
  const entity = drmSchedSelectEntity(sched);
  if (!entity) return;
  const job = drmSchedEntityPopJob(entity);
  if (!job) {
    entity.idle = true;
    drmSchedWakeup(sched);
    return;
  }
  const sFence = job.sFence!;
  sched.creditCount += job.credits;
  drmSchedJobBegin(job);
  sched.kernel.trace.emit("drm_sched_job_run", { sched: sched.name, id: Number(job.id) });
  const fence = sched.ops.runJob(job);
  entity.idle = true;
  drmSchedFenceScheduled(sFence, isKernelError(fence) ? null : fence);
  if (fence && !isKernelError(fence)) {
    job.cb.func = null;
    try {
      dmaFenceAddCallback(sched.kernel, fence, job.cb, (f) => drmSchedJobDoneCb(f, job));
    } catch (e) {
      if (!(isKernelError(e) && e.errno === "ENOENT")) throw e;
      drmSchedJobDone(job, fence.error);
    }
    dmaFencePut(fence);
  } else {
    drmSchedJobDone(job, isKernelError(fence) ? -ERRNO[fence.errno] : 0);
  }
  drmSchedWakeup(sched);
}

/** `drm_sched_get_finished_job()`: the first pending job if its finished fence signalled. */
function drmSchedGetFinishedJob(sched: DrmGpuScheduler): DrmSchedJob | undefined {
  sched.jobListLock.lock();
  try {
    const job = sched.pendingList[0];
    if (!job || !job.sFence?.finished?.signaledFlag) return undefined;
    sched.pendingList.shift();
    cancelDelayedWork(sched.workTdr);
    drmSchedStartTimeout(sched);
    return job;
  } finally {
    sched.jobListLock.unlock();
  }
}

/** `drm_sched_free_job_work()`. */
function drmSchedFreeJobWork(sched: DrmGpuScheduler): void {
  if (sched.pauseSubmit) return;
  const job = drmSchedGetFinishedJob(sched);
  if (job) sched.ops.freeJob(job);
  if (sched.pendingList[0]?.sFence?.finished?.signaledFlag) drmSchedRunFreeQueue(sched);
  drmSchedWakeup(sched);
}

/**
 * `drm_sched_job_timedout()`: the oldest pending job goes to the driver's
 * `timedout_job`; it stays on the pending list (as `drm_sched_stop()` puts
 * the bad job back) and is freed once its finished fence signals. Unless
 * the device is gone, the timeout is re-armed.
 */
function drmSchedJobTimedout(sched: DrmGpuScheduler): void {
  let status: DrmGpuSchedStat = "DRM_GPU_SCHED_STAT_RESET";
  sched.jobListLock.lock();
  const job = sched.pendingList[0];
  sched.jobListLock.unlock();
  if (job) {
    sched.kernel.trace.emit("drm_sched_job_timedout", { sched: sched.name, id: Number(job.id) });
    job.karma++;
    status = sched.ops.timedoutJob(job);
  }
  if (status !== "DRM_GPU_SCHED_STAT_ENODEV") {
    sched.jobListLock.lock();
    try {
      drmSchedStartTimeout(sched);
    } finally {
      sched.jobListLock.unlock();
    }
  }
}

/** Jobs handed to the hardware and not yet freed. */
export function drmSchedPendingJobs(sched: DrmGpuScheduler): readonly DrmSchedJob[] {
  return sched.pendingList;
}

/** @internal Used by the entity code: signal a killed job's fences. */
export function _drmSchedJobFencesKilled(job: DrmSchedJob): void {
  const s = job.sFence!;
  drmSchedFenceScheduled(s, null);
  drmSchedFenceFinished(s, -ERRNO.ESRCH);
}

/** `dma_fence_is_later()`: same context, later seqno. */
function dmaFenceIsLater(f1: DmaFence, f2: DmaFence): boolean {
  return f1.context === f2.context && f1.seqno > f2.seqno;
}
