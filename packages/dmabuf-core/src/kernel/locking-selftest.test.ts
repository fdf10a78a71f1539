// Port of lib/locking-selftest.c: the dependency and irq-context cases, with the kernel's names and expectations.
import { describe, expect, it } from "vitest";
import { Kernel, Mutex, RwLock, RwSemaphore, SpinLock, type LockEnv } from "@dmabuf-sdk/dmabuf-core";

type LockType = "spin" | "wlock" | "rlock" | "mutex" | "wsem" | "rsem";
type Ctx = "hard" | "soft";

/**
 * One test run (`dotest()` after `reset_locks()`): a fresh kernel, the
 * standalone locks A-D and the shared-class pairs X1/X2, Y1/Y2, Z1/Z2. As in
 * the kernel's selftest, read_lock() is forced recursive
 * (`force_read_lock_recursive`).
 */
class Run {
  readonly k = new Kernel();
  readonly env: LockEnv = { lockdep: this.k.lockdep, current: () => this.k.current };
  readonly spin = new Map<string, SpinLock>();
  readonly rw = new Map<string, RwLock>();
  readonly mutex = new Map<string, Mutex>();
  readonly rwsem = new Map<string, RwSemaphore>();

  constructor(readonly type: LockType) {
    this.k.lockdep.forceReadLockRecursive = true;
    for (const n of ["A", "B", "C", "D", "X1", "X2", "Y1", "Y2", "Z1", "Z2"]) {
      // X1 and X2 are two instances of one class (init_class_X), A-D each their own.
      const cls = n.length === 2 ? n[0]! : n;
      this.spin.set(n, new SpinLock(this.env, `lock_${n}`, `lock_${cls}`));
      this.rw.set(n, new RwLock(this.env, `rwlock_${n}`, `rwlock_${cls}`));
      this.mutex.set(n, new Mutex(this.env, `mutex_${n}`, `mutex_${cls}`));
      this.rwsem.set(n, new RwSemaphore(this.env, `rwsem_${n}`, `rwsem_${cls}`));
    }
  }

  /** `LOCK(x)` of the variant. */
  LOCK(x: string): void {
    switch (this.type) {
      case "spin":
        return this.spin.get(x)!.lock();
      case "wlock":
        return this.rw.get(x)!.writeLock();
      case "rlock":
        return this.rw.get(x)!.readLock();
      case "mutex":
        return this.mutex.get(x)!.lock();
      case "wsem":
        return this.rwsem.get(x)!.downWrite();
      case "rsem":
        return this.rwsem.get(x)!.downRead();
    }
  }

  /** `UNLOCK(x)` of the variant. */
  UNLOCK(x: string): void {
    switch (this.type) {
      case "spin":
        return this.spin.get(x)!.unlock();
      case "wlock":
        return this.rw.get(x)!.writeUnlock();
      case "rlock":
        return this.rw.get(x)!.readUnlock();
      case "mutex":
        return this.mutex.get(x)!.unlock();
      case "wsem":
        return this.rwsem.get(x)!.upWrite();
      case "rsem":
        return this.rwsem.get(x)!.upRead();
    }
  }

  LU2(x: string, y: string): void {
    this.LOCK(x);
    this.LOCK(y);
    this.UNLOCK(y);
    this.UNLOCK(x);
  }

  L(x: string): void {
    this.spin.get(x)!.lock();
  }
  U(x: string): void {
    this.spin.get(x)!.unlock();
  }
  WL(x: string): void {
    this.rw.get(x)!.writeLock();
  }
  WU(x: string): void {
    this.rw.get(x)!.writeUnlock();
  }
  RL(x: string): void {
    this.rw.get(x)!.readLock();
  }
  RU(x: string): void {
    this.rw.get(x)!.readUnlock();
  }
  /** `ML`/`MU`: mutex_lock/unlock; `RSL`/`RSU`, `WSL`/`WSU`: down_read/up_read, down_write/up_write. */
  ML(x: string): void {
    this.mutex.get(x)!.lock();
  }
  MU(x: string): void {
    this.mutex.get(x)!.unlock();
  }
  RSL(x: string): void {
    this.rwsem.get(x)!.downRead();
  }
  RSU(x: string): void {
    this.rwsem.get(x)!.upRead();
  }
  WSL(x: string): void {
    this.rwsem.get(x)!.downWrite();
  }
  WSU(x: string): void {
    this.rwsem.get(x)!.upWrite();
  }

