// kernel/locking/lockdep.c: lock classes, held-lock stacks, dependency graph and IRQ-state rules.
import { KernelBug } from "./kernel-error.js";

/** Anything that can hold a lock: a task (process or kernel thread). @public */
export interface LockOwner {
  readonly comm: string;
  readonly pid: number;
}

/** What kind of report lockdep produced, after lockdep's own headlines. @public */
export type LockdepReportKind =
  | "circular" // possible circular locking dependency detected
  | "recursive" // possible recursive locking detected
  | "assert" // lockdep_assert_held() failed
  | "bad-unlock" // bad unlock balance detected
  | "invalid-context" // sleeping function called from invalid context
  | "inconsistent" // inconsistent lock state (IRQ-safe vs IRQ-unsafe use)
  | "irq-inversion" // possible irq lock inversion dependency detected
  | "irq-order" // <S>-safe -> <S>-unsafe lock order detected
  | "nested-not-held" // Nested lock was not taken
  | "held-at-return"; // lock held when returning to user space

/** One lockdep splat. @public */
export interface LockdepReport {
  readonly kind: LockdepReportKind;
  /** The title line, then the body as the kernel prints it. */
  readonly message: string;
  /** Lock class names involved, in dependency order where that applies. */
  readonly classes: readonly string[];
  /** For IRQ reports: `HARDIRQ`, `SOFTIRQ`, `HARDIRQ-READ` or `SOFTIRQ-READ`. */
  readonly irqclass?: string;
  /** For "inconsistent": the usage already recorded and the new one, e.g. `HARDIRQ-ON-W`, `IN-HARDIRQ-W`. */
  readonly usage?: { readonly old: string; readonly new: string };
}

// Usage bits as in lockdep_internals.h: bit0 = read, bit1 = direction (0 used-in, 1 enabled), bits 2+ = state.
const READ = 1;
const DIR = 2;
const HARDIRQ = 0;
const SOFTIRQ = 4;
const USED_IN_HARDIRQ = HARDIRQ;
const ENABLED_HARDIRQ = HARDIRQ | DIR;
const USED_IN_SOFTIRQ = SOFTIRQ;
const ENABLED_SOFTIRQ = SOFTIRQ | DIR;
const USED = 8;
const USED_READ = 9;
const NR_IRQ_BITS = 8;
const LOCKF_USED_IN_IRQ_ALL = 0b0011_0011;
const LOCKF_IRQ = 0b0101_0101; // write bits of both states

const USAGE_STR = [
  "IN-HARDIRQ-W",
  "IN-HARDIRQ-R",
  "HARDIRQ-ON-W",
  "HARDIRQ-ON-R",
  "IN-SOFTIRQ-W",
  "IN-SOFTIRQ-R",
  "SOFTIRQ-ON-W",
  "SOFTIRQ-ON-R",
  "INITIAL USE",
  "INITIAL READ USE",
];

const flag = (bit: number): number => 1 << bit;
/** `exclusive_bit()`: same state, the other direction, write. */
const exclusiveBit = (bit: number): number => (bit & ~(READ | DIR)) | ((bit & DIR) ^ DIR);
/** `state_name()`: e.g. `HARDIRQ`, `SOFTIRQ-READ`. */
const stateName = (bit: number): string => `${bit & SOFTIRQ ? "SOFTIRQ" : "HARDIRQ"}${bit & READ ? "-READ" : ""}`;
/** `exclusive_mask()`: for two different locks every read/write combination can deadlock. */
function exclusiveMask(mask: number): number {
  let excl = 0;
  for (let bit = 0; bit < NR_IRQ_BITS; bit++) {
    if (!(mask & flag(bit))) continue;
    excl |= flag(exclusiveBit(bit)) | flag(exclusiveBit(bit) | READ);
  }
  return excl;
}

/** Static key of a lock init site (`struct lock_class_key`). Any object works as a key. @public */
export type LockClassKey = object | string;

/** `wait_type_inner` of a lock kind, printed as `-{n:n}`. @public */
export type LockWaitType = 0 | 2 | 3 | 4;

/**
 * A lock class (`struct lock_class`): every lock initialised with the same
 * key (init site) and subclass shares one; dependencies and IRQ usage are
 * recorded per class. Same-named classes of different keys print `#N`.
 * @public
 */
export class LockClass {
  /** `usage_mask`: which of the usage bits have been seen. */
  usageMask = 0;
  /** Where each usage bit was first set (`usage_traces`), in the model a one-line description. */
  readonly usageTraces: string[] = [];
  constructor(
    readonly name: string,
    readonly key: LockClassKey,
    readonly subclass: number,
    /** `name_version`: 1 for the first class of this name. */
    readonly nameVersion: number,
  ) {}

  /** `__print_lock_name()`: `name`, `name#N`, `name/subclass`. */
  get printedName(): string {
    return `${this.name}${this.nameVersion > 1 ? `#${this.nameVersion}` : ""}${this.subclass ? `/${this.subclass}` : ""}`;
  }

  /** The `{....}` usage notation (`get_usage_chars()`): hardirq-W, hardirq-R, softirq-W, softirq-R. */
  get usageChars(): string {
    let s = "";
    for (const state of [HARDIRQ, SOFTIRQ]) {
      for (const read of [0, READ]) {
        const usedIn = this.usageMask & flag(state | read);
        const enabled = this.usageMask & flag(state | DIR | read);
        s += usedIn && enabled ? "?" : usedIn ? "-" : enabled ? "+" : ".";
      }
    }
    return s;
  }

  /** Usage strings set on this class, e.g. `["IN-HARDIRQ-W", "INITIAL USE"]`. */
  usage(): string[] {
    return USAGE_STR.filter((_, b) => this.usageMask & flag(b));
  }
}

