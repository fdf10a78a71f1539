// Fixtures for tests of the DRM core and of the drivers built on it (test devices with a fence ring,
// igt's syncobj helpers); the mock scheduler follows
// drivers/gpu/drm/scheduler/tests/mock_scheduler.c.
import {
  DmaFence,
  Kernel,
  MAX_SCHEDULE_TIMEOUT,
  SpinLock,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignalLocked,
  type KernelOptions,
  type TimerHandle,
} from "@dmabuf-sdk/dmabuf-core";
import { drmModule } from "../module.js";
import {
  DrmSchedJob,
  drmSchedFini,
  drmSchedInit,
  drmSchedJobArm,
  drmSchedJobCleanup,
  drmSchedJobInit,
  type DrmGpuScheduler,
  type DrmGpuSchedStat,
  type DrmSchedKillVersion,
} from "../sched-main.js";
import { drmSchedEntityDestroy, drmSchedEntityInit, drmSchedEntityPushJob, type DrmSchedEntity } from "../sched-entity.js";

export type { DrmGpuScheduler, DrmSchedJob, DrmSchedKillVersion, DrmSchedInitArgs, DrmSchedBackendOps, DrmGpuSchedStat } from "../sched-main.js";
export type { DrmSchedRq } from "../sched-rq.js";
export type { DrmSchedFence } from "../sched-fence.js";
export type { DrmSchedEntity } from "../sched-entity.js";

export { drmTestDevice, drmTestRing, DrmTestRing, type DrmTestDeviceOptions } from "./device.js";
export { IgtSyncobj, type SyncobjWaitResult } from "./igt-syncobj.js";

/** A kernel with the DRM core module loaded. @public */
export function bootDrm(opts: Partial<KernelOptions> = {}): Kernel {
  const k = new Kernel(opts);
  k.modprobe(drmModule);
  return k;
}

/** `DRM_MOCK_SCHED_JOB_DONE`: the mock hardware completed the job. @public */
export const DRM_MOCK_SCHED_JOB_DONE = 0x1;
/** `DRM_MOCK_SCHED_JOB_TIMEDOUT`: the timeout handler signalled the job's hardware fence with `-ETIMEDOUT`. @public */
export const DRM_MOCK_SCHED_JOB_TIMEDOUT = 0x2;
/** `DRM_MOCK_SCHED_JOB_DONT_RESET`: the timeout handler reports `NO_HANG` for this job. @public */
export const DRM_MOCK_SCHED_JOB_DONT_RESET = 0x4;
/** `DRM_MOCK_SCHED_JOB_RESET_SKIPPED`: the timeout handler skipped the reset. @public */
export const DRM_MOCK_SCHED_JOB_RESET_SKIPPED = 0x8;

/** `struct drm_mock_sched_job`. @public */
export class DrmMockSchedJob extends DrmSchedJob {
  hwFence: DmaFence | undefined;
  /** Virtual time the mock hardware takes for the job; 0: until {@link drmMockSchedAdvance}. */
  durationNs = 0;
  /** `flags`: `DRM_MOCK_SCHED_JOB_*`. */
  flags = 0;
  /** `run_job` calls for this job (a resubmission runs it again). */
  runs = 0;
  cancelled = false;
  freed = false;
  /** The job's fences as submitted (the test keeps looking at them after `free_job`, as the kunit mock does). */
  scheduledFence: DmaFence | undefined;
  finishedFence: DmaFence | undefined;
  constructor(readonly mock: DrmMockScheduler) {
    super();
  }
}

/** Options of {@link drmMockSchedNew}. @public */
export interface DrmMockSchedOptions {
  readonly timeoutNs?: number;
  readonly killJobsVersion?: DrmSchedKillVersion;
  readonly creditLimit?: number;
  readonly name?: string;
  /** A driver's own timeout handler instead of the mock's (reset-recovery tests). */
  readonly timedoutJob?: (job: DrmMockSchedJob) => DrmGpuSchedStat;
}

/**
 * `struct drm_mock_scheduler`: a scheduler whose hardware is a timeline of
 * fences under `&sched->lock`. Jobs complete in submission order, in
 * hard-IRQ context (a device interrupt): after their duration, or when the
 * test advances the timeline.
 * @public
 */
