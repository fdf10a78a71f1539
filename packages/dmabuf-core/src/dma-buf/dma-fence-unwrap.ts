// dma_fence_unwrap: iterate the fences inside arrays and chains, deduplicate and merge them (drivers/dma-buf/dma-fence-unwrap.c).
import type { Kernel } from "../kernel/kernel.js";
import { dmaFenceArrayCreate, dmaFenceArrayFirst, dmaFenceArrayNext } from "./dma-fence-array.js";
import { dmaFenceChainContained, dmaFenceChainWalk } from "./dma-fence-chain.js";
import {
  DmaFence,
  dmaFenceAllocatePrivateStub,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFenceIsLater,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceTimestamp,
} from "./dma-fence.js";

/** `struct dma_fence_unwrap`: the cursor; it holds a reference on `chain`. @public */
export interface DmaFenceUnwrap {
  chain: DmaFence | null;
  array: DmaFence | null;
  index: number;
}

function unwrapArray(cursor: DmaFenceUnwrap): DmaFence | null {
  cursor.array = dmaFenceChainContained(cursor.chain!);
  cursor.index = 0;
  return dmaFenceArrayFirst(cursor.array);
}

/** `dma_fence_unwrap_first(head, cursor)`. @public */
export function dmaFenceUnwrapFirst(head: DmaFence, cursor: DmaFenceUnwrap): DmaFence | null {
  cursor.chain = dmaFenceGet(head);
  return unwrapArray(cursor);
}

/** `dma_fence_unwrap_next(cursor)`: the next member, or the first of the next pending link. @public */
export function dmaFenceUnwrapNext(cursor: DmaFenceUnwrap): DmaFence | null {
  ++cursor.index;
  const tmp = dmaFenceArrayNext(cursor.array!, cursor.index);
  if (tmp) return tmp;
  cursor.chain = dmaFenceChainWalk(cursor.chain!);
  if (!cursor.chain) return null;
  return unwrapArray(cursor);
}

/**
 * `dma_fence_unwrap_for_each(fence, cursor, head)`: every member of the
 * head's payload, then of each still-pending predecessor link (signaled
 * links are collected on the way). Stopping early drops the cursor's
 * reference.
 * @public
 */
export function* dmaFenceUnwrapForEach(head: DmaFence): Generator<DmaFence, void, void> {
  const cursor: DmaFenceUnwrap = { chain: null, array: null, index: 0 };
  let f = dmaFenceUnwrapFirst(head, cursor);
  try {
    while (f) {
      yield f;
      f = dmaFenceUnwrapNext(cursor);
    }
  } finally {
    if (f && cursor.chain) dmaFencePut(cursor.chain);
    else if (!f && cursor.chain) dmaFencePut(cursor.chain); // an empty array ended the walk with the link still held
  }
}

/**
 * `dma_fence_dedup_array(fences, n)`: sorts by context (the later fence of a
 * context first), keeps one fence per context and puts the others. Returns
 * the new count (the `n == 0` case returns 0, as the 2026 fix does).
 * @public
 */
export function dmaFenceDedupArray(fences: DmaFence[]): number {
  if (fences.length === 0) return 0;
  fences.sort((a, b) => {
    if (a.context < b.context) return -1;
    if (a.context > b.context) return 1;
    if (a === b) return 0;
    return dmaFenceIsLater(a, b) ? -1 : dmaFenceIsLater(b, a) ? 1 : 0;
  });
  let j = 0;
  for (let i = 1; i < fences.length; i++) {
    if (fences[i]!.context === fences[j]!.context) dmaFencePut(fences[i]!);
    else fences[++j] = fences[i]!;
  }
  fences.length = j + 1;
  return fences.length;
}

/**
 * `dma_fence_unwrap_merge(...)` (`__dma_fence_unwrap_merge`): one flat fence
 * waiting for every pending fence inside the inputs. All signaled → a private
 * stub with the latest timestamp (errors of signaled inputs are dropped);
 * one pending → that fence itself; else a deduplicated array on a new
 * context (or `context` when given, `dma_fence_unwrap_merge_context`).
 * The inputs' references stay with the caller. Null on allocation failure.
 * @public
 */
export function dmaFenceUnwrapMerge(kernel: Kernel, inputs: readonly DmaFence[], context?: bigint): DmaFence | null {
  let timestamp = 0n;
  let count = 0;
  let last: DmaFence | null = null;
  for (const head of inputs) {
    for (const f of dmaFenceUnwrapForEach(head)) {
      if (!dmaFenceIsSignaled(f)) {
        dmaFencePut(last);
        last = dmaFenceGet(f);
        ++count;
      } else {
        const t = dmaFenceTimestamp(f);
        if (t > timestamp) timestamp = t;
      }
    }
  }
  if (count === 0) {
    dmaFencePut(last);
    return dmaFenceAllocatePrivateStub(kernel, Number(timestamp));
  }
  if (count === 1) return last;
  dmaFencePut(last);
  try {
    kernel.alloc.kvmalloc("dma_fence_unwrap_merge fences");
  } catch {
    return null;
  }
  const array: DmaFence[] = [];
  for (const head of inputs) {
    for (const f of dmaFenceUnwrapForEach(head)) {
      if (!dmaFenceIsSignaled(f)) array.push(dmaFenceGet(f));
      else {
        const t = dmaFenceTimestamp(f);
        if (t > timestamp) timestamp = t;
      }
    }
  }
  if (array.length === 0) return dmaFenceAllocatePrivateStub(kernel, Number(timestamp));
  if (array.length === 1) return array[0]!;
  const n = dmaFenceDedupArray(array);
  if (n > 1) {
    const result = dmaFenceArrayCreate(kernel, array, context ?? dmaFenceContextAlloc(kernel, 1), 1n, false);
    if (!result) {
      for (const f of array) dmaFencePut(f);
      return null;
    }
    return result;
  }
  return array[0]!;
}
