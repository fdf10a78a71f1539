// drivers/gpu/drm/scheduler/sched_main.c: job init/dependency errors, work contexts, timeout statuses and reset recovery.
import { describe, expect, it } from "vitest";
import { DmaFence, HZ, KernelError, SpinLock, dmaFenceContextAlloc, dmaFenceGet, dmaFencePut, dmaFenceSignal } from "@dmabuf-sdk/dmabuf-core";
import {
  DRM_SCHED_PRIORITY_KERNEL,
  DRM_SCHED_PRIORITY_NORMAL,
  DrmSchedJob,
  drmSchedEntityInit,
  drmSchedFault,
  drmSchedForEachPendingJob,
  drmSchedIncreaseKarma,
  drmSchedIsStopped,
  drmSchedJobIsSignaled,
  drmSchedPendingJobs,
  drmSchedResubmitJobs,
  drmSchedStart,
  drmSchedStop,
  drmSchedTdrQueueImm,
  drmSchedInit,
  drmSchedJobAddDependency,
  drmSchedJobCleanup,
  drmSchedJobHasDependency,
  drmSchedJobInit,
} from "@dmabuf-sdk/drm";
import {
  bootDrm,
  drmMockSchedAdvance,
  drmMockSchedEntityFree,
  drmMockSchedEntityNew,
  drmMockSchedFini,
  drmMockSchedJobNew,
  drmMockSchedJobSetDurationUs,
  drmMockSchedJobSubmit,
  drmMockSchedJobWaitFinished,
  drmMockSchedJobWaitScheduled,
  drmMockSchedNew,
  type DrmGpuSchedStat,
  type DrmMockSchedJob,
  type DrmMockScheduler,
} from "@dmabuf-sdk/drm/testing";
import type { Kernel } from "@dmabuf-sdk/dmabuf-core";

const JIFFY_NS = 1e9 / HZ;
const jiffies = (n: number): number => n * JIFFY_NS;

function clean(k: ReturnType<typeof bootDrm>): void {
  k.clock.flush();
  expect(k.lockdep.reports().map((r) => r.message.split("\n")[0])).toEqual([]);
  expect(k.warnings()).toEqual([]);
  expect(k.leakReport().text()).toBe("");
}

describe("drm_sched work and contexts", () => {
  it("the scheduler's work runs on its own ordered submit queue's kworker; job completion in hard IRQ", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const job = drmMockSchedJobNew(sched, entity);
    drmMockSchedJobSetDurationUs(job, 10);
    const seen: string[] = [];
    const origRun = sched.base.ops.runJob;
    (sched.base.ops as { runJob: typeof origRun }).runJob = (j) => (seen.push(`run_job on ${k.current.comm}`), origRun(j));
    drmMockSchedJobSubmit(job);
    job.finishedFence!.cbList.push({ func: () => void seen.push(`finished in hardirq=${k.lockdep.inHardirqContext()} on ${k.current.comm}`) });
    drmMockSchedJobWaitFinished(job, jiffies(HZ));
    expect(seen).toEqual(["run_job on kworker/u4:0", "finished in hardirq=true on swapper/0"]);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    clean(k);
  });
});

describe("drm_sched jobs and init", () => {
  it.each([
    { desc: "no run queues", args: { numRqs: 0 } },
    { desc: "zero credit limit", args: { creditLimit: 0 } },
    { desc: "zero timeout", args: { timeoutNs: 0 } },
  ])("drm_sched_init refuses $desc with EINVAL", ({ args }) => {
    const k = bootDrm();
    const base = { ops: { runJob: () => null, timedoutJob: () => "DRM_GPU_SCHED_STAT_RESET" as const, freeJob: () => undefined }, creditLimit: 1, timeoutNs: 1, name: "s" };
    expect(() => drmSchedInit(k, { ...base, ...args })).toThrow(expect.objectContaining({ errno: "EINVAL" }));
  });

  it("drm_sched_job_init: ENOENT for an entity without scheduler, EINVAL for zero credits", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    const orphan = drmSchedEntityInit(k, DRM_SCHED_PRIORITY_NORMAL, []);
    expect(() => drmSchedJobInit(new DrmSchedJob(), orphan, 1, null)).toThrow(expect.objectContaining({ errno: "ENOENT" }));
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    expect(() => drmSchedJobInit(new DrmSchedJob(), entity, 0, null)).toThrow(KernelError);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    clean(k);
  });

  it("drm_sched_job_add_dependency keeps the later fence of a context and consumes every reference", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "producer", "&producer->lock");
    const ctx = dmaFenceContextAlloc(k, 1);
    const ops = { getDriverName: () => "p", getTimelineName: () => "p" };
    const f1 = new DmaFence(k, ops, lock, ctx, 1n);
    const f2 = new DmaFence(k, ops, lock, ctx, 2n);
    const job = drmMockSchedJobNew(sched, entity);
    drmSchedJobAddDependency(job, dmaFenceGet(f1));
    drmSchedJobAddDependency(job, dmaFenceGet(f2));
    drmSchedJobAddDependency(job, dmaFenceGet(f1));
    drmSchedJobAddDependency(job, null);
    expect(drmSchedJobHasDependency(job, f2)).toBe(true);
    expect(drmSchedJobHasDependency(job, f1)).toBe(false);
    expect(f1.refcount).toBe(1);
    drmSchedJobCleanup(job); // aborted before arm
    expect(f2.refcount).toBe(1);
    dmaFenceSignal(f1);
    dmaFenceSignal(f2);
    dmaFencePut(f1);
    dmaFencePut(f2);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    clean(k);
  });

  it("fault injection: the fence allocation of drm_sched_job_init fails with ENOMEM and leaks nothing", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    k.faults.inject({ site: "kzalloc", what: "drm_sched_fence", nth: 1 });
    expect(() => drmSchedJobInit(new DrmSchedJob(), entity, 1, null)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    clean(k);
  });
});