/** A lock instance as lockdep sees it (`struct lockdep_map`). @public */
export interface LockdepMap {
  readonly name: string;
  readonly lockClass: LockClass;
  /** Mutexes, rwsems and ww_mutexes may sleep; spinlocks, rwlocks and lockdep maps do not. */
  readonly sleeping: boolean;
  /** A pseudo lock (`lockdep_map` of a workqueue or completion): no preemption count. */
  readonly pseudo?: boolean;
  /** `wait_type_inner`; default 4 for sleeping locks, 3 for `spinlock_t`. */
  readonly waitType?: LockWaitType;
  /** `lockdep_set_class_and_subclass`-style override of the class per subclass. */
  classForSubclass?(subclass: number): LockClass;
}

/** How an acquisition is made (`lock_acquire()` arguments). @public */
export interface AcquireOptions {
  /** 0 (or false) exclusive, 1 (or true) shared non-recursive, 2 shared recursive. */
  read?: boolean | 0 | 1 | 2;
  trylock?: boolean;
  /** `*_lock_nested(l, subclass)`: a separate class `name/subclass`. */
  subclass?: number;
  /** `nest_lock`: same-class nesting under this held lock is fine (`mutex_lock_nest_lock`, ww ctx). */
  nestLock?: LockdepMap;
  /** Legacy flag: nesting under a ww_acquire_ctx (the context is the nest lock). */
  nested?: boolean;
  /** Where the acquisition happens, for the printed traces. */
  at?: string;
}

interface HeldLock {
  readonly lock: LockdepMap;
  readonly cls: LockClass;
  readonly read: 0 | 1 | 2;
  readonly trylock: boolean;
  readonly nested: boolean;
  readonly hardirqsOff: boolean;
  /** `irq_context`: 0 process, 1 softirq, 2 hardirq. */
  readonly irqContext: number;
  readonly at: string;
}

interface TaskState {
  held: HeldLock[];
  /** Atomic-section depth (spinlocks held, preempt_disable). */
  preemptCount: number;
  /** `local_irq_save()` depth: > 0 means hardirqs are disabled. */
  irqsOff: number;
  /** `local_bh_disable()` depth. */
  bhOff: number;
  /** Hard-IRQ handler nesting (`hardirq_count()`). */
  hardirq: number;
  /** Softirq handler nesting (`softirq_count()` of serving softirqs). */
  softirq: number;
}

// Dependency kinds (lockdep.c DEP_*_BIT): E/S = prev exclusive/shared, N/R = next non-recursive/recursive.
// (DEP_ER = 2 is the remaining kind; no rule needs it by name.)
const DEP_SR = 1;
const DEP_SN = 4;
const DEP_EN = 8;
/** `__calc_dep_bit()`: the kind of a prev → next dependency, as a mask bit. */
const depBit = (prevRead: number, nextRead: number): number => 1 << ((prevRead === 0 ? 1 : 0) + ((nextRead !== 2 ? 1 : 0) << 1));

interface Edge {
  /** Dependency kinds seen on this edge (DEP_SR | DEP_ER | DEP_SN | DEP_EN), prev → next. */
  dep: number;
  /** The same kinds read backwards (`__calc_dep_bitb()`: next as prev). */
  depb: number;
  /** The chain that created the edge, for the report. */
  readonly at: string;
}

/** How lockdep reacts to a splat. @public */
export interface LockdepOptions {
  /** Throw {@link KernelBug} on reports that CI kernels turn into panics (`panic_on_warn`). */
  panicOnWarn: boolean;
  /** Where report text goes (the kernel log). */
  log: (text: string) => void;
  /** `debug_locks_off()` after the first splat, as the kernel does. Default false: every distinct splat is recorded. */
  oneShot?: boolean;
}

/**
 * The lock validator: held-lock stacks per task with IRQ context, a class
 * dependency graph with cycle detection, per-class IRQ usage bits with the
 * two checks the kernel makes (`mark_lock` and `check_irq_usage`),
 * `lockdep_assert_held` and might_sleep. Splats are recorded and logged
 * (lockdep prints and carries on); failed assertions and context bugs are
 * WARNs and throw under `panicOnWarn`. A splat already printed for the same
 * classes is not printed again (the chain cache validates a chain once).
 * @public
 */
export class Lockdep {
  readonly #classes = new Map<LockClassKey, Map<number, LockClass>>();
  readonly #namesSeen = new Map<string, number>();
  /** Dependency edges prev → next between classes. */
  readonly #after = new Map<LockClass, Map<LockClass, Edge>>();
  readonly #before = new Map<LockClass, Map<LockClass, Edge>>();
  readonly #tasks = new Map<LockOwner, TaskState>();
  readonly #reports: LockdepReport[] = [];
  readonly #signatures = new Set<string>();
  readonly #current: () => LockOwner;
  readonly #opts: LockdepOptions;
  #debugLocks = true;
  #irqEventStamp = 0;
  /** `force_read_lock_recursive`, set by the locking selftest. */
  forceReadLockRecursive = false;

  constructor(current: () => LockOwner, opts: LockdepOptions) {
    this.#current = current;
    this.#opts = opts;
  }

  /** `debug_locks`: false once a one-shot lockdep has reported. */
  get debugLocks(): boolean {
    return this.#debugLocks;
  }

