// dma_fence_chain: timeline points linked into a chain, with walk, find_seqno and garbage collection (drivers/dma-buf/dma-fence-chain.c).
import { irqWorkQueue } from "../kernel/irq-work.js";
import { ERRNO } from "../kernel/errno.js";
import type { Kernel } from "../kernel/kernel.js";
import { SpinLock } from "../kernel/spinlock.js";
import { toDmaFenceArray } from "./dma-fence-array.js";
import {
  DmaFence,
  dmaFenceAddCallback,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSeqnoIsLater,
  dmaFenceSetDeadline,
  dmaFenceSignal,
  type DmaFenceCb,
  type DmaFenceOps,
} from "./dma-fence.js";

const CHAIN_OPS: DmaFenceOps = {
  getDriverName: () => "dma_fence_chain",
  getTimelineName: () => "unbound",
  enableSignaling: (f) => dmaFenceChainEnableSignaling(f as DmaFenceChain),
  signaled: (f) => dmaFenceChainSignaled(f as DmaFenceChain),
  release: (f) => dmaFenceChainRelease(f as DmaFenceChain),
  setDeadline: (f, t) => {
    for (const link of dmaFenceChainForEach(f)) dmaFenceSetDeadline(dmaFenceChainContained(link), t);
  },
};

/**
 * `struct dma_fence_chain`: one timeline point. Owns a reference on `prev`
 * (the previous point, a plain fence, or null) and on `fence` (the payload).
 * Its seqno is 64-bit. The node itself never carries an error.
 * @public
 */
export class DmaFenceChain extends DmaFence {
  /** `DMA_FENCE_FLAG_SEQNO64_BIT`. */
  readonly seqno64 = true;
  readonly isChain = true;
  /** `prev` (RCU pointer); cleared links are garbage-collected predecessors. */
  prev: DmaFence | null;
  /** `prev_seqno`: seqno of `prev` at link time when the context was reused, else 0. */
  readonly prevSeqno: bigint;
  /** The contained (payload) fence. */
  fence: DmaFence | null;
  /** The one callback slot the node uses on the fence it currently waits for. */
  readonly cb: DmaFenceCb = { func: null };

  /** @internal use {@link dmaFenceChainInit} */
  constructor(kernel: Kernel, prev: DmaFence | null, fence: DmaFence, context: bigint, seqno: bigint, prevSeqno: bigint) {
    super(kernel, CHAIN_OPS, new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, "dma_fence_chain lock", "dma_fence_chain_lock"), context, seqno);
    this.prev = prev;
    this.fence = fence;
    this.prevSeqno = prevSeqno;
  }
}

/** A node from {@link dmaFenceChainAlloc}, not yet initialised. @public */
export interface DmaFenceChainSlot {
  readonly kernel: Kernel;
  used: boolean;
}

/** `to_dma_fence_chain()`: the node, or null if `fence` is not a chain node. @public */
export function toDmaFenceChain(fence: DmaFence | null | undefined): DmaFenceChain | null {
  return fence instanceof DmaFenceChain ? fence : null;
}

/** `dma_fence_is_chain()`. @public */
export function dmaFenceIsChain(fence: DmaFence): boolean {
  return fence instanceof DmaFenceChain;
}

/** `dma_fence_is_container()`: an array or a chain node. @public */
export function dmaFenceIsContainer(fence: DmaFence): boolean {
  return fence instanceof DmaFenceChain || toDmaFenceArray(fence) !== null;
}

/** `dma_fence_chain_contained()`: the payload of a node, or the fence itself. @public */
export function dmaFenceChainContained(fence: DmaFence): DmaFence {
  const c = toDmaFenceChain(fence);
  return c ? c.fence! : fence;
}

/**
 * `dma_fence_chain_alloc()`: room for one node.
 * @throws KernelError `ENOMEM` (injectable `kzalloc` of `dma_fence_chain`).
 * @public
 */
export function dmaFenceChainAlloc(kernel: Kernel): DmaFenceChainSlot {
  kernel.alloc.kzalloc("dma_fence_chain");
  return { kernel, used: false };
}

/** `dma_fence_chain_free()`: frees a node that was never initialised. @public */
export function dmaFenceChainFree(slot: DmaFenceChainSlot | null): void {
  if (slot?.used) slot.kernel.warn("dma_fence_chain_free on an initialised node");
}

/**
 * `dma_fence_chain_init(chain, prev, fence, seqno)`: links a new point,
 * taking over the references to `prev` and `fence`. A point later than a
 * chain predecessor reuses its context; any other starts a new context with
 * the seqno raised to the predecessor's (a node's seqno never goes back).
 * @public
 */
export function dmaFenceChainInit(slot: DmaFenceChainSlot, prev: DmaFence | null, fence: DmaFence, seqno: bigint): DmaFenceChain {
  const k = slot.kernel;
  slot.used = true;
  const prevChain = toDmaFenceChain(prev);
  let context: bigint;
  let prevSeqno = 0n;
  if (prevChain && dmaFenceSeqnoIsLater(true, seqno, prevChain.seqno)) {
    context = prevChain.context;
    prevSeqno = prevChain.seqno;
  } else {
    context = dmaFenceContextAlloc(k, 1);
    if (prevChain && prevChain.seqno > seqno) seqno = prevChain.seqno;
  }
  k.warnOn(fence instanceof DmaFenceChain, "dma_fence_chain_init: a chain node as payload");
  return new DmaFenceChain(k, prev, fence, context, BigInt.asUintN(64, seqno), prevSeqno);
}

