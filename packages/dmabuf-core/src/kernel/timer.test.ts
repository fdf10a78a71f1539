// kernel/time/timer.c: timer_list callbacks in softirq context, mod_timer/timer_delete, and timer_delete_sync under lockdep.
import { describe, expect, it } from "vitest";
import { Kernel, SpinLock, modTimer, timerDelete, timerDeleteSync, timerPending, timerSetup } from "@dmabuf-sdk/dmabuf-core";

describe("timer_list", () => {
  it("the callback runs at expiry from the TIMER_SOFTIRQ: softirq context on the idle task, hardirqs on", () => {
    const k = new Kernel();
    const seen: string[] = [];
    const t = timerSetup(k, "&dev->timer", () =>
      seen.push(`${k.current.comm} softirq=${k.lockdep.inSoftirqContext()} hardirq=${k.lockdep.inHardirqContext()} hardirqs_on=${k.lockdep.hardirqsEnabled()} at=${k.clock.nowNs}`),
    );
    expect(modTimer(t, 5_000)).toBe(false);
    expect(timerPending(t)).toBe(true);
    k.clock.advance(4_999);
    expect(seen).toEqual([]);
    k.clock.advance(1);
    expect(seen).toEqual(["swapper/0 softirq=true hardirq=false hardirqs_on=true at=5000"]);
    expect(timerPending(t)).toBe(false);
  });

  it("mod_timer re-arms a pending timer (returns 1); timer_delete disarms it (returns 1, then 0)", () => {
    const k = new Kernel();
    let fired = 0;
    const t = timerSetup(k, "&dev->timer", () => fired++);
    modTimer(t, 1_000);
    expect(modTimer(t, 3_000)).toBe(true);
    k.clock.advance(2_000);
    expect(fired).toBe(0);
    expect(timerDelete(t)).toBe(true);
    expect(timerDelete(t)).toBe(false);
    k.clock.advance(5_000);
    expect(fired).toBe(0);
  });

  it("timer_delete_sync while holding a lock the callback takes: possible circular locking dependency", () => {
    const k = new Kernel();
    const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "dev lock", "&dev->lock");
    const t = timerSetup(k, "&dev->timer", () => {
      lock.lock();
      lock.unlock();
    });
    modTimer(t, 10);
    k.clock.advance(10);
    expect(k.lockdep.reports()).toEqual([]);
    // spin_lock_bh: the lock is softirq-safe, so process context must keep softirqs off while holding it.
    lock.lockBh();
    try {
      timerDeleteSync(t);
    } finally {
      lock.unlock();
    }
    expect(k.lockdep.reports().map((r) => r.message.split("\n").find((l) => l.startsWith("WARNING")))).toEqual(["WARNING: possible circular locking dependency detected"]);
  });

  it("timer_delete_sync from hard-IRQ context WARNs", () => {
    const k = new Kernel();
    const t = timerSetup(k, "&dev->timer", () => undefined);
    modTimer(t, 10);
    expect(k.sched.irq(() => timerDeleteSync(t))).toBe(true);
    expect(k.warnings().some((w) => w.includes("WARN_ON(in_hardirq() && !(timer->flags & TIMER_IRQSAFE))"))).toBe(true);
  });
});