describe("drm_sched timeout handler statuses (drm_sched_job_timedout)", () => {
  const TIMEOUT = jiffies(HZ / 5);

  it.each([
    { status: "DRM_GPU_SCHED_STAT_RESET" as const, calls: ["1", "2"] },
    { status: "DRM_GPU_SCHED_STAT_NONE" as const, calls: ["1", "2"] },
    { status: "DRM_GPU_SCHED_STAT_ENODEV" as const, calls: ["1"] },
    { status: "DRM_GPU_SCHED_STAT_NO_HANG" as const, calls: ["1", "1", "1"] },
  ])("$status: the job is off the pending list during the handler; the timeout re-arms unless ENODEV ($calls)", ({ status, calls }) => {
    const k = bootDrm();
    const seen: string[] = [];
    const sched: DrmMockScheduler = drmMockSchedNew(k, {
      timeoutNs: TIMEOUT,
      timedoutJob: (job) => {
        seen.push(String(job.id));
        expect(drmSchedPendingJobs(sched.base)).not.toContain(job);
        // Without drm_sched_stop() the job is the handler's to free (as the mock's), unless it reports NO_HANG.
        if (status !== "DRM_GPU_SCHED_STAT_NO_HANG") sched.timedout(job);
        return status;
      },
    });
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const jobs = [drmMockSchedJobNew(sched, entity), drmMockSchedJobNew(sched, entity)];
    for (const j of jobs) drmMockSchedJobSubmit(j);
    expect(drmMockSchedJobWaitScheduled(jobs[1]!, jiffies(HZ))).toBe(true);
    k.clock.advance(3 * TIMEOUT + TIMEOUT / 2);
    expect(seen).toEqual(calls);
    if (status === "DRM_GPU_SCHED_STAT_NO_HANG") {
      // Back on the pending list: freed by the scheduler once the hardware completes it.
      expect(drmSchedPendingJobs(sched.base).map((j) => j.id)).toEqual([1n, 2n]);
      expect(drmMockSchedAdvance(sched, 2)).toBe(2);
      k.clock.flush();
      expect(jobs.every((j) => j.freed)).toBe(true);
    }
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    expect(jobs.every((j) => j.freed)).toBe(true);
    clean(k);
  });

  it("drm_sched_fault and drm_sched_tdr_queue_imm run the timeout handler now", () => {
    const k = bootDrm();
    const seen: number[] = [];
    const sched: DrmMockScheduler = drmMockSchedNew(k, {
      timeoutNs: jiffies(10 * HZ),
      timedoutJob: (job) => (seen.push(k.clock.nowNs), sched.timedout(job)),
    });
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const [a, b] = [drmMockSchedJobNew(sched, entity), drmMockSchedJobNew(sched, entity)];
    drmMockSchedJobSubmit(a!);
    drmMockSchedJobSubmit(b!);
    expect(drmMockSchedJobWaitScheduled(b!, jiffies(1))).toBe(true);
    const t0 = k.clock.nowNs;
    drmSchedFault(sched.base);
    k.clock.flush();
    expect(seen).toEqual([t0]);
    drmSchedTdrQueueImm(sched.base);
    k.clock.flush();
    expect(sched.base.timeoutNs).toBe(0);
    expect(seen).toEqual([t0, t0]);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
  });
});