export class DrmMockScheduler {
  readonly base: DrmGpuScheduler;
  readonly lock: SpinLock;
  readonly context: bigint;
  seqno = 0n;
  /** Jobs on the hardware, oldest first. */
  readonly jobs: DrmMockSchedJob[] = [];
  #busyUntil = 0;
  readonly #timers = new Set<TimerHandle>();

  constructor(
    readonly kernel: Kernel,
    opts: DrmMockSchedOptions,
  ) {
    this.lock = new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, "mock hw lock", "&sched->lock", MOCK_LOCK_KEY);
    this.context = dmaFenceContextAlloc(kernel, 1);
    this.base = drmSchedInit(kernel, {
      ops: {
        runJob: (job) => this.#runJob(job as DrmMockSchedJob),
        timedoutJob: (job) => (opts.timedoutJob ? opts.timedoutJob(job as DrmMockSchedJob) : this.timedout(job as DrmMockSchedJob)),
        freeJob: (job) => this.freeJob(job as DrmMockSchedJob),
        cancelJob: (job) => {
          const j = job as DrmMockSchedJob;
          this.#signal(j, "ECANCELED", () => (j.cancelled = true));
        },
      },
      creditLimit: opts.creditLimit ?? 0xffff_ffff,
      hangLimit: 1,
      timeoutNs: opts.timeoutNs ?? MAX_SCHEDULE_TIMEOUT,
      name: opts.name ?? "drm-mock-scheduler",
      ...(opts.killJobsVersion ? { killJobsVersion: opts.killJobsVersion } : {}),
    });
  }

  /**
   * `mock_sched_timedout_job()`: no hardware to reset. A job flagged
   * `DONT_RESET` is still running (`NO_HANG`); otherwise its hardware fence
   * signals `-ETIMEDOUT` and the job, no longer needed, is freed here.
   */
  timedout(job: DrmMockSchedJob): DrmGpuSchedStat {
    if (job.flags & DRM_MOCK_SCHED_JOB_DONT_RESET) {
      job.flags |= DRM_MOCK_SCHED_JOB_RESET_SKIPPED;
      return "DRM_GPU_SCHED_STAT_NO_HANG";
    }
    this.#signal(job, "ETIMEDOUT", () => (job.flags |= DRM_MOCK_SCHED_JOB_TIMEDOUT));
    this.freeJob(job);
    return "DRM_GPU_SCHED_STAT_RESET";
  }

  /** `mock_sched_free_job()`. */
  freeJob(job: DrmMockSchedJob): void {
    drmSchedJobCleanup(job);
    dmaFencePut(job.hwFence);
    job.hwFence = undefined;
    job.freed = true;
  }

  #runJob(job: DrmMockSchedJob): DmaFence {
    const k = this.kernel;
    job.runs++;
    // A resubmitted job gets a new hardware fence; the scheduler dropped the old one at drm_sched_stop().
    if (job.hwFence) dmaFencePut(job.hwFence);
    job.hwFence = new DmaFence(k, { getDriverName: () => "drm_mock_sched", getTimelineName: () => "mock_timeline" }, this.lock, this.context, ++this.seqno);
    this.jobs.push(job);
    if (job.durationNs > 0) {
      // The hardware runs jobs back to back; the completion interrupt fires when this one ends.
      this.#busyUntil = Math.max(this.#busyUntil, k.clock.nowNs) + job.durationNs;
      const t = k.sched.raiseIrq(`mock hw job ${job.id}`, () => {
        this.#timers.delete(t);
        this.#completeUpTo(job);
      }, this.#busyUntil - k.clock.nowNs);
      this.#timers.add(t);
    }
    return dmaFenceGet(job.hwFence);
  }

  /** Signals every job up to `job` (in order), under the hardware lock. */
  #completeUpTo(job: DrmMockSchedJob): number {
    let n = 0;
    this.lock.lockIrqsave();
    try {
      while (this.jobs.length && this.jobs[0] !== undefined) {
        const j = this.jobs.shift()!;
        j.flags |= DRM_MOCK_SCHED_JOB_DONE;
        dmaFenceSignalLocked(j.hwFence!);
        n++;
        if (j === job) break;
      }
    } finally {
      this.lock.unlock();
    }
    return n;
  }

  #signal(job: DrmMockSchedJob, err: "ETIMEDOUT" | "ECANCELED", mark: () => void): void {
    this.lock.lockIrqsave();
    try {
      const i = this.jobs.indexOf(job);
      if (i < 0 || job.hwFence?.signaledFlag) return;
      this.jobs.splice(i, 1);
      mark();
      dmaFenceSetError(job.hwFence!, err);
      dmaFenceSignalLocked(job.hwFence!);
    } finally {
      this.lock.unlock();
    }
  }

  /** `drm_mock_sched_advance(sched, num)`: the hardware completes up to `num` jobs now, from its interrupt. */
  advance(num: number): number {
    let done = 0;
    this.kernel.sched.irq(() => {
      while (done < num && this.jobs.length) done += this.#completeUpTo(this.jobs[0]!);
    });
    return done;
  }

  /**
   * The mock hardware is reset (a driver's reset step between
   * `drm_sched_stop()` and `drm_sched_start()`): what it was running is
   * dropped without signalling; returns how many jobs that was.
   */
  reset(): number {
    this._cancelTimers();
    this.lock.lockIrqsave();
    try {
      return this.jobs.splice(0).length;
    } finally {
      this.lock.unlock();
    }
  }

  /** Stops the pending completion interrupts (fini). @internal */
  _cancelTimers(): void {
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
  }
}