  HARDIRQ_ENTER(): void {
    this.k.lockdep.irqsOff(1);
    this.k.lockdep.hardirqEnter();
  }
  HARDIRQ_EXIT(): void {
    this.k.lockdep.hardirqExit();
    this.k.lockdep.irqsOff(-1);
  }
  SOFTIRQ_ENTER(): void {
    this.k.lockdep.bhOff(1);
    this.k.lockdep.irqsOff(1);
    this.k.lockdep.softirqEnter();
  }
  SOFTIRQ_EXIT(): void {
    this.k.lockdep.softirqExit();
    this.k.lockdep.irqsOff(-1);
    this.k.lockdep.bhOff(-1);
  }
  HARDIRQ_DISABLE(): void {
    this.k.lockdep.irqsOff(1);
  }
  HARDIRQ_ENABLE(): void {
    this.k.lockdep.irqsOff(-1);
  }
  /** `IRQ_ENTER()` etc. of the -hardirq.h / -softirq.h headers. */
  IRQ_ENTER(c: Ctx): void {
    if (c === "hard") this.HARDIRQ_ENTER();
    else this.SOFTIRQ_ENTER();
  }
  IRQ_EXIT(c: Ctx): void {
    if (c === "hard") this.HARDIRQ_EXIT();
    else this.SOFTIRQ_EXIT();
  }
  IRQ_DISABLE(c: Ctx): void {
    if (c === "hard") this.HARDIRQ_DISABLE();
    else this.k.lockdep.bhOff(1);
  }
  IRQ_ENABLE(c: Ctx): void {
    if (c === "hard") this.HARDIRQ_ENABLE();
    else this.k.lockdep.bhOff(-1);
  }

  /** `debug_locks` after the run: false once lockdep reported. */
  get debugLocks(): boolean {
    return this.k.lockdep.reports().length === 0;
  }
}

const FAILURE = false;
const SUCCESS = true;

/** Runs events in the order of `nr` ("12", "213", …), as GENERATE_PERMUTATIONS_*_EVENTS. */
function permute(r: Run, nr: string, events: ((r: Run) => void)[]): void {
  for (const d of nr) events[Number(d) - 1]!(r);
}

function dotest(type: LockType, body: (r: Run) => void): boolean {
  const r = new Run(type);
  try {
    body(r);
  } catch {
    // A model self-deadlock (KernelBug) is reported by lockdep first; debug_locks says the rest.
  }
  return r.debugLocks;
}

// ---- dependency cases (DO_TESTCASE_6R / DO_TESTCASE_6) -----------------------------

const SIX: LockType[] = ["spin", "wlock", "rlock", "mutex", "wsem", "rsem"];
const expect6R = (t: LockType): boolean => (t === "rlock" ? SUCCESS : FAILURE);

