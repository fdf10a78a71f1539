import { KernelBug } from "./kernel-error.js";
import type { LockClass, LockdepMap, LockOwner } from "./lockdep.js";
import type { LockEnv } from "./mutex.js";

/**
 * `spinlock_t`. Holding one puts the task in atomic context: sleeping locks
 * and `might_sleep()` splat. Several objects may share one spinlock (fences
 * of one timeline do), which is what makes re-taking it from a callback a
 * self-deadlock.
 */
export class SpinLock implements LockdepMap {
  readonly sleeping = false;
  readonly lockClass: LockClass;
  #owner: LockOwner | undefined;
  #irqsave = false;

  constructor(
    private readonly env: LockEnv,
    readonly name: string,
    className: string = name,
  ) {
    this.lockClass = env.lockdep.classFor(className);
  }

  isLocked(): boolean {
    return this.#owner !== undefined;
  }

  /** `spin_lock()`. */
  lock(): void {
    this.env.lockdep.acquire(this);
    this.#take();
  }

  /** `spin_lock_irqsave()`. */
  lockIrqsave(): void {
    this.env.lockdep.irqsOff(1);
    try {
      this.env.lockdep.acquire(this);
    } catch (e) {
      this.env.lockdep.irqsOff(-1);
      throw e;
    }
    this.#take();
    this.#irqsave = true;
  }

  #take(): void {
    if (this.#owner) {
      this.env.lockdep.release(this);
      throw new KernelBug("deadlock", `spinlock ${this.name} already held by ${this.#owner.comm}/${this.#owner.pid}`);
    }
    this.#owner = this.env.current();
  }

  /** `spin_unlock()` / `spin_unlock_irqrestore()`. */
  unlock(): void {
    const irq = this.#irqsave;
    this.#irqsave = false;
    this.#owner = undefined;
    this.env.lockdep.release(this);
    if (irq) this.env.lockdep.irqsOff(-1);
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
}
