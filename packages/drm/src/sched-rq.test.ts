// drivers/gpu/drm/scheduler/sched_main.c run queues: which entity's job runs next under drm_sched_policy FIFO and RR, by priority.
import { describe, expect, it } from "vitest";
import { HZ, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import {
  DRM_SCHED_POLICY_FIFO,
  DRM_SCHED_POLICY_RR,
  DRM_SCHED_PRIORITY_HIGH,
  DRM_SCHED_PRIORITY_KERNEL,
  DRM_SCHED_PRIORITY_LOW,
  DRM_SCHED_PRIORITY_NORMAL,
  drmSchedPolicy,
  drmSchedSetPolicy,
  drmSchedWqueueStart,
  drmSchedWqueueStop,
} from "@dmabuf-sdk/drm";
import {
  bootDrm,
  drmMockSchedAdvance,
  drmMockSchedEntityFree,
  drmMockSchedEntityNew,
  drmMockSchedFini,
  drmMockSchedJobNew,
  drmMockSchedJobSubmit,
  drmMockSchedNew,
  type DrmMockScheduler,
  type DrmSchedEntity,
} from "@dmabuf-sdk/drm/testing";

const US = 1000;

/**
 * Queues jobs while submission is parked (`drm_sched_wqueue_stop`), one
 * script step per microsecond of virtual time so each has its own submit
 * timestamp, then lets the scheduler run and returns the order in which the
 * mock hardware received them (labels).
 */
function runOrder(policy: number, script: (e: Record<string, DrmSchedEntity>, submit: (entity: string, label: string) => void) => void, prios: Record<string, number>): string[] {
  const k: Kernel = bootDrm();
  drmSchedSetPolicy(k, policy);
  const sched: DrmMockScheduler = drmMockSchedNew(k);
  const entities = Object.fromEntries(Object.entries(prios).map(([n, p]) => [n, drmMockSchedEntityNew(sched, p)]));
  const labels = new Map<bigint, string>();
  drmSchedWqueueStop(sched.base);
  script(entities, (entity, label) => {
    const job = drmMockSchedJobNew(sched, entities[entity]!);
    drmMockSchedJobSubmit(job);
    labels.set(job.id, label);
    k.clock.advance(US);
  });
  drmSchedWqueueStart(sched.base);
  k.clock.flush();
  const order = sched.jobs.map((j) => labels.get(j.id)!);
  drmMockSchedAdvance(sched, order.length);
  for (const e of Object.values(entities)) drmMockSchedEntityFree(e);
  drmMockSchedFini(sched);
  k.clock.flush();
  expect(k.lockdep.reports()).toEqual([]);
  expect(k.warnings()).toEqual([]);
  expect(k.leakReport().text()).toBe("");
  return order;
}

describe("drm_sched_policy", () => {
  it("defaults to FIFO; the parameter is read-only once a scheduler exists (EACCES) and must be an integer (EINVAL)", () => {
    const k = bootDrm();
    expect(drmSchedPolicy(k)).toBe(DRM_SCHED_POLICY_FIFO);
    expect(() => drmSchedSetPolicy(k, 0.5)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    drmSchedSetPolicy(k, DRM_SCHED_POLICY_RR);
    expect(drmSchedPolicy(k)).toBe(DRM_SCHED_POLICY_RR);
    const sched = drmMockSchedNew(k);
    expect(() => drmSchedSetPolicy(k, DRM_SCHED_POLICY_FIFO)).toThrow(expect.objectContaining({ errno: "EACCES" }));
    expect(drmSchedPolicy(k)).toBe(DRM_SCHED_POLICY_RR);
    drmMockSchedFini(sched);
  });

  // A queues a1 and a2 before B queues b1, all at one priority.
  const abba = (_e: Record<string, DrmSchedEntity>, submit: (entity: string, label: string) => void): void => {
    submit("A", "a1");
    submit("A", "a2");
    submit("B", "b1");
  };

  it.each([
    { policy: "FIFO", value: DRM_SCHED_POLICY_FIFO, order: ["a1", "a2", "b1"] },
    { policy: "RR", value: DRM_SCHED_POLICY_RR, order: ["a1", "b1", "a2"] },
    // Any other value of the parameter behaves as round robin.
    { policy: "7", value: 7, order: ["a1", "b1", "a2"] },
  ])("$policy: one priority, A queues two jobs before B's one → $order", ({ value, order }) => {
    expect(runOrder(value, abba, { A: DRM_SCHED_PRIORITY_NORMAL, B: DRM_SCHED_PRIORITY_NORMAL })).toEqual(order);
  });

  it.each([
    { policy: "FIFO", value: DRM_SCHED_POLICY_FIFO, order: ["a0", "a1", "a2", "b1", "c1", "b2"] },
    { policy: "RR", value: DRM_SCHED_POLICY_RR, order: ["a0", "b1", "c1", "a1", "b2", "a2"] },
  ])("$policy: three entities, A's backlog older than B's and C's jobs → $order", ({ value, order }) => {
    const script = (_e: Record<string, DrmSchedEntity>, submit: (entity: string, label: string) => void): void => {
      submit("A", "a0");
      submit("A", "a1");
      submit("A", "a2");
      submit("B", "b1");
      submit("C", "c1");
      submit("B", "b2");
    };
    expect(runOrder(value, script, { A: DRM_SCHED_PRIORITY_NORMAL, B: DRM_SCHED_PRIORITY_NORMAL, C: DRM_SCHED_PRIORITY_NORMAL })).toEqual(order);
  });

  it.each([
    { policy: "FIFO", value: DRM_SCHED_POLICY_FIFO },
    { policy: "RR", value: DRM_SCHED_POLICY_RR },
  ])("$policy: run queues are served by priority, kernel first, whatever the submission order", ({ value }) => {
    const script = (_e: Record<string, DrmSchedEntity>, submit: (entity: string, label: string) => void): void => {
      submit("low", "low1");
      submit("normal", "normal1");
      submit("high", "high1");
      submit("kernel", "kernel1");
      submit("low", "low2");
      submit("kernel", "kernel2");
    };
    expect(
      runOrder(value, script, { low: DRM_SCHED_PRIORITY_LOW, normal: DRM_SCHED_PRIORITY_NORMAL, high: DRM_SCHED_PRIORITY_HIGH, kernel: DRM_SCHED_PRIORITY_KERNEL }),
    ).toEqual(["kernel1", "kernel2", "high1", "normal1", "low1", "low2"]);
  });

  it("a ready entity that does not fit the credits holds back lower priorities (drm_sched_select_entity stops at ENOSPC)", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k, { creditLimit: 2 });
    const high = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_HIGH);
    const low = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_LOW);
    const first = drmMockSchedJobNew(sched, high);
    drmMockSchedJobSubmit(first);
    k.clock.flush();
    expect(sched.base.creditCount).toBe(1);
    // A two-credit job of the high queue does not fit; the one-credit low job would, but waits behind it.
    const big = drmMockSchedJobNew(sched, high);
    big.credits = 2;
    drmMockSchedJobSubmit(big);
    const small = drmMockSchedJobNew(sched, low);
    drmMockSchedJobSubmit(small);
    k.clock.flush();
    expect(sched.jobs.map((j) => j.id)).toEqual([first.id]);
    expect(drmMockSchedAdvance(sched, 1)).toBe(1);
    k.clock.flush();
    expect(sched.jobs.map((j) => j.id)).toEqual([big.id]);
    expect(drmMockSchedAdvance(sched, 1)).toBe(1);
    k.clock.waitUntil(() => sched.jobs.length > 0, HZ);
    expect(sched.jobs.map((j) => j.id)).toEqual([small.id]);
    expect(drmMockSchedAdvance(sched, 1)).toBe(1);
    drmMockSchedEntityFree(high);
    drmMockSchedEntityFree(low);
    drmMockSchedFini(sched);
    k.clock.flush();
    expect(k.warnings()).toEqual([]);
  });

  it("update_job_credits is asked each time a job is considered; a job above the limit is truncated with a WARN", () => {
    const k = bootDrm();
    const sched = drmMockSchedNew(k, { creditLimit: 4 });
    const asked: bigint[] = [];
    (sched.base.ops as { updateJobCredits?: (j: { id: bigint }) => number }).updateJobCredits = (j) => (asked.push(j.id), 9);
    const entity = drmMockSchedEntityNew(sched, DRM_SCHED_PRIORITY_NORMAL);
    const job = drmMockSchedJobNew(sched, entity);
    drmMockSchedJobSubmit(job);
    k.clock.flush();
    expect(asked).toEqual([job.id]);
    expect(job.credits).toBe(4);
    expect(sched.base.creditCount).toBe(4);
    expect(k.warnings().some((w) => w.includes("Jobs may not exceed the credit limit, truncate."))).toBe(true);
    expect(drmMockSchedAdvance(sched, 1)).toBe(1);
    drmMockSchedEntityFree(entity);
    drmMockSchedFini(sched);
  });
});