const DEP_CASES: { desc: string; name: string; body: (r: Run) => void; expected: (t: LockType) => boolean }[] = [
  { desc: "A-A deadlock", name: "AA", body: (r) => (r.LOCK("X1"), r.LOCK("X2")), expected: expect6R },
  { desc: "A-B-B-A deadlock", name: "ABBA", body: (r) => (r.LU2("A", "B"), r.LU2("B", "A")), expected: expect6R },
  { desc: "A-B-B-C-C-A deadlock", name: "ABBCCA", body: (r) => (r.LU2("A", "B"), r.LU2("B", "C"), r.LU2("C", "A")), expected: expect6R },
  { desc: "A-B-C-A-B-C deadlock", name: "ABCABC", body: (r) => (r.LU2("A", "B"), r.LU2("C", "A"), r.LU2("B", "C")), expected: expect6R },
  { desc: "A-B-B-C-C-D-D-A deadlock", name: "ABBCCDDA", body: (r) => (r.LU2("A", "B"), r.LU2("B", "C"), r.LU2("C", "D"), r.LU2("D", "A")), expected: expect6R },
  { desc: "A-B-C-D-B-D-D-A deadlock", name: "ABCDBDDA", body: (r) => (r.LU2("A", "B"), r.LU2("C", "D"), r.LU2("B", "D"), r.LU2("D", "A")), expected: expect6R },
  { desc: "A-B-C-D-B-C-D-A deadlock", name: "ABCDBCDA", body: (r) => (r.LU2("A", "B"), r.LU2("C", "D"), r.LU2("B", "C"), r.LU2("D", "A")), expected: expect6R },
  { desc: "double unlock", name: "double_unlock", body: (r) => (r.LOCK("A"), r.UNLOCK("A"), r.UNLOCK("A")), expected: () => FAILURE },
];

describe("locking-selftest: dependency cases", () => {
  it.each(DEP_CASES.flatMap((c) => SIX.map((t) => ({ ...c, type: t, fn: `${c.name}_${t}` }))))("$desc $type ($fn)", ({ body, expected, type }) => {
    expect(dotest(type, body)).toBe(expected(type));
  });

  const RW: { desc: string; fn: string; type: LockType; body: (r: Run) => void; expected: boolean }[] = [
    { desc: "recursive read-lock", fn: "rlock_AA1", type: "rlock", body: (r) => (r.RL("X1"), r.RL("X1")), expected: SUCCESS },
    { desc: "recursive read-lock", fn: "rsem_AA1", type: "rsem", body: (r) => (r.rwsem.get("X1")!.downRead(), r.rwsem.get("X1")!.downRead()), expected: FAILURE },
    { desc: "recursive read-lock #2", fn: "rlock_AA1B", type: "rlock", body: (r) => (r.RL("X1"), r.RL("X2")), expected: SUCCESS },
    { desc: "recursive read-lock #2", fn: "rsem_AA1B", type: "rsem", body: (r) => (r.rwsem.get("X1")!.downRead(), r.rwsem.get("X2")!.downRead()), expected: FAILURE },
    { desc: "mixed read-write-lock", fn: "rlock_AA2", type: "rlock", body: (r) => (r.RL("X1"), r.WL("X2")), expected: FAILURE },
    { desc: "mixed read-write-lock", fn: "rsem_AA2", type: "rsem", body: (r) => (r.rwsem.get("X1")!.downRead(), r.rwsem.get("X2")!.downWrite()), expected: FAILURE },
    { desc: "mixed write-read-lock", fn: "rlock_AA3", type: "rlock", body: (r) => (r.WL("X1"), r.RL("X2")), expected: FAILURE },
    { desc: "mixed write-read-lock", fn: "rsem_AA3", type: "rsem", body: (r) => (r.rwsem.get("X1")!.downWrite(), r.rwsem.get("X2")!.downRead()), expected: FAILURE },
    {
      desc: "mixed read-lock/lock-read ABBA",
      fn: "rlock_ABBA2",
      type: "rlock",
      body: (r) => (r.RL("X1"), r.L("Y1"), r.U("Y1"), r.RU("X1"), r.L("Y1"), r.RL("X1"), r.RU("X1"), r.U("Y1")),
      expected: SUCCESS,
    },
    {
      desc: "mixed write-lock/lock-write ABBA",
      fn: "rlock_ABBA3",
      type: "rlock",
      body: (r) => (r.WL("X1"), r.L("Y1"), r.U("Y1"), r.WU("X1"), r.L("Y1"), r.WL("X1"), r.WU("X1"), r.U("Y1")),
      expected: FAILURE,
    },
    {
      desc: "mixed read-lock/lock-write ABBA",
      fn: "rlock_ABBA1",
      type: "rlock",
      body: (r) => (r.RL("X1"), r.L("Y1"), r.U("Y1"), r.RU("X1"), r.L("Y1"), r.WL("X1"), r.WU("X1"), r.U("Y1")),
      expected: FAILURE,
    },
    {
      desc: "mixed read-lock/lock-write ABBA",
      fn: "rwsem_ABBA1",
      type: "rsem",
      body: (r) => (r.RSL("X1"), r.ML("Y1"), r.MU("Y1"), r.RSU("X1"), r.ML("Y1"), r.WSL("X1"), r.WSU("X1"), r.MU("Y1")),
      expected: FAILURE,
    },
    {
      // down_read() is not recursive: a writer queued between the two readers deadlocks both orders.
      desc: "mixed read-lock/lock-read ABBA",
      fn: "rwsem_ABBA2",
      type: "rsem",
      body: (r) => (r.RSL("X1"), r.ML("Y1"), r.MU("Y1"), r.RSU("X1"), r.ML("Y1"), r.RSL("X1"), r.RSU("X1"), r.MU("Y1")),
      expected: FAILURE,
    },
    {
      desc: "mixed write-lock/lock-write ABBA",
      fn: "rwsem_ABBA3",
      type: "wsem",
      body: (r) => (r.WSL("X1"), r.ML("Y1"), r.MU("Y1"), r.WSU("X1"), r.ML("Y1"), r.WSL("X1"), r.WSU("X1"), r.MU("Y1")),
      expected: FAILURE,
    },
    {
      // The chain cache must tell read from write: R-L then L-R (fine) must not hide L-W.
      desc: "chain cached mixed R-L/L-W ABBA",
      fn: "rlock_chaincache_ABBA1",
      type: "rlock",
      body: (r) => (r.RL("X1"), r.L("Y1"), r.U("Y1"), r.RU("X1"), r.L("Y1"), r.RL("X1"), r.RU("X1"), r.U("Y1"), r.L("Y1"), r.WL("X1"), r.WU("X1"), r.U("Y1")),
      expected: FAILURE,
    },
  ];
  it.each(RW)("$desc ($fn)", ({ type, body, expected }) => {
    expect(dotest(type, body)).toBe(expected);
  });
});

