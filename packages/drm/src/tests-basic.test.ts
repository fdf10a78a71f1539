// Port of drivers/gpu/drm/scheduler/tests/tests_basic.c (kunit suites and case names kept) on the mock scheduler.
import { describe, expect, it } from "vitest";
import { HZ, MAX_SCHEDULE_TIMEOUT, allocWorkqueue, destroyWorkqueue, dmaFenceGet, dmaFencePut, flushWorkqueue, initWork, queueWork } from "@dmabuf-sdk/dmabuf-core";
import {
  DRM_SCHED_PRIORITY_COUNT,
  DRM_SCHED_PRIORITY_KERNEL,
  DRM_SCHED_PRIORITY_LOW,
  DRM_SCHED_PRIORITY_NORMAL,
  drmSchedEntityModifySched,
  drmSchedEntitySetPriority,
  drmSchedJobAddDependency,
} from "@dmabuf-sdk/drm";
import {
  DRM_MOCK_SCHED_JOB_DONT_RESET,
  DRM_MOCK_SCHED_JOB_RESET_SKIPPED,
  DRM_MOCK_SCHED_JOB_TIMEDOUT,
  bootDrm,
  drmMockSchedAdvance,
  drmMockSchedEntityFree,
  drmMockSchedEntityNew,
  drmMockSchedFini,
  drmMockSchedJobIsFinished,
  drmMockSchedJobNew,
  drmMockSchedJobSetDurationUs,
  drmMockSchedJobSubmit,
  drmMockSchedJobWaitFinished,
  drmMockSchedJobWaitScheduled,
  drmMockSchedNew,
  type DrmMockSchedJob,
  type DrmMockScheduler,
} from "@dmabuf-sdk/drm/testing";
import type { Kernel } from "@dmabuf-sdk/dmabuf-core";

const JIFFY_NS = 1e9 / HZ;
/** Kernel timeouts are in jiffies. */
const jiffies = (n: number): number => n * JIFFY_NS;
const MOCK_TIMEOUT = HZ / 5;

/** `usleep_range(min, max)` of the test task: virtual time passes while the scheduler, kworkers and IRQs run. */
function usleep(k: Kernel, us: number): void {
  k.clock.waitUntil(() => false, us * 1000);
}

/** After the suite's exit: every deferred item ran, and nothing was reported or leaked. */
function clean(k: Kernel): void {
  k.clock.flush();
  expect(k.lockdep.reports().map((r) => r.message.split("\n")[0])).toEqual([]);
  expect(k.warnings()).toEqual([]);
  expect(k.leakReport().text()).toBe("");
}

/** A suite's `.init` (a mock scheduler with `timeout`) and `.exit` (`drm_mock_sched_fini`) around a case. */
function withMock(timeout: number, body: (k: Kernel, sched: DrmMockScheduler) => void): void {
  const k = bootDrm();
  const sched = drmMockSchedNew(k, { timeoutNs: timeout === MAX_SCHEDULE_TIMEOUT ? MAX_SCHEDULE_TIMEOUT : jiffies(timeout) });
  body(k, sched);
  drmMockSchedFini(sched);
  clean(k);
}

