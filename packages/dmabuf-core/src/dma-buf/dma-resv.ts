// drivers/dma-buf/dma-resv.c: struct dma_resv, its ww_mutex, fence slots by usage, and waits.
import { KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";
import { WwMutex, type WwAcquireCtx } from "../kernel/mutex.js";
import { MAX_SCHEDULE_TIMEOUT } from "../kernel/time.js";
import { dmaFenceArrayCreate, dmaFenceIsArray } from "./dma-fence-array.js";
import { dmaFenceIsChain } from "./dma-fence-chain.js";
import { dmaFenceContextAlloc, dmaFenceDescribe, dmaFenceGet, dmaFenceIsLater, dmaFenceIsSignaled, dmaFencePut, dmaFenceWaitTimeout, type DmaFence } from "./dma-fence.js";

/** `enum dma_resv_usage`, ordered: waiting at a usage covers every lower one. @public */
export type DmaResvUsage = "DMA_RESV_USAGE_KERNEL" | "DMA_RESV_USAGE_WRITE" | "DMA_RESV_USAGE_READ" | "DMA_RESV_USAGE_BOOKKEEP";

const RANK: Record<DmaResvUsage, number> = {
  DMA_RESV_USAGE_KERNEL: 0,
  DMA_RESV_USAGE_WRITE: 1,
  DMA_RESV_USAGE_READ: 2,
  DMA_RESV_USAGE_BOOKKEEP: 3,
};
const NAME = ["kernel", "write", "read", "bookkeep"] as const;

/** `dma_resv_usage_rw(write)`: a write waits for readers and writers (READ), a read for writers (WRITE). @public */
export function dmaResvUsageRw(write: boolean): DmaResvUsage {
  return write ? "DMA_RESV_USAGE_READ" : "DMA_RESV_USAGE_WRITE";
}

/**
 * `struct dma_resv`: a ww_mutex and a list of fences with usages. Fence slots
 * must be reserved before `add_fence` (both under the lock).
 * @public
 */
export class DmaResv {
  readonly lock: WwMutex;
  readonly fences: { fence: DmaFence; usage: DmaResvUsage }[] = [];
  reserved = 0;

  constructor(readonly kernel: Kernel, name = "dma_resv") {
    this.lock = new WwMutex({ lockdep: kernel.lockdep, current: () => kernel.current }, name, "reservation_ww_class_mutex");
  }
}

/** `dma_resv_init()`. @public */
export function dmaResvInit(kernel: Kernel, name?: string): DmaResv {
  return new DmaResv(kernel, name);
}

/** `dma_resv_fini()`: drops every fence reference. @public */
export function dmaResvFini(obj: DmaResv): void {
  for (const f of obj.fences.splice(0)) dmaFencePut(f.fence);
}

/** `dma_resv_lock(obj, ctx)`. Returns `'EALREADY'` when `ctx` already holds it. @public */
export function dmaResvLock(obj: DmaResv, ctx?: WwAcquireCtx): "EALREADY" | undefined {
  return obj.lock.wwLock(ctx);
}

/** `dma_resv_lock_interruptible()`: no signals in the model, so as {@link dmaResvLock}. @public */
export function dmaResvLockInterruptible(obj: DmaResv, ctx?: WwAcquireCtx): "EALREADY" | undefined {
  return obj.lock.wwLock(ctx);
}

/** `dma_resv_trylock()`. @public */
export function dmaResvTrylock(obj: DmaResv): boolean {
  return obj.lock.trylock();
}

/** `dma_resv_unlock()`: also drops unused reserved slots (debug builds check them). @public */
export function dmaResvUnlock(obj: DmaResv): void {
  obj.reserved = 0;
  obj.lock.unlock();
}

/** `dma_resv_assert_held()`. @public */
export function dmaResvAssertHeld(obj: DmaResv, where?: string): void {
  obj.lock.assertHeld(where);
}

/** `dma_resv_held()`: is it locked (by anyone)? @public */
export function dmaResvHeld(obj: DmaResv): boolean {
  return obj.lock.isLocked();
}

/**
 * `dma_resv_reserve_fences(obj, num)`: lock held (asserted).
 * @throws KernelError `ENOMEM` (injectable site `dma_resv_reserve_fences`).
 * @public
 */
export function dmaResvReserveFences(obj: DmaResv, num: number): void {
  dmaResvAssertHeld(obj, "dma_resv_reserve_fences");
  obj.kernel.alloc.attempt("dma_resv_reserve_fences", "dma_resv_list");
  obj.reserved += num;
}

/**
 * `dma_resv_add_fence()`: lock held and a slot reserved. The new fence takes
 * the first slot whose fence is signaled, or is of the same context, at the
 * same or a higher usage value and not later (`dma_fence_is_later_or_same`);
 * otherwise it is appended in a reserved slot. A container fence is a WARN
 * (it is added anyway, as in the kernel).
 * @public
 */
export function dmaResvAddFence(obj: DmaResv, fence: DmaFence, usage: DmaResvUsage): void {
  dmaResvAssertHeld(obj, "dma_resv_add_fence");
  obj.kernel.warnOn(dmaFenceIsArray(fence) || dmaFenceIsChain(fence), "dma_resv_add_fence: WARN_ON(dma_fence_is_container(fence))");
  for (const e of obj.fences) {
    const sameOrLater = e.fence.context === fence.context && RANK[e.usage] >= RANK[usage] && (e.fence === fence || dmaFenceIsLater(fence, e.fence));
    if (sameOrLater || dmaFenceIsSignaled(e.fence)) {
      const old = e.fence;
      e.fence = dmaFenceGet(fence);
      e.usage = usage;
      dmaFencePut(old);
      return;
    }
  }
  if (obj.reserved <= 0) {
    obj.kernel.warn("dma_resv_add_fence without a reserved slot");
    return;
  }
  obj.reserved--;
  obj.fences.push({ fence: dmaFenceGet(fence), usage });
}

/** Fences at or below `usage` (`dma_resv_for_each_fence`). @public */
export function dmaResvFences(obj: DmaResv, usage: DmaResvUsage): DmaFence[] {
  return obj.fences.filter((e) => RANK[e.usage] <= RANK[usage]).map((e) => e.fence);
}

/** `dma_resv_test_signaled()`. @public */
export function dmaResvTestSignaled(obj: DmaResv, usage: DmaResvUsage): boolean {
  return dmaResvFences(obj, usage).every((f) => dmaFenceIsSignaled(f));
}

/**
 * `dma_resv_get_fences()`: new references to the unsignaled fences at or
 * below `usage` (the unlocked iterator skips signaled ones). Lock not needed.
 * @throws KernelError `ENOMEM` (the array, injectable as `kvmalloc`).
 * @public
 */
export function dmaResvGetFences(obj: DmaResv, usage: DmaResvUsage): DmaFence[] {
  const fences = dmaResvFences(obj, usage).filter((f) => !dmaFenceIsSignaled(f));
  if (fences.length) obj.kernel.alloc.kvmalloc("dma_resv_get_fences array");
  return fences.map((f) => dmaFenceGet(f));
}

/**
 * `dma_resv_get_singleton()`: one fence standing for every unsignaled fence
 * at or below `usage`: null when there is none, the fence itself (a new
 * reference) when there is one, else a new `dma_fence_array` of them on a
 * fresh context, seqno 1, signaling when all have.
 * @throws KernelError `ENOMEM` (the list or the array; no reference leaks).
 * @public
 */
export function dmaResvGetSingleton(obj: DmaResv, usage: DmaResvUsage): DmaFence | null {
  const fences = dmaResvGetFences(obj, usage);
  if (fences.length === 0) return null;
  if (fences.length === 1) return fences[0]!;
  const array = dmaFenceArrayCreate(obj.kernel, fences, dmaFenceContextAlloc(obj.kernel, 1), 1n, false);
  if (!array) {
    for (const f of fences) dmaFencePut(f);
    throw new KernelError("ENOMEM", "dma_resv_get_singleton");
  }
  return array;
}

/**
 * `dma_resv_wait_timeout(obj, usage, intr, timeout)`: waits for every fence
 * at or below `usage`. Returns the jiffies left (> 0), or 0 on timeout (with
 * timeout 0: 1 if all signaled). Does not require the lock.
 * @public
 */
export function dmaResvWaitTimeout(obj: DmaResv, usage: DmaResvUsage, intr: boolean, timeout: number): number {
  let left = timeout === 0 ? 1 : timeout;
  for (const f of dmaResvFences(obj, usage)) {
    if (timeout === 0) {
      if (!dmaFenceIsSignaled(f)) return 0;
      continue;
    }
    const r = dmaFenceWaitTimeout(f, intr, left);
    if (r <= 0) return r;
    if (left !== MAX_SCHEDULE_TIMEOUT) left = r;
  }
  return left;
}

/** `dma_resv_describe()`: a `\t<usage> fence:<fence>` line per fence up to READ usage (bookkeep is not shown). @public */
export function dmaResvDescribe(obj: DmaResv): string {
  return obj.fences
    .filter((e) => RANK[e.usage] <= RANK.DMA_RESV_USAGE_READ)
    .map((e) => `\t${NAME[RANK[e.usage]]} fence:${dmaFenceDescribe(e.fence)}\n`)
    .join("");
}
