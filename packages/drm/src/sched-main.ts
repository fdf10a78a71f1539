// drivers/gpu/drm/scheduler/sched_main.c: the GPU scheduler, its jobs, run/free/timeout work.
import {
  KernelLocal,
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
  dmaFenceRemoveCallback,
  dmaFenceSetError,
  dmaFenceWait,
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
import { DrmSchedRq, _drmSchedPolicyFreeze, drmSchedSelectEntity } from "./sched-rq.js";

/** `enum drm_sched_priority`, highest first. @public */
export const DRM_SCHED_PRIORITY_KERNEL = 0;
/** @public */
export const DRM_SCHED_PRIORITY_HIGH = 1;
/** @public */
export const DRM_SCHED_PRIORITY_NORMAL = 2;
/** @public */
export const DRM_SCHED_PRIORITY_LOW = 3;
/** @public */
export const DRM_SCHED_PRIORITY_COUNT = 4;

/**
 * `enum drm_gpu_sched_stat`: what `timedout_job` reports. `NONE` is
 * reserved and takes the `RESET` path; `RESET` (the GPU hung and was reset,
 * `NOMINAL` before v6.17) re-arms the timeout; `ENODEV` (device gone) does
 * not; `NO_HANG` (v6.17: the job is still running) puts the job back on the
 * pending list so it is freed when it completes.
 * @public
 */
export type DrmGpuSchedStat = "DRM_GPU_SCHED_STAT_NONE" | "DRM_GPU_SCHED_STAT_RESET" | "DRM_GPU_SCHED_STAT_ENODEV" | "DRM_GPU_SCHED_STAT_NO_HANG";

/**
 * Which `drm_sched_entity_kill_jobs_cb` the kernel has: before
 * 487df8b69834 ("drm/sched: Fix deadlock in drm_sched_entity_kill_jobs_cb",
 * Nov 2025) the fence callback walks the job's dependencies itself;
 * after it, the callback only queues `kill_jobs_work`, which does.
 * @public
 */
export type DrmSchedKillVersion = "pre-487df8b" | "post-487df8b";

/** `struct drm_sched_backend_ops`. @public */
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
  /** `update_job_credits`: the job's credits, recomputed each time it is considered for running. */
  updateJobCredits?(job: DrmSchedJob): number;
}

/** `struct drm_sched_init_args`. @public */
export interface DrmSchedInitArgs {
  readonly ops: DrmSchedBackendOps;
  /** The driver's submission queue; default an own ordered queue named after the scheduler. */
  readonly submitWq?: Workqueue;
  /** Where the timeout work runs; default `system_wq`. */
  readonly timeoutWq?: Workqueue;
  readonly numRqs?: number;
  readonly creditLimit: number;
  /** `hang_limit` (deprecated upstream): timeouts a job may cause before `drm_sched_resubmit_jobs()` cancels its entity's jobs. */
  readonly hangLimit?: number;
  /** Job timeout in virtual ns; `MAX_SCHEDULE_TIMEOUT` for none. */
  readonly timeoutNs: number;
  readonly name: string;
  /** The kill-path form (default: the fixed one). */
  readonly killJobsVersion?: DrmSchedKillVersion;
}

const JOB_LIST_LOCK_KEY = { site: "drm_sched_init job_list_lock" };
/** The `xa_init_flags(&job->dependencies, XA_FLAGS_ALLOC)` site in `drm_sched_job_init()`. */
const JOB_DEPS_KEY = { site: "drm_sched_job_init" };
/** `drm_sched_lockdep_map`: every scheduler's own submit queue shares it. */
const SUBMIT_WQ_MAP = new KernelLocal<LockdepMap>("SUBMIT_WQ_MAP");