function getPrev(chain: DmaFenceChain): DmaFence | null {
  const p = chain.prev;
  if (!p || !p._ref.getUnlessZero()) return null;
  return p;
}

/**
 * `dma_fence_chain_walk(fence)`: consumes the reference on `fence` and
 * returns a reference on its first predecessor whose payload is still
 * pending, or null. Signaled predecessors are unlinked on the way (their
 * payloads and errors become unreachable from here).
 * @public
 */
export function dmaFenceChainWalk(fence: DmaFence): DmaFence | null {
  const chain = toDmaFenceChain(fence);
  if (!chain) {
    dmaFencePut(fence);
    return null;
  }
  let prev: DmaFence | null;
  while ((prev = getPrev(chain))) {
    const prevChain = toDmaFenceChain(prev);
    let replacement: DmaFence | null;
    if (prevChain) {
      if (!dmaFenceIsSignaled(prevChain.fence!)) break;
      replacement = getPrev(prevChain);
    } else {
      if (!dmaFenceIsSignaled(prev)) break;
      replacement = null;
    }
    if (chain.prev === prev) {
      chain.prev = replacement;
      dmaFencePut(prev);
    } else {
      dmaFencePut(replacement);
    }
    dmaFencePut(prev);
  }
  dmaFencePut(fence);
  return prev;
}

/**
 * `dma_fence_chain_for_each(iter, head)`: the head, then each pending
 * predecessor (collecting signaled links). The iterator holds a reference on
 * the current element; breaking out leaves it with the caller (as the kernel),
 * so callers that break must put what they keep.
 * @public
 */
export function* dmaFenceChainForEach(head: DmaFence): Generator<DmaFence, void, void> {
  let iter: DmaFence | null = dmaFenceGet(head);
  let done = false;
  try {
    while (iter) {
      yield iter;
      iter = dmaFenceChainWalk(iter);
    }
    done = true;
  } finally {
    // A consumer that stops early (break/return) leaves the reference to us: drop it.
    if (!done && iter) dmaFencePut(iter);
  }
}

/**
 * `dma_fence_chain_find_seqno(&fence, seqno)`: replaces `ref.fence` with the
 * oldest still-linked node of the head's context that covers `seqno` (null
 * when everything up to it signaled). Returns 0, or `-EINVAL` when the point
 * is not a chain node's or is later than the head (not yet submitted); then
 * `ref.fence` is unchanged.
 * @public
 */
export function dmaFenceChainFindSeqno(ref: { fence: DmaFence | null }, seqno: bigint): number {
  if (seqno === 0n) return 0;
  const chain = toDmaFenceChain(ref.fence);
  if (!chain || chain.seqno < seqno) return -ERRNO.EINVAL;
  let iter: DmaFence | null = dmaFenceGet(chain);
  while (iter) {
    const c = toDmaFenceChain(iter);
    if (iter.context !== chain.context || !c || c.prevSeqno < seqno) break;
    iter = dmaFenceChainWalk(iter);
  }
  ref.fence = iter;
  dmaFencePut(chain);
  return 0;
}

function dmaFenceChainSignaled(head: DmaFenceChain): boolean {
  let iter: DmaFence | null = dmaFenceGet(head);
  while (iter) {
    if (!dmaFenceIsSignaled(dmaFenceChainContained(iter))) {
      dmaFencePut(iter);
      return false;
    }
    iter = dmaFenceChainWalk(iter);
  }
  return true;
}

function chainCb(f: DmaFence, cb: DmaFenceCb): void {
  const chain = (cb as DmaFenceCb & { chain: DmaFenceChain }).chain;
  // irq_work: re-arm on the next pending link (or signal) outside f's lock.
  irqWorkQueue(chain.kernel, "dma_fence_chain_irq_work", () => {
    if (!dmaFenceChainEnableSignaling(chain)) dmaFenceSignal(chain);
    dmaFencePut(chain);
  });
  dmaFencePut(f);
}

function dmaFenceChainEnableSignaling(head: DmaFenceChain): boolean {
  (head.cb as DmaFenceCb & { chain?: DmaFenceChain }).chain = head;
  dmaFenceGet(head);
  let iter: DmaFence | null = dmaFenceGet(head);
  while (iter) {
    const f = dmaFenceGet(dmaFenceChainContained(iter));
    try {
      dmaFenceAddCallback(head.kernel, f, head.cb, chainCb);
      dmaFencePut(iter);
      return true;
    } catch {
      dmaFencePut(f);
    }
    iter = dmaFenceChainWalk(iter);
  }
  dmaFencePut(head);
  return false;
}

function dmaFenceChainRelease(chain: DmaFenceChain): void {
  // Unlink predecessors we hold the last reference to, iteratively: a long
  // chain must not release recursively.
  let prev: DmaFence | null;
  while ((prev = chain.prev)) {
    if (prev._ref.refcount > 1) break;
    const pc = toDmaFenceChain(prev);
    if (!pc) break;
    chain.prev = pc.prev;
    pc.prev = null;
    dmaFencePut(prev);
  }
  dmaFencePut(prev);
  chain.prev = null;
  dmaFencePut(chain.fence);
  chain.fence = null;
}
