// kernel/sched/core.c, kernel/kthread.c, kernel/irq/: tasks beyond the caller and the contexts they run in.
import { KernelBug } from "./kernel-error.js";
import type { Kernel } from "./kernel.js";
import type { PickNextPolicy, TimerHandle } from "./time.js";
import type { Task } from "../uapi/task.js";

/**
 * Thrown inside a step of a kernel thread that must sleep on a contended
 * lock: the step is unwound (its `try/finally` blocks release what it took)
 * and run again from its start once `ready()` holds. Work functions in the
 * model take their sleeping locks before their side effects, so a restart is
 * indistinguishable from having slept at the lock.
 */
export class TaskWouldBlock extends Error {
  constructor(
    readonly task: Task,
    readonly what: string,
    readonly ready: () => boolean,
  ) {
    super(`${task.comm}/${task.pid} blocks on ${what}`);
  }
}

/** Options of {@link Scheduler.queueStep}. @public */
export interface StepOptions {
  readonly delayNs?: number;
  /** The step may run only while this holds. */
  readonly ready?: () => boolean;
}

/**
 * What runs at a preemption point (`Scheduler.point`): an interleaving
 * explorer may run other tasks' steps there, nested on the JS stack.
 * @public
 */
export type PreemptionPointHook = (label: string) => void;

/**
 * The tasks the kernel runs besides the caller, each an explicit object
 * with its own `current`, lockdep state and IRQ context: kernel threads
 * (kworkers of the workqueues, kthreads), the idle task on which device
 * interrupts arrive, and the steps they run on the virtual timeline.
 * Which due step runs next is the pick-next policy's choice (default:
 * queueing order); an interleaving explorer installs its own policy.
 * @public
 */
export class Scheduler {
  readonly #k: Kernel;
  readonly #running: Task[] = [];
  readonly #kthreads: Task[] = [];
  #idle: Task | undefined;
  /** Kernel threads get pids from their own range so user pids do not depend on when a kworker was first needed. */
  #nextKpid = 0x4000_0000;

  constructor(kernel: Kernel) {
    this.#k = kernel;
    // Bound, not an arrow written into the property: V8 allocates a function
    // literal assigned to a property in old space, and this one reaches the kernel.
    kernel.lockdep.blocker = this.#block.bind(this);
  }

  /** Installed by an interleaving explorer; absent, {@link Scheduler.point} does nothing. */
  pointHook: PreemptionPointHook | undefined;

  /**
   * A place in kernel code where the real kernel could be preempted or
   * interrupted between two reads of shared state (e.g. between checking a
   * pointer and dereferencing it without a lock). Without an explorer it does
   * nothing; with one, other tasks' steps may run here.
   */
  point(label: string): void {
    this.pointHook?.(label);
  }

  /** The pick-next policy of the timeline. */
  get pickNext(): PickNextPolicy {
    return this.#k.clock.pickNext;
  }

  set pickNext(policy: PickNextPolicy) {
    this.#k.clock.pickNext = policy;
  }

  /** `swapper/0` (pid 0): the idle task, on whose stack interrupts of an idle CPU run. */
  get idle(): Task {
    return (this.#idle ??= this.#k._newKthread("swapper/0", 0));
  }

  /** `kthread_create()` + `wake_up_process()`: a kernel thread named `comm`. */
  kthreadCreate(comm: string): Task {
    const t = this.#k._newKthread(comm, this.#nextKpid++);
    this.#kthreads.push(t);
    return t;
  }

  /** Kernel threads created so far (kworkers included), in creation order. */
  kthreads(): readonly Task[] {
    return this.#kthreads;
  }

  /** Tasks whose step is on the (JS) stack, outermost first. */
  running(): readonly Task[] {
    return this.#running;
  }

  /** True while `task` runs a step (it cannot start another one). */
  isRunning(task: Task): boolean {
    return this.#running.includes(task);
  }

  /**
   * Runs `fn` now as one step of kernel thread `task` (its `current`, its
   * lockdep state, process context). A `TaskWouldBlock` propagates to
   * the caller, which requeues the step.
   */
  runStep<T>(task: Task, fn: () => T): T {
    if (this.#running.includes(task)) throw new KernelBug("BUG", `${task.comm}/${task.pid} scheduled while running`);
    this.#running.push(task);
    const depth = this.#k.lockdep.heldDepth(task);
    try {
      return this.#k.runAs(task, fn);
    } finally {
      this.#running.pop();
      // process_one_work(): "BUG: workqueue leaked lock or atomic".
      if (this.#k.lockdep.heldDepth(task) !== depth) this.#k.lockdep.checkNoLocksHeld(task, `${task.comm} step`);
    }
  }

  /**
   * Queues `fn` as a step of kernel thread `task` after `delayNs`; a step that
   * blocks on a contended lock runs again from its start once the lock is free.
   */
  queueStep(task: Task, label: string, fn: () => void, opts: StepOptions = {}): TimerHandle {
    const ready = (): boolean => !this.#running.includes(task) && (opts.ready?.() ?? true);
    return this.#k.clock.schedule(opts.delayNs ?? 0, () => this.#runQueued(task, label, fn, ready), { label: `${label} on ${task.comm}`, ready });
  }

  #runQueued(task: Task, label: string, fn: () => void, ready: () => boolean): void {
    try {
      this.runStep(task, fn);
    } catch (e) {
      if (!(e instanceof TaskWouldBlock) || e.task !== task) throw e;
      this.#k.trace.emit("sched_blocked", { comm: task.comm, pid: task.pid, on: e.what });
      const again = (): boolean => ready() && e.ready();
      this.#k.clock.schedule(0, () => this.#runQueued(task, label, fn, ready), { label: `${label} on ${task.comm} (blocked on ${e.what})`, ready: again });
    }
  }

  /**
   * A device raises an interrupt after `delayNs`: `handler` runs in hard-IRQ
   * context on the idle task (the CPU was idle; the waiter sleeps).
   */
  raiseIrq(label: string, handler: () => void, delayNs = 0): TimerHandle {
    return this.#k.clock.schedule(delayNs, () => this.#k.runAs(this.idle, () => this.#k.lockdep.inHardirq(handler)), { label: `irq ${label}` });
  }

  /** Runs `fn` as a hard-IRQ handler interrupting the current task now (nested on its stack). */
  irq<T>(fn: () => T): T {
    return this.#k.lockdep.inHardirq(fn);
  }

  /** Runs `fn` as a softirq (timer callback, tasklet) on the current task now. */
  softirq<T>(fn: () => T): T {
    return this.#k.lockdep.inSoftirq(fn);
  }

  /** Lockdep's contention hook: park the innermost running kernel-thread step, else let the caller report. */
  #block(what: string, ready: () => boolean): void {
    const top = this.#running[this.#running.length - 1];
    const cur = this.#k.current;
    if (!top || top !== cur || !cur.kthread) return;
    if (this.#k.lockdep.inAtomic()) return;
    throw new TaskWouldBlock(cur, what, ready);
  }
}
