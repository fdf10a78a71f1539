import { KernelBug } from "./kernel-error.js";

/** Anything that can hold a lock: a task (process or kernel thread). */
export interface LockOwner {
  readonly comm: string;
  readonly pid: number;
}

/** What kind of report lockdep produced, after lockdep's own headlines. */
export type LockdepReportKind =
  | "circular" // possible circular locking dependency detected
  | "recursive" // possible recursive locking detected
  | "assert" // lockdep_assert_held() failed
  | "bad-unlock" // bad unlock balance detected
  | "invalid-context" // sleeping function called from invalid context
  | "inconsistent" // inconsistent lock state (IRQ-safe vs IRQ-unsafe use)
  | "irq-order" // HARDIRQ-safe -> HARDIRQ-unsafe lock order detected
  | "held-at-return"; // lock held when returning to user space

/** One lockdep splat. */
export interface LockdepReport {
  readonly kind: LockdepReportKind;
  readonly message: string;
  /** Lock class names involved, in dependency order where that applies. */
  readonly classes: readonly string[];
}

/**
 * A lock class (`struct lock_class_key`): every lock initialised at the same
 * site shares one, and dependencies are recorded between classes.
 */
export class LockClass {
  /** Seen acquired in hard-IRQ context or with IRQs disabled. */
  usedInIrq = false;
  /** Seen acquired with IRQs enabled (IRQ-unsafe). */
  usedIrqOn = false;
  constructor(readonly name: string) {}
}

/** A lock instance as lockdep sees it. */
export interface LockdepMap {
  readonly name: string;
  readonly lockClass: LockClass;
  /** Spinlocks are atomic; mutexes, rwsems and ww_mutexes may sleep. */
  readonly sleeping: boolean;
}

interface HeldLock {
  readonly lock: LockdepMap;
  readonly subclass: number;
  readonly read: boolean;
  readonly trylock: boolean;
  /** Acquired under a ww_acquire_ctx / nest_lock: same-class nesting is fine. */
  readonly nested: boolean;
  readonly irqsOff: boolean;
}

interface TaskState {
  held: HeldLock[];
  /** Spinlock nesting: > 0 means atomic context. */
  preemptCount: number;
  /** IRQs disabled depth (spin_lock_irqsave, hard-IRQ context). */
  irqsOff: number;
  hardirq: number;
}

/** How lockdep reacts to a splat. */
export interface LockdepOptions {
  /** Throw {@link KernelBug} on reports that CI kernels turn into panics (`panic_on_warn`). */
  panicOnWarn: boolean;
  /** Where report text goes (the kernel log). */
  log: (text: string) => void;
}

/**
 * The lock validator: held-lock stacks per task, a class dependency graph with
 * cycle detection, `lockdep_assert_held`, might_sleep checks and IRQ-usage
 * consistency. Order inversions are recorded (lockdep prints and carries on);
 * failed assertions and context bugs are WARNs and throw under `panicOnWarn`.
 */
export class Lockdep {
  readonly #classes = new Map<string, LockClass>();
  /** Dependency edges "held → acquired" between class keys. */
  readonly #edges = new Map<string, Set<string>>();
  readonly #tasks = new Map<LockOwner, TaskState>();
  readonly #reports: LockdepReport[] = [];
  readonly #current: () => LockOwner;
  readonly #opts: LockdepOptions;

  constructor(current: () => LockOwner, opts: LockdepOptions) {
    this.#current = current;
    this.#opts = opts;
  }

  /** The class named `name`, created on first use (the static key of an init site). */
  classFor(name: string): LockClass {
    let c = this.#classes.get(name);
    if (!c) {
      c = new LockClass(name);
      this.#classes.set(name, c);
    }
    return c;
  }

  /** Reports so far. The conformance app requires this to be empty. */
  reports(): readonly LockdepReport[] {
    return this.#reports;
  }

  /** Forgets reports (not the dependency graph: lockdep never forgets). */
  clearReports(): void {
    this.#reports.length = 0;
  }

