// dma_fence_array and dma_fence_chain behaviours beyond the kunit suites: error propagation, signal-on-any, helpers, deadlines, contexts.
import { beforeEach, describe, expect, it } from "vitest";
import {
  DMA_FENCE_ARRAY_PENDING_ERROR,
  DmaFence,
  Kernel,
  SpinLock,
  dmaFenceArrayCreate,
  dmaFenceArrayFirst,
  dmaFenceArrayNext,
  dmaFenceChainAlloc,
  dmaFenceChainInit,
  dmaFenceContextAlloc,
  dmaFenceEnableSwSignaling,
  dmaFenceGet,
  dmaFenceGetStatusNumber,
  dmaFenceIsSignaled,
  dmaFenceMatchContext,
  dmaFencePut,
  dmaFenceSetDeadline,
  dmaFenceSetError,
  dmaFenceSignal,
  type DmaFenceOps,
} from "@dmabuf-sdk/dmabuf-core";

let k: Kernel;
let deadlines: bigint[];
beforeEach(() => {
  k = new Kernel();
  deadlines = [];
});
const OPS: DmaFenceOps = { getDriverName: () => "mock", getTimelineName: () => "mock", setDeadline: (_f, t) => void deadlines.push(t) };
const ctx = (): bigint => dmaFenceContextAlloc(k, 1);
const fence = (c = ctx(), s = 1n): DmaFence => new DmaFence(k, OPS, new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "mock lock", "mock_fence_lock"), c, s);
const clean = (...fs: DmaFence[]): void => {
  for (const f of fs) dmaFencePut(f);
  k.clock.flush();
  expect(k.leakReport().text()).toBe("");
};

describe("dma_fence_array", () => {
  it.each([
    { desc: "no member error", errors: [undefined, undefined], expect: 1 },
    { desc: "the first error in signal order", errors: ["ENODEV", "ECANCELED"] as const, expect: -19 },
    { desc: "a later member's error if the first had none", errors: [undefined, "ESRCH"] as const, expect: -3 },
  ])("signalling enabled: the array ends with $desc", ({ errors, expect: want }) => {
    const a = fence();
    const b = fence();
    const arr = dmaFenceArrayCreate(k, [dmaFenceGet(a), dmaFenceGet(b)], ctx(), 1n)!;
    dmaFenceEnableSwSignaling(arr);
    expect(arr.error).toBe(DMA_FENCE_ARRAY_PENDING_ERROR);
    expect(dmaFenceGetStatusNumber(arr)).toBe(0); // the sentinel never shows
    [a, b].forEach((f, i) => {
      if (errors[i]) dmaFenceSetError(f, errors[i]!);
      dmaFenceSignal(f);
    });
    k.clock.flush();
    expect(arr.signaledFlag).toBe(true);
    expect(dmaFenceGetStatusNumber(arr)).toBe(want);
    clean(arr, a, b);
  });

  it("signal_on_any signals with the first member and its error", () => {
    const a = fence();
    const b = fence();
    const arr = dmaFenceArrayCreate(k, [dmaFenceGet(a), dmaFenceGet(b)], ctx(), 1n, true)!;
    dmaFenceEnableSwSignaling(arr);
    dmaFenceSetError(b, "ENODEV");
    dmaFenceSignal(b);
    k.clock.flush();
    expect(dmaFenceGetStatusNumber(arr)).toBe(-19);
    dmaFenceSignal(a);
    clean(arr, a, b);
  });

  it("members already signaled at enable time are accounted on the spot", () => {
    const a = fence();
    dmaFenceSetError(a, "EIO");
    dmaFenceSignal(a);
    const arr = dmaFenceArrayCreate(k, [dmaFenceGet(a)], ctx(), 1n)!;
    dmaFenceEnableSwSignaling(arr);
    expect(arr.signaledFlag).toBe(true);
    expect(dmaFenceGetStatusNumber(arr)).toBe(-5);
    clean(arr, a);
  });

  it("first/next, match_context, deadline forwarding and the container WARN", () => {
    const c = ctx();
    const a = fence(c, 1n);
    const b = fence(c, 2n);
    const arr = dmaFenceArrayCreate(k, [dmaFenceGet(a), dmaFenceGet(b)], ctx(), 1n)!;
    expect(dmaFenceArrayFirst(arr)).toBe(a);
    expect(dmaFenceArrayNext(arr, 1)).toBe(b);
    expect(dmaFenceArrayNext(arr, 2)).toBeNull();
    expect(dmaFenceArrayFirst(a)).toBe(a);
    expect(dmaFenceArrayFirst(null)).toBeNull();
    expect(dmaFenceMatchContext(arr, c)).toBe(true);
    expect(dmaFenceMatchContext(a, c + 1n)).toBe(false);
    dmaFenceSetDeadline(arr, 777n);
    expect(deadlines).toEqual([777n, 777n]);
    const nested = dmaFenceArrayCreate(k, [dmaFenceGet(arr)], ctx(), 1n)!;
    expect(k.warnings().some((w) => w.includes("container in a fence array"))).toBe(true);
    dmaFenceSignal(a);
    dmaFenceSignal(b);
    clean(nested, arr, a, b);
  });

  it("an allocation failure returns null and the caller keeps its references", () => {
    const a = fence();
    k.faults.failNth(1, "kzalloc");
    const fences = [dmaFenceGet(a)];
    expect(dmaFenceArrayCreate(k, fences, ctx(), 1n)).toBeNull();
    clean(...fences, a);
  });
});

