// Tests of kernel/workqueue.c and kernel/irq/: work items on kworkers, flush/cancel, and device interrupts.
import { describe, expect, it } from "vitest";
import {
  Kernel,
  KernelBug,
  Mutex,
  SpinLock,
  allocOrderedWorkqueue,
  allocWorkqueue,
  cancelWorkSync,
  DmaFence,
  dmaFenceSignal,
  dmaFenceWait,
  dmaFenceContextAlloc,
  dmaFencePut,
  flushWork,
  flushWorkqueue,
  freeIrq,
  initDelayedWork,
  initWork,
  irqActions,
  queueDelayedWork,
  queueWork,
  raiseIrq,
  requestIrq,
  scheduleWork,
  type LockEnv,
} from "@dmabuf-sdk/dmabuf-core";

const envOf = (k: Kernel): LockEnv => ({ lockdep: k.lockdep, current: () => k.current });

describe("workqueues and kworkers", () => {
  it("a work item runs on a kworker (its own current, kernel thread, process context), not as the flusher", () => {
    const k = new Kernel();
    const seen: string[] = [];
    const w = initWork(k, "&w", () => seen.push(`${k.current.comm} kthread=${k.current.kthread} irqs=${k.lockdep.hardirqsEnabled()}`));
    expect(scheduleWork(w)).toBe(true);
    expect(scheduleWork(w)).toBe(false); // already pending
    expect(seen).toEqual([]);
    expect(flushWork(w)).toBe(true);
    expect(seen).toEqual(["kworker/0:0 kthread=true irqs=true"]);
    expect(flushWork(w)).toBe(false);
    expect(k.tasks().map((t) => t.comm)).toEqual(["init"]); // kernel threads are not processes
  });

  it("an ordered queue runs one item at a time, in queueing order; an unbound queue is served by kworker/uN:M", () => {
    const k = new Kernel();
    const order: string[] = [];
    const wq = allocOrderedWorkqueue(k, "ordered");
    const a = initWork(k, "&a", () => {
      order.push(`a on ${k.current.comm}`);
      // b cannot start while a runs, even when a sleeps
      k.clock.waitUntil(() => false, 1_000_000);
      order.push("a done");
    });
    const b = initWork(k, "&b", () => order.push("b"));
    queueWork(wq, a);
    queueWork(wq, b);
    flushWorkqueue(wq);
    expect(order).toEqual(["a on kworker/u4:0", "a done", "b"]);
    const ub = allocWorkqueue(k, "ub", { unbound: true });
    const c = initWork(k, "&c", () => order.push(k.current.comm));
    queueWork(ub, c);
    flushWork(c);
    expect(order.at(-1)).toMatch(/^kworker\/u4:\d$/);
  });

  it("cancel_work_sync dequeues a pending item (true) and does nothing for an idle one (false)", () => {
    const k = new Kernel();
    let ran = 0;
    const w = initWork(k, "&w", () => void ran++);
    scheduleWork(w);
    expect(cancelWorkSync(w)).toBe(true);
    k.clock.flush();
    expect(ran).toBe(0);
    expect(cancelWorkSync(w)).toBe(false);
  });

  it("delayed work runs when virtual time reaches its delay", () => {
    const k = new Kernel();
    const at: number[] = [];
    const dw = initDelayedWork(k, "&dw", () => void at.push(k.clock.nowNs));
    queueDelayedWork(k.workqueues.systemWq, dw, 5_000_000);
    k.clock.advance(4_000_000);
    expect(at).toEqual([]);
    k.clock.advance(2_000_000);
    expect(at).toEqual([5_000_000]);
  });

  it("a kworker that finds a mutex held sleeps until it is free, instead of deadlocking the waiter (the vfio revoke case)", () => {
    const k = new Kernel();
    const resv = new Mutex(envOf(k), "resv", "reservation_ww_class_mutex");
    const trace: string[] = [];
    const unmap = initWork(k, "&importer->unmap_work", () => {
      resv.lock();
      try {
        trace.push(`unmap by ${k.current.comm}`);
      } finally {
        resv.unlock();
      }
    });
    resv.lock();
    scheduleWork(unmap);
    k.clock.flush(); // the kworker runs, blocks on resv
    expect(trace).toEqual([]);
    expect(k.clock.pendingEvents().map((e) => e.label)).toEqual([expect.stringMatching(/blocked on mutex resv/)]);
    resv.unlock();
    flushWork(unmap);
    expect(trace).toEqual(["unmap by kworker/0:0"]);
    expect(k.lockdep.reports()).toEqual([]);
  });

  it("flushing a work while holding a lock the work takes is a circular dependency through (work_completion)", () => {
    const k = new Kernel();
    const m = new Mutex(envOf(k), "m");
    const w = initWork(k, "&w", () => m.with(() => undefined));
    scheduleWork(w);
    k.clock.flush();
    m.lock();
    try {
      flushWork(w);
    } finally {
      m.unlock();
    }
    const r = k.lockdep.reports();
    expect(r.map((x) => x.kind)).toEqual(["circular"]);
    expect(r[0]!.classes).toEqual(["(work_completion)(&w)", "m", "(work_completion)(&w)"]);
  });

  it("flush_work on work that can never finish is a hung task", () => {
    const k = new Kernel();
    const m = new Mutex(envOf(k), "m");
    const w = initWork(k, "&w", () => m.with(() => undefined));
    m.lock();
    scheduleWork(w);
    expect(() => flushWork(w)).toThrow(KernelBug);
    m.unlock();
    k.clock.flush();
  });

  it("the pick-next policy chooses among due events; the default is queueing order", () => {
    const run = (policy?: (n: number) => number): string[] => {
      const k = new Kernel();
      if (policy) k.sched.pickNext = (due) => policy(due.length);
      const order: string[] = [];
      for (const n of ["a", "b", "c"]) scheduleWork(initWork(k, `&${n}`, () => order.push(n)));
      k.clock.flush();
      return order;
    };
    expect(run()).toEqual(["a", "b", "c"]);
    expect(run((n) => n - 1)).toEqual(["c", "b", "a"]);
  });
});

describe("device interrupts", () => {
  it("request_irq/raise: the handler runs in hard-IRQ context on the idle task; a fence signalled there runs its callbacks in IRQ", () => {
    const k = new Kernel();
    const lock = new SpinLock(envOf(k), "hw fence", "&ring->fence_drv.lock");
    const fence = new DmaFence(k, { getDriverName: () => "hw", getTimelineName: () => "ring" }, lock, dmaFenceContextAlloc(k, 1), 1n);
    const seen: string[] = [];
    requestIrq(k, 42, () => {
      seen.push(`${k.current.comm}/${k.current.pid} hardirq=${k.lockdep.inHardirqContext()}`);
      dmaFenceSignal(fence);
      return "IRQ_HANDLED";
    }, {}, "xe", "dev");
    expect(irqActions(k, 42)).toEqual(["xe"]);
    expect(() => requestIrq(k, 42, () => "IRQ_NONE", {}, "other", "d2")).toThrow(expect.objectContaining({ errno: "EBUSY" }));
    raiseIrq(k, 42, 1_000_000);
    dmaFenceWait(fence, false);
    expect(seen).toEqual(["swapper/0/0 hardirq=true"]);
    expect(k.clock.nowNs).toBe(1_000_000);
    expect(lock.lockClass.usage()).toContain("IN-HARDIRQ-W");
    freeIrq(k, 42, "dev");
    expect(irqActions(k, 42)).toEqual([]);
    dmaFencePut(fence);
    expect(k.lockdep.reports()).toEqual([]);
  });
});