describe("drm_sched reset recovery (drm_sched_stop / drm_sched_start / drm_sched_resubmit_jobs)", () => {
  const TIMEOUT = jiffies(HZ / 5);

  /** Two entities, one job each on the hardware; the first never completes by itself. */
  function twoJobs(timedoutJob: (k: Kernel, sched: DrmMockScheduler, job: DrmMockSchedJob) => DrmGpuSchedStat, guilty?: { value: number }) {
    const k = bootDrm();
    const sched: DrmMockScheduler = drmMockSchedNew(k, { timeoutNs: TIMEOUT, timedoutJob: (job) => timedoutJob(k, sched, job) });
    const bad = drmSchedEntityInit(k, DRM_SCHED_PRIORITY_NORMAL, [sched.base], guilty);
    const good = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const j1 = drmMockSchedJobNew(sched, bad);
    const j2 = drmMockSchedJobNew(sched, good);
    drmMockSchedJobSubmit(j1);
    drmMockSchedJobSubmit(j2);
    expect(drmMockSchedJobWaitScheduled(j2, jiffies(1))).toBe(true);
    const done = (): void => {
      drmMockSchedEntityFree(bad);
      drmMockSchedEntityFree(good);
      drmMockSchedFini(sched);
      clean(k);
    };
    return { k, sched, bad, good, j1, j2, done };
  }

  it("stop, hardware reset, resubmit, start: both jobs run again and complete without error", () => {
    const t = twoJobs((_k, sched, job) => {
      drmSchedStop(sched.base, job);
      // Both jobs were still running: detached from their hardware fences, back on the pending list in order.
      expect(drmSchedPendingJobs(sched.base).map((j) => j.id)).toEqual([1n, 2n]);
      expect(drmSchedPendingJobs(sched.base).every((j) => j.sFence!.parent === null)).toBe(true);
      expect(sched.base.creditCount).toBe(0);
      expect(drmSchedIsStopped(sched.base)).toBe(true);
      drmSchedIncreaseKarma(job);
      expect(sched.reset()).toBe(2);
      drmSchedResubmitJobs(sched.base);
      drmSchedStart(sched.base, 0);
      return "DRM_GPU_SCHED_STAT_RESET";
    });
    t.k.clock.advance(TIMEOUT + 1);
    expect([t.j1.runs, t.j2.runs]).toEqual([2, 2]);
    expect(t.j1.karma).toBe(1);
    expect(drmSchedIsStopped(t.sched.base)).toBe(false);
    expect(t.sched.base.creditCount).toBe(2);
    expect(drmMockSchedAdvance(t.sched, 2)).toBe(2);
    t.k.clock.flush();
    expect([t.j1.finishedFence!.error, t.j2.finishedFence!.error]).toEqual([0, 0]);
    expect([t.j1.freed, t.j2.freed]).toEqual([true, true]);
    t.done();
  });

  it.each([
    { errno: 0, expected: -125 },
    { errno: -5, expected: -5 },
  ])("drm_sched_start(sched, $errno) without resubmission ends every detached job with $expected", ({ errno, expected }) => {
    const t = twoJobs((_k, sched, job) => {
      drmSchedStop(sched.base, job);
      sched.reset();
      drmSchedStart(sched.base, errno);
      return "DRM_GPU_SCHED_STAT_RESET";
    });
    t.k.clock.advance(TIMEOUT + 1);
    expect([t.j1.finishedFence!.error, t.j2.finishedFence!.error]).toEqual([expected, expected]);
    expect([t.j1.runs, t.j2.runs]).toEqual([1, 1]);
    t.k.clock.flush();
    expect([t.j1.freed, t.j2.freed]).toEqual([true, true]);
    t.done();
  });

  it("a bad job that completed before drm_sched_stop() is freed once, by the timeout handler (free_guilty)", () => {
    const frees: bigint[] = [];
    const t = twoJobs((_k, sched, job) => {
      // The hardware finishes both jobs while the handler runs.
      expect(drmMockSchedAdvance(sched, 2)).toBe(2);
      const origFree = sched.base.ops.freeJob;
      (sched.base.ops as { freeJob: typeof origFree }).freeJob = (j) => (frees.push(j.id), origFree(j));
      drmSchedStop(sched.base, job);
      // The other finished job is freed by drm_sched_stop(); the bad one is kept for the handler.
      expect(frees).toEqual([2n]);
      expect(sched.base.freeGuilty).toBe(true);
      drmSchedStart(sched.base, 0);
      return "DRM_GPU_SCHED_STAT_RESET";
    });
    t.k.clock.advance(TIMEOUT + 1);
    expect(frees).toEqual([2n, 1n]);
    expect(t.sched.base.freeGuilty).toBe(false);
    expect([t.j1.finishedFence!.error, t.j2.finishedFence!.error]).toEqual([0, 0]);
    t.done();
  });

  it("hang_limit: a job hanging more often than the limit has its context's jobs cancelled by drm_sched_resubmit_jobs", () => {
    let hangs = 0;
    const t = twoJobs((_k, sched, job) => {
      drmSchedStop(sched.base, job);
      drmSchedIncreaseKarma(job);
      hangs++;
      sched.reset();
      drmSchedResubmitJobs(sched.base);
      drmSchedStart(sched.base, 0);
      return "DRM_GPU_SCHED_STAT_RESET";
    });
    // hang_limit is 1 (the mock's): the second hang (karma 2 > 1) marks j1's context guilty.
    t.k.clock.advance(TIMEOUT + 1);
    expect(t.j1.finishedFence!.error).toBe(0);
    t.k.clock.advance(TIMEOUT);
    expect(hangs).toBe(2);
    expect(t.j1.karma).toBe(2);
    expect(t.j1.finishedFence!.error).toBe(-125);
    // The other context is innocent: its job runs again without an error.
    expect(t.j2.finishedFence!.error).toBe(0);
    expect(drmMockSchedAdvance(t.sched, 2)).toBe(2);
    t.k.clock.flush();
    expect([t.j1.runs, t.j2.runs]).toEqual([3, 3]);
    t.done();
  });

  it("drm_sched_increase_karma marks the entity guilty: its later jobs finish with -ECANCELED; kernel-queue jobs are never blamed", () => {
    const guilty = { value: 0 };
    const t = twoJobs((_k, sched, job) => {
      drmSchedStop(sched.base, job);
      drmSchedIncreaseKarma(job);
      sched.reset();
      drmSchedStart(sched.base, -5);
      return "DRM_GPU_SCHED_STAT_RESET";
    }, guilty);
    t.k.clock.advance(TIMEOUT + 1);
    expect(guilty.value).toBe(1);
    const later = drmMockSchedJobNew(t.sched, t.bad);
    drmMockSchedJobSubmit(later);
    expect(drmMockSchedJobWaitScheduled(later, jiffies(1))).toBe(true);
    expect(drmMockSchedAdvance(t.sched, 1)).toBe(1);
    expect(later.finishedFence!.error).toBe(-125);
    // A job of the kernel run queue: karma and guilt untouched.
    const kguilty = { value: 0 };
    const kent = drmSchedEntityInit(t.k, DRM_SCHED_PRIORITY_KERNEL, [t.sched.base], kguilty);
    const kjob = drmMockSchedJobNew(t.sched, kent);
    drmMockSchedJobSubmit(kjob);
    expect(drmMockSchedJobWaitScheduled(kjob, jiffies(1))).toBe(true);
    drmSchedIncreaseKarma(kjob);
    expect([kjob.karma, kguilty.value]).toEqual([0, 0]);
    expect(drmMockSchedAdvance(t.sched, 1)).toBe(1);
    drmMockSchedEntityFree(kent);
    t.done();
  });

  it("drm_sched_for_each_pending_job and drm_sched_job_is_signaled: the stopped scheduler's pending jobs; WARN when not stopped", () => {
    const t = twoJobs((_k, sched, job) => {
      drmSchedStop(sched.base, job);
      expect([...drmSchedForEachPendingJob(sched.base)].map((j) => j.id)).toEqual([1n, 2n]);
      expect(drmSchedJobIsSignaled(job)).toBe(false);
      sched.reset();
      drmSchedStart(sched.base, 0);
      return "DRM_GPU_SCHED_STAT_RESET";
    });
    t.k.clock.advance(TIMEOUT + 1);
    expect(t.k.warnings()).toEqual([]);
    expect([...drmSchedForEachPendingJob(t.sched.base)]).toEqual([]);
    expect(t.k.warnings().map((w) => w.split("\n")[0])).toEqual([
      expect.stringContaining("drm_sched_for_each_pending_job: WARN_ON(!drm_sched_is_stopped(sched))"),
      expect.stringContaining("drm_sched_for_each_pending_job: WARN_ON(!drm_sched_is_stopped(sched))"),
    ]);
    drmMockSchedEntityFree(t.bad);
    drmMockSchedEntityFree(t.good);
    drmMockSchedFini(t.sched);
  });
});
