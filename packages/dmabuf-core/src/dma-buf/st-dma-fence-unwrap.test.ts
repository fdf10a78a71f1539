// Port of the kernel kunit suite "dma-buf-fence-unwrap" (drivers/dma-buf/st-dma-fence-unwrap.c with the merge cases), case by case with its case names.
import { beforeEach, describe, expect, it } from "vitest";
import {
  DmaFence,
  Kernel,
  SpinLock,
  dmaFenceArrayCreate,
  dmaFenceChainAlloc,
  dmaFenceChainInit,
  dmaFenceContextAlloc,
  dmaFenceEnableSwSignaling,
  dmaFenceGet,
  dmaFenceGetStub,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceUnwrapForEach,
  dmaFenceUnwrapMerge,
  type DmaFenceOps,
} from "@dmabuf-sdk/dmabuf-core";

const MOCK_OPS: DmaFenceOps = { getDriverName: () => "mock", getTimelineName: () => "mock" };
let k: Kernel;
beforeEach(() => {
  k = new Kernel();
});

function mockFenceAt(context: bigint, seqno: bigint): DmaFence {
  const f = new DmaFence(k, MOCK_OPS, new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "mock_fence lock", "mock_fence_lock"), context, seqno);
  dmaFenceEnableSwSignaling(f);
  return f;
}
const mockFence = (): DmaFence => mockFenceAt(dmaFenceContextAlloc(k, 1), 1n);
/** `mock_array(n, ...)`: takes over the references. */
const mockArray = (...fences: DmaFence[]): DmaFence => dmaFenceArrayCreate(k, fences, dmaFenceContextAlloc(k, 1), 1n, false)!;
/** `mock_chain(prev, fence)`: takes over the references, seqno 1. */
const mockChain = (prev: DmaFence | null, fence: DmaFence): DmaFence => dmaFenceChainInit(dmaFenceChainAlloc(k), prev, fence, 1n);
const unwrap = (head: DmaFence): DmaFence[] => [...dmaFenceUnwrapForEach(head)];
const merge = (...fences: DmaFence[]): DmaFence => dmaFenceUnwrapMerge(k, fences)!;

function done(...fences: DmaFence[]): void {
  for (const f of fences) dmaFencePut(f);
  k.clock.flush();
  expect(k.leakReport().text()).toBe("");
}

describe("st-dma-fence-unwrap", () => {
  it("test_sanitycheck", () => {
    const f = mockFence();
    const chain = mockChain(null, mockArray(f));
    done(chain);
  });

  it("test_unwrap_array", () => {
    const f1 = mockFence();
    const f2 = mockFence();
    const array = mockArray(f1, f2);
    expect(unwrap(array)).toEqual([f1, f2]);
    done(array);
  });

  it("test_unwrap_chain", () => {
    const f1 = mockFence();
    const f2 = mockFence();
    const chain = mockChain(f1, f2);
    expect(unwrap(chain)).toEqual([f2, f1]);
    done(chain);
  });

  it("test_unwrap_chain_array", () => {
    const f1 = mockFence();
    const f2 = mockFence();
    const chain = mockChain(null, mockArray(f1, f2));
    expect(unwrap(chain)).toEqual([f1, f2]);
    done(chain);
  });

  it("test_unwrap_merge", () => {
    const f1 = mockFence();
    const f2 = mockFence();
    const f3 = merge(f1, f2);
    expect(new Set(unwrap(f3))).toEqual(new Set([f1, f2]));
    expect(unwrap(f3)).toHaveLength(2);
    done(f3, f2, f1);
  });

  it("test_unwrap_merge_duplicate", () => {
    const f1 = mockFence();
    const f2 = merge(f1, f1);
    expect(unwrap(f2)).toEqual([f1]);
    expect(f2).toBe(f1); // one pending fence: the fence itself, no array
    done(f2, f1);
  });

  it("test_unwrap_merge_seqno", () => {
    const ctx0 = dmaFenceContextAlloc(k, 1);
    const ctx1 = dmaFenceContextAlloc(k, 1);
    const f1 = mockFenceAt(ctx1, 1n);
    const f2 = mockFenceAt(ctx1, 2n);
    const f3 = mockFenceAt(ctx0, 1n);
    const f4 = merge(f1, f2, f3);
    // Only the later fence of ctx1 survives; order is by context.
    expect(unwrap(f4)).toEqual([f3, f2]);
    done(f4, f3, f2, f1);
  });

  it("test_unwrap_merge_order", () => {
    const f1 = mockFence();
    const f2 = mockFence();
    const a1 = mockArray(f1, f2);
    const c1 = mockChain(null, dmaFenceGet(f1));
    const c2 = mockChain(c1, dmaFenceGet(f2));
    // The chain has the fences in the opposite order; merge sorts by context.
    const a2 = merge(a1, c2);
    expect(unwrap(a2)).toEqual([f1, f2]);
    done(a2, a1, c2);
  });

  it("test_unwrap_merge_complex", () => {
    const f1 = mockFence();
    const f2 = mockFence();
    const f3 = merge(f1, f2);
    const f4 = mockArray(dmaFenceGet(f2), dmaFenceGet(f1));
    const stub = dmaFenceGetStub(k);
    // Signaled fences are filtered, the two arrays merged.
    const f5 = merge(f3, f4, stub);
    expect(unwrap(f5)).toEqual([f1, f2]);
    done(stub, f5, f4, f3, f2, f1);
  });

  it("test_unwrap_merge_complex_seqno", () => {
    const ctx0 = dmaFenceContextAlloc(k, 1);
    const ctx1 = dmaFenceContextAlloc(k, 1);
    const f1 = mockFenceAt(ctx0, 2n);
    const f2 = mockFenceAt(ctx1, 1n);
    const f3 = mockFenceAt(ctx0, 1n);
    const f4 = mockFenceAt(ctx1, 2n);
    const f5 = mockArray(dmaFenceGet(f1), dmaFenceGet(f2));
    const f6 = mockArray(dmaFenceGet(f3), dmaFenceGet(f4));
    const f7 = merge(f5, f6);
    expect(unwrap(f7)).toEqual([f1, f4]);
    done(f7, f6, f5, f4, f3, f2, f1);
  });

  describe("model additions", () => {
    it("merging only signaled fences gives one private stub with the latest timestamp and no error", () => {
      const f1 = mockFence();
      const f2 = mockFence();
      f1.error = -19;
      k.clock.advance(100);
      dmaFenceSignal(f1);
      k.clock.advance(100);
      dmaFenceSignal(f2);
      const m = merge(f1, f2);
      expect(m.context).toBe(0n);
      expect(m.signaledFlag).toBe(true);
      expect(m.error).toBe(0);
      expect(m.timestamp).toBe(200);
      done(m, f1, f2);
    });

    it("unwrap visits a chain's pending links only: signaled links are collected with their errors", () => {
      const f1 = mockFence();
      const f2 = mockFence();
      const c1 = mockChain(null, dmaFenceGet(f1));
      const c2 = mockChain(c1, dmaFenceGet(f2));
      f1.error = -19;
      dmaFenceSignal(f1);
      // The head's payload is always visited; the signaled predecessor is not.
      expect(unwrap(c2)).toEqual([f2]);
      done(c2, f1, f2);
    });

    it("a failed array allocation in merge returns null and leaks nothing", () => {
      const f1 = mockFence();
      const f2 = mockFence();
      k.faults.failNth(1, "kzalloc");
      expect(dmaFenceUnwrapMerge(k, [f1, f2])).toBeNull();
      done(f1, f2);
    });
  });
});
