// The entity kill path in both forms: the Oct 2025 drm_sched_entity_kill_jobs_cb inversion (fixed by 487df8b69834).
import { describe, expect, it } from "vitest";
import { DmaFence, SpinLock, dmaFenceContextAlloc, dmaFenceGet, dmaFencePut, dmaFenceSignal, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import { DRM_SCHED_PRIORITY_NORMAL, drmSchedEntityFini, drmSchedEntityFlush, drmSchedJobAddDependency, type DrmSchedKillVersion } from "@dmabuf-sdk/drm";
import {
  bootDrm,
  drmMockSchedEntityNew,
  drmMockSchedFini,
  drmMockSchedJobNew,
  drmMockSchedJobSetDurationUs,
  drmMockSchedJobSubmit,
  drmMockSchedJobWaitFinished,
  drmMockSchedNew,
  type DrmMockScheduler,
} from "@dmabuf-sdk/drm/testing";

const SEC = 1e9;

/** A producer's fence (another driver's timeline, its own lock class). */
function producerFence(k: Kernel, seqno: bigint): DmaFence {
  const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "producer", "&producer->lock");
  return new DmaFence(k, { getDriverName: () => "producer", getTimelineName: () => "p" }, lock, dmaFenceContextAlloc(k, 1), seqno);
}

/**
 * The kill scenario of the report (Mesa issue 13908): a process is killed
 * with two jobs queued on its entity, each waiting for a producer fence.
 * J0 ran before (its completion, in hard IRQ, made `&fence->lock`
 * IRQ-safe); adding the dependencies made the job xarray's `xa_lock`
 * IRQ-unsafe. The kill kills J1 at once; J2 waits for J1's finished fence,
 * which `kill_jobs_work` signals from a kworker — in process context.
 */
function killScenario(version: DrmSchedKillVersion): { k: Kernel; mock: DrmMockScheduler; events: string[] } {
  const k = bootDrm();
  const mock = drmMockSchedNew(k, { killJobsVersion: version });
  const entity = drmMockSchedEntityNew(mock, DRM_SCHED_PRIORITY_NORMAL);
  const events: string[] = [];
  const j0 = drmMockSchedJobNew(mock, entity);
  drmMockSchedJobSetDurationUs(j0, 100);
  drmMockSchedJobSubmit(j0);
  expect(drmMockSchedJobWaitFinished(j0, SEC)).toBe(true);

  const d1 = producerFence(k, 1n);
  const d2 = producerFence(k, 1n);
  const j1 = drmMockSchedJobNew(mock, entity);
  drmSchedJobAddDependency(j1, dmaFenceGet(d1));
  drmMockSchedJobSubmit(j1);
  const j2 = drmMockSchedJobNew(mock, entity);
  drmSchedJobAddDependency(j2, dmaFenceGet(d2));
  drmMockSchedJobSubmit(j2);
  k.clock.flush(); // the scheduler looks at J1 and installs its dependency callback on d1
  for (const [n, j] of [["J1", j1], ["J2", j2]] as const) {
    j.finishedFence!.cbList.push({ func: (f) => void events.push(`${n} finished ${f.error} on ${k.current.comm}`) });
  }

  // The process exits on SIGKILL: flush → kill, then fini.
  drmSchedEntityFlush(entity, SEC, { exiting: true, sigkill: true });
  drmSchedEntityFini(entity);
  k.clock.flush();
  // The producers complete from their device's interrupt.
  k.sched.raiseIrq("producer d1", () => dmaFenceSignal(d1), 1000);
  k.sched.raiseIrq("producer d2", () => dmaFenceSignal(d2), 2000);
  k.clock.advance(10_000);
  dmaFencePut(d1);
  dmaFencePut(d2);
  drmMockSchedFini(mock);
  k.clock.flush();
  expect(j1.freed && j2.freed).toBe(true);
  return { k, mock, events };
}