const MOCK_LOCK_KEY = { site: "drm_mock_sched_new" };

/** `drm_mock_sched_new(test, timeout)`. @public */
export function drmMockSchedNew(k: Kernel, opts: DrmMockSchedOptions = {}): DrmMockScheduler {
  return new DrmMockScheduler(k, opts);
}

/** `drm_mock_sched_fini()`: `drm_sched_fini()` cancels what the hardware still has. @public */
export function drmMockSchedFini(mock: DrmMockScheduler): void {
  mock._cancelTimers();
  drmSchedFini(mock.base);
}

/** `drm_mock_sched_advance()`. @public */
export function drmMockSchedAdvance(mock: DrmMockScheduler, num: number): number {
  return mock.advance(num);
}

/** `drm_mock_sched_entity_new(test, priority, sched)`. @public */
export function drmMockSchedEntityNew(mock: DrmMockScheduler, priority: number): DrmSchedEntity {
  return drmSchedEntityInit(mock.kernel, priority, [mock.base]);
}

/** `drm_mock_sched_entity_free()`: `drm_sched_entity_destroy()`. @public */
export function drmMockSchedEntityFree(entity: DrmSchedEntity): void {
  drmSchedEntityDestroy(entity);
}

/** `drm_mock_sched_job_new(test, entity)`: one credit. @public */
export function drmMockSchedJobNew(mock: DrmMockScheduler, entity: DrmSchedEntity): DrmMockSchedJob {
  const job = new DrmMockSchedJob(mock);
  drmSchedJobInit(job, entity, 1, null);
  return job;
}

/** `drm_mock_sched_job_set_duration_us()`. @public */
export function drmMockSchedJobSetDurationUs(job: DrmMockSchedJob, us: number): void {
  job.durationNs = us * 1000;
}

/** `drm_mock_sched_job_submit()`: arm and push. @public */
export function drmMockSchedJobSubmit(job: DrmMockSchedJob): void {
  drmSchedJobArm(job);
  job.scheduledFence = job.sFence!.scheduled;
  job.finishedFence = job.sFence!.finished;
  drmSchedEntityPushJob(job);
}

function waitFence(k: Kernel, f: DmaFence | undefined, timeoutNs: number): boolean {
  if (!f) return false;
  return k.clock.waitUntil(() => f.signaledFlag, timeoutNs) > 0;
}

/** `drm_mock_sched_job_wait_scheduled(job, timeout)`. @public */
export function drmMockSchedJobWaitScheduled(job: DrmMockSchedJob, timeoutNs: number): boolean {
  return waitFence(job.mock.kernel, job.scheduledFence, timeoutNs);
}

/** `drm_mock_sched_job_is_finished()`: the mock hardware completed the job. @public */
export function drmMockSchedJobIsFinished(job: DrmMockSchedJob): boolean {
  return (job.flags & DRM_MOCK_SCHED_JOB_DONE) !== 0;
}

/** `drm_mock_sched_job_wait_finished(job, timeout)`: until the mock hardware completes the job (a timed-out job never does). @public */
export function drmMockSchedJobWaitFinished(job: DrmMockSchedJob, timeoutNs: number): boolean {
  if (drmMockSchedJobIsFinished(job)) return true;
  return job.mock.kernel.clock.waitUntil(() => drmMockSchedJobIsFinished(job), timeoutNs) > 0;
}
