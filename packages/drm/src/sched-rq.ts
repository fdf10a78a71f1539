// drivers/gpu/drm/scheduler/sched_main.c (drm_sched_rq_*, drm_sched_select_entity): run queues and the FIFO / round-robin entity choice.
import { KernelLocal, KernelError, SpinLock, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import type { DrmGpuScheduler } from "./sched-main.js";
import type { DrmSchedEntity } from "./sched-entity.js";

/** `DRM_SCHED_POLICY_RR`: each run queue serves its ready entities in turn. @public */
export const DRM_SCHED_POLICY_RR = 0;
/** `DRM_SCHED_POLICY_FIFO` (the default since v6.2): the entity whose next job waits longest goes first. @public */
export const DRM_SCHED_POLICY_FIFO = 1;

const POLICY = new KernelLocal<number>("POLICY");
const SCHEDULERS = new WeakSet<Kernel>();

/** `drm_sched_policy`: the scheduler module's `sched_policy` parameter; any value but FIFO selects round robin, as the kernel's test does. @public */
export function drmSchedPolicy(k: Kernel): number {
  return POLICY.get(k) ?? DRM_SCHED_POLICY_FIFO;
}

/**
 * `gpu_sched.sched_policy=<n>` on the command line: the parameter is
 * read-only (0444) once schedulers exist.
 * @throws KernelError `EINVAL` for a value that is not an integer (kstrtoint), `EACCES` once a scheduler was initialised.
 * @public
 */
export function drmSchedSetPolicy(k: Kernel, policy: number): void {
  if (!Number.isInteger(policy)) throw new KernelError("EINVAL", "sched_policy", String(policy));
  if (SCHEDULERS.has(k)) throw new KernelError("EACCES", "sched_policy", "read-only parameter (0444)");
  POLICY.set(k, policy);
}

/** @internal `drm_sched_init()` fixes the parameter for the kernel's lifetime. */
export function _drmSchedPolicyFreeze(k: Kernel): void {
  SCHEDULERS.add(k);
}

const RQ_LOCK_KEY = { site: "drm_sched_rq_init" };

/** `struct drm_sched_rq`: one run queue per priority. @public */
export class DrmSchedRq {
  readonly lock: SpinLock;
  /** `entities`: the round-robin list, in the order entities were added. */
  readonly entities: DrmSchedEntity[] = [];
  /** `rb_tree_root`: the FIFO order, by `oldest_job_waiting` (ties in insertion order, as `rb_add_cached`). */
  readonly fifo: DrmSchedEntity[] = [];
  currentEntity: DrmSchedEntity | undefined;
  constructor(
    readonly sched: DrmGpuScheduler,
    readonly priority: number,
  ) {
    const k = sched.kernel;
    this.lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, `${sched.name} rq ${priority}`, "&rq->lock", RQ_LOCK_KEY);
  }
}

function removeFifoLocked(rq: DrmSchedRq, entity: DrmSchedEntity): void {
  const i = rq.fifo.indexOf(entity);
  if (i >= 0) rq.fifo.splice(i, 1);
}

/** `drm_sched_rq_update_fifo_locked()`: re-key the entity by its next job's submission time (entity lock held). */
export function drmSchedRqUpdateFifoLocked(entity: DrmSchedEntity, rq: DrmSchedRq, tsNs: number): void {
  entity.lock.assertHeld("drm_sched_rq_update_fifo_locked");
  rq.lock.lock();
  try {
    removeFifoLocked(rq, entity);
    entity.oldestJobWaiting = tsNs;
    let i = rq.fifo.length;
    while (i > 0 && rq.fifo[i - 1]!.oldestJobWaiting > tsNs) i--;
    rq.fifo.splice(i, 0, entity);
  } finally {
    rq.lock.unlock();
  }
}

/** `drm_sched_rq_add_entity()`: an entity with queued work joins the run queue (counts in the scheduler's score). */
export function drmSchedRqAddEntity(rq: DrmSchedRq, entity: DrmSchedEntity): void {
  if (rq.entities.includes(entity)) return;
  rq.lock.lock();
  try {
    rq.sched.score++;
    rq.entities.push(entity);
  } finally {
    rq.lock.unlock();
  }
}

