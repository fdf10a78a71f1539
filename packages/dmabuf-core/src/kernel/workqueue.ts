// kernel/workqueue.c: work items run by kworker threads, ordered and unbound queues, flush and cancel.
import { KernelBug } from "./kernel-error.js";
import type { Kernel } from "./kernel.js";
import type { LockClass, LockdepMap } from "./lockdep.js";
import { MAX_SCHEDULE_TIMEOUT, type TimerHandle } from "./time.js";
import { TaskWouldBlock } from "./sched.js";
import type { Task } from "../uapi/task.js";

/** `WQ_*` flags of `alloc_workqueue()`. @public */
export interface WorkqueueFlags {
  /** `WQ_UNBOUND`: served by the unbound pool (`kworker/uN:M`). */
  readonly unbound?: boolean;
  /** `__WQ_ORDERED` (`alloc_ordered_workqueue()`): one item at a time, in queueing order. */
  readonly ordered?: boolean;
  /** `WQ_MEM_RECLAIM`: has a rescuer. The model's pools never run out of workers, so it changes nothing. */
  readonly memReclaim?: boolean;
  /** `max_active`; 1 makes the queue behave as ordered for flushing. */
  readonly maxActive?: number;
}

class LockMap implements LockdepMap {
  readonly sleeping = false;
  readonly pseudo = true;
  readonly waitType = 0;
  constructor(
    readonly name: string,
    readonly lockClass: LockClass,
  ) {}
}

/** A pool of kworkers; a new worker is created when every worker is busy (on the stack). @public */
export class WorkerPool {
  readonly workers: Task[] = [];
  constructor(
    private readonly k: Kernel,
    readonly prefix: string,
  ) {}

  idleWorker(): Task {
    const w = this.workers.find((t) => !this.k.sched.isRunning(t));
    if (w) return w;
    const t = this.k.sched.kthreadCreate(`${this.prefix}${this.workers.length}`);
    this.workers.push(t);
    return t;
  }
}

/** `struct workqueue_struct`. @public */
export class Workqueue {
  readonly lockdepMap: LockdepMap;
  /** Items queued and not yet started, in order. */
  readonly queued: WorkStruct[] = [];
  /** Items running now (on a kworker's stack). */
  readonly active = new Set<WorkStruct>();
  destroyed = false;

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
    readonly flags: WorkqueueFlags,
    /** Several queues may share one lockdep map (drm_sched's submit queues do). */
    lockdepMap?: LockdepMap,
  ) {
    const n = `(wq_completion)${name}`;
    this.lockdepMap = lockdepMap ?? new LockMap(n, kernel.lockdep.classFor(n));
  }

  /** One item at a time: ordered, or `max_active` 1. */
  get isOrdered(): boolean {
    return this.flags.ordered === true || this.flags.maxActive === 1;
  }
}

/** `struct work_struct`: `INIT_WORK(work, func)`. The lockdep map is per init site (`name`). @public */
export class WorkStruct {
  readonly lockdepMap: LockdepMap;
  wq: Workqueue | undefined;
  /** `WORK_STRUCT_PENDING`. */
  pending = false;
  /** The kworker running it, while it runs. */
  runningOn: Task | undefined;
  /** @internal The timeline event of the queued item. */
  _event: TimerHandle | undefined;

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
    public func: (work: WorkStruct) => void,
  ) {
    const n = `(work_completion)(${name})`;
    this.lockdepMap = new LockMap(n, kernel.lockdep.classFor(n));
  }
}

/** `struct delayed_work`. @public */
export class DelayedWork extends WorkStruct {
  /** @internal The pending timer. */
  _timer: TimerHandle | undefined;
}

/** The per-kernel workqueue state: pools and the system queues. @public */
export class Workqueues {
  readonly #bound: WorkerPool;
  readonly #unbound: WorkerPool;
  #systemWq: Workqueue | undefined;
  #systemUnboundWq: Workqueue | undefined;

  constructor(readonly kernel: Kernel) {
    this.#bound = new WorkerPool(kernel, "kworker/0:");
    this.#unbound = new WorkerPool(kernel, "kworker/u4:");
  }

