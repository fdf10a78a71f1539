// kernel/time/timer.c: timer_list timers, whose callbacks run from the TIMER_SOFTIRQ in softirq context.
import type { Kernel } from "./kernel.js";
import type { LockClass, LockdepMap } from "./lockdep.js";
import type { TimerHandle } from "./time.js";

/** `timer->lockdep_map`: held around the callback, taken by `timer_delete_sync()`. */
class TimerLockdepMap implements LockdepMap {
  readonly sleeping = false;
  readonly pseudo = true;
  readonly waitType = 0;
  constructor(
    readonly name: string,
    readonly lockClass: LockClass,
  ) {}
}

/** `struct timer_list`. @public */
export class TimerList {
  /** `expires`, in virtual ns since boot, while pending. */
  expiresNs = 0;
  /** @internal The armed clock event. */
  _handle: TimerHandle | undefined;
  readonly lockdepMap: LockdepMap;

  constructor(
    readonly kernel: Kernel,
    /** The stringified timer expression (`timer_setup(&cookie->fq_timer, …)` → `&cookie->fq_timer`). */
    readonly name: string,
    readonly fn: (timer: TimerList) => void,
  ) {
    // init_timer_key(): one lockdep class per timer_setup() site, named "(<timer>)".
    this.lockdepMap = new TimerLockdepMap(`(${name})`, kernel.lockdep.classFor(`(${name})`));
  }
}

/** `timer_setup(timer, fn, 0)`. @public */
export function timerSetup(k: Kernel, name: string, fn: (timer: TimerList) => void): TimerList {
  return new TimerList(k, name, fn);
}

/** `timer_pending()`. @public */
export function timerPending(timer: TimerList): boolean {
  return timer._handle?.pending ?? false;
}

/**
 * `call_timer_fn()` from `run_timer_softirq()`: the CPU was idle, so the
 * softirq runs on the idle task, hardirqs on, in softirq context, with the
 * timer's lockdep map held around the callback.
 */
function expire(timer: TimerList): void {
  const k = timer.kernel;
  timer._handle = undefined;
  k.runAs(k.sched.idle, () =>
    k.lockdep.inSoftirq(() => {
      k.lockdep.acquire(timer.lockdepMap, { at: "call_timer_fn" });
      try {
        timer.fn(timer);
      } finally {
        k.lockdep.release(timer.lockdepMap);
      }
    }),
  );
}

/**
 * `mod_timer(timer, expires)`: (re)arms the timer for the absolute virtual
 * time `expiresNs` (a time in the past fires at the next tick). Returns
 * whether it was pending.
 * @public
 */
export function modTimer(timer: TimerList, expiresNs: number): boolean {
  const k = timer.kernel;
  const was = timerDelete(timer);
  timer.expiresNs = expiresNs;
  timer._handle = k.clock.schedule(Math.max(0, expiresNs - k.clock.nowNs), () => expire(timer), { label: `timer ${timer.name}` });
  return was;
}

/** `timer_delete()` (`del_timer()`): deactivates a pending timer; a running callback may still be on its way. @public */
export function timerDelete(timer: TimerList): boolean {
  const h = timer._handle;
  timer._handle = undefined;
  if (!h?.pending) return false;
  h.cancel();
  return true;
}

/**
 * `timer_delete_sync()`: deactivates the timer and waits for a running
 * callback. Lockdep sees the wait as taking the timer's map with IRQs off,
 * so deleting a timer while holding a lock its callback takes is a report.
 * From hard-IRQ context it WARNs (it could deadlock) and goes on, as the kernel.
 * @public
 */
export function timerDeleteSync(timer: TimerList): boolean {
  const k = timer.kernel;
  const flags = k.lockdep.localIrqSave();
  try {
    k.lockdep.acquire(timer.lockdepMap, { at: "timer_delete_sync" });
    k.lockdep.release(timer.lockdepMap);
  } finally {
    k.lockdep.localIrqRestore(flags);
  }
  k.warnOn(k.lockdep.inHardirqContext(), `timer_delete_sync(${timer.name}): WARN_ON(in_hardirq() && !(timer->flags & TIMER_IRQSAFE))`);
  return timerDelete(timer);
}