/** `struct drm_gpu_scheduler`. @public */
export class DrmGpuScheduler {
  readonly ops: DrmSchedBackendOps;
  readonly name: string;
  /** `credit_limit` (the kunit credits test lowers it after init). */
  creditLimit: number;
  creditCount = 0;
  readonly hangLimit: number;
  /** `timeout` (`drm_sched_tdr_queue_imm()` sets it to 0). */
  timeoutNs: number;
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
  /** `free_guilty`: `drm_sched_stop()` found the bad job already done; the timeout handler frees it. */
  freeGuilty = false;
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
 * @public
 */
export function drmSchedInit(k: Kernel, args: DrmSchedInitArgs): DrmGpuScheduler {
  if ((args.numRqs ?? DRM_SCHED_PRIORITY_COUNT) < 1 || args.numRqs! > DRM_SCHED_PRIORITY_COUNT) throw new KernelError("EINVAL", "drm_sched_init", "num_rqs");
  if (args.creditLimit < 1) throw new KernelError("EINVAL", "drm_sched_init", "credit_limit");
  if (!(args.timeoutNs > 0)) throw new KernelError("EINVAL", "drm_sched_init", "timeout");
  const sched = new DrmGpuScheduler(k, args);
  _drmSchedPolicyFreeze(k);
  sched.ready = true;
  return sched;
}

/**
 * `drm_sched_fini()`: stop submission, stop entities still attached, stop
 * the timeout, cancel pending jobs through `cancel_job` (their hardware
 * fences signal `-ECANCELED`) and free them, destroy an own submit queue.
 * @public
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
  // Confirm no work left behind accessing device structures.
  cancelDelayedWorkSync(sched.workTdr);
  if (sched.ops.cancelJob) {
    // drm_sched_cancel_remaining_jobs(): newest first; all other accessors are stopped.
    for (const job of [...sched.pendingList].reverse()) {
      sched.ops.cancelJob(job);
      sched.pendingList.splice(sched.pendingList.indexOf(job), 1);
      sched.ops.freeJob(job);
    }
  }
  if (sched.ownSubmitWq) destroyWorkqueue(sched.submitWq);
  sched.ready = false;
  if (sched.pendingList.length) sched.kernel.warn(`${sched.name}: Tearing down scheduler while jobs are pending!`);
}

/** `drm_sched_wqueue_stop()`: no more run/free work. @public */
export function drmSchedWqueueStop(sched: DrmGpuScheduler): void {
  sched.pauseSubmit = true;
  cancelWorkSync(sched.workRunJob);
  cancelWorkSync(sched.workFreeJob);
}

/** `drm_sched_wqueue_start()`. @public */
export function drmSchedWqueueStart(sched: DrmGpuScheduler): void {
  sched.pauseSubmit = false;
  queueWork(sched.submitWq, sched.workRunJob);
  queueWork(sched.submitWq, sched.workFreeJob);
}

/** `drm_sched_wakeup()` / `drm_sched_run_job_queue()`. @public */
export function drmSchedWakeup(sched: DrmGpuScheduler): void {
  if (!sched.pauseSubmit) queueWork(sched.submitWq, sched.workRunJob);
}

function drmSchedRunFreeQueue(sched: DrmGpuScheduler): void {
  if (!sched.pauseSubmit) queueWork(sched.submitWq, sched.workFreeJob);
}

// ---- jobs ---------------------------------------------------------------------------

/** `struct drm_sched_job`. Drivers extend it. @public */
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
 * @public
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

/** `drm_sched_job_arm()`: picks the scheduler, assigns the id and seqno, initialises the fences. @public */
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
 * @public
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

/** `drm_sched_job_add_resv_dependencies()`: every fence of `resv` at `usage` (resv held). @public */
export function drmSchedJobAddResvDependencies(job: DrmSchedJob, resv: DmaResv, usage: DmaResvUsage): void {
  dmaResvAssertHeld(resv, "drm_sched_job_add_resv_dependencies");
  for (const f of dmaResvFences(resv, usage)) drmSchedJobAddDependency(job, dmaFenceGet(f));
}

/** `drm_sched_job_has_dependency()`. @public */
export function drmSchedJobHasDependency(job: DrmSchedJob, fence: DmaFence): boolean {
  for (const [, f] of job.dependencies!.entries()) if (f === fence) return true;
  return false;
}

/**
 * `drm_sched_job_cleanup()`: after arm, drops the finished fence; before,
 * frees the unused fence. Drops every remaining dependency.
 * @public
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

/** `drm_sched_job_dependency()`: the next dependency to wait for (a new reference), else `prepare_job`. @public */
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

/** Installs the hardware-fence callback; false when the fence had already signalled (`-ENOENT`). */
function addDoneCallback(job: DrmSchedJob, fence: DmaFence): boolean {
  job.cb.func = null;
  try {
    dmaFenceAddCallback(job.sched!.kernel, fence, job.cb, (f) => drmSchedJobDoneCb(f, job));
    return true;
  } catch (e) {
    if (!isKernelError(e, "ENOENT")) throw e;
    return false;
  }
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

/** `drm_sched_start_timeout()` (`job_list_lock` held). */
function drmSchedStartTimeout(sched: DrmGpuScheduler): void {
  sched.jobListLock.assertHeld("drm_sched_start_timeout");
  if (sched.timeoutNs !== MAX_SCHEDULE_TIMEOUT && sched.pendingList.length) modDelayedWork(sched.timeoutWq, sched.workTdr, sched.timeoutNs);
}

function drmSchedStartTimeoutUnlocked(sched: DrmGpuScheduler): void {
  sched.jobListLock.lock();
  try {
    drmSchedStartTimeout(sched);
  } finally {
    sched.jobListLock.unlock();
  }
}

/** `drm_sched_tdr_queue_imm()`: the timeout becomes 0 and the handler runs at once if jobs are pending. @public */
export function drmSchedTdrQueueImm(sched: DrmGpuScheduler): void {
  sched.jobListLock.lock();
  try {
    sched.timeoutNs = 0;
    drmSchedStartTimeout(sched);
  } finally {
    sched.jobListLock.unlock();
  }
}

/** `drm_sched_fault()`: the driver saw a hardware fault; run the timeout handler now. @public */
export function drmSchedFault(sched: DrmGpuScheduler): void {
  modDelayedWork(sched.timeoutWq, sched.workTdr, 0);
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
    if (!addDoneCallback(job, fence)) drmSchedJobDone(job, fence.error);
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
    // This job's timeout is over; the next job's starts now.
    cancelDelayedWork(sched.workTdr);
    if (sched.pendingList.length) drmSchedStartTimeout(sched);
    return job;
  } finally {
    sched.jobListLock.unlock();
  }
}

/** `drm_sched_run_free_queue()` (`job_list_lock` held): queue the free work if the oldest pending job is done. */
function drmSchedRunFreeQueueIfDone(sched: DrmGpuScheduler): void {
  if (sched.pendingList[0]?.sFence?.finished?.signaledFlag) drmSchedRunFreeQueue(sched);
}

/** `drm_sched_free_job_work()`. */
function drmSchedFreeJobWork(sched: DrmGpuScheduler): void {
  if (sched.pauseSubmit) return;
  const job = drmSchedGetFinishedJob(sched);
  if (job) sched.ops.freeJob(job);
  sched.jobListLock.lock();
  try {
    drmSchedRunFreeQueueIfDone(sched);
  } finally {
    sched.jobListLock.unlock();
  }
  drmSchedWakeup(sched);
}

/**
 * `drm_sched_job_reinsert_on_false_timeout()`: the driver said the job is
 * still running (`NO_HANG`); it goes back to the head of the pending list,
 * and the free work runs if it completed meanwhile.
 */
function drmSchedJobReinsertOnFalseTimeout(sched: DrmGpuScheduler, job: DrmSchedJob): void {
  sched.jobListLock.lock();
  try {
    sched.pendingList.unshift(job);
    drmSchedRunFreeQueueIfDone(sched);
  } finally {
    sched.jobListLock.unlock();
  }
}

/**
 * `drm_sched_job_timedout()` (the TDR work): the oldest pending job is taken
 * off the pending list and handed to `timedout_job`. After the handler a
 * bad job that `drm_sched_stop()` found already done is freed here
 * (`free_guilty`); `NO_HANG` puts the job back; every status but `ENODEV`
 * re-arms the timeout. With `RESET` and no `drm_sched_stop()`, the job is
 * the driver's to free.
 */
function drmSchedJobTimedout(sched: DrmGpuScheduler): void {
  let status: DrmGpuSchedStat = "DRM_GPU_SCHED_STAT_RESET";
  sched.jobListLock.lock();
  const job = sched.pendingList[0];
  if (job) {
    sched.pendingList.shift();
    sched.jobListLock.unlock();
    sched.kernel.trace.emit("drm_sched_job_timedout", { sched: sched.name, id: Number(job.id) });
    status = sched.ops.timedoutJob(job);
    if (sched.freeGuilty) {
      sched.ops.freeJob(job);
      sched.freeGuilty = false;
    }
    if (status === "DRM_GPU_SCHED_STAT_NO_HANG") drmSchedJobReinsertOnFalseTimeout(sched, job);
  } else {
    sched.jobListLock.unlock();
  }
  if (status !== "DRM_GPU_SCHED_STAT_ENODEV") drmSchedStartTimeoutUnlocked(sched);
}

// ---- reset recovery ------------------------------------------------------------------

/**
 * `drm_sched_stop(sched, bad)`: for reset recovery, from the timeout
 * handler. Parks submission, puts `bad` back at the head of the pending
 * list, then from the newest job back: detaches the hardware-fence callback
 * of each job still running (dropping its parent and credits), or, for a
 * job already done, removes it and frees it — except `bad`, which the
 * timeout handler frees afterwards (`free_guilty`). Stops the timeout.
 * Not for teardown (that is `drm_sched_fini()`), nor after `NO_HANG`.
 * @public
 */
export function drmSchedStop(sched: DrmGpuScheduler, bad: DrmSchedJob | null): void {
  drmSchedWqueueStop(sched);
  if (bad && bad.sched === sched && !sched.pendingList.includes(bad)) sched.pendingList.unshift(bad);
  for (const job of [...sched.pendingList].reverse()) {
    const sFence = job.sFence!;
    if (sFence.parent && dmaFenceRemoveCallback(sFence.parent, job.cb)) {
      dmaFencePut(sFence.parent);
      sFence.parent = null;
      sched.creditCount -= job.credits;
      continue;
    }
    sched.jobListLock.lock();
    try {
      sched.pendingList.splice(sched.pendingList.indexOf(job), 1);
    } finally {
      sched.jobListLock.unlock();
    }
    // The hardware-fence callback is done with the job once finished has signalled.
    dmaFenceWait(sFence.finished!, false);
    if (job !== bad) sched.ops.freeJob(job);
    else sched.freeGuilty = true;
  }
  cancelDelayedWork(sched.workTdr);
}

/**
 * `drm_sched_start(sched, errno)` (the `errno` argument since v6.13): after
 * the reset, every pending job gets its credits back and, if it has a
 * hardware fence (a resubmission gave it one), its completion callback;
 * a job without one is done with `errno`, or `-ECANCELED` for 0. Then the
 * timeout and submission restart.
 * @public
 */
export function drmSchedStart(sched: DrmGpuScheduler, errno: number): void {
  for (const job of [...sched.pendingList]) {
    const fence = job.sFence!.parent;
    sched.creditCount += job.credits;
    if (!fence) {
      drmSchedJobDone(job, errno || -ERRNO.ECANCELED);
      continue;
    }
    if (!addDoneCallback(job, fence)) drmSchedJobDone(job, fence.error || errno);
  }
  drmSchedStartTimeoutUnlocked(sched);
  drmSchedWqueueStart(sched);
}

/**
 * `drm_sched_resubmit_jobs()`: runs every pending job again (`run_job`)
 * after `drm_sched_stop()`; the first job whose karma exceeds `hang_limit`
 * marks its entity's context guilty, and that context's jobs are resubmitted
 * with `-ECANCELED` on their finished fence.
 * @deprecated As upstream: "Deprecated, don't use in new code!" —
 * re-running jobs around the dma_fence rules risks deadlocks with memory
 * management; drivers walk {@link drmSchedForEachPendingJob} after stopping
 * the scheduler instead.
 * @public
 */
export function drmSchedResubmitJobs(sched: DrmGpuScheduler): void {
  let guiltyContext: bigint | undefined;
  for (const job of [...sched.pendingList]) {
    const sFence = job.sFence!;
    if (guiltyContext === undefined && job.karma > sched.hangLimit) guiltyContext = sFence.scheduled!.context;
    if (guiltyContext !== undefined && sFence.scheduled!.context === guiltyContext) dmaFenceSetError(sFence.finished!, "ECANCELED");
    const fence = sched.ops.runJob(job);
    if (!fence || isKernelError(fence)) {
      if (isKernelError(fence)) dmaFenceSetError(sFence.finished!, fence.errno);
      sFence.parent = null;
    } else {
      // The scheduler keeps run_job's reference as the parent.
      sFence.parent = fence;
    }
  }
}

/**
 * `drm_sched_increase_karma(bad)`: one more hang caused by `bad`. Jobs of
 * the kernel run queue are never blamed; otherwise the entity `bad` came
 * from (found by its fence context among the run queues) gets its `guilty`
 * flag set, so its remaining jobs are cancelled when popped.
 * @public
 */
export function drmSchedIncreaseKarma(bad: DrmSchedJob): void {
  const sched = bad.sched!;
  if (bad.sPriority === DRM_SCHED_PRIORITY_KERNEL) return;
  bad.karma++;
  for (let i = DRM_SCHED_PRIORITY_HIGH; i < sched.schedRq.length; i++) {
    const rq = sched.schedRq[i]!;
    rq.lock.lock();
    let found = false;
    try {
      for (const entity of rq.entities) {
        if (bad.sFence!.scheduled!.context !== entity.fenceContext) continue;
        if (entity.guilty) entity.guilty.value = 1;
        found = true;
        break;
      }
    } finally {
      rq.lock.unlock();
    }
    if (found) break;
  }
}

/** `drm_sched_is_stopped()` (v7.0): submission is parked (`pause_submit`). @public */
export function drmSchedIsStopped(sched: DrmGpuScheduler): boolean {
  return sched.pauseSubmit;
}

/** `drm_sched_wqueue_ready()`. @public */
export function drmSchedWqueueReady(sched: DrmGpuScheduler): boolean {
  return sched.ready;
}

/**
 * `drm_sched_job_is_signaled()` (v7.0): the job's hardware fence or its
 * finished fence has signalled. Meant for a stopped scheduler (WARN otherwise).
 * @public
 */
export function drmSchedJobIsSignaled(job: DrmSchedJob): boolean {
  const sched = job.sched!;
  sched.kernel.warnOn(!drmSchedIsStopped(sched), "drm_sched_job_is_signaled: WARN_ON(!drm_sched_is_stopped(job->sched))");
  const s = job.sFence!;
  return (s.parent !== null && s.parent.signaledFlag) || s.finished!.signaledFlag;
}

/**
 * `drm_sched_for_each_pending_job(job, sched, entity)` (v7.0): the pending
 * jobs (of `entity`, or all for null) of a stopped scheduler; WARNs when the
 * scheduler is not stopped at the start or at the end of the walk.
 * @public
 */
export function* drmSchedForEachPendingJob(sched: DrmGpuScheduler, entity: DrmSchedEntity | null = null): Generator<DrmSchedJob> {
  const k = sched.kernel;
  k.warnOn(!drmSchedIsStopped(sched), "drm_sched_for_each_pending_job: WARN_ON(!drm_sched_is_stopped(sched))");
  try {
    for (const job of [...sched.pendingList]) if (!entity || job.entity === entity) yield job;
  } finally {
    k.warnOn(!drmSchedIsStopped(sched), "drm_sched_for_each_pending_job: WARN_ON(!drm_sched_is_stopped(sched))");
  }
}

/** `drm_sched_pick_best()`: the ready scheduler with the lowest score (entities on its run queues plus jobs in flight). @public */
export function drmSchedPickBest(schedList: readonly DrmGpuScheduler[]): DrmGpuScheduler | undefined {
  let picked: DrmGpuScheduler | undefined;
  for (const sched of schedList) {
    if (!sched.ready) {
      sched.kernel.printk.warn(`[drm] scheduler ${sched.name} is not ready, skipping`);
      continue;
    }
    if (!picked || sched.score < picked.score) picked = sched;
  }
  return picked;
}

/** Jobs handed to the hardware and not yet freed. @public */
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
