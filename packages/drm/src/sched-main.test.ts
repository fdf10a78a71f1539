// Ports of drivers/gpu/drm/scheduler/tests/tests_basic.c (drm_sched_basic_tests) plus job/init error paths.
import { describe, expect, it } from "vitest";
import { DmaFence, HZ, KernelError, SpinLock, dmaFenceContextAlloc, dmaFenceGet, dmaFencePut, dmaFenceSignal } from "@dmabuf-sdk/dmabuf-core";
import {
  DRM_SCHED_PRIORITY_NORMAL,
  DrmSchedJob,
  drmSchedEntityInit,
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
  type DrmMockSchedJob,
} from "@dmabuf-sdk/drm/testing";

const JIFFY_NS = 1e9 / HZ;
const jiffies = (n: number): number => n * JIFFY_NS;

function clean(k: ReturnType<typeof bootDrm>): void {
  k.clock.flush();
  expect(k.lockdep.reports().map((r) => r.message.split("\n")[0])).toEqual([]);
  expect(k.warnings()).toEqual([]);
  expect(k.leakReport().text()).toBe("");
}

describe("drm_sched_basic_tests", () => {
  it("drm_sched_basic_submit", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const job = drmMockSchedJobNew(sched, entity);
    drmMockSchedJobSubmit(job);
    expect(drmMockSchedJobWaitScheduled(job, jiffies(HZ))).toBe(true);
    expect(drmMockSchedJobWaitFinished(job, jiffies(HZ / 2))).toBe(false);
    expect(drmMockSchedAdvance(sched, 1)).toBe(1);
    expect(drmMockSchedJobWaitFinished(job, jiffies(HZ))).toBe(true);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    expect(job.freed).toBe(true);
    clean(k);
  });

  it.each([
    { description: "A queue of jobs in a single entity", queueDepth: 100, jobUs: 1000, numEntities: 1, depChain: false },
    { description: "A chain of dependent jobs across multiple entities", queueDepth: 100, jobUs: 1000, numEntities: 1, depChain: true },
    { description: "Multiple independent job queues", queueDepth: 100, jobUs: 1000, numEntities: 4, depChain: false },
    { description: "Multiple inter-dependent job queues", queueDepth: 100, jobUs: 1000, numEntities: 4, depChain: true },
  ])("drm_sched_basic_test: $description", ({ queueDepth, jobUs, numEntities, depChain }) => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    const entities = Array.from({ length: numEntities }, () => drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL));
    let prev: DrmMockSchedJob | undefined;
    let job: DrmMockSchedJob | undefined;
    for (let i = 0; i < queueDepth; i++) {
      job = drmMockSchedJobNew(sched, entities[i % numEntities]!);
      drmMockSchedJobSetDurationUs(job, jobUs);
      if (depChain && prev) drmSchedJobAddDependency(job, dmaFenceGet(prev.finishedFence!));
      drmMockSchedJobSubmit(job);
      prev = job;
    }
    expect(drmMockSchedJobWaitFinished(job!, jiffies(HZ))).toBe(true);
    // 100 jobs of 1 ms each, back to back on the mock hardware
    expect(k.clock.nowNs).toBe(queueDepth * jobUs * 1000);
    for (const e of entities) drmMockSchedEntityFree(e);
    drmMockSchedFini(sched);
    clean(k);
  });

  it("drm_sched_basic_entity_cleanup", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    const entities = Array.from({ length: 4 }, () => drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL));
    let prev: DrmMockSchedJob | undefined;
    let mid: DrmMockSchedJob | undefined;
    const jobs: DrmMockSchedJob[] = [];
    for (let i = 0; i < 100; i++) {
      const job = drmMockSchedJobNew(sched, entities[i % 4]!);
      drmMockSchedJobSetDurationUs(job, 1000);
      if (prev) drmSchedJobAddDependency(job, dmaFenceGet(prev.finishedFence!));
      drmMockSchedJobSubmit(job);
      if (i === 50) mid = job;
      prev = job;
      jobs.push(job);
    }
    expect(drmMockSchedJobWaitFinished(mid!, jiffies(HZ))).toBe(true);
    // Exit with half of the queue still pending to be executed.
    for (const e of entities) drmMockSchedEntityFree(e);
    drmMockSchedFini(sched);
    k.clock.flush();
    // drm_sched_entity_destroy() of a live process flushes: every queued job still reaches the hardware; what the
    // hardware has not finished at drm_sched_fini() is cancelled. Every job is freed.
    expect(jobs.filter((j) => !j.freed)).toEqual([]);
    expect(new Set(jobs.map((j) => j.finishedFence!.error))).toEqual(new Set([0, -125]));
    expect(jobs.slice(0, 51).every((j) => j.finishedFence!.error === 0)).toBe(true);
    clean(k);
  });

  it("drm_sched_basic_cancel: drm_sched_fini() cancels what the hardware still has", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const job = drmMockSchedJobNew(sched, entity);
    drmMockSchedJobSubmit(job);
    expect(drmMockSchedJobWaitScheduled(job, jiffies(HZ))).toBe(true);
    const hw = dmaFenceGet(job.hwFence!);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    expect(hw.error).toBe(-125); // -ECANCELED
    expect(job.cancelled).toBe(true);
    dmaFencePut(hw);
    clean(k);
  });

  it("drm_sched_basic_timeout: a job the hardware never finishes times out once; the driver resets it", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k, { timeoutNs: jiffies(HZ / 5) });
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const job = drmMockSchedJobNew(sched, entity);
    drmMockSchedJobSubmit(job);
    expect(drmMockSchedJobWaitScheduled(job, jiffies(HZ))).toBe(true);
    expect(drmMockSchedJobWaitFinished(job, jiffies(2 * (HZ / 5)))).toBe(true);
    expect(job.timedout).toBe(true);
    expect(job.karma).toBe(1);
    expect(job.finishedFence!.error).toBe(-110); // -ETIMEDOUT from the hardware fence
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    clean(k);
  });

  it("drm_sched_test_credits: a job runs only when the credit limit allows", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k, { creditLimit: 1 });
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const [a, b] = [drmMockSchedJobNew(sched, entity), drmMockSchedJobNew(sched, entity)];
    drmMockSchedJobSubmit(a!);
    drmMockSchedJobSubmit(b!);
    expect(drmMockSchedJobWaitScheduled(a!, jiffies(HZ))).toBe(true);
    expect(drmMockSchedJobWaitScheduled(b!, jiffies(HZ))).toBe(false);
    expect(drmMockSchedAdvance(sched, 1)).toBe(1);
    expect(drmMockSchedJobWaitScheduled(b!, jiffies(HZ))).toBe(true);
    expect(drmMockSchedAdvance(sched, 1)).toBe(1);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    clean(k);
  });

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
    expect(f1._ref.refcount).toBe(1);
    drmSchedJobCleanup(job); // aborted before arm
    expect(f2._ref.refcount).toBe(1);
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
