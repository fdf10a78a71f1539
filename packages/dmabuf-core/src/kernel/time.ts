// kernel/time/: virtual ktime/jiffies and the timeline of pending events (timers, work, device IRQs).
/** Ticks per second of the model's `jiffies`. @public */
export const HZ = 1000;
/** `MAX_SCHEDULE_TIMEOUT`: wait forever. @public */
export const MAX_SCHEDULE_TIMEOUT = Number.MAX_SAFE_INTEGER;

/**
 * One pending event on the virtual timeline: a timer, a work item for a
 * kworker, a step of a kthread, a device interrupt. The scheduler's
 * pick-next policy chooses among the events that are due and ready.
 * @public
 */
export interface ClockEvent {
  readonly atNs: number;
  readonly seq: number;
  /** What runs, e.g. `work drm_sched_run_job_work on kworker/u4:0`, `irq 42 xe`. */
  readonly label: string;
  /** False while the event's task is blocked (a contended lock, a busy ordered queue). */
  ready(): boolean;
  readonly cancelled: boolean;
}

/** Chooses which of the due, ready events runs next; returns an index into `due` (sorted by time, then queueing order). @public */
export type PickNextPolicy = (due: readonly ClockEvent[]) => number;

/** The default policy: the earliest event, in queueing order (deterministic). */
export const pickFirst: PickNextPolicy = () => 0;

interface Timer extends ClockEvent {
  readonly fn: () => void;
  readonly isReady: (() => boolean) | undefined;
  cancelled: boolean;
}

/** Handle returned by `KernelClock.schedule`; `cancel()` is `del_timer()`. @public */
export interface TimerHandle {
  cancel(): void;
  /** True until it ran or was cancelled. */
  readonly pending: boolean;
}

/** Options of {@link KernelClock.schedule}. @public */
export interface ScheduleOptions {
  readonly label?: string;
  /** The event may run only while this holds (its task is runnable). */
  readonly ready?: () => boolean;
}

/**
 * Virtual time and the timeline of pending events. Nothing runs in the
 * background: an event runs when a waiter advances time
 * (`dma_fence_wait_timeout`, `flush_work`, `msleep`) or a test calls
 * `KernelClock.advance` / `KernelClock.flush`. Time moves only to the next
 * ready event; which of several due events runs first is the pick-next
 * policy's choice (default: queueing order). What context an event runs in
 * (kworker, kthread, hard IRQ) is decided by whoever scheduled it.
 * @public
 */
export class KernelClock {
  #nowNs = 0;
  #seq = 0;
  readonly #timers: Timer[] = [];
  #policy: PickNextPolicy = pickFirst;

  /** Nanoseconds since boot (`ktime_get_ns()`). */
  get nowNs(): number {
    return this.#nowNs;
  }

