// Port of the kernel kunit suites "dma-buf-fence" (st-dma-fence.c) and "dma-buf-resv" (st-dma-resv.c), case by case with their case names.
import { beforeEach, describe, expect, it } from "vitest";
import {
  DmaFence,
  DmaResv,
  HZ,
  Kernel,
  SpinLock,
  dmaFenceAddCallback,
  dmaFenceEnableSwSignaling,
  dmaFenceGetStatusNumber,
  dmaFenceGetStub,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceSetError,
  dmaFenceSignal,
  dmaFenceWaitTimeout,
  dmaResvAddFence,
  dmaResvFences,
  dmaResvFini,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvUnlock,
  type DmaFenceCb,
  type DmaFenceOps,
  type DmaResvUsage,
} from "@dmabuf-sdk/dmabuf-core";

const MOCK_OPS: DmaFenceOps = { getDriverName: () => "mock", getTimelineName: () => "mock" };
let k: Kernel;
beforeEach(() => {
  k = new Kernel();
});
const lockFor = (name: string): SpinLock => new SpinLock({ lockdep: k.lockdep, current: () => k.current }, name);
const mockFence = (): DmaFence => new DmaFence(k, MOCK_OPS, lockFor("mock_fence lock"), 0n, 0n);

/** `struct simple_cb` + `simple_callback`. */
function simpleCb(): DmaFenceCb & { seen: boolean } {
  return { func: null, seen: false };
}
const simpleCallback = (_f: DmaFence, cb: DmaFenceCb): void => {
  (cb as DmaFenceCb & { seen: boolean }).seen = true;
};
function addCallback(f: DmaFence, cb: DmaFenceCb): number {
  try {
    dmaFenceAddCallback(k, f, cb, simpleCallback);
    return 0;
  } catch {
    return -2;
  }
}

function leakFree(): void {
  k.clock.flush();
  expect(k.leakReport().text()).toBe("");
}

describe("dma-buf-fence (st-dma-fence.c)", () => {
  it("test_sanitycheck", () => {
    const f = mockFence();
    dmaFenceEnableSwSignaling(f);
    dmaFenceSignal(f);
    dmaFencePut(f);
    leakFree();
  });

  it("test_signaling", () => {
    const f = mockFence();
    dmaFenceEnableSwSignaling(f);
    expect(dmaFenceIsSignaled(f)).toBe(false);
    dmaFenceSignal(f);
    expect(dmaFenceIsSignaled(f)).toBe(true);
    dmaFencePut(f);
    leakFree();
  });

  it("test_add_callback", () => {
    const f = mockFence();
    const cb = simpleCb();
    expect(addCallback(f, cb)).toBe(0);
    dmaFenceSignal(f);
    expect(cb.seen).toBe(true);
    dmaFencePut(f);
  });

  it("test_late_add_callback", () => {
    const f = mockFence();
    const cb = simpleCb();
    dmaFenceEnableSwSignaling(f);
    dmaFenceSignal(f);
    expect(addCallback(f, cb)).not.toBe(0);
    dmaFenceSignal(f);
    expect(cb.seen).toBe(false);
    dmaFencePut(f);
  });

  it("test_rm_callback", () => {
    const f = mockFence();
    const cb = simpleCb();
    expect(addCallback(f, cb)).toBe(0);
    expect(dmaFenceRemoveCallback(f, cb)).toBe(true);
    dmaFenceSignal(f);
    expect(cb.seen).toBe(false);
    dmaFencePut(f);
  });

  it("test_late_rm_callback", () => {
    const f = mockFence();
    const cb = simpleCb();
    expect(addCallback(f, cb)).toBe(0);
    dmaFenceSignal(f);
    expect(cb.seen).toBe(true);
    expect(dmaFenceRemoveCallback(f, cb)).toBe(false);
    dmaFencePut(f);
  });

  it("test_status", () => {
    const f = mockFence();
    dmaFenceEnableSwSignaling(f);
    expect(dmaFenceGetStatusNumber(f)).toBe(0);
    dmaFenceSignal(f);
    expect(dmaFenceGetStatusNumber(f)).toBe(1);
    dmaFencePut(f);
  });

  it("test_error", () => {
    const f = mockFence();
    dmaFenceEnableSwSignaling(f);
    dmaFenceSetError(f, "EIO");
    expect(dmaFenceGetStatusNumber(f)).toBe(0);
    dmaFenceSignal(f);
    expect(dmaFenceGetStatusNumber(f)).toBe(-5);
    dmaFencePut(f);
  });

  it("test_wait", () => {
    const f = mockFence();
    dmaFenceEnableSwSignaling(f);
    expect(dmaFenceWaitTimeout(f, false, 0)).toBe(0);
    dmaFenceSignal(f);
    expect(dmaFenceWaitTimeout(f, false, 0)).toBe(1);
    dmaFencePut(f);
  });

  it("test_wait_timeout", () => {
    const f = mockFence();
    dmaFenceEnableSwSignaling(f);
    expect(dmaFenceWaitTimeout(f, false, 1)).toBe(0);
    // mod_timer(jiffies + 1): the timer signals the fence one jiffy later.
    k.clock.schedule(1e9 / HZ, () => dmaFenceSignal(f));
    expect(dmaFenceWaitTimeout(f, false, HZ)).toBeGreaterThan(0);
    dmaFencePut(f);
  });

  it("test_stub", () => {
    const f: DmaFence[] = [];
    for (let i = 0; i < 64; i++) {
      f.push(dmaFenceGetStub(k));
      expect(dmaFenceIsSignaled(f[i]!)).toBe(true);
    }
    expect(new Set(f).size).toBe(1);
    for (const s of f) dmaFencePut(s);
    leakFree();
  });

  it("test_race_signal_callback", () => {
    // Two kthreads race add_callback against signal. Kernel calls are atomic
    // in the model, so the race reduces to both orders of one pass: signal
    // before or after the other side's add_callback. A callback is either
    // seen or add_callback reports the fence already signaled (a "miss").
    for (const before of [false, true]) {
      const f1 = mockFence();
      const f2 = mockFence();
      dmaFenceEnableSwSignaling(f1);
      dmaFenceEnableSwSignaling(f2);
      if (before) dmaFenceSignal(f2);
      const cb = simpleCb();
      if (addCallback(f2, cb)) cb.seen = true;
      if (!before) dmaFenceSignal(f2);
      if (!cb.seen) dmaFenceWaitTimeout(f2, false, HZ);
      expect(cb.seen).toBe(true);
      dmaFenceSignal(f1);
      dmaFencePut(f1);
      dmaFencePut(f2);
    }
    leakFree();
  });
});

