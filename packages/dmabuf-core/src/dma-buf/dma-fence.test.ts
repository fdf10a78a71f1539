// Tests of drivers/dma-buf/dma-fence.c and dma-resv.c: signalling, callbacks, waits, and reservation objects.
import { beforeEach, describe, expect, it } from "vitest";
import {
  DmaFence,
  DmaResv,
  HZ,
  Kernel,
  KernelBug,
  MAX_SCHEDULE_TIMEOUT,
  SpinLock,
  dmaFenceAddCallback,
  dmaFenceCheckAndSignal,
  dmaFenceContextAlloc,
  dmaFenceDescribe,
  dmaFenceGetStatus,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceSetError,
  dmaFenceSignal,
  dmaFenceWaitTimeout,
  dmaResvAddFence,
  dmaResvDescribe,
  dmaResvFences,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvUnlock,
  dmaResvUsageRw,
  dmaResvWaitTimeout,
  type DmaFenceCb,
  type DmaFenceOps,
  type DmaResvUsage,
} from "@dmabuf-sdk/dmabuf-core";

const OPS: DmaFenceOps = { getDriverName: () => "mock", getTimelineName: () => "ring0" };

describe("dma-fence", () => {
  let k: Kernel;
  let lock: SpinLock;
  let ctx: bigint;
  let seq: bigint;
  const fence = (ops: DmaFenceOps = OPS) => new DmaFence(k, ops, lock, ctx, ++seq);
  beforeEach(() => {
    k = new Kernel();
    lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "ring0 fence lock", "fence_lock");
    ctx = dmaFenceContextAlloc(k, 1);
    seq = 0n;
  });

  it("contexts are allocated consecutively; 0 WARNs", () => {
    const a = dmaFenceContextAlloc(k, 3);
    expect(dmaFenceContextAlloc(k, 1)).toBe(a + 3n);
    dmaFenceContextAlloc(k, 0);
    expect(k.warnings()).toHaveLength(1);
  });

  it.each([
    { desc: "unsignaled", error: undefined, signal: false, status: "unsignaled" },
    { desc: "signaled", error: undefined, signal: true, status: "signaled" },
    { desc: "error then signal", error: "ECANCELED" as const, signal: true, status: "ECANCELED" },
    { desc: "error without signal is not visible as status", error: "ETIME" as const, signal: false, status: "unsignaled" },
  ])("status: $desc → $status", ({ error, signal, status }) => {
    const f = fence();
    if (error) dmaFenceSetError(f, error);
    if (signal) dmaFenceSignal(f);
    expect(dmaFenceGetStatus(f)).toBe(status);
    expect(k.warnings()).toEqual([]);
  });

  it("set_error after signal WARNs and still stores it", () => {
    const f = fence();
    dmaFenceSignal(f);
    dmaFenceSetError(f, "EIO");
    expect(k.warnings()).toHaveLength(1);
    expect(dmaFenceGetStatus(f)).toBe("EIO");
  });

  it("callbacks run once, in registration order, under the fence lock; signal is idempotent", () => {
    const f = fence();
    const order: string[] = [];
    const held: string[][] = [];
    const cbs: DmaFenceCb[] = [{ func: null }, { func: null }, { func: null }];
    dmaFenceAddCallback(k, f, cbs[0]!, () => (order.push("a"), held.push(k.lockdep.heldLocks())));
    dmaFenceAddCallback(k, f, cbs[1]!, () => order.push("b"));
    dmaFenceAddCallback(k, f, cbs[2]!, () => order.push("c"));
    expect(dmaFenceRemoveCallback(f, cbs[1]!)).toBe(true);
    dmaFenceSignal(f);
    dmaFenceSignal(f);
    expect(order).toEqual(["a", "c"]);
    expect(held).toEqual([["ring0 fence lock"]]);
    expect(dmaFenceRemoveCallback(f, cbs[0]!)).toBe(false);
    expect(f.timestamp).toBe(k.clock.nowNs);
  });

  it("add_callback on a signaled fence is ENOENT and does not call back", () => {
    const f = fence();
    dmaFenceSignal(f);
    let called = false;
    expect(() => dmaFenceAddCallback(k, f, { func: null }, () => (called = true))).toThrow(expect.objectContaining({ errno: "ENOENT" }));
    expect(called).toBe(false);
  });

  it.each([
    { desc: "a NULL func", withFence: true, withFunc: false, warn: "dma_fence_add_callback: WARN_ON(!func)" },
    { desc: "a NULL fence", withFence: false, withFunc: true, warn: "dma_fence_add_callback: WARN_ON(!fence)" },
    { desc: "a NULL fence and a NULL func", withFence: false, withFunc: false, warn: "dma_fence_add_callback: WARN_ON(!fence)" },
  ])("add_callback with $desc: WARN_ON in the caller's kernel log and EINVAL, the callback node untouched, nothing leaked", ({ withFence, withFunc, warn }) => {
    const f = withFence ? fence() : null;
    const cb: DmaFenceCb = { func: null };
    const before = k.warnings().length;
    const log = k.printk.dmesg().length;
    expect(() => dmaFenceAddCallback(k, f, cb, withFunc ? () => undefined : null)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    expect(k.warnings().slice(before)).toEqual([warn]);
    expect(k.printk.dmesg().slice(log)).toContain(`WARNING: CPU: 0 PID: 1 ${warn}`);
    expect(cb.func).toBeNull();
    expect(cb._pending ?? null).toBeNull();
    if (f) {
      expect(f.cbList).toHaveLength(0);
      dmaFencePut(f);
    }
    expect(k.leakReport().empty).toBe(true);
  });

  it("add_callback with a NULL fence under panic_on_warn: the WARN panics (KernelBug) instead of returning", () => {
    const pk = new Kernel({ panicOnWarn: true });
    expect(() => dmaFenceAddCallback(pk, null, { func: null }, () => undefined)).toThrow(KernelBug);
  });

  it("add_callback on a signaled fence leaves cb->func unset, as the kernel sets it only when queued", () => {
    const f = fence();
    dmaFenceSignal(f);
    const cb: DmaFenceCb = { func: null };
    expect(() => dmaFenceAddCallback(k, f, cb, () => undefined)).toThrow(expect.objectContaining({ errno: "ENOENT" }));
    expect(cb.func).toBeNull();
  });

  it("enable_signaling returning false signals on the spot and add_callback is ENOENT", () => {
    const f = fence({ ...OPS, enableSignaling: () => false });
    expect(() => dmaFenceAddCallback(k, f, { func: null }, () => undefined)).toThrow(expect.objectContaining({ errno: "ENOENT" }));
    expect(dmaFenceIsSignaled(f)).toBe(true);
  });

  it("the ops.signaled peek signals the fence as a side effect", () => {
    let hw = false;
    const f = fence({ ...OPS, signaled: () => hw });
    expect(dmaFenceIsSignaled(f)).toBe(false);
    hw = true;
    expect(dmaFenceIsSignaled(f)).toBe(true);
    expect(f.signaledFlag).toBe(true);
    expect(dmaFenceCheckAndSignal(f)).toBe(true);
  });

  it("re-arming on a fence that shares the signaling fence's lock self-deadlocks (the drm_sched kill bug)", () => {
    const f1 = fence();
    const f2 = fence();
    let err: unknown;
    dmaFenceAddCallback(k, f1, { func: null }, () => {
      try {
        dmaFenceAddCallback(k, f2, { func: null }, () => undefined);
      } catch (e) {
        err = e;
      }
    });
    dmaFenceSignal(f1);
    expect(err).toBeInstanceOf(KernelBug);
  });

  it("taking a sleeping lock in a fence callback splats", () => {
    const f = fence();
    const resv = new DmaResv(k);
    dmaFenceAddCallback(k, f, { func: null }, () => {
      dmaResvLock(resv);
      dmaResvUnlock(resv);
    });
    dmaFenceSignal(f);
    expect(k.lockdep.reports().map((r) => r.kind)).toContain("invalid-context");
  });

  it("releasing a fence with callbacks pending WARNs and signals it with EDEADLK", () => {
    const f = fence();
    let status: string | undefined;
    dmaFenceAddCallback(k, f, { func: null }, (ff) => (status = ff.error === -35 ? "EDEADLK" : String(ff.error)));
    dmaFencePut(f);
    expect(status).toBe("EDEADLK");
    expect(k.warnings()[0]).toMatch(/released with pending signals/);
  });

  it.each([
    { desc: "signaled before the timeout", signalAtMs: 5, timeout: 10, left: 5 },
    { desc: "timeout first", signalAtMs: 50, timeout: 10, left: 0 },
    { desc: "timeout 0 on an unsignaled fence", signalAtMs: 5, timeout: 0, left: 0 },
    { desc: "MAX_SCHEDULE_TIMEOUT", signalAtMs: 5, timeout: MAX_SCHEDULE_TIMEOUT, left: MAX_SCHEDULE_TIMEOUT },
  ])("wait_timeout: $desc", ({ signalAtMs, timeout, left }) => {
    const f = fence();
    k.clock.schedule(signalAtMs * 1e6, () => dmaFenceSignal(f));
    expect(dmaFenceWaitTimeout(f, true, (timeout * HZ) / 1000 > MAX_SCHEDULE_TIMEOUT ? MAX_SCHEDULE_TIMEOUT : timeout)).toBe(left);
  });

  it("wait_timeout on a signaled fence with timeout 0 returns 1; negative timeout is EINVAL", () => {
    const f = fence();
    dmaFenceSignal(f);
    expect(dmaFenceWaitTimeout(f, false, 0)).toBe(1);
    expect(() => dmaFenceWaitTimeout(f, false, -1)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
  });

  it("waiting forever on a fence nobody signals is a hung task", () => {
    expect(() => dmaFenceWaitTimeout(fence(), false, MAX_SCHEDULE_TIMEOUT)).toThrow(/blocked forever/);
  });

  it("describe prints context:seqno, names while unsignaled", () => {
    const f = fence();
    expect(dmaFenceDescribe(f)).toBe(`${ctx}:1 ring0 mock unsignalled`);
    dmaFenceSignal(f);
    expect(dmaFenceDescribe(f)).toBe(`${ctx}:1   signalled`);
  });

  describe("dma-resv", () => {
    const usages: DmaResvUsage[] = ["DMA_RESV_USAGE_KERNEL", "DMA_RESV_USAGE_WRITE", "DMA_RESV_USAGE_READ", "DMA_RESV_USAGE_BOOKKEEP"];

    it.each(usages.map((u, i) => ({ u, expect: usages.slice(0, i + 1) })))("fences up to $u", ({ u, expect: want }) => {
      const resv = new DmaResv(k);
      dmaResvLock(resv);
      const fences = usages.map((usage) => {
        const f = new DmaFence(k, OPS, lock, dmaFenceContextAlloc(k, 1), 1n);
        dmaResvReserveFences(resv, 1);
        dmaResvAddFence(resv, f, usage);
        return { f, usage };
      });
      dmaResvUnlock(resv);
      expect(dmaResvFences(resv, u)).toEqual(fences.filter((x) => want.includes(x.usage)).map((x) => x.f));
    });

    it.each([
      { desc: "a later fence of the context at a lower usage value replaces the slot", first: "READ", second: "KERNEL", order: "f1f2", want: [["f2", "KERNEL"]] },
      { desc: "a later fence of the context at the same usage replaces the slot", first: "WRITE", second: "WRITE", order: "f1f2", want: [["f2", "WRITE"]] },
      { desc: "a later fence at a higher usage value is appended (old_usage >= usage fails)", first: "KERNEL", second: "READ", order: "f1f2", want: [["f1", "KERNEL"], ["f2", "READ"]] },
      { desc: "an earlier fence of the context is appended (not later_or_same)", first: "READ", second: "READ", order: "f2f1", want: [["f2", "READ"], ["f1", "READ"]] },
      { desc: "the same fence again takes its own slot (dma_fence_is_later_or_same)", first: "READ", second: "WRITE", order: "f1f1", want: [["f1", "WRITE"]] },
    ])("dma_resv_add_fence: $desc", ({ first, second, order, want }) => {
      const resv = new DmaResv(k);
      dmaResvLock(resv);
      const byName = { f1: fence(), f2: fence() };
      const [a, b] = [order.slice(0, 2), order.slice(2)] as ("f1" | "f2")[];
      dmaResvReserveFences(resv, 2);
      dmaResvAddFence(resv, byName[a!], `DMA_RESV_USAGE_${first}` as DmaResvUsage);
      dmaResvAddFence(resv, byName[b!], `DMA_RESV_USAGE_${second}` as DmaResvUsage);
      dmaResvUnlock(resv);
      expect(resv.fences.map((e) => [e.fence === byName.f1 ? "f1" : "f2", e.usage.replace("DMA_RESV_USAGE_", "")])).toEqual(want);
      expect(k.warnings()).toEqual([]);
    });

    it("dma_resv_add_fence: a signaled fence's slot is reused by a fence of any context", () => {
      const resv = new DmaResv(k);
      const other = new DmaFence(k, OPS, lock, dmaFenceContextAlloc(k, 1), 1n);
      const f1 = fence();
      dmaResvLock(resv);
      dmaResvReserveFences(resv, 1);
      dmaResvAddFence(resv, f1, "DMA_RESV_USAGE_WRITE");
      dmaFenceSignal(f1);
      dmaResvAddFence(resv, other, "DMA_RESV_USAGE_BOOKKEEP");
      dmaResvUnlock(resv);
      expect(resv.fences.map((e) => [e.fence, e.usage])).toEqual([[other, "DMA_RESV_USAGE_BOOKKEEP"]]);
      expect(k.warnings()).toEqual([]);
    });

    it("add_fence requires the lock and a reserved slot; reserving can fail", () => {
      const resv = new DmaResv(k);
      const f = fence();
      dmaResvLock(resv);
      dmaResvAddFence(resv, f, "DMA_RESV_USAGE_WRITE");
      expect(k.warnings()).toEqual(["dma_resv_add_fence without a reserved slot"]);
      k.faults.inject({ site: "dma_resv_reserve_fences", times: 1 });
      expect(() => dmaResvReserveFences(resv, 1)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
      dmaResvUnlock(resv);
      dmaResvReserveFences(resv, 1);
      expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["assert"]);
    });

    it("wait_timeout waits for every fence at or below the usage; bookkeep fences are not shown by describe", () => {
      const resv = new DmaResv(k);
      const kf = new DmaFence(k, OPS, lock, dmaFenceContextAlloc(k, 1), 1n);
      const bf = new DmaFence(k, OPS, lock, dmaFenceContextAlloc(k, 1), 1n);
      dmaResvLock(resv);
      dmaResvReserveFences(resv, 2);
      dmaResvAddFence(resv, kf, "DMA_RESV_USAGE_KERNEL");
      dmaResvAddFence(resv, bf, "DMA_RESV_USAGE_BOOKKEEP");
      dmaResvUnlock(resv);
      k.clock.schedule(2e6, () => dmaFenceSignal(kf));
      k.clock.schedule(20e6, () => dmaFenceSignal(bf));
      expect(dmaResvDescribe(resv)).toBe(`\tkernel fence:${kf.context}:1 ring0 mock unsignalled\n`);
      expect(dmaResvTestSignaled(resv, "DMA_RESV_USAGE_KERNEL")).toBe(false);
      expect(dmaResvWaitTimeout(resv, "DMA_RESV_USAGE_KERNEL", false, 10)).toBeGreaterThan(0);
      expect(dmaResvTestSignaled(resv, "DMA_RESV_USAGE_BOOKKEEP")).toBe(false);
      expect(dmaResvWaitTimeout(resv, "DMA_RESV_USAGE_BOOKKEEP", false, 5)).toBe(0);
      expect(dmaResvWaitTimeout(resv, "DMA_RESV_USAGE_BOOKKEEP", false, MAX_SCHEDULE_TIMEOUT)).toBe(MAX_SCHEDULE_TIMEOUT);
      expect(dmaResvWaitTimeout(resv, "DMA_RESV_USAGE_BOOKKEEP", false, 0)).toBe(1);
    });

    it("dma_resv_usage_rw: a write waits for READ, a read for WRITE", () => {
      expect(dmaResvUsageRw(true)).toBe("DMA_RESV_USAGE_READ");
      expect(dmaResvUsageRw(false)).toBe("DMA_RESV_USAGE_WRITE");
    });
  });
});
