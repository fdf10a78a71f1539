// kernel/locking/rwsem.c: struct rw_semaphore (e.g. vfio-pci's memory_lock), as lockdep sees it.
import { KernelBug } from "./kernel-error.js";
import type { LockClass, LockClassKey, LockdepMap, LockOwner } from "./lockdep.js";
import type { LockEnv } from "./mutex.js";

/** `struct rw_semaphore`, e.g. vfio-pci's `memory_lock`. @public */
export class RwSemaphore implements LockdepMap {
  readonly sleeping = true;
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

  get readers(): number {
    let n = 0;
    for (const c of this.#readers.values()) n += c;
    return n;
  }

  #block(mode: string, free: () => boolean): never {
    this.env.lockdep.contended(`${mode}(${this.name})`, free);
    const me = this.env.current();
    throw new KernelBug("deadlock", `${me.comm}/${me.pid} would sleep forever in ${mode}(${this.name})`);
  }

  /** `down_read()`. */
  downRead(): void {
    this.env.lockdep.acquire(this, { read: true });
    if (this.#writer) {
      this.env.lockdep.release(this);
      this.#block("down_read", () => !this.#writer);
    }
    const me = this.env.current();
    this.#readers.set(me, (this.#readers.get(me) ?? 0) + 1);
  }

  /** `down_read_trylock()`. */
  downReadTrylock(): boolean {
    if (this.#writer) return false;
    this.env.lockdep.acquire(this, { read: true, trylock: true });
    const me = this.env.current();
    this.#readers.set(me, (this.#readers.get(me) ?? 0) + 1);
    return true;
  }

  /** `up_read()`. */
  upRead(): void {
    this.env.lockdep.release(this);
    const me = this.env.current();
    const n = this.#readers.get(me) ?? 0;
    if (n <= 1) this.#readers.delete(me);
    else this.#readers.set(me, n - 1);
  }

  /** `down_write()`. */
  downWrite(): void {
    this.env.lockdep.acquire(this);
    if (this.#writer || this.readers > 0) {
      this.env.lockdep.release(this);
      this.#block("down_write", () => !this.#writer && this.readers === 0);
    }
    this.#writer = this.env.current();
  }

  /** `down_write_trylock()`: true on success. */
  downWriteTrylock(): boolean {
    if (this.#writer || this.readers > 0) return false;
    this.env.lockdep.acquire(this, { trylock: true });
    this.#writer = this.env.current();
    return true;
  }

  /** `up_write()`. */
  upWrite(): void {
    this.env.lockdep.release(this);
    this.#writer = undefined;
  }

  /** `lockdep_assert_held()` (either mode). */
  assertHeld(where?: string): void {
    this.env.lockdep.assertHeld(this, undefined, where);
  }

  /** `lockdep_assert_held_write()`. */
  assertHeldWrite(where?: string): void {
    this.env.lockdep.assertHeld(this, "write", where);
  }
}
