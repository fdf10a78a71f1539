// dma_fence_array: a fence that signals when all (or any) of its members have (drivers/dma-buf/dma-fence-array.c).
import { irqWorkQueue } from "../kernel/irq-work.js";
import type { Kernel } from "../kernel/kernel.js";
import { SpinLock } from "../kernel/spinlock.js";
import {
  DmaFence,
  dmaFenceAddCallback,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSetDeadline,
  dmaFenceSignal,
  type DmaFenceCb,
  type DmaFenceOps,
} from "./dma-fence.js";

/** The error an array carries until it signals; never visible to users (`PENDING_ERROR`). @internal */
export const DMA_FENCE_ARRAY_PENDING_ERROR = 1;

const ARRAY_OPS: DmaFenceOps = {
  getDriverName: () => "dma_fence_array",
  getTimelineName: () => "unbound",
  enableSignaling: (f) => (f as DmaFenceArray)._enableSignaling(),
  signaled: (f) => (f as DmaFenceArray)._signaled(),
  release: (f) => (f as DmaFenceArray)._release(),
  setDeadline: (f, t) => {
    for (const m of (f as DmaFenceArray).fences) dmaFenceSetDeadline(m, t);
  },
};

/** `struct dma_fence_array`. It owns one reference on every member. @public */
export class DmaFenceArray extends DmaFence {
  /** `num_pending`: members still to signal (or 1 with signal-on-any). */
  numPending: number;
  readonly callbacks: DmaFenceCb[];
  #enabled = false;

  /** @internal use {@link dmaFenceArrayCreate} */
  constructor(
    kernel: Kernel,
    readonly fences: readonly DmaFence[],
    context: bigint,
    seqno: bigint,
    readonly signalOnAny: boolean,
  ) {
    super(kernel, ARRAY_OPS, new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, "dma_fence_array lock", "dma_fence_array_lock"), context, seqno);
    this.numPending = signalOnAny ? 1 : fences.length;
    this.callbacks = fences.map(() => ({ func: null }));
    this.error = DMA_FENCE_ARRAY_PENDING_ERROR;
  }

  /** `num_fences`. */
  get numFences(): number {
    return this.fences.length;
  }

  #setPendingError(error: number): void {
    // Only the first error is kept: compare-and-swap from the sentinel.
    if (error && this.error === DMA_FENCE_ARRAY_PENDING_ERROR) this.error = error;
  }

  #clearPendingError(): void {
    if (this.error === DMA_FENCE_ARRAY_PENDING_ERROR) this.error = 0;
  }

  #cbFunc = (f: DmaFence): void => {
    this.#setPendingError(f.error);
    if (--this.numPending === 0) {
      // irq_work: signal outside the member's lock.
      irqWorkQueue(this.kernel, "irq_dma_fence_array_work", () => {
        this.#clearPendingError();
        dmaFenceSignal(this);
        dmaFencePut(this);
      });
    } else {
      dmaFencePut(this);
    }
  };

  /** @internal `dma_fence_array_enable_signaling` */
  _enableSignaling(): boolean {
    this.#enabled = true;
    for (let i = 0; i < this.fences.length; i++) {
      const m = this.fences[i]!;
      this._ref.get();
      try {
        dmaFenceAddCallback(this.kernel, m, this.callbacks[i]!, this.#cbFunc);
      } catch {
        // Already signaled: account for it here.
        this.#setPendingError(m.error);
        dmaFencePut(this);
        if (--this.numPending === 0) {
          this.#clearPendingError();
          return false;
        }
      }
    }
    return true;
  }

  /** @internal `dma_fence_array_signaled` (the form that counts members before signalling is enabled). */
  _signaled(): boolean {
    let pending = this.numPending;
    if (this.#enabled) {
      if (pending > 0) return false;
    } else {
      let done = false;
      for (const m of this.fences) {
        if (dmaFenceIsSignaled(m) && --pending === 0) {
          done = true;
          break;
        }
      }
      if (!done) return false;
    }
    this.#clearPendingError();
    return true;
  }

  /** @internal `dma_fence_array_release` */
  _release(): void {
    for (const m of this.fences) dmaFencePut(m);
  }
}

/** `to_dma_fence_array()`: the array, or null if `fence` is not one. @public */
export function toDmaFenceArray(fence: DmaFence | null | undefined): DmaFenceArray | null {
  return fence instanceof DmaFenceArray ? fence : null;
}

/** `dma_fence_is_array()`. @public */
export function dmaFenceIsArray(fence: DmaFence): boolean {
  return fence instanceof DmaFenceArray;
}

/**
 * `dma_fence_array_create(num, fences, context, seqno, signal_on_any)`:
 * takes over the references in `fences`. Null when the allocation fails, in
 * which case the caller still owns them. Members must not be containers
 * (WARN).
 * @public
 */
export function dmaFenceArrayCreate(kernel: Kernel, fences: DmaFence[], context: bigint, seqno: bigint, signalOnAny = false): DmaFenceArray | null {
  try {
    kernel.alloc.kzalloc("dma_fence_array");
  } catch {
    return null;
  }
  kernel.warnOn(fences.length === 0, "dma_fence_array_init with no fences");
  for (const f of fences) {
    kernel.warnOn(f instanceof DmaFenceArray || (f as { readonly isChain?: boolean }).isChain === true, "dma_fence_array_init: container in a fence array");
  }
  return new DmaFenceArray(kernel, fences, context, seqno, signalOnAny);
}

/** `dma_fence_array_first(head)`. @public */
export function dmaFenceArrayFirst(head: DmaFence | null): DmaFence | null {
  if (!head) return null;
  const a = toDmaFenceArray(head);
  if (!a) return head;
  return a.fences[0] ?? null;
}

/** `dma_fence_array_next(head, index)`. @public */
export function dmaFenceArrayNext(head: DmaFence, index: number): DmaFence | null {
  const a = toDmaFenceArray(head);
  if (!a || index >= a.fences.length) return null;
  return a.fences[index]!;
}

/** `dma_fence_match_context(fence, context)`: a fence, or every member of an array, is of `context`. @public */
export function dmaFenceMatchContext(fence: DmaFence, context: bigint): boolean {
  const a = toDmaFenceArray(fence);
  if (!a) return fence.context === context;
  return a.fences.every((f) => f.context === context);
}