  /** `system_wq` (`system_percpu_wq`). */
  get systemWq(): Workqueue {
    return (this.#systemWq ??= new Workqueue(this.kernel, "events", {}));
  }

  /** `system_unbound_wq`. */
  get systemUnboundWq(): Workqueue {
    return (this.#systemUnboundWq ??= new Workqueue(this.kernel, "events_unbound", { unbound: true }));
  }

  /** @internal */
  _pool(wq: Workqueue): WorkerPool {
    return wq.flags.unbound || wq.flags.ordered ? this.#unbound : this.#bound;
  }
}

/** `alloc_workqueue(name, flags, max_active)`. @public */
export function allocWorkqueue(k: Kernel, name: string, flags: WorkqueueFlags = {}, lockdepMap?: LockdepMap): Workqueue {
  return new Workqueue(k, name, flags, lockdepMap);
}

/** `alloc_ordered_workqueue(name, flags)`. @public */
export function allocOrderedWorkqueue(k: Kernel, name: string, flags: Omit<WorkqueueFlags, "ordered"> = {}, lockdepMap?: LockdepMap): Workqueue {
  return new Workqueue(k, name, { ...flags, ordered: true, unbound: true, maxActive: 1 }, lockdepMap);
}

/** A lockdep map for a workqueue that several queues share (`lockdep_init_map()` on a static key). @public */
export function workqueueLockdepMap(k: Kernel, name: string): LockdepMap {
  return new LockMap(name, k.lockdep.classFor(name));
}

/** `INIT_WORK()`. @public */
export function initWork(k: Kernel, name: string, func: (work: WorkStruct) => void): WorkStruct {
  return new WorkStruct(k, name, func);
}

/** `INIT_DELAYED_WORK()`. @public */
export function initDelayedWork(k: Kernel, name: string, func: (work: WorkStruct) => void): DelayedWork {
  return new DelayedWork(k, name, func);
}

function enqueue(wq: Workqueue, work: WorkStruct): void {
  const k = wq.kernel;
  if (wq.destroyed) {
    k.warn(`workqueue: queueing ${work.name} on destroyed workqueue ${wq.name}`);
    return;
  }
  work.wq = wq;
  work.pending = true;
  wq.queued.push(work);
  const ready = (): boolean => !(wq.isOrdered && (wq.active.size > 0 || wq.queued[0] !== work));
  work._event = k.clock.schedule(0, () => processOneWork(wq, work), { label: `work ${work.name} on ${wq.name}`, ready });
}

/** `process_one_work()`: on an idle kworker, with the queue's and the work's lockdep maps held around `func`. */
function processOneWork(wq: Workqueue, work: WorkStruct): void {
  const k = wq.kernel;
  const worker = k.workqueues._pool(wq).idleWorker();
  const i = wq.queued.indexOf(work);
  if (i >= 0) wq.queued.splice(i, 1);
  work.pending = false;
  work._event = undefined;
  wq.active.add(work);
  work.runningOn = worker;
  try {
    k.sched.runStep(worker, () => {
      k.lockdep.acquire(wq.lockdepMap, { at: "process_one_work" });
      k.lockdep.acquire(work.lockdepMap, { at: "process_one_work" });
      try {
        k.trace.emit("workqueue_execute_start", { work: work.name, wq: wq.name });
        work.func(work);
      } finally {
        k.lockdep.release(work.lockdepMap);
        k.lockdep.release(wq.lockdepMap);
      }
    });
  } catch (e) {
    if (!(e instanceof TaskWouldBlock) || e.task !== worker) throw e;
    // The kworker sleeps on a lock: the item runs again from its start once it is free.
    wq.active.delete(work);
    work.runningOn = undefined;
    work.pending = true;
    wq.queued.unshift(work);
    const ready = (): boolean => e.ready() && !(wq.isOrdered && (wq.active.size > 0 || wq.queued[0] !== work));
    work._event = k.clock.schedule(0, () => processOneWork(wq, work), { label: `work ${work.name} on ${wq.name} (blocked on ${e.what})`, ready });
    return;
  } finally {
    if (work.runningOn === worker) {
      wq.active.delete(work);
      work.runningOn = undefined;
    }
  }
}

/** `queue_work()`: false if the work was already pending. @public */
export function queueWork(wq: Workqueue, work: WorkStruct): boolean {
  if (work.pending) return false;
  enqueue(wq, work);
  return true;
}

/** `schedule_work()`: `queue_work(system_wq, work)`. @public */
export function scheduleWork(work: WorkStruct): boolean {
  return queueWork(work.kernel.workqueues.systemWq, work);
}

/** `queue_delayed_work()`: the work is queued when its timer fires `delayNs` from now. @public */
export function queueDelayedWork(wq: Workqueue, dwork: DelayedWork, delayNs: number): boolean {
  if (dwork.pending) return false;
  if (delayNs <= 0) return queueWork(wq, dwork);
  dwork.pending = true;
  dwork.wq = wq;
  dwork._timer = dwork.kernel.clock.schedule(delayNs, () => {
    dwork._timer = undefined;
    dwork.pending = false;
    enqueue(wq, dwork);
  }, { label: `timer of ${dwork.name}` });
  return true;
}

/** `mod_delayed_work()`: (re)arms the timer; true if it was pending. @public */
export function modDelayedWork(wq: Workqueue, dwork: DelayedWork, delayNs: number): boolean {
  const was = cancelPending(dwork);
  queueDelayedWork(wq, dwork, delayNs);
  return was;
}

/** `schedule_delayed_work()`. @public */
export function scheduleDelayedWork(dwork: DelayedWork, delayNs: number): boolean {
  return queueDelayedWork(dwork.kernel.workqueues.systemWq, dwork, delayNs);
}

function cancelPending(work: WorkStruct): boolean {
  if (!work.pending) return false;
  if (work instanceof DelayedWork && work._timer) {
    work._timer.cancel();
    work._timer = undefined;
  }
  if (work._event) {
    work._event.cancel();
    work._event = undefined;
  }
  const wq = work.wq;
  if (wq) {
    const i = wq.queued.indexOf(work);
    if (i >= 0) wq.queued.splice(i, 1);
  }
  work.pending = false;
  return true;
}

function waitIdle(work: WorkStruct, where: string): boolean {
  const k = work.kernel;
  if (!work.pending && !work.runningOn) return false;
  if (work.runningOn === k.current) throw new KernelBug("deadlock", `${where}(${work.name}) from the work itself`);
  k.lockdep.mightSleep(where);
  if (k.clock.waitUntil(() => !work.pending && !work.runningOn, MAX_SCHEDULE_TIMEOUT) === 0) {
    throw new KernelBug("hung_task", `task ${k.current.comm}:${k.current.pid} blocked in ${where}(${work.name}): the work cannot complete`);
  }
  return true;
}

/** The lockdep annotation of flushing: the work's map (and an ordered queue's map) taken and released. */
function touchMaps(work: WorkStruct): void {
  const k = work.kernel;
  k.lockdep.acquire(work.lockdepMap, { at: "__flush_work" });
  k.lockdep.release(work.lockdepMap);
  const wq = work.wq;
  if (wq?.isOrdered) {
    k.lockdep.acquire(wq.lockdepMap, { at: "__flush_work" });
    k.lockdep.release(wq.lockdepMap);
  }
}

/** `flush_work()`: waits for the last queueing to finish; true if it had to wait. @public */
export function flushWork(work: WorkStruct): boolean {
  touchMaps(work);
  return waitIdle(work, "flush_work");
}

/** `flush_delayed_work()`: fires a pending timer now, then flushes. @public */
export function flushDelayedWork(dwork: DelayedWork): boolean {
  if (dwork._timer && dwork.wq) {
    const wq = dwork.wq;
    cancelPending(dwork);
    enqueue(wq, dwork);
  }
  return flushWork(dwork);
}

/** `cancel_work_sync()`: dequeues the work and waits for a running instance; true if it was pending. @public */
export function cancelWorkSync(work: WorkStruct): boolean {
  const was = cancelPending(work);
  touchMaps(work);
  waitIdle(work, "cancel_work_sync");
  return was;
}

/** `cancel_delayed_work_sync()`. @public */
export function cancelDelayedWorkSync(dwork: DelayedWork): boolean {
  return cancelWorkSync(dwork);
}

/** `cancel_delayed_work()`: no wait; true if it was pending. @public */
export function cancelDelayedWork(dwork: DelayedWork): boolean {
  return cancelPending(dwork);
}

/** `flush_workqueue()`: waits until everything queued so far has run. @public */
export function flushWorkqueue(wq: Workqueue): void {
  const k = wq.kernel;
  k.lockdep.acquire(wq.lockdepMap, { at: "__flush_workqueue" });
  k.lockdep.release(wq.lockdepMap);
  k.lockdep.mightSleep("flush_workqueue");
  const items = [...wq.queued, ...wq.active];
  if (items.some((w) => w.runningOn === k.current)) throw new KernelBug("deadlock", `flush_workqueue(${wq.name}) from one of its own work items`);
  if (k.clock.waitUntil(() => items.every((w) => !w.pending && !w.runningOn) || (wq.queued.length === 0 && wq.active.size === 0), MAX_SCHEDULE_TIMEOUT) === 0) {
    throw new KernelBug("hung_task", `task ${k.current.comm}:${k.current.pid} blocked in flush_workqueue(${wq.name})`);
  }
}

/** `drain_workqueue()` + `destroy_workqueue()`. @public */
export function destroyWorkqueue(wq: Workqueue): void {
  const k = wq.kernel;
  if (k.clock.waitUntil(() => wq.queued.length === 0 && wq.active.size === 0, MAX_SCHEDULE_TIMEOUT) === 0) {
    throw new KernelBug("hung_task", `destroy_workqueue(${wq.name}): work left that cannot run`);
  }
  wq.destroyed = true;
}

/** `work_pending()`. @public */
export function workPending(work: WorkStruct): boolean {
  return work.pending;
}