  /**
   * The class of init site `key` (default: the name itself, i.e. one site per
   * name), subclass `subclass`, created on first use. Classes of one name
   * with different keys get a `#N` suffix, as `count_matching_names()` gives.
   */
  classFor(name: string, key: LockClassKey = name, subclass = 0): LockClass {
    if (subclass < 0 || subclass >= 8) throw new KernelBug("lockdep", `BUG: looking up invalid subclass: ${subclass}`);
    let byKey = this.#classes.get(key);
    if (!byKey) this.#classes.set(key, (byKey = new Map()));
    let c = byKey.get(subclass);
    if (!c) {
      const base = byKey.get(0);
      let version = base?.nameVersion;
      if (version === undefined || base?.name !== name) {
        version = (this.#namesSeen.get(name) ?? 0) + 1;
        this.#namesSeen.set(name, version);
      }
      c = new LockClass(name, key, subclass, version);
      byKey.set(subclass, c);
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
    this.#signatures.clear();
    this.#debugLocks = true;
  }

  /**
   * `/proc/lockdep`: one line per class used so far, `<usage>: <name>` with
   * the `{....}` usage characters (hardirq-W, hardirq-R, softirq-W, softirq-R).
   */
  procLockdep(): string[] {
    const out: string[] = [];
    for (const byKey of this.#classes.values()) for (const c of byKey.values()) if (c.usageMask) out.push(`${c.usageChars}: ${c.printedName}`);
    return out;
  }

  /** Dependency edges recorded so far, as `"A -> B"` strings of printed class names. */
  dependencies(): string[] {
    const out: string[] = [];
    for (const [from, tos] of this.#after) for (const to of tos.keys()) out.push(`${from.printedName} -> ${to.printedName}`);
    return out;
  }

  #state(task: LockOwner = this.#current()): TaskState {
    let s = this.#tasks.get(task);
    if (!s) {
      s = { held: [], preemptCount: 0, irqsOff: 0, bhOff: 0, hardirq: 0, softirq: 0 };
      this.#tasks.set(task, s);
    }
    return s;
  }

  // ---- context ------------------------------------------------------------

  /** `hardirqs_enabled` of the current task. */
  hardirqsEnabled(task?: LockOwner): boolean {
    const s = this.#state(task);
    return s.irqsOff === 0 && s.hardirq === 0;
  }

  /** `softirqs_enabled`: neither bh-disabled nor serving a softirq (nor in hard IRQ). */
  softirqsEnabled(task?: LockOwner): boolean {
    const s = this.#state(task);
    return s.bhOff === 0 && s.softirq === 0 && s.hardirq === 0;
  }

  /** `in_hardirq()`. */
  inHardirqContext(task?: LockOwner): boolean {
    return this.#state(task).hardirq > 0;
  }

  /** `in_serving_softirq()`. */
  inSoftirqContext(task?: LockOwner): boolean {
    return this.#state(task).softirq > 0;
  }

  /** `in_interrupt()`. */
  inInterrupt(task?: LockOwner): boolean {
    const s = this.#state(task);
    return s.hardirq > 0 || s.softirq > 0;
  }

  #irqContext(s: TaskState): number {
    return s.hardirq > 0 ? 2 : s.softirq > 0 ? 1 : 0;
  }

  /** True when the current task is in atomic context (spinlock held, IRQs off, in IRQ). */
  inAtomic(): boolean {
    const s = this.#state();
    return s.preemptCount > 0 || s.hardirq > 0 || s.softirq > 0 || s.irqsOff > 0 || s.bhOff > 0;
  }

  /** `might_sleep()`: splat when called from atomic context. */
  mightSleep(where: string): void {
    const s = this.#state();
    if (this.inAtomic()) {
      this.#report(
        "invalid-context",
        `BUG: sleeping function called from invalid context at ${where}`,
        s.held.map((h) => h.cls.printedName),
        [`in_atomic(): ${s.preemptCount > 0 || s.hardirq > 0 || s.softirq > 0 ? 1 : 0}, irqs_disabled(): ${s.irqsOff > 0 || s.hardirq > 0 ? 1 : 0}, non_block: 0, pid: ${this.#current().pid}, name: ${this.#current().comm}`],
        { warn: true, dedupe: false },
      );
    }
  }

  /**
   * Runs `fn` as a hard-IRQ handler nested on the current task (as an IRQ
   * runs on the interrupted task's stack): hardirqs off, a new irq_context
   * whose locks are not linked to the interrupted ones.
   */
  inHardirq<T>(fn: () => T): T {
    this.irqsOff(1);
    this.hardirqEnter();
    try {
      return fn();
    } finally {
      this.hardirqExit();
      this.irqsOff(-1);
    }
  }

  /** `__irq_enter()`: hard-IRQ context (hardirqs must already be off). */
  hardirqEnter(): void {
    this.#state().hardirq++;
  }

  /** `__irq_exit()`. */
  hardirqExit(): void {
    const s = this.#state();
    if (s.hardirq > 0) s.hardirq--;
  }

  /** Runs `fn` as a softirq (timer, tasklet) on the current task: bh off, hardirqs on. */
  inSoftirq<T>(fn: () => T): T {
    this.softirqEnter();
    try {
      return fn();
    } finally {
      this.softirqExit();
    }
  }

  /** `lockdep_softirq_enter()`: serving a softirq. */
  softirqEnter(): void {
    this.#state().softirq++;
  }

  /** `lockdep_softirq_exit()`. */
  softirqExit(): void {
    const s = this.#state();
    if (s.softirq === 0) return;
    s.softirq--;
    if (s.softirq === 0 && s.bhOff === 0 && this.hardirqsEnabled()) this.#softirqsOn(s);
  }

  /**
   * `local_irq_disable()` (+1) / `local_irq_enable()` (-1). Re-enabling
   * hardirqs with locks held marks them HARDIRQ-ON (`mark_held_locks()`);
   * enabling inside a hard IRQ is a DEBUG_LOCKS_WARN_ON.
   */
  irqsOff(delta: 1 | -1): void {
    const s = this.#state();
    if (delta === 1) {
      s.irqsOff++;
      return;
    }
    if (s.irqsOff === 0) return;
    s.irqsOff--;
    if (s.irqsOff === 0) {
      if (s.hardirq > 0) {
        this.#report("inconsistent", "DEBUG_LOCKS_WARN_ON(current->hardirq_context)", [], ["hardirqs enabled inside a hard IRQ handler"], { warn: true, dedupe: true });
        return;
      }
      this.#hardirqsOn(s);
    }
  }

  /** `local_irq_save()`: returns the flags to give back to `localIrqRestore`. */
  localIrqSave(): boolean {
    const wasOn = this.hardirqsEnabled();
    this.irqsOff(1);
    return wasOn;
  }

  /** `local_irq_restore(flags)`. */
  localIrqRestore(_flags: boolean): void {
    this.irqsOff(-1);
  }

  /** `local_bh_disable()` (+1) / `local_bh_enable()` (-1); re-enabling marks held locks SOFTIRQ-ON. */
  bhOff(delta: 1 | -1): void {
    const s = this.#state();
    if (delta === 1) {
      s.bhOff++;
      return;
    }
    if (s.bhOff === 0) return;
    s.bhOff--;
    if (s.bhOff === 0 && s.softirq === 0 && this.hardirqsEnabled()) this.#softirqsOn(s);
  }

  /** `lockdep_hardirqs_on()` → `mark_held_locks(curr, HARDIRQ)`, then softirqs if enabled. */
  #hardirqsOn(s: TaskState): void {
    this.#irqEventStamp++;
    for (const h of [...s.held]) {
      if (h.lock.pseudo) continue;
      this.#markLock(h, h.read ? ENABLED_HARDIRQ | READ : ENABLED_HARDIRQ);
    }
    if (s.bhOff === 0 && s.softirq === 0) this.#softirqsOn(s);
  }

