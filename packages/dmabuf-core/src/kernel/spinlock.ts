// include/linux/spinlock.h: spinlock_t with its irq/bh/nested/trylock forms, as lockdep sees them.
import { KernelBug } from "./kernel-error.js";
import type { LockClass, LockClassKey, LockdepMap, LockOwner } from "./lockdep.js";
import type { LockEnv } from "./mutex.js";

type IrqMode = "none" | "irq" | "irqsave" | "bh";

/**
 * `spinlock_t`. Holding one puts the task in atomic context: sleeping locks
 * and `might_sleep()` splat. Several objects may share one spinlock (fences
 * of one timeline do), which is what makes re-taking it from a callback a
 * self-deadlock. The class is that of the init site `key` (default: one
 * site per class name).
 * @public
 */
export class SpinLock implements LockdepMap {
  readonly sleeping = false;
  readonly lockClass: LockClass;
  #owner: LockOwner | undefined;
  #mode: IrqMode = "none";

  constructor(
    private readonly env: LockEnv,
    readonly name: string,
    className: string = name,
    key?: LockClassKey,
  ) {
    this.lockClass = env.lockdep.classFor(className, key);
  }

  isLocked(): boolean {
    return this.#owner !== undefined;
  }

  /** The holder, if locked. */
  get owner(): LockOwner | undefined {
    return this.#owner;
  }

  /** `spin_lock()`. */
  lock(): void {
    this.env.lockdep.acquire(this);
    this.#take("none");
  }

  /** `spin_lock_nested(lock, subclass)`. */
  lockNested(subclass: number): void {
    this.env.lockdep.acquire(this, { subclass });
    this.#take("none");
  }

  /** `spin_lock_irqsave()`: IRQs off before lockdep is told, restored after release. */
  lockIrqsave(): void {
    this.#withIrqOff("irqsave", () => this.env.lockdep.acquire(this));
  }

  /** `spin_lock_irq()`: as irqsave, but `spin_unlock_irq()` enables IRQs unconditionally. */
  lockIrq(): void {
    this.#withIrqOff("irq", () => this.env.lockdep.acquire(this));
  }

  /** `spin_lock_bh()`: softirqs off. */
  lockBh(): void {
    this.env.lockdep.bhOff(1);
    try {
      this.env.lockdep.acquire(this);
      this.#take("bh");
    } catch (e) {
      this.env.lockdep.bhOff(-1);
      throw e;
    }
  }

  #withIrqOff(mode: IrqMode, acquire: () => void): void {
    this.env.lockdep.irqsOff(1);
    try {
      acquire();
      this.#take(mode);
    } catch (e) {
      this.env.lockdep.irqsOff(-1);
      throw e;
    }
  }

  /** `spin_trylock()`: true on success; a trylock adds no dependency and never marks IRQ-safe. */
  trylock(): boolean {
    if (this.#owner) return false;
    this.env.lockdep.acquire(this, { trylock: true });
    this.#owner = this.env.current();
    this.#mode = "none";
    return true;
  }

  #take(mode: IrqMode): void {
    if (this.#owner) {
      this.env.lockdep.release(this);
      throw new KernelBug("deadlock", `spinlock ${this.name} already held by ${this.#owner.comm}/${this.#owner.pid}`);
    }
    this.#owner = this.env.current();
    this.#mode = mode;
  }

  /** `spin_unlock()` / `spin_unlock_irqrestore()` / `spin_unlock_irq()` / `spin_unlock_bh()`, by how it was taken. */
  unlock(): void {
    const mode = this.#mode;
    this.#mode = "none";
    this.#owner = undefined;
    this.env.lockdep.release(this);
    if (mode === "irq" || mode === "irqsave") this.env.lockdep.irqsOff(-1);
    else if (mode === "bh") this.env.lockdep.bhOff(-1);
  }

  /** `lockdep_assert_held()`. */
  assertHeld(where?: string): void {
    this.env.lockdep.assertHeld(this, undefined, where);
  }

  /** Runs `fn` under `spin_lock_irqsave()`. */
  withIrqsave<T>(fn: () => T): T {
    this.lockIrqsave();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /** Runs `fn` under `spin_lock()`. */
  with<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }
}
