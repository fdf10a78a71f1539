// kernel/locking/mutex.c and ww_mutex.h: struct mutex and wound/wait mutexes with acquire contexts.
import { KernelBug } from "./kernel-error.js";
import type { LockClass, LockClassKey, Lockdep, LockdepMap, LockOwner } from "./lockdep.js";

/** What a lock needs from its kernel. @public */
export interface LockEnv {
  readonly lockdep: Lockdep;
  current(): LockOwner;
}

/**
 * `struct mutex`. A kernel thread (kworker, kthread) that finds it held
 * sleeps: its step is parked and re-run once the mutex is free. Any other
 * task cannot be suspended in a single-threaded model, so finding the mutex
 * held by someone else is reported as a deadlock instead of hanging.
 * @public
 */
export class Mutex implements LockdepMap {
  readonly sleeping = true;
  readonly lockClass: LockClass;
  #owner: LockOwner | undefined;

  constructor(
    protected readonly env: LockEnv,
    readonly name: string,
    className: string = name,
    key?: LockClassKey,
  ) {
    this.lockClass = env.lockdep.classFor(className, key);
  }

  /** The holder, if locked. */
  get owner(): LockOwner | undefined {
    return this.#owner;
  }

  /** `mutex_is_locked()`. */
  isLocked(): boolean {
    return this.#owner !== undefined;
  }

  /** `mutex_lock()` (`mutex_lock_nested()` with `subclass`). */
  lock(subclass = 0, nested = false): void {
    this.env.lockdep.acquire(this, { subclass, nested });
    this.#take();
  }

  /** `mutex_lock_nest_lock(lock, nest)`: same-class nesting under `nest` (held). */
  lockNestLock(nest: LockdepMap): void {
    this.env.lockdep.acquire(this, { nestLock: nest });
    this.#take();
  }

  /** `mutex_trylock()`: true on success. */
  trylock(): boolean {
    if (this.#owner) return false;
    this.env.lockdep.acquire(this, { trylock: true });
    this.#owner = this.env.current();
    return true;
  }

  #take(): void {
    const me = this.env.current();
    if (this.#owner && this.#owner !== me) {
      this.env.lockdep.release(this);
      this.env.lockdep.contended(`mutex ${this.name}`, () => this.#owner === undefined);
      throw new KernelBug("deadlock", `${me.comm}/${me.pid} would sleep forever on ${this.name} held by ${this.#owner.comm}/${this.#owner.pid}`);
    }
    this.#owner = me;
  }

  /** `mutex_unlock()`. */
  unlock(): void {
    this.env.lockdep.release(this);
    this.#owner = undefined;
  }

  /** `lockdep_assert_held()`. */
  assertHeld(where?: string): void {
    this.env.lockdep.assertHeld(this, undefined, where);
  }

  /** Runs `fn` with the mutex held (`guard(mutex)`). */
  with<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }
}

/** `struct ww_acquire_ctx`: lets one task hold several locks of a ww class. @public */
export class WwAcquireCtx {
  #done = false;
  readonly acquired = new Set<WwMutex>();
  /** `ww_acquire_done()`: no more locks will be taken with this context. */
  done(): void {
    this.#done = true;
  }
  get isDone(): boolean {
    return this.#done;
  }
}

/**
 * `struct ww_mutex` (wound/wait mutex, the lock inside `dma_resv`). With a
 * context, several locks of the class nest; `-EALREADY` for a lock the
 * context already holds; `-EDEADLK` cannot occur without real concurrency.
 * @public
 */
export class WwMutex extends Mutex {
  #ctx: WwAcquireCtx | undefined;

  /** `ww_mutex_lock(lock, ctx)`; returns `'EALREADY'` when `ctx` already holds it. */
  wwLock(ctx?: WwAcquireCtx): "EALREADY" | undefined {
    if (ctx && ctx.acquired.has(this)) return "EALREADY";
    if (ctx?.isDone) throw new KernelBug("WARN", `ww_mutex_lock(${this.name}) after ww_acquire_done()`);
    super.lock(0, ctx !== undefined);
    this.#ctx = ctx;
    ctx?.acquired.add(this);
    return undefined;
  }

  override unlock(): void {
    this.#ctx?.acquired.delete(this);
    this.#ctx = undefined;
    super.unlock();
  }
}
