// Port of the kernel kunit suite "dma-buf-fence-chain" (drivers/dma-buf/st-dma-fence-chain.c), case by case with its case names.
import { beforeEach, describe, expect, it } from "vitest";
import {
  DmaFence,
  Kernel,
  MAX_SCHEDULE_TIMEOUT,
  SpinLock,
  dmaFenceChainAlloc,
  dmaFenceChainFindSeqno,
  dmaFenceChainInit,
  dmaFenceEnableSwSignaling,
  dmaFenceGet,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceWaitTimeout,
  type DmaFenceOps,
} from "@dmabuf-sdk/dmabuf-core";

const CHAIN_SZ = 4 << 10;
const MOCK_OPS: DmaFenceOps = { getDriverName: () => "mock", getTimelineName: () => "mock" };

let k: Kernel;
beforeEach(() => {
  k = new Kernel();
});

function mockFence(): DmaFence {
  return new DmaFence(k, MOCK_OPS, new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "mock_fence lock", "mock_fence_lock"), 0n, 0n);
}

/** `mock_chain(prev, fence, seqno)`: takes new references on both. */
function mockChain(prev: DmaFence | null, fence: DmaFence, seqno: bigint): DmaFence {
  return dmaFenceChainInit(dmaFenceChainAlloc(k), prev ? dmaFenceGet(prev) : null, dmaFenceGet(fence), seqno);
}

interface FenceChains {
  fences: DmaFence[];
  chains: DmaFence[];
  tail: DmaFence | null;
}

function fenceChainsInit(count: number, seqnoFn: (i: number) => bigint): FenceChains {
  const fc: FenceChains = { fences: [], chains: [], tail: null };
  for (let i = 0; i < count; i++) {
    fc.fences.push(mockFence());
    fc.chains.push(mockChain(fc.tail, fc.fences[i]!, seqnoFn(i)));
    fc.tail = fc.chains[i]!;
  }
  return fc;
}

function fenceChainsFini(fc: FenceChains): void {
  for (const f of fc.fences) {
    dmaFenceSignal(f);
    dmaFencePut(f);
  }
  for (const c of fc.chains) dmaFencePut(c);
  k.clock.flush();
  expect(k.leakReport().empty).toBe(true);
}

const seqnoInc = (i: number): bigint => BigInt(i + 1);
const seqnoInc2 = (i: number): bigint => BigInt(2 * i + 2);

/** `dma_fence_chain_find_seqno(&fence, seqno)` on a new reference to `from`: [err, fence]. */
function find(from: DmaFence, seqno: number): [number, DmaFence | null] {
  const ref = { fence: dmaFenceGet(from) as DmaFence | null };
  const err = dmaFenceChainFindSeqno(ref, BigInt(seqno));
  dmaFencePut(ref.fence);
  return [err, ref.fence];
}

