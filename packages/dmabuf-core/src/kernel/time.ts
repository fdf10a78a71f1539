/** Ticks per second of the model's `jiffies`. */
export const HZ = 1000;
/** `MAX_SCHEDULE_TIMEOUT`: wait forever. */
export const MAX_SCHEDULE_TIMEOUT = Number.MAX_SAFE_INTEGER;

interface Timer {
  readonly atNs: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Handle returned by `KernelClock.schedule`; `cancel()` is `del_timer()`. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Virtual time and deferred work. Nothing runs in the background: a timer or
 * work item runs when a waiter advances time (`dma_fence_wait_timeout`,
 * `msleep`) or a test calls `KernelClock.advance` / `KernelClock.flush`.
 * Work queued for "now" runs in queueing order.
 */
export class KernelClock {
  #nowNs = 0;
  #seq = 0;
  readonly #timers: Timer[] = [];

  /** Nanoseconds since boot (`ktime_get_ns()`). */
  get nowNs(): number {
    return this.#nowNs;
  }

  /** `jiffies`. */
  get jiffies(): number {
    return Math.floor((this.#nowNs * HZ) / 1e9);
  }

  /** Runs `fn` after `delayNs` of virtual time (0 = next flush). */
  schedule(delayNs: number, fn: () => void): TimerHandle {
    const t: Timer = { atNs: this.#nowNs + Math.max(0, delayNs), seq: this.#seq++, fn, cancelled: false };
    // Keep sorted by (atNs, seq); the queue is short, insertion is fine.
    let i = this.#timers.length;
    while (i > 0 && (this.#timers[i - 1]!.atNs > t.atNs)) i--;
    this.#timers.splice(i, 0, t);
    return {
      cancel: () => {
        t.cancelled = true;
      },
    };
  }

  /** Number of pending timers and work items. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Runs everything due now (`flush_scheduled_work()`), including work it queues. */
  flush(): void {
    this.#runDue(this.#nowNs);
  }

  /** Moves time forward by `ns`, running what becomes due in order. */
  advance(ns: number): void {
    this.#runDue(this.#nowNs + ns);
  }

  /**
   * Advances time until `done()` holds or `timeoutNs` passes; returns the
   * nanoseconds left (> 0) or 0 on timeout. The core of every `*_wait_timeout`.
   */
  waitUntil(done: () => boolean, timeoutNs: number): number {
    const deadline = timeoutNs >= MAX_SCHEDULE_TIMEOUT ? Number.POSITIVE_INFINITY : this.#nowNs + timeoutNs;
    for (;;) {
      this.flush();
      if (done()) return deadline === Number.POSITIVE_INFINITY ? MAX_SCHEDULE_TIMEOUT : Math.max(1, deadline - this.#nowNs);
      const next = this.#timers.find((t) => !t.cancelled);
      if (!next || next.atNs > deadline) {
        if (deadline !== Number.POSITIVE_INFINITY) this.#nowNs = Math.max(this.#nowNs, deadline);
        return 0;
      }
      this.#runDue(next.atNs);
    }
  }

  #runDue(untilNs: number): void {
    for (;;) {
      const t = this.#timers[0];
      if (!t || t.atNs > untilNs) break;
      this.#timers.shift();
      if (t.cancelled) continue;
      if (t.atNs > this.#nowNs) this.#nowNs = t.atNs;
      t.fn();
    }
    if (untilNs > this.#nowNs) this.#nowNs = untilNs;
  }
}