describe("drm_sched_basic_tests", () => {
  it("drm_sched_basic_submit", () => {
    withMock(MAX_SCHEDULE_TIMEOUT, (_k, sched) => {
      const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
      const job = drmMockSchedJobNew(sched, entity);
      drmMockSchedJobSubmit(job);
      expect(drmMockSchedJobWaitScheduled(job, jiffies(HZ))).toBe(true);
      expect(drmMockSchedJobWaitFinished(job, jiffies(HZ / 2))).toBe(false);
      expect(drmMockSchedAdvance(sched, 1)).toBe(1);
      expect(drmMockSchedJobWaitFinished(job, jiffies(HZ))).toBe(true);
      drmMockSchedEntityFree(entity);
    });
  });

  it.each([
    { description: "A queue of jobs in a single entity", queueDepth: 100, jobUs: 1000, numEntities: 1, depChain: false },
    { description: "A chain of dependent jobs across multiple entities", queueDepth: 100, jobUs: 1000, numEntities: 1, depChain: true },
    { description: "Multiple independent job queues", queueDepth: 100, jobUs: 1000, numEntities: 4, depChain: false },
    { description: "Multiple inter-dependent job queues", queueDepth: 100, jobUs: 1000, numEntities: 4, depChain: true },
  ])("drm_sched_basic_test: $description", ({ queueDepth, jobUs, numEntities, depChain }) => {
    withMock(MAX_SCHEDULE_TIMEOUT, (k, sched) => {
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
      // The mock hardware runs the jobs back to back.
      expect(k.clock.nowNs).toBe(queueDepth * jobUs * 1000);
      for (const e of entities) drmMockSchedEntityFree(e);
    });
  });

  it("drm_sched_basic_entity_cleanup", () => {
    const jobs: DrmMockSchedJob[] = [];
    withMock(MAX_SCHEDULE_TIMEOUT, (_k, sched) => {
      const entities = Array.from({ length: 4 }, () => drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL));
      let prev: DrmMockSchedJob | undefined;
      let mid: DrmMockSchedJob | undefined;
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
    });
    // The exit's drm_sched_fini() cancelled what the hardware still had; every job was freed.
    expect(jobs.filter((j) => !j.freed)).toEqual([]);
    expect(jobs.slice(0, 51).every((j) => j.finishedFence!.error === 0)).toBe(true);
  });
});

describe("drm_sched_concurrent_tests", () => {
  it.each([{ description: "Parallel submission of multiple jobs per worker", numJobs: 8, numWorkers: 16 }])(
    "drm_sched_parallel_submit_test: $description",
    ({ numJobs, numWorkers }) => {
      withMock(MAX_SCHEDULE_TIMEOUT, (k, sched) => {
        // An unbound queue to spread the submitters over kworkers.
        const subWq = allocWorkqueue(k, "drm-sched-submitters-wq", { unbound: true });
        const workers = Array.from({ length: numWorkers }, (_, id) => {
          const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
          const jobs = Array.from({ length: numJobs }, () => drmMockSchedJobNew(sched, entity));
          return { id, entity, jobs, ranOn: "" };
        });
        for (const w of workers) {
          const work = initWork(k, "&worker->work", () => {
            w.ranOn = k.current.comm;
            for (const j of w.jobs) drmMockSchedJobSubmit(j);
          });
          queueWork(subWq, work);
        }
        flushWorkqueue(subWq);
        expect(workers.every((w) => w.ranOn.startsWith("kworker/u"))).toBe(true);
        for (const w of workers) for (const j of w.jobs) expect(drmMockSchedJobWaitScheduled(j, jiffies(HZ))).toBe(true);
        expect(drmMockSchedAdvance(sched, numWorkers * numJobs)).toBe(numWorkers * numJobs);
        for (const w of workers) for (const j of w.jobs) expect(drmMockSchedJobWaitFinished(j, jiffies(HZ))).toBe(true);
        for (const w of workers) drmMockSchedEntityFree(w.entity);
        destroyWorkqueue(subWq);
      });
    },
  );

  it.each([{ description: "Interleaved submission of multiple jobs per worker", testDurationMs: 1000, jobBaseDurationUs: 100, numWorkers: 16, numInFlightJobs: 8 }])(
    "drm_sched_interleaved_submit_test: $description",
    ({ testDurationMs, jobBaseDurationUs, numWorkers, numInFlightJobs }) => {
      withMock(MAX_SCHEDULE_TIMEOUT, (k, sched) => {
        const subWq = allocWorkqueue(k, "drm-sched-submitters-wq", { unbound: true });
        // The test time is shared equally among the workers; each submits jobs of (id + 1) base durations.
        const shareUs = (testDurationMs * 1000) / numWorkers;
        const workers = Array.from({ length: numWorkers }, (_, id) => {
          const durationUs = jobBaseDurationUs * (id + 1);
          const count = Math.max(1, Math.floor(shareUs / durationUs));
          const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
          const jobs = Array.from({ length: count }, () => {
            const j = drmMockSchedJobNew(sched, entity);
            drmMockSchedJobSetDurationUs(j, durationUs);
            return j;
          });
          return { id, entity, jobs };
        });
        for (const w of workers) {
          queueWork(
            subWq,
            initWork(k, "&worker->work", () => {
              // Fill the submission window, then keep it full: one new job per finished one.
              const window = Math.min(w.jobs.length, numInFlightJobs);
              for (let i = 0; i < window; i++) drmMockSchedJobSubmit(w.jobs[i]!);
              for (let i = 0; i < w.jobs.length; i++) {
                drmMockSchedJobWaitFinished(w.jobs[i]!, jiffies((testDurationMs * 2 * HZ) / 1000));
                if (i + window < w.jobs.length) drmMockSchedJobSubmit(w.jobs[i + window]!);
              }
            }),
          );
        }
        flushWorkqueue(subWq);
        for (const w of workers) for (const j of w.jobs) expect(drmMockSchedJobIsFinished(j)).toBe(true);
        for (const w of workers) drmMockSchedEntityFree(w.entity);
        destroyWorkqueue(subWq);
      });
    },
  );
});

