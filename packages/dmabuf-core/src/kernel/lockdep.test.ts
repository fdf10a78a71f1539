// Tests of kernel/locking/lockdep.c: lock classes, dependency cycles, nesting and held-lock checks.
import { beforeEach, describe, expect, it } from "vitest";
import { Kernel, KernelBug, Mutex, RwSemaphore, SpinLock, WwAcquireCtx, WwMutex, type LockEnv } from "@dmabuf-sdk/dmabuf-core";

describe("lockdep", () => {
  let k: Kernel;
  let env: LockEnv;
  beforeEach(() => {
    k = new Kernel();
    env = { lockdep: k.lockdep, current: () => k.current };
  });

  it("records the order dev_set->lock -> memory_lock -> resv and reports the inversion", () => {
    const devSet = new Mutex(env, "dev_set->lock");
    const memory = new RwSemaphore(env, "memory_lock");
    const resv = new WwMutex(env, "resv", "reservation_ww_class_mutex");
    devSet.lock();
    memory.downWrite();
    resv.wwLock();
    resv.unlock();
    memory.upWrite();
    devSet.unlock();
    expect(k.lockdep.reports()).toEqual([]);
    // check_prevs_add(): only the nearest held lock links to the new one; older ones connect through it.
    expect(k.lockdep.dependencies()).toEqual(["dev_set->lock -> memory_lock", "memory_lock -> reservation_ww_class_mutex"]);

    // The fault handler's rule: never memory_lock under resv.
    resv.wwLock();
    memory.downRead();
    memory.upRead();
    resv.unlock();
    const r = k.lockdep.reports();
    expect(r).toHaveLength(1);
    expect(r[0]!.kind).toBe("circular");
    expect(r[0]!.message).toMatch(/possible circular locking dependency detected/);
    expect(r[0]!.classes).toEqual(["memory_lock", "reservation_ww_class_mutex", "memory_lock"]);
  });

  it("finds cycles through intermediate classes", () => {
    const [a, b, c] = ["A", "B", "C"].map((n) => new Mutex(env, n));
    a!.lock();
    b!.lock();
    b!.unlock();
    a!.unlock();
    b!.lock();
    c!.lock();
    c!.unlock();
    b!.unlock();
    c!.lock();
    a!.lock();
    a!.unlock();
    c!.unlock();
    expect(k.lockdep.reports().map((r) => r.classes)).toEqual([["A", "B", "C", "A"]]);
  });

  it("trylock adds no dependency (hot reset takes memory_locks with trylock)", () => {
    const m1 = new RwSemaphore(env, "memory_lock#1", "memory_lock");
    const m2 = new RwSemaphore(env, "memory_lock#2", "memory_lock");
    expect(m1.downWriteTrylock()).toBe(true);
    expect(m2.downWriteTrylock()).toBe(true);
    m2.upWrite();
    m1.upWrite();
    expect(k.lockdep.reports()).toEqual([]);
  });

  it("two locks of one class without nesting annotation are 'possible recursive locking'", () => {
    const a = new Mutex(env, "a", "same_class");
    const b = new Mutex(env, "b", "same_class");
    a.lock();
    b.lock();
    b.unlock();
    a.unlock();
    expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["recursive"]);
  });

  it("ww_mutexes of one class nest under one acquire context", () => {
    const ctx = new WwAcquireCtx();
    const a = new WwMutex(env, "resv a", "reservation_ww_class_mutex");
    const b = new WwMutex(env, "resv b", "reservation_ww_class_mutex");
    expect(a.wwLock(ctx)).toBeUndefined();
    expect(b.wwLock(ctx)).toBeUndefined();
    expect(a.wwLock(ctx)).toBe("EALREADY");
    b.unlock();
    a.unlock();
    expect(k.lockdep.reports()).toEqual([]);
  });

  it("taking the same mutex twice is a deadlock, reported and thrown", () => {
    const m = new Mutex(env, "m");
    m.lock();
    expect(() => m.lock()).toThrow(KernelBug);
    expect(k.lockdep.reports()[0]!.message).toMatch(/DEADLOCK/);
    m.unlock();
  });

  it("a mutex held by another task cannot be waited for in a single-threaded model", () => {
    const m = new Mutex(env, "m");
    const other = k.fork({ comm: "other" });
    k.runAs(other, () => m.lock());
    expect(() => m.lock()).toThrow(/would sleep forever/);
    expect(k.lockdep.heldLocks()).toEqual([]);
    k.runAs(other, () => m.unlock());
  });

  it.each([
    { desc: "held", hold: true, reports: 0 },
    { desc: "not held", hold: false, reports: 1 },
  ])("assertHeld when $desc", ({ hold, reports }) => {
    const m = new Mutex(env, "resv");
    if (hold) m.lock();
    m.assertHeld("dma_buf_pin");
    expect(k.lockdep.reports()).toHaveLength(reports);
    if (reports) expect(k.lockdep.reports()[0]!.message).toMatch(/lockdep_assert_held\(resv\) failed at dma_buf_pin/);
  });

  it("assertHeld checks the holder, not just the state", () => {
    const m = new Mutex(env, "resv");
    const other = k.fork({ comm: "other" });
    k.runAs(other, () => m.lock());
    m.assertHeld();
    expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["assert"]);
  });

  it("assertHeldWrite fails for a reader", () => {
    const s = new RwSemaphore(env, "memory_lock");
    s.downRead();
    s.assertHeld();
    s.assertHeldWrite();
    s.upRead();
    expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["assert"]);
  });

  it("panicOnWarn turns a failed assertion into a KernelBug", () => {
    const kk = new Kernel({ panicOnWarn: true });
    const m = new Mutex({ lockdep: kk.lockdep, current: () => kk.current }, "resv");
    expect(() => m.assertHeld()).toThrow(KernelBug);
  });

  it("sleeping in atomic context splats", () => {
    const spin = new SpinLock(env, "fence->lock");
    const m = new Mutex(env, "resv");
    spin.lockIrqsave();
    m.lock();
    m.unlock();
    spin.unlock();
    const r = k.lockdep.reports();
    expect(r.map((x) => x.kind)).toContain("invalid-context");
    expect(r.find((x) => x.kind === "invalid-context")!.message).toMatch(/sleeping function called from invalid context/);
  });

  it("re-taking a shared spinlock is a self-deadlock", () => {
    const spin = new SpinLock(env, "timeline lock");
    spin.lock();
    expect(() => spin.lock()).toThrow(KernelBug);
    spin.unlock();
  });

  it("a spinlock used in hard IRQ and with IRQs on is inconsistent", () => {
    const xa = new SpinLock(env, "xa_lock");
    k.lockdep.inHardirq(() => {
      xa.lock();
      xa.unlock();
    });
    xa.lock();
    xa.unlock();
    expect(k.lockdep.reports().map((r) => r.kind)).toContain("inconsistent");
  });

  it("taking an IRQ-unsafe lock under an IRQ-safe one is reported", () => {
    const fenceLock = new SpinLock(env, "fence lock");
    const xa = new SpinLock(env, "xa_lock");
    k.lockdep.inHardirq(() => fenceLock.withIrqsave(() => undefined));
    xa.lock();
    xa.unlock();
    fenceLock.lock();
    xa.lock();
    xa.unlock();
    fenceLock.unlock();
    expect(k.lockdep.reports().map((r) => r.kind)).toContain("irq-order");
  });

  it("unlock of a lock not held is a bad unlock balance", () => {
    const m = new Mutex(env, "m");
    m.unlock();
    expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["bad-unlock"]);
  });

  it("a syscall that returns with a lock held is reported", () => {
    const m = new Mutex(env, "leaked");
    const t = k.fork({ comm: "user" });
    k.devfs.register("leaky", { fops: { name: "leaky", unlockedIoctl: () => (m.lock(), 0) } });
    const fd = t.sys.open("/dev/leaky", 2);
    expect(t.sys.ioctl(fd, 1)).toBe(0);
    expect(k.lockdep.reports().map((r) => r.kind)).toContain("held-at-return");
  });
});
