// include/linux/rwlock.h: rwlock_t; readers are recursive in interrupt context (queued rwlocks).
import { KernelBug } from "./kernel-error.js";
import type { LockClass, LockClassKey, LockdepMap, LockOwner } from "./lockdep.js";
import type { LockEnv } from "./mutex.js";

/**
 * `rwlock_t`. `read_lock()` is a recursive read for lockdep in interrupt
 * context (`read_lock_is_recursive()`), a non-recursive one elsewhere;
 * `write_lock()` is exclusive. Spinning locks: atomic context while held.
 * @public
 */
export class RwLock implements LockdepMap {
  readonly sleeping = false;
  readonly lockClass: LockClass;
  #writer: LockOwner | undefined;
  readonly #readers = new Map<LockOwner, number>();

  constructor(
    private readonly env: LockEnv,
    readonly name: string,
    className: string = name,
    key?: LockClassKey,
  ) {
    this.lockClass = env.lockdep.classFor(className, key);
  }

  get writer(): LockOwner | undefined {
    return this.#writer;
  }

  /** `read_lock()`. */
  readLock(): void {
    const ld = this.env.lockdep;
    ld.acquire(this, { read: ld.readLockIsRecursive() ? 2 : 1 });
    if (this.#writer) {
      ld.release(this);
      throw new KernelBug("deadlock", `read_lock(${this.name}) spins on writer ${this.#writer.comm}/${this.#writer.pid}`);
    }
    const me = this.env.current();
    this.#readers.set(me, (this.#readers.get(me) ?? 0) + 1);
  }

  /** `read_unlock()`. */
  readUnlock(): void {
    this.env.lockdep.release(this);
    const me = this.env.current();
    const n = this.#readers.get(me) ?? 0;
    if (n <= 1) this.#readers.delete(me);
    else this.#readers.set(me, n - 1);
  }

  /** `write_lock()`. */
  writeLock(): void {
    this.env.lockdep.acquire(this);
    if (this.#writer || this.#readers.size > 0) {
      this.env.lockdep.release(this);
      throw new KernelBug("deadlock", `write_lock(${this.name}) spins on a holder`);
    }
    this.#writer = this.env.current();
  }

  /** `write_unlock()`. */
  writeUnlock(): void {
    this.env.lockdep.release(this);
    this.#writer = undefined;
  }

  /** `read_lock_irqsave()`. */
  readLockIrqsave(): void {
    this.env.lockdep.irqsOff(1);
    this.readLock();
  }

  /** `read_unlock_irqrestore()`. */
  readUnlockIrqrestore(): void {
    this.readUnlock();
    this.env.lockdep.irqsOff(-1);
  }

  /** `write_lock_irqsave()`. */
  writeLockIrqsave(): void {
    this.env.lockdep.irqsOff(1);
    this.writeLock();
  }

  /** `write_unlock_irqrestore()`. */
  writeUnlockIrqrestore(): void {
    this.writeUnlock();
    this.env.lockdep.irqsOff(-1);
  }
}