const USAGES: { usage: DmaResvUsage; desc: string }[] = [
  { usage: "DMA_RESV_USAGE_KERNEL", desc: "kernel" },
  { usage: "DMA_RESV_USAGE_WRITE", desc: "write" },
  { usage: "DMA_RESV_USAGE_READ", desc: "read" },
  { usage: "DMA_RESV_USAGE_BOOKKEEP", desc: "bookkeep" },
];

describe("dma-buf-resv (st-dma-resv.c)", () => {
  const allocFence = (): DmaFence => new DmaFence(k, { getDriverName: () => "selftest", getTimelineName: () => "selftest" }, lockFor("fence_lock"), 0n, 0n);

  function withOneFence(usage: DmaResvUsage, unlock: boolean): { resv: DmaResv; f: DmaFence } {
    const f = allocFence();
    dmaFenceEnableSwSignaling(f);
    const resv = new DmaResv(k);
    expect(dmaResvLock(resv)).toBeUndefined();
    dmaResvReserveFences(resv, 1);
    dmaResvAddFence(resv, f, usage);
    if (unlock) dmaResvUnlock(resv);
    return { resv, f };
  }
  function fini(resv: DmaResv, f: DmaFence, locked: boolean): void {
    if (locked) dmaResvUnlock(resv);
    dmaResvFini(resv);
    dmaFencePut(f);
    leakFree();
  }

  it("test_sanitycheck", () => {
    const f = allocFence();
    dmaFenceEnableSwSignaling(f);
    dmaFenceSignal(f);
    dmaFencePut(f);
    const resv = new DmaResv(k);
    expect(dmaResvLock(resv)).toBeUndefined();
    dmaResvUnlock(resv);
    dmaResvFini(resv);
    leakFree();
  });

  it.each(USAGES)("test_signaling $desc", ({ usage }) => {
    const { resv, f } = withOneFence(usage, false);
    expect(dmaResvTestSignaled(resv, usage)).toBe(false);
    dmaFenceSignal(f);
    expect(dmaResvTestSignaled(resv, usage)).toBe(true);
    fini(resv, f, true);
  });

  it.each(USAGES)("test_for_each $desc", ({ usage }) => {
    const { resv, f } = withOneFence(usage, false);
    const seen = resv.fences.filter((e) => dmaResvFences(resv, usage).includes(e.fence));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.fence).toBe(f);
    expect(seen[0]!.usage).toBe(usage);
    dmaFenceSignal(f);
    fini(resv, f, true);
  });

  it.each(USAGES)("test_for_each_unlocked $desc", ({ usage }) => {
    // The RCU iterator's restart (the kernel pokes cursor.fences to force one)
    // has no counterpart: the model's fence list is never read concurrently
    // with a writer. What remains: the unlocked walk sees the one fence once.
    const { resv, f } = withOneFence(usage, true);
    const fences = dmaResvFences(resv, usage);
    expect(fences).toEqual([f]);
    expect(resv.fences[0]!.usage).toBe(usage);
    dmaFenceSignal(f);
    fini(resv, f, false);
  });

  it.each(USAGES)("test_get_fences $desc", ({ usage }) => {
    const { resv, f } = withOneFence(usage, true);
    const fences = dmaResvFences(resv, usage);
    expect(fences.length === 1 && fences[0] === f).toBe(true);
    dmaFenceSignal(f);
    fini(resv, f, false);
  });
});