describe("dma_fence_chain", () => {
  const link = (prev: DmaFence | null, f: DmaFence, seqno: bigint): DmaFence => dmaFenceChainInit(dmaFenceChainAlloc(k), prev, dmaFenceGet(f), seqno);

  it("a later point reuses the context; an unordered point starts a new context with seqno = max", () => {
    const f1 = fence();
    const f2 = fence();
    const f3 = fence();
    const c1 = link(null, f1, 5n);
    const c2 = link(dmaFenceGet(c1), f2, 7n);
    const c3 = link(dmaFenceGet(c2), f3, 3n);
    expect(c2.context).toBe(c1.context);
    expect((c2 as unknown as { prevSeqno: bigint }).prevSeqno).toBe(5n);
    expect(c3.context).not.toBe(c2.context);
    expect(c3.seqno).toBe(7n);
    expect((c3 as unknown as { prevSeqno: bigint }).prevSeqno).toBe(0n);
    for (const f of [f1, f2, f3]) dmaFenceSignal(f);
    clean(c3, c2, c1, f1, f2, f3);
  });

  it("the node never carries its payload's error", () => {
    const f = fence();
    const c = link(null, f, 1n);
    dmaFenceSetError(f, "ENODEV");
    dmaFenceSignal(f);
    expect(dmaFenceIsSignaled(c)).toBe(true);
    expect(dmaFenceGetStatusNumber(c)).toBe(1);
    clean(c, f);
  });

  it("deadlines reach the payload of every pending link only", () => {
    const f1 = fence();
    const f2 = fence();
    const f3 = fence();
    const c1 = link(null, f1, 1n);
    const c2 = link(dmaFenceGet(c1), f2, 2n);
    const c3 = link(dmaFenceGet(c2), f3, 3n);
    dmaFenceSignal(f2);
    dmaFenceSetDeadline(c3, 42n);
    // c3's own payload, then c1 (c2 is collected on the way).
    expect(deadlines).toEqual([42n, 42n]);
    dmaFenceSignal(f1);
    dmaFenceSignal(f3);
    clean(c3, c2, c1, f1, f2, f3);
  });

  it("a chain node as payload WARNs", () => {
    const f = fence();
    const c = link(null, f, 1n);
    const bad = link(null, c, 2n);
    expect(k.warnings().some((w) => w.includes("chain node as payload"))).toBe(true);
    dmaFenceSignal(f);
    clean(bad, c, f);
  });
});