describe("st-dma-fence-chain", () => {
  it("test_sanitycheck", () => {
    const f = mockFence();
    const chain = mockChain(null, f, 1n);
    dmaFenceSignal(f);
    dmaFencePut(f);
    dmaFencePut(chain);
    k.clock.flush();
    expect(k.leakReport().empty).toBe(true);
  });

  it("test_find_seqno", () => {
    const fc = fenceChainsInit(64, seqnoInc);
    expect(find(fc.tail!, 0)[0]).toBe(0);
    for (let i = 0; i < fc.chains.length; i++) {
      let [err, fence] = find(fc.tail!, i + 1);
      expect(err).toBe(0);
      expect(fence).toBe(fc.chains[i]);
      [err, fence] = find(fence!, i + 1); // finding self
      expect(err).toBe(0);
      expect(fence).toBe(fc.chains[i]);
      expect(find(fence!, i + 2)[0]).toBe(-22); // future fence
      [err, fence] = find(fence!, i);
      expect(err).toBe(0);
      if (i > 0) expect(fence).toBe(fc.chains[i - 1]);
    }
    fenceChainsFini(fc);
  });

  it("test_find_signaled", () => {
    const fc = fenceChainsInit(2, seqnoInc);
    dmaFenceSignal(fc.fences[0]!);
    const [err, fence] = find(fc.tail!, 1);
    expect(err).toBe(0);
    // Either collected (null) or the first link itself.
    expect(fence === null || fence === fc.chains[0]).toBe(true);
    fenceChainsFini(fc);
  });

  it("test_find_out_of_order", () => {
    const fc = fenceChainsInit(3, seqnoInc);
    dmaFenceSignal(fc.fences[1]!);
    const [err, fence] = find(fc.tail!, 2);
    expect(err).toBe(0);
    // Point 2 signaled before point 1: we must still wait for 1 (2 was collected on the way).
    expect(fence).toBe(fc.chains[0]);
    fenceChainsFini(fc);
  });

  it("test_find_gap", () => {
    const fc = fenceChainsInit(64, seqnoInc2);
    for (let i = 0; i < fc.chains.length; i++) {
      let [err, fence] = find(fc.tail!, 2 * i + 1);
      expect(err).toBe(0);
      expect(fence).toBe(fc.chains[i]);
      [err, fence] = find(fence!, 2 * i + 2);
      expect(err).toBe(0);
      expect(fence).toBe(fc.chains[i]);
    }
    fenceChainsFini(fc);
  });

  it("test_find_race", () => {
    // The kernel runs one kthread per CPU for 5 s; the model interleaves the
    // same find-then-signal loop on virtual time with the seeded random source.
    const fc = fenceChainsInit(CHAIN_SZ, seqnoInc);
    for (let round = 0; round < 2000; round++) {
      const seqno = (k.random.getRandomU32() % fc.chains.length) + 1;
      const ref = { fence: dmaFenceGet(fc.tail!) as DmaFence | null };
      expect(dmaFenceChainFindSeqno(ref, BigInt(seqno))).toBe(0);
      if (ref.fence) {
        if (ref.fence.seqno === BigInt(seqno)) expect(dmaFenceChainFindSeqno(ref, BigInt(seqno))).toBe(0);
        dmaFencePut(ref.fence);
      }
      dmaFenceSignal(fc.fences[k.random.getRandomU32() % (fc.chains.length - 1)]!);
    }
    fenceChainsFini(fc);
  });

  it("test_signal_forward", () => {
    const fc = fenceChainsInit(64, seqnoInc);
    for (let i = 0; i < fc.chains.length; i++) {
      dmaFenceSignal(fc.fences[i]!);
      expect(dmaFenceIsSignaled(fc.chains[i]!)).toBe(true);
      if (i + 1 < fc.chains.length) expect(dmaFenceIsSignaled(fc.chains[i + 1]!)).toBe(false);
    }
    fenceChainsFini(fc);
  });

  it("test_signal_backward", () => {
    const fc = fenceChainsInit(64, seqnoInc);
    for (let i = fc.chains.length; i--; ) {
      dmaFenceSignal(fc.fences[i]!);
      if (i > 0) expect(dmaFenceIsSignaled(fc.chains[i]!)).toBe(false);
    }
    for (const c of fc.chains) expect(dmaFenceIsSignaled(c)).toBe(true);
    fenceChainsFini(fc);
  });

  // wait_*: the kernel's waiter is a kthread blocked in dma_fence_wait(tail)
  // while the test signals. The model arms the same wait (signalling enabled
  // on the tail, so the chain re-arms link by link through its irq_work), signals,
  // then lets the waiter run: it must return without hanging.
  function waitCase(order: (fc: FenceChains) => DmaFence[]): void {
    const fc = fenceChainsInit(CHAIN_SZ, seqnoInc);
    dmaFenceEnableSwSignaling(fc.tail!);
    for (const f of order(fc)) dmaFenceSignal(f);
    expect(dmaFenceWaitTimeout(fc.tail!, false, MAX_SCHEDULE_TIMEOUT)).toBeGreaterThan(0);
    expect(fc.tail!.signaledFlag).toBe(true);
    fenceChainsFini(fc);
  }

  it("test_wait_forward", () => waitCase((fc) => [...fc.fences]));
  it("test_wait_backward", () => waitCase((fc) => [...fc.fences].reverse()));
  it("test_wait_random", () =>
    waitCase((fc) => {
      const f = [...fc.fences];
      for (let count = f.length - 1; count > 0; count--) {
        const swp = k.random.getRandomU32() % (count + 1);
        [f[count], f[swp]] = [f[swp]!, f[count]!];
      }
      return f;
    }));

  it("a waiter armed before any signal is not signaled early (signal_backward with a waiter)", () => {
    const fc = fenceChainsInit(8, seqnoInc);
    dmaFenceEnableSwSignaling(fc.tail!);
    for (let i = fc.fences.length; i-- > 1; ) dmaFenceSignal(fc.fences[i]!);
    k.clock.flush();
    expect(fc.tail!.signaledFlag).toBe(false);
    dmaFenceSignal(fc.fences[0]!);
    k.clock.flush();
    expect(fc.tail!.signaledFlag).toBe(true);
    fenceChainsFini(fc);
  });
});