// ---- irq-context cases ---------------------------------------------------------------

const THREE: LockType[] = ["spin", "wlock", "rlock"];
/** DO_TESTCASE_3 / DO_TESTCASE_3RW: spin and wlock must fail, rlock (recursive readers) must not. */
const expect3 = (t: LockType): boolean => (t === "rlock" ? SUCCESS : FAILURE);

type Ev = (c: Ctx) => (r: Run) => void;
const IRQ_CASES: { desc: string; name: string; events: Ev[]; ctxs: Ctx[] }[] = [
  {
    // locking an irq-safe lock with irqs enabled
    desc: "irqs-on + irq-safe-A",
    name: "irqsafe1",
    ctxs: ["hard", "soft"],
    events: [(c) => (r) => (r.IRQ_ENTER(c), r.LOCK("A"), r.UNLOCK("A"), r.IRQ_EXIT(c)), () => (r) => (r.LOCK("A"), r.UNLOCK("A"))],
  },
  {
    // enabling irqs with an irq-safe lock held
    desc: "safe-A + irqs-on",
    name: "irqsafe2B",
    ctxs: ["hard", "soft"],
    events: [(c) => (r) => (r.IRQ_ENTER(c), r.LOCK("A"), r.UNLOCK("A"), r.IRQ_EXIT(c)), (c) => (r) => (r.IRQ_DISABLE(c), r.LOCK("A"), r.IRQ_ENABLE(c), r.UNLOCK("A"))],
  },
  {
    // acquiring an irq-unsafe lock while holding an irq-safe lock
    desc: "safe-A + unsafe-B #1",
    name: "irqsafe3",
    ctxs: ["hard", "soft"],
    events: [
      () => (r) => (r.LOCK("A"), r.LOCK("B"), r.UNLOCK("B"), r.UNLOCK("A")),
      () => (r) => (r.LOCK("B"), r.UNLOCK("B")),
      (c) => (r) => (r.IRQ_ENTER(c), r.LOCK("A"), r.UNLOCK("A"), r.IRQ_EXIT(c)),
    ],
  },
  {
    // a lock turns irq-safe, but earlier it took an irq-unsafe lock
    desc: "safe-A + unsafe-B #2",
    name: "irqsafe4",
    ctxs: ["hard", "soft"],
    events: [
      (c) => (r) => (r.IRQ_DISABLE(c), r.LOCK("A"), r.LOCK("B"), r.UNLOCK("B"), r.UNLOCK("A"), r.IRQ_ENABLE(c)),
      () => (r) => (r.LOCK("B"), r.UNLOCK("B")),
      (c) => (r) => (r.IRQ_ENTER(c), r.LOCK("A"), r.UNLOCK("A"), r.IRQ_EXIT(c)),
    ],
  },
  {
    // read-lock / write-lock irq inversion
    desc: "irq lock-inversion",
    name: "irq_inversion",
    ctxs: ["hard", "soft"],
    events: [
      (c) => (r) => (r.IRQ_DISABLE(c), r.WL("A"), r.LOCK("B"), r.UNLOCK("B"), r.WU("A"), r.IRQ_ENABLE(c)),
      () => (r) => (r.LOCK("B"), r.UNLOCK("B")),
      (c) => (r) => (r.IRQ_ENTER(c), r.RL("A"), r.RU("A"), r.IRQ_EXIT(c)),
    ],
  },
];