describe("drm_sched_basic_timeout_tests", () => {
  it("drm_sched_basic_timeout", () => {
    withMock(MOCK_TIMEOUT, (_k, sched) => {
      const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
      const job = drmMockSchedJobNew(sched, entity);
      drmMockSchedJobSubmit(job);
      expect(drmMockSchedJobWaitScheduled(job, jiffies(HZ))).toBe(true);
      expect(drmMockSchedJobWaitFinished(job, jiffies(MOCK_TIMEOUT / 2))).toBe(false);
      expect(job.flags & DRM_MOCK_SCHED_JOB_TIMEDOUT).toBe(0);
      expect(drmMockSchedJobWaitFinished(job, jiffies(MOCK_TIMEOUT))).toBe(false);
      expect(job.flags & DRM_MOCK_SCHED_JOB_TIMEDOUT).toBe(DRM_MOCK_SCHED_JOB_TIMEDOUT);
      // The handler freed the job; its finished fence carries the hardware error.
      expect(job.freed).toBe(true);
      expect(job.finishedFence!.error).toBe(-110); // -ETIMEDOUT
      drmMockSchedEntityFree(entity);
    });
  });

  it("drm_sched_skip_reset", () => {
    withMock(MOCK_TIMEOUT, (_k, sched) => {
      const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
      const job = drmMockSchedJobNew(sched, entity);
      job.flags = DRM_MOCK_SCHED_JOB_DONT_RESET;
      drmMockSchedJobSubmit(job);
      expect(drmMockSchedJobWaitScheduled(job, jiffies(HZ))).toBe(true);
      expect(drmMockSchedJobWaitFinished(job, jiffies(2 * MOCK_TIMEOUT))).toBe(false);
      expect(job.flags & DRM_MOCK_SCHED_JOB_RESET_SKIPPED).toBe(DRM_MOCK_SCHED_JOB_RESET_SKIPPED);
      expect(drmMockSchedAdvance(sched, 1)).toBe(1);
      expect(drmMockSchedJobWaitFinished(job, jiffies(HZ))).toBe(true);
      // NO_HANG put the job back on the pending list: the scheduler frees it once done.
      drmMockSchedEntityFree(entity);
      expect(job.freed).toBe(true);
    });
  });
});

describe("drm_sched_basic_cancel_tests", () => {
  it("drm_sched_basic_cancel", () => {
    let hwError = 0;
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const job = drmMockSchedJobNew(sched, entity);
    drmMockSchedJobSubmit(job);
    expect(drmMockSchedJobWaitScheduled(job, jiffies(HZ))).toBe(true);
    const hw = dmaFenceGet(job.hwFence!);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    hwError = hw.error;
    dmaFencePut(hw);
    expect(hwError).toBe(-125); // -ECANCELED
    expect(job.cancelled).toBe(true);
    clean(k);
  });
});