/** `drm_sched_rq_remove_entity()`. */
export function drmSchedRqRemoveEntity(rq: DrmSchedRq, entity: DrmSchedEntity): void {
  if (!rq.entities.includes(entity)) return;
  rq.lock.lock();
  try {
    rq.sched.score--;
    rq.entities.splice(rq.entities.indexOf(entity), 1);
    if (rq.currentEntity === entity) rq.currentEntity = undefined;
    if (drmSchedPolicy(rq.sched.kernel) === DRM_SCHED_POLICY_FIFO) removeFifoLocked(rq, entity);
  } finally {
    rq.lock.unlock();
  }
}

/** `drm_sched_entity_is_ready()`: a queued job and no dependency being waited for. @public */
export function drmSchedEntityIsReady(entity: DrmSchedEntity): boolean {
  return entity.jobQueue.length > 0 && !entity.dependency;
}

/**
 * `drm_sched_can_queue()`: the entity's next job fits the free credits. The
 * driver may recompute its credits (`update_job_credits`); a job asking for
 * more than the limit is truncated to it, with a warning, so it can run.
 */
export function drmSchedCanQueue(sched: DrmGpuScheduler, entity: DrmSchedEntity): boolean {
  const job = entity.jobQueue[0];
  if (!job) return false;
  if (sched.ops.updateJobCredits) {
    job.credits = sched.ops.updateJobCredits(job);
    sched.kernel.warnOn(job.credits === 0, `${sched.name}: Jobs with zero credits bypass job-flow control.`);
  }
  if (job.credits > sched.creditLimit) {
    sched.kernel.warn(`${sched.name}: Jobs may not exceed the credit limit, truncate.`);
    job.credits = sched.creditLimit;
  }
  return sched.creditLimit - sched.creditCount >= job.credits;
}

/** What a run queue offers: an entity, none ready, or a ready one that does not fit (`ERR_PTR(-ENOSPC)`). */
type Pick = DrmSchedEntity | "ENOSPC" | undefined;

/** `drm_sched_rq_select_entity_rr()`: the next ready entity after the current one, wrapping around. */
function selectEntityRr(sched: DrmGpuScheduler, rq: DrmSchedRq): Pick {
  rq.lock.lock();
  try {
    const cur = rq.currentEntity ? rq.entities.indexOf(rq.currentEntity) : -1;
    // list_for_each_entry_continue() from the current entity, then from the head up to and including it.
    const order = cur >= 0 ? [...rq.entities.slice(cur + 1), ...rq.entities.slice(0, cur + 1)] : rq.entities;
    for (const entity of order) {
      if (!drmSchedEntityIsReady(entity)) continue;
      // If we can't queue yet, keep the current entity for fairness.
      if (!drmSchedCanQueue(sched, entity)) return "ENOSPC";
      rq.currentEntity = entity;
      entity.idle = false; // reinit_completion(&entity->entity_idle)
      return entity;
    }
    return undefined;
  } finally {
    rq.lock.unlock();
  }
}

/** `drm_sched_rq_select_entity_fifo()`: the ready entity whose next job was submitted first. */
function selectEntityFifo(sched: DrmGpuScheduler, rq: DrmSchedRq): Pick {
  rq.lock.lock();
  try {
    for (const entity of rq.fifo) {
      if (!drmSchedEntityIsReady(entity)) continue;
      if (!drmSchedCanQueue(sched, entity)) return "ENOSPC";
      entity.idle = false;
      return entity;
    }
    return undefined;
  } finally {
    rq.lock.unlock();
  }
}

/**
 * `drm_sched_select_entity()`: highest priority first; a ready entity that
 * does not fit the credits stops the search (lower priorities wait too).
 */
export function drmSchedSelectEntity(sched: DrmGpuScheduler): DrmSchedEntity | undefined {
  const fifo = drmSchedPolicy(sched.kernel) === DRM_SCHED_POLICY_FIFO;
  for (const rq of sched.schedRq) {
    const pick = fifo ? selectEntityFifo(sched, rq) : selectEntityRr(sched, rq);
    if (pick === "ENOSPC") return undefined;
    if (pick) return pick;
  }
  return undefined;
}