  /** `lockdep_softirqs_on()` → held locks get SOFTIRQ-ON. */
  #softirqsOn(s: TaskState): void {
    for (const h of [...s.held]) {
      if (h.lock.pseudo) continue;
      this.#markLock(h, h.read ? ENABLED_SOFTIRQ | READ : ENABLED_SOFTIRQ);
    }
  }

  // ---- reports ----------------------------------------------------------------

  #task(): string {
    const t = this.#current();
    return `${t.comm}/${t.pid}`;
  }

  #ctxHeader(s: TaskState): string {
    const hc = s.hardirq > 0 ? 1 : 0;
    const sc = s.softirq > 0 ? 1 : 0;
    return `${this.#task()} [HC${hc}[${s.hardirq}]:SC${sc}[${s.softirq}]:HE${this.hardirqsEnabled() ? 1 : 0}:SE${this.softirqsEnabled() ? 1 : 0}]`;
  }

  #lockLine(cls: LockClass, lock?: LockdepMap): string {
    const wt = lock ? this.#waitType(lock) : 3;
    return `(${cls.printedName}){${cls.usageChars}}-{${wt}:${wt}}`;
  }

  #waitType(lock: LockdepMap): number {
    return lock.waitType ?? (lock.pseudo ? 0 : lock.sleeping ? 4 : 3);
  }

  #heldList(s: TaskState): string[] {
    const t = this.#current();
    if (!s.held.length) return [`no locks held by ${t.comm}/${t.pid}.`];
    return [`${s.held.length} lock${s.held.length > 1 ? "s" : ""} held by ${t.comm}/${t.pid}:`, ...s.held.map((h, i) => ` #${i}: ${this.#lockLine(h.cls, h.lock)}, at: ${h.at}`)];
  }

  #report(
    kind: LockdepReportKind,
    title: string,
    classes: string[],
    body: string[],
    o: { warn: boolean; dedupe: boolean; irqclass?: string; usage?: { old: string; new: string } },
  ): void {
    const sig = `${kind}|${title}|${classes.join(",")}`;
    if (o.dedupe && this.#signatures.has(sig)) return;
    // One-shot lockdep: after the first splat, lockdep splats are silent (asserts and might_sleep still WARN).
    const isSplat = kind !== "assert" && kind !== "invalid-context";
    if (isSplat && !this.#debugLocks) return;
    this.#signatures.add(sig);
    const message = [title, ...body].join("\n");
    this.#reports.push({ kind, message, classes, ...(o.irqclass ? { irqclass: o.irqclass } : {}), ...(o.usage ? { usage: o.usage } : {}) });
    this.#opts.log(message);
    if (isSplat && this.#opts.oneShot) this.#debugLocks = false;
    if (o.warn && this.#opts.panicOnWarn) throw new KernelBug("lockdep", message);
  }

  // ---- acquire ------------------------------------------------------------------

  #readOf(opts: AcquireOptions): 0 | 1 | 2 {
    const r = opts.read;
    return r === true ? 1 : r === false || r === undefined ? 0 : r;
  }

  /** `read_lock_is_recursive()`: rwlock readers recurse in interrupt context (queued rwlocks). */
  readLockIsRecursive(): boolean {
    return this.forceReadLockRecursive || this.inInterrupt();
  }

  /**
   * `lock_acquire()` by the current task. Call before taking the lock for
   * real, so a self-deadlock is reported rather than hanging. Marks usage
   * (`mark_usage`), then validates the chain: recursion, circular
   * dependencies and IRQ-safe → IRQ-unsafe order against the nearest held
   * lock of the same irq_context.
   */
  acquire(lock: LockdepMap, opts: AcquireOptions = {}): void {
    const s = this.#state();
    const read = this.#readOf(opts);
    const trylock = opts.trylock ?? false;
    const subclass = opts.subclass ?? 0;
    const nested = (opts.nested ?? false) || opts.nestLock !== undefined;
    const cls = subclass ? (lock.classForSubclass?.(subclass) ?? this.classFor(lock.lockClass.name, lock.lockClass.key, subclass)) : lock.lockClass;
    const at = opts.at ?? `${lock.name}`;
    const ctx = this.#irqContext(s);

    if (lock.sleeping) this.mightSleep(`${lock.name} acquire`);

    // Same instance already held in this context: a real self-deadlock (spin/mutex), or recursion on a reader.
    const same = s.held.find((h) => h.lock === lock && h.irqContext === ctx);
    if (same && !(read === 2 && same.read) && !trylock) {
      this.#report("recursive", "WARNING: possible recursive locking detected", [cls.printedName], this.#recursiveBody(s, cls, lock, same), { warn: false, dedupe: false });
      if (!(same.read && read)) throw new KernelBug("deadlock", `${lock.name} acquired twice by the same task`);
    }

    if (opts.nestLock && !s.held.some((h) => h.lock === opts.nestLock)) {
      this.#report("nested-not-held", "WARNING: Nested lock was not taken", [cls.printedName], [`${this.#task()} is trying to lock:`, this.#lockLine(cls, lock), "", "but this task is not holding:", opts.nestLock.name], { warn: false, dedupe: true });
    }

    const hlock: HeldLock = { lock, cls, read, trylock, nested, hardirqsOff: !this.hardirqsEnabled(), irqContext: ctx, at };

    // mark_usage(): before the chain is validated.
    if (!lock.pseudo) {
      if (!trylock) {
        if (s.hardirq > 0) this.#markLock(hlock, read ? USED_IN_HARDIRQ | READ : USED_IN_HARDIRQ);
        else if (s.softirq > 0) this.#markLock(hlock, read ? USED_IN_SOFTIRQ | READ : USED_IN_SOFTIRQ);
      }
      if (this.hardirqsEnabled()) {
        this.#markLock(hlock, read ? ENABLED_HARDIRQ | READ : ENABLED_HARDIRQ);
        if (this.softirqsEnabled()) this.#markLock(hlock, read ? ENABLED_SOFTIRQ | READ : ENABLED_SOFTIRQ);
      }
    }
    this.#markLock(hlock, read ? USED_READ : USED);

    if (!trylock) this.#validateChain(s, hlock);
    s.held.push(hlock);
    if (!lock.sleeping && !lock.pseudo) s.preemptCount++;
  }

  #recursiveBody(s: TaskState, cls: LockClass, lock: LockdepMap, held: HeldLock): string[] {
    return [
      `${this.#task()} is trying to acquire lock:`,
      `${this.#lockLine(cls, lock)}, at: ${lock.name}`,
      "",
      "but task is already holding lock:",
      `${this.#lockLine(held.cls, held.lock)}, at: ${held.at}`,
      "",
      "other info that might help us debug this:",
      " Possible unsafe locking scenario:",
      "",
      "       CPU0",
      "       ----",
      `  lock(${held.cls.printedName});`,
      `  lock(${cls.printedName});`,
      "",
      " *** DEADLOCK ***",
      "",
      " May be due to missing lock nesting notation",
      "",
      ...this.#heldList(s),
    ];
  }

  /** `validate_chain()`: `check_deadlock()`, then `check_prevs_add()`. */
  #validateChain(s: TaskState, next: HeldLock): void {
    // check_deadlock: another lock of the same class held in this irq_context.
    for (const h of s.held) {
      if (h.irqContext !== next.irqContext || h.cls !== next.cls || h.lock === next.lock) continue;
      if (next.read === 2 && h.read) continue;
      if (next.nested || h.nested) return; // nest_lock: no dependency at all
      this.#report("recursive", "WARNING: possible recursive locking detected", [next.cls.printedName], this.#recursiveBody(s, next.cls, next.lock, h), { warn: false, dedupe: true });
      return;
    }
    // check_prevs_add: the nearest held locks of this irq_context: consecutive trylocks and the first non-trylock.
    for (let i = s.held.length - 1; i >= 0; i--) {
      const prev = s.held[i]!;
      if (prev.irqContext !== next.irqContext) break;
      if (prev.cls !== next.cls) this.#checkPrevAdd(s, prev, next);
      if (!prev.trylock) break;
    }
  }

  /**
   * `check_prev_add()`: circular, then `check_irq_usage()`, then add the
   * edge or merge its kind bits into the existing one. The checks run even
   * when the edge exists: a write after a read of the same order (the
   * selftest's `rlock_chaincache_ABBA1`) can close a strong cycle.
   */
  #checkPrevAdd(s: TaskState, prev: HeldLock, next: HeldLock): void {
    const dep = depBit(prev.read, next.read);
    const depb = depBit(next.read, prev.read);
    // A cycle next → … → prev, along strong paths (no -(xR)-> followed by -(Sx)->).
    const path = this.#strongPath(next.cls, prev.cls, next.read === 2, prev.read);
    if (path) {
      this.#printCircular(s, prev, next, path);
      return;
    }
    if (!this.#checkIrqUsage(s, prev, next)) return;
    const existing = this.#after.get(prev.cls)?.get(next.cls);
    if (existing) {
      existing.dep |= dep;
      existing.depb |= depb;
      return;
    }
    const edge: Edge = { dep, depb, at: `${prev.cls.printedName} -> ${next.cls.printedName} by ${this.#task()}` };
    let a = this.#after.get(prev.cls);
    if (!a) this.#after.set(prev.cls, (a = new Map()));
    a.set(next.cls, edge);
    let b = this.#before.get(next.cls);
    if (!b) this.#before.set(next.cls, (b = new Map()));
    b.set(prev.cls, edge);
  }

  /**
   * BFS forwards from `from` to `to` over strong paths; the class chain or
   * undefined. With `toRead` (the held lock the path closes on is a read),
   * a path ending in -(*R)-> does not conflict (`hlock_conflict()`).
   */
  #strongPath(from: LockClass, to: LockClass, fromRecursiveRead: boolean, toRead = 0): LockClass[] | undefined {
    type Node = { cls: LockClass; onlyXr: boolean; parent?: Node };
    const seen = new Set<string>();
    const queue: Node[] = [{ cls: from, onlyXr: fromRecursiveRead }];
    while (queue.length) {
      const cur = queue.shift()!;
      for (const [n, e] of this.#after.get(cur.cls) ?? []) {
        const onlyXr = Lockdep.#step(cur.onlyXr, e.dep);
        if (onlyXr === undefined) continue;
        const node: Node = { cls: n, onlyXr, parent: cur };
        if (n === to && (toRead === 0 || !onlyXr)) {
          const chain: LockClass[] = [];
          for (let p: Node | undefined = node; p; p = p.parent) chain.unshift(p.cls);
          return chain;
        }
        const key = `${n.printedName}|${onlyXr}`;
        if (seen.has(key)) continue;
        seen.add(key);
        queue.push(node);
      }
    }
    return undefined;
  }

  /**
   * `__bfs()` step 2: after only -(*R)-> edges, an -(S*)-> edge does not make
   * a strong path. Returns the `only_xr` of the next entry, or undefined to skip.
   */
  static #step(parentOnlyXr: boolean, dep: number): boolean | undefined {
    const d = parentOnlyXr ? dep & ~(DEP_SR | DEP_SN) : dep;
    if (!d) return undefined;
    return !(d & (DEP_SN | DEP_EN));
  }

  #printCircular(s: TaskState, prev: HeldLock, next: HeldLock, path: LockClass[]): void {
    // path: next … prev; the dependency chain in reverse order as printed: prev's edge first.
    const rev = [...path].reverse();
    const body = [
      `${this.#task()} is trying to acquire lock:`,
      `${this.#lockLine(next.cls, next.lock)}, at: ${next.at}`,
      "",
      "but task is already holding lock:",
      `${this.#lockLine(prev.cls, prev.lock)}, at: ${prev.at}`,
      "",
      "which lock already depends on the new lock.",
      "",
      "",
      "the existing dependency chain (in reverse order) is:",
      ...rev.map((c, i) => `\n-> #${rev.length - 1 - i} (${c.printedName}){${c.usageChars}}:`),
      "",
      "other info that might help us debug this:",
      "",
      ...(path.length > 2 ? ["Chain exists of:", `  ${[...path.slice(1)].map((c) => c.printedName).join(" --> ")} --> ${next.cls.printedName}`, ""] : []),
      " Possible unsafe locking scenario:",
      "",
      "       CPU0                    CPU1",
      "       ----                    ----",
      `  ${prev.read ? "rlock" : "lock"}(${prev.cls.printedName});`,
      `                               lock(${(path.length > 2 ? path[path.length - 2]! : next.cls).printedName});`,
      `                               lock(${prev.cls.printedName});`,
      `  ${next.read ? "rlock" : "lock"}(${next.cls.printedName});`,
      "",
      " *** DEADLOCK ***",
      "",
      ...this.#heldList(s),
    ];
    this.#report("circular", "WARNING: possible circular locking dependency detected", [...path.map((c) => c.printedName), next.cls.printedName], body, { warn: false, dedupe: true });
  }

  /**
   * `check_irq_usage()`: every class reachable backwards from `prev` that is
   * IRQ-safe, against every class reachable forwards from `next` that is
   * IRQ-unsafe in the same state. Independent of the current IRQ state.
   * Returns false when it reported.
   */
  #checkIrqUsage(s: TaskState, prev: HeldLock, next: HeldLock): boolean {
    const backward = this.#bfsCollect(prev.cls, "backward", prev.read !== 0);
    let usage = 0;
    for (const n of backward) usage |= (n.onlyXr ? n.cls.usageMask & LOCKF_IRQ : n.cls.usageMask) & LOCKF_USED_IN_IRQ_ALL;
    // The new edge itself (prev → next) is part of both searches.
    if (!usage) return true;
    const deny = exclusiveMask(usage);
    const forward = this.#bfsCollect(next.cls, "forward", next.read === 2);
    const unsafe = forward.find((n) => (n.onlyXr ? n.cls.usageMask & LOCKF_IRQ : n.cls.usageMask) & deny);
    if (!unsafe) return true;
    // find_exclusive_match(): the backward usage bit whose exclusive bit the unsafe class has.
    const unsafeMask = unsafe.onlyXr ? unsafe.cls.usageMask & LOCKF_IRQ : unsafe.cls.usageMask;
    let safeBit = -1;
    let unsafeBit = -1;
    for (let bit = 0; bit < NR_IRQ_BITS && safeBit < 0; bit++) {
      if (!(usage & flag(bit))) continue;
      for (const ub of [exclusiveBit(bit), exclusiveBit(bit) | READ]) {
        if (unsafeMask & flag(ub)) {
          safeBit = bit;
          unsafeBit = ub;
          break;
        }
      }
    }
    const safe = backward.find((n) => ((n.onlyXr ? n.cls.usageMask & LOCKF_IRQ : n.cls.usageMask) & flag(safeBit)) !== 0)!;
    this.#printBadIrqDependency(s, prev, next, safe.cls, unsafe.cls, safeBit, unsafeBit);
    return false;
  }

  #bfsCollect(root: LockClass, dir: "forward" | "backward", rootOnlyXr: boolean): { cls: LockClass; onlyXr: boolean }[] {
    const out: { cls: LockClass; onlyXr: boolean }[] = [{ cls: root, onlyXr: rootOnlyXr }];
    const seen = new Set<string>([`${root.printedName}|${rootOnlyXr}`]);
    const graph = dir === "forward" ? this.#after : this.#before;
    for (let i = 0; i < out.length; i++) {
      const cur = out[i]!;
      for (const [n, e] of graph.get(cur.cls) ?? []) {
        const onlyXr = Lockdep.#step(cur.onlyXr, dir === "forward" ? e.dep : e.depb);
        if (onlyXr === undefined) continue;
        const key = `${n.printedName}|${onlyXr}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ cls: n, onlyXr });
      }
    }
    return out;
  }

  #printBadIrqDependency(s: TaskState, prev: HeldLock, next: HeldLock, safe: LockClass, unsafe: LockClass, safeBit: number, unsafeBit: number): void {
    const irqclass = stateName(safeBit);
    const st = irqclass;
    const middle = prev.cls === safe ? next.cls : prev.cls;
    const body = [
      `${this.#ctxHeader(s)} is trying to acquire:`,
      `${this.#lockLine(next.cls, next.lock)}, at: ${next.at}`,
      "",
      "and this task is already holding:",
      `${this.#lockLine(prev.cls, prev.lock)}, at: ${prev.at}`,
      "which would create a new lock dependency:",
      ` ${this.#lockLine(prev.cls, prev.lock)} -> ${this.#lockLine(next.cls, next.lock)}`,
      "",
      `but this new dependency connects a ${st}-irq-safe lock:`,
      ` (${safe.printedName}){${safe.usageChars}}`,
      "",
      `... which became ${st}-irq-safe at:`,
      `  ${safe.usageTraces[safeBit] ?? "?"}`,
      "",
      `to a ${stateName(unsafeBit & ~READ | (safeBit & READ))}-irq-unsafe lock:`,
      ` (${unsafe.printedName}){${unsafe.usageChars}}`,
      "",
      `... which became ${stateName(unsafeBit & ~READ | (safeBit & READ))}-irq-unsafe at:`,
      `  ${unsafe.usageTraces[unsafeBit] ?? "?"}`,
      "",
      "other info that might help us debug this:",
      "",
      ...(middle !== unsafe ? ["Chain exists of:", `  ${safe.printedName} --> ${middle.printedName} --> ${unsafe.printedName}`, ""] : []),
      ...this.#irqScenario(safe, unsafe, middle),
      ...this.#heldList(s),
      "",
      `the dependencies between ${st}-irq-safe lock and the holding lock:`,
      ...this.#chainText(safe, prev.cls),
      "",
      `the dependencies between the lock to be acquired and ${stateName(unsafeBit & ~READ | (safeBit & READ))}-irq-unsafe lock:`,
      ...this.#chainText(next.cls, unsafe),
    ];
    this.#report("irq-order", `WARNING: ${st}-safe -> ${st}-unsafe lock order detected`, [safe.printedName, unsafe.printedName], body, { warn: false, dedupe: true, irqclass });
  }

  /** `print_irq_lock_scenario()`. */
  #irqScenario(safe: LockClass, unsafe: LockClass, middle: LockClass): string[] {
    return [
      " Possible interrupt unsafe locking scenario:",
      "",
      "       CPU0                    CPU1",
      "       ----                    ----",
      `  lock(${unsafe.printedName});`,
      "                               local_irq_disable();",
      `                               lock(${safe.printedName});`,
      `                               lock(${middle.printedName});`,
      "  <Interrupt>",
      `    lock(${safe.printedName});`,
      "",
      " *** DEADLOCK ***",
      "",
    ];
  }

  #chainText(from: LockClass, to: LockClass): string[] {
    if (from === to) return [`-> (${from.printedName}){${from.usageChars}} {`, "}"];
    const path = this.#strongPath(from, to, false) ?? [from, to];
    return path.map((c) => `-> (${c.printedName}){${c.usageChars}}`);
  }

  /**
   * `mark_lock()`: set usage bit `bit` on the class of `h`; the first time an
   * IRQ bit is set, `mark_lock_irq()` checks the class's own usage
   * (`valid_state`) and the graph (`check_usage_forwards/backwards`).
   */
  #markLock(h: HeldLock, bit: number): void {
    const cls = h.cls;
    if (cls.usageMask & flag(bit)) return;
    cls.usageMask |= flag(bit);
    const s = this.#state();
    cls.usageTraces[bit] = `${USAGE_STR[bit]} of ${h.lock.name} by ${this.#task()} in ${h.irqContext === 2 ? "hardirq" : h.irqContext === 1 ? "softirq" : "process"} context, irq event stamp ${this.#irqEventStamp}`;
    if (bit >= NR_IRQ_BITS) return;
    const excl = exclusiveBit(bit);
    const read = bit & READ;
    if (!this.#validState(s, h, bit, excl)) return;
    if (!read && !this.#validState(s, h, bit, excl | READ)) return;
    if (bit & DIR) this.#checkUsageGraph(s, h, bit, excl, "backward");
    else this.#checkUsageGraph(s, h, bit, excl, "forward");
  }

  /** `valid_state()`: the class already has the conflicting bit → "inconsistent lock state". */
  #validState(s: TaskState, h: HeldLock, bit: number, badBit: number): boolean {
    const cls = h.cls;
    if (!(cls.usageMask & flag(badBit))) return true;
    const old = USAGE_STR[badBit]!;
    const nw = USAGE_STR[bit]!;
    const body = [
      `inconsistent {${old}} -> {${nw}} usage.`,
      `${this.#ctxHeader(s)} takes:`,
      `${this.#lockLine(cls, h.lock)}, at: ${h.at}`,
      `{${old}} state was registered at:`,
      `  ${cls.usageTraces[badBit] ?? "?"}`,
      `irq event stamp: ${this.#irqEventStamp}`,
      "",
      "other info that might help us debug this:",
      " Possible unsafe locking scenario:",
      "",
      "       CPU0",
      "       ----",
      `  lock(${cls.printedName});`,
      "  <Interrupt>",
      `    lock(${cls.printedName});`,
      "",
      " *** DEADLOCK ***",
      "",
      ...this.#heldList(s),
    ];
    this.#report("inconsistent", "WARNING: inconsistent lock state", [cls.printedName], body, { warn: false, dedupe: true, usage: { old, new: nw }, irqclass: stateName(bit & ~READ) });
    return false;
  }

  /**
   * A class just became IRQ-unsafe (search backwards for an IRQ-safe class
   * that was held when it was taken) or IRQ-safe (search forwards for an
   * IRQ-unsafe class it took): "possible irq lock inversion dependency".
   */
  #checkUsageGraph(s: TaskState, h: HeldLock, bit: number, excl: number, dir: "forward" | "backward"): void {
    const mask = flag(excl) | flag(excl | READ);
    const found = this.#bfsCollect(h.cls, dir, dir === "forward" ? h.read === 2 : h.read !== 0)
      .slice(1)
      .find((n) => (n.onlyXr ? n.cls.usageMask & LOCKF_IRQ : n.cls.usageMask) & mask);
    if (!found) return;
    const other = found.cls;
    const otherBit = other.usageMask & flag(excl) ? excl : excl | READ;
    const st = stateName(otherBit);
    const forwards = dir === "forward";
    const safe = forwards ? h.cls : other;
    const unsafe = forwards ? other : h.cls;
    const body = [
      `${this.#ctxHeader(s)} just changed the state of lock:`,
      `${this.#lockLine(h.cls, h.lock)}, at: ${h.at}`,
      forwards ? `but this lock took another, ${st}-unsafe lock in the past:` : `but this lock was taken by another, ${st}-safe lock in the past:`,
      ` (${other.printedName}){${other.usageChars}}`,
      "",
      "",
      "and interrupts could create inverse lock ordering between them.",
      "",
      "",
      "other info that might help us debug this:",
      ...this.#irqScenario(safe, unsafe, unsafe),
      ...this.#heldList(s),
      "",
      "the shortest dependencies between 2nd lock and 1st lock:",
      ...(forwards ? this.#chainText(h.cls, other) : this.#chainText(other, h.cls)),
    ];
    this.#report("irq-inversion", "WARNING: possible irq lock inversion dependency detected", forwards ? [h.cls.printedName, other.printedName] : [other.printedName, h.cls.printedName], body, {
      warn: false,
      dedupe: true,
      irqclass: stateName(bit & ~DIR & ~READ | (otherBit & READ)),
    });
  }

  // ---- release ------------------------------------------------------------------

  /** `lock_release()` by the current task. */
  release(lock: LockdepMap): void {
    const s = this.#state();
    for (let i = s.held.length - 1; i >= 0; i--) {
      if (s.held[i]!.lock === lock) {
        s.held.splice(i, 1);
        if (!lock.sleeping && !lock.pseudo) s.preemptCount--;
        return;
      }
    }
    this.#report(
      "bad-unlock",
      "WARNING: bad unlock balance detected!",
      [lock.lockClass.printedName],
      [`${this.#task()} is trying to release lock (${lock.lockClass.printedName}) at:`, `${lock.name}`, "but there are no more locks to release!", "", "other info that might help us debug this:", ...this.#heldList(s)],
      { warn: true, dedupe: false },
    );
  }

  /** True when `task` (default: current) holds `lock` (in `mode`, if given). */
  isHeld(lock: LockdepMap, mode?: "read" | "write", task?: LockOwner): boolean {
    const s = this.#state(task);
    return s.held.some((h) => h.lock === lock && (mode === undefined || (mode === "read") === (h.read !== 0)));
  }

  /** `lockdep_assert_held()` (and `_write` / `_read` with `mode`). */
  assertHeld(lock: LockdepMap, mode?: "read" | "write", where?: string): void {
    if (this.isHeld(lock, mode)) return;
    this.#report(
      "assert",
      `WARNING: lockdep_assert_held${mode ? `_${mode}` : ""}(${lock.name}) failed${where ? ` at ${where}` : ""}`,
      [lock.lockClass.printedName],
      [`${this.#task()} does not hold ${lock.name}`],
      { warn: true, dedupe: false },
    );
  }

  /** `lockdep_assert_irqs_disabled()`. */
  assertIrqsDisabled(where: string): void {
    if (!this.hardirqsEnabled()) return;
    this.#report("assert", `WARNING: lockdep_assert_irqs_disabled() failed at ${where}`, [], [`${this.#task()} has hardirqs enabled`], { warn: true, dedupe: false });
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
    this.#report("held-at-return", `WARNING: lock held when returning to user space!`, names, [`${task.comm}/${task.pid} is leaving the kernel with locks still held! (${where})`, ...this.#heldList(s)], { warn: true, dedupe: false });
  }

  /** How many locks `task` holds. */
  heldDepth(task: LockOwner): number {
    return this.#state(task).held.length;
  }

  /**
   * A sleeping lock is contended by the current task: the scheduler may park
   * the current step until `ready()` (it throws to unwind the step); when it
   * does not, the caller reports a deadlock (nobody else can run).
   */
  contended(what: string, ready: () => boolean): void {
    this.blocker?.(what, ready);
  }

  /** Installed by the kernel's scheduler: throws to park the running step, or returns. */
  blocker: ((what: string, ready: () => boolean) => void) | undefined;
}
