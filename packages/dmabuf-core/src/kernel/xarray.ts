// lib/xarray.c: an index → entry map whose mutators take xa_lock (a spinlock, IRQ state unchanged).
import { KernelError } from "./kernel-error.js";
import type { Kernel } from "./kernel.js";
import type { LockClassKey } from "./lockdep.js";
import { SpinLock } from "./spinlock.js";

/** `XA_FLAGS_ALLOC` (allocating, from 0) or `XA_FLAGS_ALLOC1` (from 1). @public */
export interface XArrayFlags {
  readonly alloc?: boolean;
  readonly alloc1?: boolean;
}

/**
 * `struct xarray`. `xa_store`/`xa_erase`/`xa_alloc` take `xa_lock` with
 * plain `spin_lock()` (the `_irq`/`_bh` variants disable first);
 * `xa_load`/`xa_for_each` are RCU readers and take no lock. The lock class
 * is that of the `xa_init_flags()` call site (`key`), named `&xa->xa_lock`.
 * @public
 */
export class XArray<T> {
  readonly xaLock: SpinLock;
  readonly #entries = new Map<number, T>();
  readonly #base: number;

  constructor(
    readonly kernel: Kernel,
    key: LockClassKey,
    readonly flags: XArrayFlags = {},
  ) {
    this.xaLock = new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, "xa_lock", "&xa->xa_lock", key);
    this.#base = flags.alloc1 ? 1 : 0;
  }

  #locked<R>(mode: "plain" | "irq", fn: () => R): R {
    if (mode === "irq") this.xaLock.lockIrq();
    else this.xaLock.lock();
    try {
      return fn();
    } finally {
      this.xaLock.unlock();
    }
  }

  /** `xa_load()` (RCU, no lock). */
  load(index: number): T | undefined {
    return this.#entries.get(index);
  }

  /** `xa_store()`: the previous entry. */
  store(index: number, entry: T): T | undefined {
    return this.#locked("plain", () => {
      const old = this.#entries.get(index);
      this.#entries.set(index, entry);
      return old;
    });
  }

  /** `xa_erase()`: the erased entry. */
  erase(index: number): T | undefined {
    return this.#locked("plain", () => this.#eraseLocked(index));
  }

  /** `xa_erase_irq()`. */
  eraseIrq(index: number): T | undefined {
    return this.#locked("irq", () => this.#eraseLocked(index));
  }

  #eraseLocked(index: number): T | undefined {
    const old = this.#entries.get(index);
    this.#entries.delete(index);
    return old;
  }

  /**
   * `xa_alloc(xa, &id, entry, xa_limit_32b, GFP_KERNEL)`: the lowest free
   * index. The allocation may sleep (`might_alloc`).
   * @throws KernelError `EBUSY` when the limit is full, `EINVAL` on a non-allocating array.
   */
  alloc(entry: T, limit = 0xffff_ffff): number {
    if (!this.flags.alloc && !this.flags.alloc1) throw new KernelError("EINVAL", "xa_alloc", "not an allocating xarray");
    this.kernel.lockdep.mightSleep("xa_alloc");
    return this.#locked("plain", () => {
      let id = this.#base;
      while (this.#entries.has(id)) id++;
      if (id > limit) throw new KernelError("EBUSY", "xa_alloc", "no free index");
      this.#entries.set(id, entry);
      return id;
    });
  }

  /** `xa_for_each()`: entries in index order (RCU, no lock). */
  *entries(): IterableIterator<[number, T]> {
    for (const i of [...this.#entries.keys()].sort((a, b) => a - b)) {
      const e = this.#entries.get(i);
      if (e !== undefined) yield [i, e];
    }
  }

  /** `xa_find(xa, &index, ULONG_MAX, XA_PRESENT)`: the first entry at or after `from`. */
  find(from: number): [number, T] | undefined {
    for (const [i, e] of this.entries()) if (i >= from) return [i, e];
    return undefined;
  }

  /** `xa_empty()`. */
  get empty(): boolean {
    return this.#entries.size === 0;
  }

  /** `xa_destroy()`. */
  destroy(): void {
    this.#locked("plain", () => this.#entries.clear());
  }
}
