// Tests of kernel/locking/lockdep.c IRQ-state rules: hardirq/softirq safe and unsafe lock usage.
import { beforeEach, describe, expect, it } from "vitest";
import { Kernel, Mutex, SpinLock, type LockEnv } from "@dmabuf-sdk/dmabuf-core";

describe("lockdep IRQ-state rules", () => {
  let k: Kernel;
  let env: LockEnv;
  beforeEach(() => {
    k = new Kernel();
    env = { lockdep: k.lockdep, current: () => k.current };
  });

  /** The drm_sched kill-jobs shape: xa_lock with IRQs on, fence lock in hard IRQ, then fence lock → xa_lock. */
  function killJobsShape(xaKey: object, fenceKey: object): { xa: SpinLock; fence: SpinLock } {
    const xa = new SpinLock(env, "job deps", "&xa->xa_lock", xaKey);
    const fence = new SpinLock(env, "sched fence", "&fence->lock", fenceKey);
    xa.with(() => undefined); // drm_sched_job_add_dependency(): xa_alloc with IRQs on
    k.sched.irq(() => fence.withIrqsave(() => undefined)); // HW fence IRQ → drm_sched_fence_finished()
    fence.withIrqsave(() => xa.with(() => undefined)); // kill_jobs_cb under the signalled fence's lock, process context
    return { xa, fence };
  }

  it("fence-lock → xa_lock with IRQs off is still HARDIRQ-safe -> HARDIRQ-unsafe (check_irq_usage at edge-add time)", () => {
    killJobsShape({}, {});
    const r = k.lockdep.reports();
    expect(r.map((x) => x.kind)).toEqual(["irq-order"]);
    expect(r[0]!.irqclass).toBe("HARDIRQ");
    expect(r[0]!.classes).toEqual(["&fence->lock", "&xa->xa_lock"]);
    const lines = r[0]!.message.split("\n");
    expect(lines[0]).toBe("WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected");
    expect(lines[1]).toMatch(/^init\/1 \[HC0\[0\]:SC0\[0\]:HE0:SE1\] is trying to acquire:$/);
    expect(lines).toContain(" (&fence->lock){-...}-{3:3} -> (&xa->xa_lock){+.+.}-{3:3}");
    expect(lines).toContain("but this new dependency connects a HARDIRQ-irq-safe lock:");
    expect(lines).toContain("to a HARDIRQ-irq-unsafe lock:");
    // print_irq_lock_scenario(), as in the Oct 2025 report.
    const at = lines.indexOf(" Possible interrupt unsafe locking scenario:");
    expect(lines.slice(at, at + 13)).toEqual([
      " Possible interrupt unsafe locking scenario:",
      "",
      "       CPU0                    CPU1",
      "       ----                    ----",
      "  lock(&xa->xa_lock);",
      "                               local_irq_disable();",
      "                               lock(&fence->lock);",
      "                               lock(&xa->xa_lock);",
      "  <Interrupt>",
      "    lock(&fence->lock);",
      "",
      " *** DEADLOCK ***",
      "",
    ]);
  });

  it("classes of one name from different init sites print #N (count_matching_names)", () => {
    for (let i = 0; i < 16; i++) new SpinLock(env, `xa ${i}`, "&xa->xa_lock", {});
    killJobsShape({}, {});
    expect(k.lockdep.reports()[0]!.classes).toEqual(["&fence->lock", "&xa->xa_lock#17"]);
    expect(k.lockdep.reports()[0]!.message).toContain("  lock(&xa->xa_lock#17);");
  });

  it("the callback run from hard IRQ instead: inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} on xa_lock first", () => {
    const xa = new SpinLock(env, "job deps", "&xa->xa_lock", {});
    const fence = new SpinLock(env, "sched fence", "&fence->lock", {});
    xa.with(() => undefined);
    k.sched.irq(() => fence.withIrqsave(() => xa.with(() => undefined)));
    const r = k.lockdep.reports();
    expect(r[0]!.kind).toBe("inconsistent");
    expect(r[0]!.usage).toEqual({ old: "HARDIRQ-ON-W", new: "IN-HARDIRQ-W" });
    const lines = r[0]!.message.split("\n");
    expect(lines.slice(0, 2)).toEqual(["WARNING: inconsistent lock state", "inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage."]);
    expect(lines[2]).toMatch(/\[HC1\[1\]:SC0\[0\]:HE0:SE0\] takes:$/);
    expect(lines).toContain("{HARDIRQ-ON-W} state was registered at:");
  });

  it.each([
    { desc: "IRQ first, then IRQs on", irqFirst: true, old: "IN-HARDIRQ-W", nw: "HARDIRQ-ON-W" },
    { desc: "IRQs on first, then IRQ", irqFirst: false, old: "HARDIRQ-ON-W", nw: "IN-HARDIRQ-W" },
  ])("inconsistent usage prints the old bit first ($desc)", ({ irqFirst, old, nw }) => {
    const l = new SpinLock(env, "l");
    const inIrq = (): void => k.sched.irq(() => l.with(() => undefined));
    const on = (): void => l.with(() => undefined);
    if (irqFirst) {
      inIrq();
      on();
    } else {
      on();
      inIrq();
    }
    expect(k.lockdep.reports().map((r) => r.usage)).toEqual([{ old, new: nw }]);
    expect(k.lockdep.reports()[0]!.message).toContain(`inconsistent {${old}} -> {${nw}} usage.`);
  });

  it("a class that becomes IRQ-safe after taking an IRQ-unsafe one: possible irq lock inversion (forward case)", () => {
    const a = new SpinLock(env, "A");
    const b = new SpinLock(env, "B");
    a.withIrqsave(() => b.with(() => undefined));
    b.with(() => undefined);
    k.sched.irq(() => a.with(() => undefined));
    const r = k.lockdep.reports();
    expect(r.map((x) => x.kind)).toEqual(["irq-inversion"]);
    expect(r[0]!.message).toContain("but this lock took another, HARDIRQ-unsafe lock in the past:");
    expect(r[0]!.message).toContain("and interrupts could create inverse lock ordering between them.");
  });

  it("a class that becomes IRQ-unsafe after an IRQ-safe one took it: the backward case", () => {
    const a = new SpinLock(env, "A");
    const b = new SpinLock(env, "B");
    a.withIrqsave(() => b.with(() => undefined));
    k.sched.irq(() => a.with(() => undefined));
    b.with(() => undefined);
    expect(k.lockdep.reports()[0]!.message).toContain("but this lock was taken by another, HARDIRQ-safe lock in the past:");
  });

  it("transitive: safe → middle → unsafe prints 'Chain exists of'", () => {
    const safe = new SpinLock(env, "safe");
    const middle = new SpinLock(env, "middle");
    const unsafe = new SpinLock(env, "unsafe");
    k.sched.irq(() => safe.with(() => undefined));
    unsafe.with(() => undefined);
    middle.withIrqsave(() => unsafe.with(() => undefined)); // middle → unsafe: middle is not IRQ-safe, fine
    expect(k.lockdep.reports()).toEqual([]);
    safe.withIrqsave(() => middle.with(() => undefined)); // safe → middle closes safe → … → unsafe
    const r = k.lockdep.reports();
    expect(r.map((x) => x.kind)).toEqual(["irq-order"]);
    expect(r[0]!.classes).toEqual(["safe", "unsafe"]);
    expect(r[0]!.message).toContain("Chain exists of:\n  safe --> middle --> unsafe");
  });

  it("softirq: a timer-taken lock later taken with softirqs on is SOFTIRQ-safe -> SOFTIRQ-unsafe via an edge", () => {
    const a = new SpinLock(env, "A");
    const b = new SpinLock(env, "B");
    k.sched.softirq(() => a.with(() => undefined));
    b.with(() => undefined);
    a.lockBh();
    b.with(() => undefined);
    a.unlock();
    const r = k.lockdep.reports();
    expect(r.map((x) => [x.kind, x.irqclass])).toEqual([["irq-order", "SOFTIRQ"]]);
    expect(r[0]!.message.split("\n")[0]).toBe("WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected");
  });

  it("locks held by the interrupted task are not linked to locks taken in the IRQ (irq_context boundary)", () => {
    const m = new Mutex(env, "m");
    const l = new SpinLock(env, "l");
    m.lock();
    k.sched.irq(() => l.with(() => undefined));
    m.unlock();
    expect(k.lockdep.dependencies()).toEqual([]);
    expect(k.lockdep.reports()).toEqual([]);
  });

  it("spin_unlock_irqrestore of an inner lock re-enables IRQs and marks the outer lock HARDIRQ-ON (mark_held_locks)", () => {
    const outer = new SpinLock(env, "outer");
    k.sched.irq(() => outer.with(() => undefined)); // outer is IRQ-safe
    k.lockdep.irqsOff(1);
    outer.lock(); // IRQs off: fine
    expect(k.lockdep.reports()).toEqual([]);
    k.lockdep.irqsOff(-1); // local_irq_enable() with outer held
    outer.unlock();
    expect(k.lockdep.reports().map((r) => r.usage)).toEqual([{ old: "IN-HARDIRQ-W", new: "HARDIRQ-ON-W" }]);
  });

  it("a trylock marks no IN-IRQ usage and adds no incoming edge, but is a prev for the next lock", () => {
    const a = new SpinLock(env, "A");
    const b = new SpinLock(env, "B");
    k.sched.irq(() => {
      expect(a.trylock()).toBe(true);
      a.unlock();
    });
    expect(a.lockClass.usage()).toEqual(["INITIAL USE"]);
    expect(a.trylock()).toBe(true);
    b.lock();
    b.unlock();
    a.unlock();
    expect(k.lockdep.dependencies()).toEqual(["A -> B"]);
  });

  it("subclasses are separate classes printed name/n; nesting one class is then fine", () => {
    const a = new SpinLock(env, "a", "same");
    const b = new SpinLock(env, "b", "same");
    a.lock();
    b.lockNested(1);
    b.unlock();
    a.unlock();
    expect(k.lockdep.reports()).toEqual([]);
    expect(k.lockdep.dependencies()).toEqual(["same -> same/1"]);
  });

  it("mutex_lock_nest_lock: same-class nesting under the nest lock; without it held, 'Nested lock was not taken'", () => {
    const outer = new Mutex(env, "outer");
    const a = new Mutex(env, "a", "obj");
    const b = new Mutex(env, "b", "obj");
    outer.lock();
    a.lockNestLock(outer);
    b.lockNestLock(outer);
    b.unlock();
    a.unlock();
    outer.unlock();
    expect(k.lockdep.reports()).toEqual([]);
    a.lockNestLock(outer);
    a.unlock();
    expect(k.lockdep.reports().map((r) => r.message.split("\n")[0])).toEqual(["WARNING: Nested lock was not taken"]);
  });

  it("lockdepOneShot: the first splat turns lockdep off (debug_locks_off)", () => {
    const kk = new Kernel({ lockdepOneShot: true });
    const e: LockEnv = { lockdep: kk.lockdep, current: () => kk.current };
    const l = new SpinLock(e, "l");
    const m = new SpinLock(e, "m");
    kk.sched.irq(() => (l.with(() => undefined), m.with(() => undefined)));
    l.with(() => undefined);
    m.with(() => undefined);
    expect(kk.lockdep.reports()).toHaveLength(1);
    expect(kk.lockdep.debugLocks).toBe(false);
  });

  it("the usage notation: {-.-.} for a lock used in hard IRQ and softirq only, {+.+.} for one taken with IRQs on", () => {
    const f = new SpinLock(env, "f");
    const x = new SpinLock(env, "x");
    k.sched.irq(() => f.with(() => undefined));
    k.sched.softirq(() => f.withIrqsave(() => undefined));
    x.with(() => undefined);
    expect(f.lockClass.usageChars).toBe("-.-.");
    expect(x.lockClass.usageChars).toBe("+.+.");
  });
});
