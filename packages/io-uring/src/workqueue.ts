// kernel/workqueue.c: queue_work() on system_percpu_wq / io-wq, run by a kworker on virtual time.
import { KernelLocal, KernelBug, type Kernel, type Mutex, type Task } from "@dmabuf-sdk/dmabuf-core";

/** A work function returns false when it would sleep on a lock another task holds; it is retried later. @public */
export type WorkFn = () => boolean;

/** Virtual nanoseconds between retries of a work item blocked on a lock. */
const RETRY_NS = 1000;
/** Retries before a blocked work item is reported as a hung task (the kernel's hung-task detector). */
const MAX_RETRIES = 1_000_000;

const KWORKERS = new KernelLocal<Task>("KWORKERS");

/** The kworker task work items run as (`kworker/0:1`). @public */
export function kworker(kernel: Kernel): Task {
  let t = KWORKERS.get(kernel);
  if (!t) {
    t = kernel.fork({ comm: "kworker/0:1", parent: kernel.init });
    KWORKERS.set(kernel, t);
  }
  return t;
}

/**
 * `queue_work()`: runs `fn` as the kworker at the next flush of virtual
 * time. The model is single-threaded, so a work item that would sleep on a
 * lock held by another task (`fn` returns false) is requeued instead, which
 * is when the kernel's worker would have been woken.
 * @public
 */
export function queueWork(kernel: Kernel, name: string, fn: WorkFn): void {
  let tries = 0;
  const run = (): void => {
    const done = kernel.runAs(kworker(kernel), fn);
    if (done) return;
    if (++tries > MAX_RETRIES) throw new KernelBug("hung_task", `work ${name} blocked forever`);
    kernel.clock.schedule(RETRY_NS, run);
  };
  kernel.clock.schedule(0, run);
}

/** True when taking `lock` now would sleep: another task holds it. @public */
export function wouldBlock(kernel: Kernel, lock: Mutex): boolean {
  return lock.isLocked() && lock.owner !== kernel.current;
}

/**
 * `wait_event(wq, cond)`: advances virtual time (running device completions
 * and work) until `cond` holds. Nothing left that could make it true is a
 * hung task, reported as the kernel's detector would.
 * @public
 */
export function waitEvent(kernel: Kernel, what: string, cond: () => boolean): void {
  if (cond()) return;
  kernel.lockdep.mightSleep(what);
  const left = kernel.clock.waitUntil(cond, Number.MAX_SAFE_INTEGER);
  if (left === 0) throw new KernelBug("hung_task", `task ${kernel.current.comm}:${kernel.current.pid} blocked forever in ${what}`);
}