  /** Dependency edges recorded so far, as `"A -> B"` strings. */
  dependencies(): string[] {
    const out: string[] = [];
    for (const [from, tos] of this.#edges) for (const to of tos) out.push(`${from} -> ${to}`);
    return out;
  }

  #state(task: LockOwner = this.#current()): TaskState {
    let s = this.#tasks.get(task);
    if (!s) {
      s = { held: [], preemptCount: 0, irqsOff: 0, hardirq: 0 };
      this.#tasks.set(task, s);
    }
    return s;
  }

  #report(kind: LockdepReportKind, headline: string, classes: string[], detail: string, warn: boolean): void {
    const t = this.#current();
    const message = `${headline}\n${t.comm}/${t.pid} ${detail}`;
    this.#reports.push({ kind, message, classes });
    this.#opts.log(message);
    if (warn && this.#opts.panicOnWarn) throw new KernelBug("lockdep", message);
  }

  /** True when the current task is in atomic context (spinlock held, hard IRQ). */
  inAtomic(): boolean {
    const s = this.#state();
    return s.preemptCount > 0 || s.hardirq > 0;
  }

  /** `might_sleep()`: splat when called from atomic context. */
  mightSleep(where: string): void {
    const s = this.#state();
    if (s.preemptCount > 0 || s.hardirq > 0) {
      this.#report(
        "invalid-context",
        `BUG: sleeping function called from invalid context at ${where}`,
        s.held.map((h) => h.lock.lockClass.name),
        `in_atomic(): 1, irqs_disabled(): ${s.irqsOff > 0 ? 1 : 0}`,
        true,
      );
    }
  }

  /** Runs `fn` as a hard-IRQ handler on the current task (IRQs off, atomic). */
  inHardirq<T>(fn: () => T): T {
    const s = this.#state();
    s.hardirq++;
    s.irqsOff++;
    try {
      return fn();
    } finally {
      s.hardirq--;
      s.irqsOff--;
    }
  }

  /** `local_irq_save()`/`restore()` bracket used by spin_lock_irqsave. */
  irqsOff(delta: 1 | -1): void {
    this.#state().irqsOff += delta;
  }

  /**
   * Records an acquisition by the current task. Call before taking the lock
   * for real, so a self-deadlock is reported rather than hanging.
   */
  acquire(lock: LockdepMap, opts: { read?: boolean; trylock?: boolean; subclass?: number; nested?: boolean } = {}): void {
    const s = this.#state();
    const read = opts.read ?? false;
    const trylock = opts.trylock ?? false;
    const subclass = opts.subclass ?? 0;
    const nested = opts.nested ?? false;
    const cls = lock.lockClass;
    const key = subclass ? `${cls.name}/${subclass}` : cls.name;

    if (lock.sleeping) this.mightSleep(`${lock.name} acquire`);

    // Same instance already held: a real self-deadlock (or recursion on a spinlock).
    const same = s.held.find((h) => h.lock === lock);
    if (same && same.read && read && lock.sleeping) {
      // A second down_read() only deadlocks against a queued writer; lockdep still says so.
      this.#report("recursive", "WARNING: possible recursive locking detected", [cls.name], `is trying to acquire lock ${lock.name} for read but already holds it for read`, false);
    } else if (same) {
      this.#report(
        "recursive",
        "WARNING: possible recursive locking detected",
        [cls.name],
        `is trying to acquire lock ${lock.name} but task is already holding lock ${lock.name}; *** DEADLOCK ***`,
        false,
      );
      throw new KernelBug("deadlock", `${lock.name} acquired twice by the same task`);
    }

    // IRQ usage consistency (the drm_sched xa_lock lesson).
    const irqsOff = s.irqsOff > 0 || s.hardirq > 0;
    if (!lock.sleeping) {
      if (s.hardirq > 0) cls.usedInIrq = true;
      if (!irqsOff) cls.usedIrqOn = true;
      if (cls.usedInIrq && cls.usedIrqOn) {
        this.#report(
          "inconsistent",
          "WARNING: inconsistent lock state",
          [cls.name],
          `inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage of ${cls.name}`,
          false,
        );
      }
      if (!irqsOff) {
        const irqSafe = s.held.find((h) => !h.lock.sleeping && h.lock.lockClass.usedInIrq);
        if (irqSafe) {
          this.#report(
            "irq-order",
            "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
            [irqSafe.lock.lockClass.name, cls.name],
            `is trying to acquire ${cls.name} with IRQs enabled while holding HARDIRQ-safe ${irqSafe.lock.lockClass.name}`,
            false,
          );
        }
      }
    }

    if (!trylock) {
      for (const h of s.held) {
        if (h.trylock) continue;
        const hkey = h.subclass ? `${h.lock.lockClass.name}/${h.subclass}` : h.lock.lockClass.name;
        if (hkey === key) {
          if (!(nested || h.nested)) {
            this.#report(
              "recursive",
              "WARNING: possible recursive locking detected",
              [cls.name],
              `is trying to acquire lock ${lock.name} but task is already holding lock ${h.lock.name} of the same class`,
              false,
            );
          }
          continue;
        }
        const path = this.#path(key, hkey);
        if (path) {
          this.#report(
            "circular",
            "WARNING: possible circular locking dependency detected",
            [...path, key],
            `is trying to acquire lock ${key} but task is already holding lock ${hkey}; existing dependency chain: ${path.join(" --> ")}`,
            false,
          );
        } else {
          let set = this.#edges.get(hkey);
          if (!set) this.#edges.set(hkey, (set = new Set()));
          set.add(key);
        }
      }
    }
    s.held.push({ lock, subclass, read, trylock, nested, irqsOff });
    if (!lock.sleeping) s.preemptCount++;
  }

  /** Path of dependency edges from `from` to `to`, or undefined. */
  #path(from: string, to: string): string[] | undefined {
    const prev = new Map<string, string>();
    const queue = [from];
    const seen = new Set([from]);
    while (queue.length) {
      const cur = queue.shift()!;
      if (cur === to) {
        const chain = [cur];
        let p = cur;
        while (prev.has(p)) {
          p = prev.get(p)!;
          chain.unshift(p);
        }
        return chain;
      }
      for (const n of this.#edges.get(cur) ?? []) {
        if (!seen.has(n)) {
          seen.add(n);
          prev.set(n, cur);
          queue.push(n);
        }
      }
    }
    return undefined;
  }

  /** Records a release by the current task. */
  release(lock: LockdepMap): void {
    const s = this.#state();
    for (let i = s.held.length - 1; i >= 0; i--) {
      if (s.held[i]!.lock === lock) {
        s.held.splice(i, 1);
        if (!lock.sleeping) s.preemptCount--;
        return;
      }
    }
    this.#report("bad-unlock", "WARNING: bad unlock balance detected!", [lock.lockClass.name], `is trying to release lock (${lock.name}) but there are no more locks to release!`, true);
  }

  /** True when `task` (default: current) holds `lock` (in `mode`, if given). */
  isHeld(lock: LockdepMap, mode?: "read" | "write", task?: LockOwner): boolean {
    const s = this.#state(task);
    return s.held.some((h) => h.lock === lock && (mode === undefined || (mode === "read") === h.read));
  }

  /** `lockdep_assert_held()` (and `_write` / `_read` with `mode`). */
  assertHeld(lock: LockdepMap, mode?: "read" | "write", where?: string): void {
    if (this.isHeld(lock, mode)) return;
    this.#report(
      "assert",
      `WARNING: lockdep_assert_held${mode ? `_${mode}` : ""}(${lock.name}) failed${where ? ` at ${where}` : ""}`,
      [lock.lockClass.name],
      `does not hold ${lock.name}`,
      true,
    );
  }

  /** Names of the locks the current task (or `task`) holds, oldest first. */
  heldLocks(task?: LockOwner): string[] {
    return this.#state(task).held.map((h) => h.lock.name);
  }

  /**
   * Checks that `task` holds nothing, as on return to user space; reports
   * (and releases the bookkeeping of) anything left over.
   */
  checkNoLocksHeld(task: LockOwner, where: string): void {
    const s = this.#state(task);
    if (s.held.length === 0) return;
    const names = s.held.map((h) => h.lock.name);
    this.#report("held-at-return", `WARNING: lock held when returning to user space!`, names, `${where} leaves ${names.join(", ")} held`, true);
  }
}
