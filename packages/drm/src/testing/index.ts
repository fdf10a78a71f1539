// Fixtures for tests of the DRM core and of the drivers built on it; the mock scheduler follows
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
  type DrmSchedKillVersion,
} from "../sched-main.js";
import { drmSchedEntityDestroy, drmSchedEntityInit, drmSchedEntityPushJob, type DrmSchedEntity } from "../sched-entity.js";

export type { DrmGpuScheduler, DrmSchedJob, DrmSchedKillVersion, DrmSchedInitArgs, DrmSchedBackendOps, DrmSchedRq, DrmGpuSchedStat } from "../sched-main.js";
export type { DrmSchedFence } from "../sched-fence.js";
export type { DrmSchedEntity } from "../sched-entity.js";

/** A kernel with the DRM core module loaded. */
export function bootDrm(opts: Partial<KernelOptions> = {}): Kernel {
  const k = new Kernel(opts);
  k.modprobe(drmModule);
  return k;
}

/** `struct drm_mock_sched_job`. */
export class DrmMockSchedJob extends DrmSchedJob {
  hwFence: DmaFence | undefined;
  /** Virtual time the mock hardware takes for the job; 0: until {@link drmMockSchedAdvance}. */
  durationNs = 0;
  timedout = false;
  cancelled = false;
  freed = false;
  /** The job's fences as submitted (the test keeps looking at them after `free_job`, as the kunit mock does). */
  scheduledFence: DmaFence | undefined;
  finishedFence: DmaFence | undefined;
  constructor(readonly mock: DrmMockScheduler) {
    super();
  }
}

/** Options of {@link drmMockSchedNew}. */
export interface DrmMockSchedOptions {
  readonly timeoutNs?: number;
  readonly killJobsVersion?: DrmSchedKillVersion;
  readonly creditLimit?: number;
  readonly name?: string;
}

/**
 * `struct drm_mock_scheduler`: a scheduler whose hardware is a timeline of
 * fences under `&sched->lock`. Jobs complete in submission order, in
 * hard-IRQ context (a device interrupt): after their duration, or when the
 * test advances the timeline.
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
        timedoutJob: (job) => {
          const j = job as DrmMockSchedJob;
          this.#signal(j, "ETIMEDOUT", () => (j.timedout = true));
          return "DRM_GPU_SCHED_STAT_RESET";
        },
        freeJob: (job) => {
          const j = job as DrmMockSchedJob;
          drmSchedJobCleanup(j);
          dmaFencePut(j.hwFence);
          j.hwFence = undefined;
          j.freed = true;
        },
        cancelJob: (job) => {
          const j = job as DrmMockSchedJob;
          this.#signal(j, "ECANCELED", () => (j.cancelled = true));
        },
      },
      creditLimit: opts.creditLimit ?? 0xffff_ffff,
      timeoutNs: opts.timeoutNs ?? MAX_SCHEDULE_TIMEOUT,
      name: opts.name ?? "drm-mock-scheduler",
      ...(opts.killJobsVersion ? { killJobsVersion: opts.killJobsVersion } : {}),
    });
  }

  #runJob(job: DrmMockSchedJob): DmaFence {
    const k = this.kernel;
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

  /** Stops the pending completion interrupts (fini). */
  _cancelTimers(): void {
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
  }
}

const MOCK_LOCK_KEY = { site: "drm_mock_sched_new" };

/** `drm_mock_sched_new(test, timeout)`. */
export function drmMockSchedNew(k: Kernel, opts: DrmMockSchedOptions = {}): DrmMockScheduler {
  return new DrmMockScheduler(k, opts);
}

/** `drm_mock_sched_fini()`: `drm_sched_fini()` cancels what the hardware still has. */
export function drmMockSchedFini(mock: DrmMockScheduler): void {
  mock._cancelTimers();
  drmSchedFini(mock.base);
}

/** `drm_mock_sched_advance()`. */
export function drmMockSchedAdvance(mock: DrmMockScheduler, num: number): number {
  return mock.advance(num);
}

/** `drm_mock_sched_entity_new(test, priority, sched)`. */
export function drmMockSchedEntityNew(mock: DrmMockScheduler, priority: number): DrmSchedEntity {
  return drmSchedEntityInit(mock.kernel, priority, [mock.base]);
}

/** `drm_mock_sched_entity_free()`: `drm_sched_entity_destroy()`. */
export function drmMockSchedEntityFree(entity: DrmSchedEntity): void {
  drmSchedEntityDestroy(entity);
}

/** `drm_mock_sched_job_new(test, entity)`: one credit. */
export function drmMockSchedJobNew(mock: DrmMockScheduler, entity: DrmSchedEntity): DrmMockSchedJob {
  const job = new DrmMockSchedJob(mock);
  drmSchedJobInit(job, entity, 1, null);
  return job;
}

/** `drm_mock_sched_job_set_duration_us()`. */
export function drmMockSchedJobSetDurationUs(job: DrmMockSchedJob, us: number): void {
  job.durationNs = us * 1000;
}

/** `drm_mock_sched_job_submit()`: arm and push. */
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

/** `drm_mock_sched_job_wait_scheduled(job, timeout)`. */
export function drmMockSchedJobWaitScheduled(job: DrmMockSchedJob, timeoutNs: number): boolean {
  return waitFence(job.mock.kernel, job.scheduledFence, timeoutNs);
}

/** `drm_mock_sched_job_wait_finished(job, timeout)`. */
export function drmMockSchedJobWaitFinished(job: DrmMockSchedJob, timeoutNs: number): boolean {
  return waitFence(job.mock.kernel, job.finishedFence, timeoutNs);
}
