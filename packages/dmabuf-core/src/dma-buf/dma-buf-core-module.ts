// The dma-buf core's kernel-wide state (drivers/dma-buf/dma-buf.c globals: the buffer list, fence contexts).
import type { Kernel } from "../kernel/kernel.js";
import type { DmaBuf } from "./dma-buf.js";
import { VMLINUX_SYMBOLS } from "../vmlinux.js";

/** Kernel-wide state of the dma-buf core. @public */
export class DmaBufCoreState {
  /** `db_list`: every live dma-buf, in export order. */
  readonly list = new Set<DmaBuf>();
  #fenceContext = 1n;
  #signalling = 0;

  /** `dma_fence_context_alloc()` storage: returns the first of `num` new contexts. */
  allocFenceContexts(num: number): bigint {
    const first = this.#fenceContext;
    this.#fenceContext += BigInt(num);
    return first;
  }

  /** @internal `dma_fence_begin/end_signalling()` depth. */
  fenceSignalling(delta: 1 | -1): void {
    this.#signalling += delta;
  }

  /** Inside a fence-signalling critical section. */
  inFenceSignalling(): boolean {
    return this.#signalling > 0;
  }
}

/** Boots the dma-buf core into `kernel`: its state and the built-in symbol table. */
export function registerDmaBufCore(kernel: Kernel): DmaBufCoreState {
  for (const { decl, value } of VMLINUX_SYMBOLS) kernel.modules.registerBuiltin(decl, value);
  return new DmaBufCoreState();
}