describe("drm_sched_entity_kill", () => {
  it("pre-487df8b: the kill callback erases from job->dependencies under &fence->lock — HARDIRQ-safe -> HARDIRQ-unsafe", () => {
    const { k, events } = killScenario("pre-487df8b");
    expect(events).toEqual(["J1 finished -3 on kworker/0:0", "J2 finished -3 on kworker/0:0"]);
    const r = k.lockdep.reports();
    expect(r.map((x) => x.kind)).toEqual(["irq-order"]);
    expect(r[0]!.classes).toEqual(["&fence->lock", expect.stringMatching(/^&xa->xa_lock(#\d+)?$/)]);
    const xa = r[0]!.classes[1]!;
    const lines = r[0]!.message.split("\n");
    expect(lines[0]).toBe("WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected");
    expect(lines[1]).toMatch(/^kworker\/0:0\/\d+ \[HC0\[0\]:SC0\[0\]:HE0:SE1\] is trying to acquire:$/);
    // The scenario block of the report, as quoted in the fix's commit message.
    const at = lines.indexOf(" Possible interrupt unsafe locking scenario:");
    expect(lines.slice(at, at + 12)).toEqual([
      " Possible interrupt unsafe locking scenario:",
      "",
      "       CPU0                    CPU1",
      "       ----                    ----",
      `  lock(${xa});`,
      "                               local_irq_disable();",
      "                               lock(&fence->lock);",
      `                               lock(${xa});`,
      "  <Interrupt>",
      "    lock(&fence->lock);",
      "",
      " *** DEADLOCK ***",
    ]);
    expect(k.leakReport().text()).toBe("");
  });

  it("post-487df8b: the callback only queues kill_jobs_work; the walk runs in a kworker and nothing is reported", () => {
    const { k, events } = killScenario("post-487df8b");
    expect(events).toEqual(["J1 finished -3 on kworker/0:0", "J2 finished -3 on kworker/0:0"]);
    expect(k.lockdep.reports()).toEqual([]);
    expect(k.warnings()).toEqual([]);
    expect(k.leakReport().text()).toBe("");
  });

  it.each<DrmSchedKillVersion>(["pre-487df8b", "post-487df8b"])("%s: killed jobs end in order, each after its predecessor, with -ESRCH, scheduled signalled too", (version) => {
    const k = bootDrm();
    const mock = drmMockSchedNew(k, { killJobsVersion: version });
    const entity = drmMockSchedEntityNew(mock, DRM_SCHED_PRIORITY_NORMAL);
    const blocker = producerFence(k, 1n);
    const jobs = [0, 1, 2].map(() => drmMockSchedJobNew(mock, entity));
    drmSchedJobAddDependency(jobs[0]!, dmaFenceGet(blocker));
    for (const j of jobs) drmMockSchedJobSubmit(j);
    k.clock.flush();
    const order: number[] = [];
    jobs.forEach((j, i) => j.finishedFence!.cbList.push({ func: () => void order.push(i) }));
    drmSchedEntityFini(entity);
    k.clock.flush();
    expect(order).toEqual([]); // J0 waits for its dependency even when killed
    k.sched.raiseIrq("producer", () => dmaFenceSignal(blocker), 100);
    k.clock.advance(1000);
    expect(order).toEqual([0, 1, 2]);
    expect(jobs.map((j) => [j.scheduledFence!.signaledFlag, j.finishedFence!.error])).toEqual([
      [true, -3],
      [true, -3],
      [true, -3],
    ]);
    dmaFencePut(blocker);
    drmMockSchedFini(mock);
    k.clock.flush();
    expect(k.lockdep.reports()).toEqual([]);
    expect(k.leakReport().text()).toBe("");
  });

  it("pre-487df8b: re-arming on another scheduler fence under the signalled one's lock is 'possible recursive locking'", () => {
    const k = bootDrm();
    const mock = drmMockSchedNew(k, { killJobsVersion: "pre-487df8b" });
    const victim = drmMockSchedEntityNew(mock, DRM_SCHED_PRIORITY_NORMAL);
    const other = drmMockSchedEntityNew(mock, DRM_SCHED_PRIORITY_NORMAL);
    const blocker = producerFence(k, 1n);
    // A job of another entity that the hardware has not finished: its finished fence is a dependency.
    const busy = drmMockSchedJobNew(mock, other);
    drmMockSchedJobSubmit(busy);
    k.clock.flush();
    const j1 = drmMockSchedJobNew(mock, victim);
    drmSchedJobAddDependency(j1, dmaFenceGet(blocker));
    drmMockSchedJobSubmit(j1);
    const j2 = drmMockSchedJobNew(mock, victim);
    drmSchedJobAddDependency(j2, dmaFenceGet(busy.finishedFence!));
    drmMockSchedJobSubmit(j2);
    k.clock.flush();
    drmSchedEntityFini(victim);
    k.clock.flush();
    k.sched.raiseIrq("producer", () => dmaFenceSignal(blocker), 100);
    k.clock.advance(1000);
    expect(k.lockdep.reports().map((r) => r.message.split("\n")[0])).toContain("WARNING: possible recursive locking detected");
    mock.advance(1);
    k.clock.flush();
    dmaFencePut(blocker);
    drmSchedEntityFini(other);
    drmMockSchedFini(mock);
    k.clock.flush();
    expect(k.leakReport().text()).toBe("");
  });
});