  /** `jiffies`. */
  get jiffies(): number {
    return Math.floor((this.#nowNs * HZ) / 1e9);
  }

  /** The pick-next policy (an interleaving explorer installs its own). */
  get pickNext(): PickNextPolicy {
    return this.#policy;
  }

  set pickNext(policy: PickNextPolicy) {
    this.#policy = policy;
  }

  /** Runs `fn` after `delayNs` of virtual time (0 = next flush). */
  schedule(delayNs: number, fn: () => void, opts: ScheduleOptions = {}): TimerHandle {
    const seq = this.#seq++;
    const t: Timer = {
      atNs: this.#nowNs + Math.max(0, delayNs),
      seq,
      fn,
      label: opts.label ?? `timer ${seq}`,
      isReady: opts.ready,
      ready: () => !t.isReady || t.isReady(),
      cancelled: false,
    };
    // Keep sorted by (atNs, seq); the queue is short, insertion is fine.
    let i = this.#timers.length;
    while (i > 0 && this.#timers[i - 1]!.atNs > t.atNs) i--;
    this.#timers.splice(i, 0, t);
    return new TimerHandleImpl(t, this.#timers);
  }

  /** Number of pending events (blocked ones included). */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Labels of the pending events, in time order. */
  pendingEvents(): readonly ClockEvent[] {
    return this.#timers.filter((t) => !t.cancelled);
  }

  /**
   * The ready events that may run next: those due now, or, when none is, those
   * at the earliest time a ready event is pending (time has not moved there yet).
   */
  nextEvents(): readonly ClockEvent[] {
    const ready = this.#timers.filter((t) => !t.cancelled && t.ready());
    if (!ready.length) return [];
    const horizon = Math.max(ready[0]!.atNs, this.#nowNs);
    return ready.filter((t) => t.atNs <= horizon);
  }

  /**
   * Runs one pending, ready event now (moving time to it if it lies ahead):
   * how an explorer runs the event it chose.
   * @throws Error when `event` is not a pending, ready event of this clock.
   */
  runEvent(event: ClockEvent): void {
    const t = this.#timers.find((x) => x === event);
    if (!t || t.cancelled || !t.ready()) throw new Error(`${event.label} is not a pending, ready event`);
    this.#timers.splice(this.#timers.indexOf(t), 1);
    if (t.atNs > this.#nowNs) this.#nowNs = t.atNs;
    ran.add(t);
    t.fn();
  }

  /** Runs everything due now (`flush_scheduled_work()`), including what it queues. */
  flush(): void {
    this.#runDue(this.#nowNs);
  }

  /** Moves time forward by `ns`, running what becomes due in order. */
  advance(ns: number): void {
    this.#runDue(this.#nowNs + ns);
  }

  /**
   * Runs other events until `done()` holds or `timeoutNs` passes; returns the
   * nanoseconds left (> 0) or 0 on timeout. The core of every wait: the
   * waiter sleeps while kworkers, kthreads and interrupts run.
   */
  waitUntil(done: () => boolean, timeoutNs: number): number {
    const deadline = timeoutNs >= MAX_SCHEDULE_TIMEOUT ? Number.POSITIVE_INFINITY : this.#nowNs + timeoutNs;
    for (;;) {
      this.flush();
      if (done()) return deadline === Number.POSITIVE_INFINITY ? MAX_SCHEDULE_TIMEOUT : Math.max(1, deadline - this.#nowNs);
      const next = this.#timers.find((t) => !t.cancelled && t.ready());
      if (!next || next.atNs > deadline) {
        if (deadline !== Number.POSITIVE_INFINITY) this.#nowNs = Math.max(this.#nowNs, deadline);
        return 0;
      }
      this.#runOne(Math.max(next.atNs, this.#nowNs));
    }
  }

  /** Runs one due, ready event chosen by the policy; false when there is none. */
  #runOne(untilNs: number): boolean {
    const first = this.#timers.find((t) => !t.cancelled && t.ready() && t.atNs <= untilNs);
    if (!first) return false;
    // Candidates: everything ready and due by the earliest ready event's time (or now).
    const horizon = Math.max(first.atNs, this.#nowNs);
    const due = this.#timers.filter((t) => !t.cancelled && t.atNs <= horizon && t.ready());
    const i = due.length > 1 ? this.#policy(due) : 0;
    const t = due[i] ?? due[0]!;
    this.#timers.splice(this.#timers.indexOf(t), 1);
    if (t.atNs > this.#nowNs) this.#nowNs = t.atNs;
    ran.add(t);
    t.fn();
    return true;
  }

  #runDue(untilNs: number): void {
    while (this.#runOne(untilNs));
    if (untilNs > this.#nowNs) this.#nowNs = untilNs;
  }
}

const ran = new WeakSet<Timer>();

/**
 * What `schedule()` hands back. A class, not an object literal with a `pending`
 * getter: under V8 11 (Node 20) what such a literal reaches survives every
 * scavenge until the next full GC (measured with --trace-gc-nvp), and a timer's
 * callback reaches its whole kernel.
 */
class TimerHandleImpl implements TimerHandle {
  readonly #t: Timer;
  readonly #timers: Timer[];

  constructor(t: Timer, timers: Timer[]) {
    this.#t = t;
    this.#timers = timers;
  }

  cancel(): void {
    this.#t.cancelled = true;
    const j = this.#timers.indexOf(this.#t);
    if (j >= 0) this.#timers.splice(j, 1);
  }

  get pending(): boolean {
    return !this.#t.cancelled && !ran.has(this.#t);
  }
}