describe("drm_sched_basic_priority_tests", () => {
  it("drm_sched_priorities", () => {
    withMock(MAX_SCHEDULE_TIMEOUT, (_k, sched) => {
      const entities = Array.from({ length: DRM_SCHED_PRIORITY_COUNT }, (_, p) => drmMockSchedEntityNew(sched, p));
      let job: DrmMockSchedJob | undefined;
      for (let i = 0; i < 100; i++) {
        job = drmMockSchedJobNew(sched, entities[i % DRM_SCHED_PRIORITY_COUNT]!);
        drmMockSchedJobSetDurationUs(job, 1000);
        drmMockSchedJobSubmit(job);
      }
      expect(drmMockSchedJobWaitFinished(job!, jiffies(HZ))).toBe(true);
      for (const e of entities) drmMockSchedEntityFree(e);
    });
  });

  it("drm_sched_change_priority", () => {
    withMock(MAX_SCHEDULE_TIMEOUT, (k, sched) => {
      const entities = Array.from({ length: DRM_SCHED_PRIORITY_COUNT }, (_, p) => drmMockSchedEntityNew(sched, p));
      let job: DrmMockSchedJob | undefined;
      let cur = 0;
      for (let i = 0; i < 1000; i++) {
        job = drmMockSchedJobNew(sched, entities[cur++]!);
        cur %= DRM_SCHED_PRIORITY_COUNT;
        drmMockSchedJobSetDurationUs(job, 1000);
        drmMockSchedJobSubmit(job);
      }
      do {
        const e = entities[cur]!;
        drmSchedEntitySetPriority(e, (e.priority + 1) % DRM_SCHED_PRIORITY_COUNT);
        cur = (cur + 1) % DRM_SCHED_PRIORITY_COUNT;
        usleep(k, 200);
      } while (!drmMockSchedJobIsFinished(job!));
      expect(entities.map((e) => e.priority).every((p) => p >= DRM_SCHED_PRIORITY_KERNEL && p <= DRM_SCHED_PRIORITY_LOW)).toBe(true);
      for (const e of entities) drmMockSchedEntityFree(e);
    });
  });
});

describe("drm_sched_basic_modify_sched_tests", () => {
  it("drm_sched_test_modify_sched", () => {
    const k = bootDrm();
    const scheds = Array.from({ length: 3 }, (_, i) => drmMockSchedNew(k, { name: `drm-mock-scheduler-${i}` }));
    const entities = Array.from({ length: 13 }, (_, i) => drmMockSchedEntityNew(scheds[i % 3]!, DRM_SCHED_PRIORITY_NORMAL));
    let job: DrmMockSchedJob | undefined;
    const jobs: DrmMockSchedJob[] = [];
    for (let i = 0; i < 1000; i++) {
      job = drmMockSchedJobNew(scheds[i % 3]!, entities[i % 13]!);
      drmMockSchedJobSetDurationUs(job, 1000);
      drmMockSchedJobSubmit(job);
      jobs.push(job);
    }
    let curEnt = 0;
    let curSched = 0;
    do {
      usleep(k, 200);
      curEnt = (curEnt + 1) % 13;
      curSched = (curSched + 1) % 3;
      drmSchedEntityModifySched(entities[curEnt]!, [scheds[curSched]!.base]);
    } while (!drmMockSchedJobIsFinished(job!));
    for (const e of entities) drmMockSchedEntityFree(e);
    for (const s of scheds) drmMockSchedFini(s);
    expect(jobs.filter((j) => !j.freed)).toEqual([]);
    clean(k);
  });
});

describe("drm_sched_basic_credits_tests", () => {
  it("drm_sched_test_credits", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k);
    sched.base.creditLimit = 1;
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const job = [drmMockSchedJobNew(sched, entity), drmMockSchedJobNew(sched, entity)] as const;
    drmMockSchedJobSubmit(job[0]);
    drmMockSchedJobSubmit(job[1]);
    expect(drmMockSchedJobWaitScheduled(job[0], jiffies(HZ))).toBe(true);
    expect(drmMockSchedJobWaitScheduled(job[1], jiffies(HZ))).toBe(false);
    expect(drmMockSchedAdvance(sched, 1)).toBe(1);
    expect(drmMockSchedJobWaitScheduled(job[1], jiffies(HZ))).toBe(true);
    expect(drmMockSchedAdvance(sched, 1)).toBe(1);
    expect(drmMockSchedJobWaitFinished(job[1], jiffies(HZ))).toBe(true);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
    clean(k);
  });
});