const perms = (n: number): string[] => (n === 2 ? ["12", "21"] : ["123", "132", "213", "231", "312", "321"]);

describe("locking-selftest: irq-context cases", () => {
  const rows = IRQ_CASES.flatMap((c) =>
    c.ctxs.flatMap((ctx) =>
      perms(c.events.length).flatMap((nr) =>
        THREE.map((type) => ({ title: `${ctx}-${c.desc}/${nr}`, fn: `${c.name}_${ctx}_${type}_${nr}`, type, nr, ctx, events: c.events })),
      ),
    ),
  );
  it.each(rows)("$title $type ($fn)", ({ type, nr, ctx, events }) => {
    expect(dotest(type, (r) => permute(r, nr, events.map((e) => e(ctx))))).toBe(expect3(type));
  });

  // sirq-safe-A => hirqs-on: a softirq-safe lock held while hardirqs get enabled (softirqs on too).
  it.each(perms(2).flatMap((nr) => THREE.map((type) => ({ nr, type, fn: `irqsafe2A_${type}_${nr}` }))))("sirq-safe-A => hirqs-on/$nr $type ($fn)", ({ nr, type }) => {
    const events = [(r: Run) => (r.SOFTIRQ_ENTER(), r.LOCK("A"), r.UNLOCK("A"), r.SOFTIRQ_EXIT()), (r: Run) => (r.HARDIRQ_DISABLE(), r.LOCK("A"), r.HARDIRQ_ENABLE(), r.UNLOCK("A"))];
    expect(dotest(type, (r) => permute(r, nr, events))).toBe(expect3(type));
  });

  // read-lock / write-lock recursion that is actually safe: never a report.
  it.each((["hard", "soft"] as Ctx[]).flatMap((ctx) => perms(3).map((nr) => ({ ctx, nr, fn: `irq_read_recursion_${ctx}_${nr}` }))))("$ctx-irq read-recursion/$nr ($fn)", ({ ctx, nr }) => {
    const events = [
      (r: Run) => (r.IRQ_DISABLE(ctx), r.WL("A"), r.WU("A"), r.IRQ_ENABLE(ctx)),
      (r: Run) => (r.RL("A"), r.RU("A")),
      (r: Run) => (r.IRQ_ENTER(ctx), r.RL("A"), r.L("B"), r.U("B"), r.RU("A"), r.IRQ_EXIT(ctx)),
    ];
    expect(dotest("rlock", (r) => permute(r, nr, events))).toBe(SUCCESS);
  });
});
