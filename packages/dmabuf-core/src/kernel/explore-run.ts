// One execution of the interleaving explorer: a scenario's tasks on a fresh kernel under one schedule (CHESS/loom-style controlled scheduling).
import { KernelBug, KernelError } from "./kernel-error.js";
import type { Kernel } from "./kernel.js";
import { TaskWouldBlock } from "./sched.js";
import { pickFirst, type ClockEvent, type PickNextPolicy } from "./time.js";
import type { Task } from "../uapi/task.js";

/** One atomic step of an explored task: a syscall or a kernel call, run to completion. @public */
export interface ExploreStep {
  readonly label: string;
  /** The step may start only while this holds (a task whose next step is not ready is blocked). */
  ready?(): boolean;
  /** The kernel calls of the step; a {@link KernelError} is the step's outcome, anything else thrown is an oops. */
  run(): unknown;
}

/** One task of a scenario: a process, kernel thread or driver context running its steps in order. @public */
export interface ExploreTask {
  readonly name: string;
  /** The task the steps run as; a kernel thread named after the task when absent. */
  readonly task?: Task;
  readonly steps: readonly ExploreStep[];
}

/** What a step returned: a value, or the errno it failed with. @public */
export interface ExploreStepOutcome {
  /** The task and step label. */
  readonly task: string;
  readonly step: string;
  /** What `run()` returned, or the errno of the {@link KernelError} it threw. */
  readonly value?: unknown;
  readonly errno?: string;
}

/** A scenario instantiated on one fresh kernel. @public */
export interface ExploreInstance {
  readonly tasks: readonly ExploreTask[];
  /** Teardown after every task finished and the timeline drained (close fds, put references). */
  finish?(): void;
  /** The scenario's own assertions; each string returned is a failure. */
  check?(outcomes: readonly ExploreStepOutcome[]): readonly string[];
  /** End checks this scenario turns off (a scenario file's `checks: { leaks: false }`). */
  readonly skipChecks?: readonly ("leak" | "lockdep")[];
}

/** A race scenario: how to boot its kernel and build its tasks, once per execution. @public */
export interface ExploreScenario {
  readonly name: string;
  boot(): Kernel;
  build(kernel: Kernel): ExploreInstance;
}

/** Kinds of failure an execution can end with. @public */
export type ExploreFailureKind = "oops" | "lockdep" | "warn" | "hung" | "leak" | "assertion" | "steps";

/** One failure of one execution. @public */
export interface ExploreCheckFailure {
  /** What was wrong: an oops, a lockdep report, a WARN, a hung task, a leak, an assertion, or no end. */
  readonly kind: ExploreFailureKind;
  /** Kind and first line: what shrinking keeps and what tells two failures apart. */
  readonly signature: string;
  /** The whole report (a lockdep splat, the leak report, the assertion). */
  readonly message: string;
}

/** Where a decision was taken: between steps, at a preemption point inside one, or by a waiter's pick-next. @public */
export type ExploreDecisionKind = "schedule" | "point" | "pick";

/** One recorded decision. @public */
export interface ExploreDecision {
  readonly kind: ExploreDecisionKind;
  /** Number of alternatives. */
  readonly n: number;
  /** 0 = the default alternative, k = the k-th other one. */
  readonly code: number;
  /** Preemption count before this decision. */
  readonly preemptionsBefore: number;
  /** Per code: whether taking it is a preemption. */
  readonly preemptive: readonly boolean[];
}

/** Chooses a code among `n` alternatives of a decision. @public */
export interface ExploreChooser {
  choose(index: number, kind: ExploreDecisionKind, actors: readonly string[], def: number, preemptive: readonly boolean[]): number;
}

/** The result of one execution. @public */
export interface ExecutionResult {
  /** Every decision taken, in order. */
  readonly decisions: readonly ExploreDecision[];
  /** Their codes: what `encodeSchedule()` writes as the schedule string. */
  readonly codes: readonly number[];
  /** Steps and events run. */
  readonly steps: number;
  /** Decisions that switched away from a task that could have gone on. */
  readonly preemptions: number;
  /** The execution could not be completed in the single-threaded model (a nested step needed a suspended frame's lock); not a bug. */
  readonly pruned: boolean;
  /** Its failures, lockdep reports first. */
  readonly failures: readonly ExploreCheckFailure[];
  /** What ran, in order (nested steps indented). */
  readonly trace: readonly string[];
  /** The kernel log (`dmesg`) of the execution. */
  readonly log: string;
  /** The lockdep reports, as printed. */
  readonly lockdep: string;
  /** What each task step returned, in the order they ran. */
  readonly outcomes: readonly ExploreStepOutcome[];
}

/** Bounds of one execution. @public */
export interface ExecutionBounds {
  /** Steps and events per execution before it is judged not to terminate. */
  readonly maxSteps: number;
  /** Nesting depth of preemption points (1: only an outermost step may be preempted inside). */
  readonly maxPointDepth: number;
}

class Pruned extends Error {}
class Oopsed extends Error {
  constructor(readonly failure: ExploreCheckFailure) {
    super(failure.message);
  }
}

interface Alt {
  readonly actor: string;
  readonly label: string;
  readonly run: () => void;
}

interface TaskState {
  readonly spec: ExploreTask;
  readonly task: Task;
  next: number;
  blockedOn: TaskWouldBlock | undefined;
}

function firstLine(s: string): string {
  return s.split("\n")[0]!;
}

/** Runs `scenario` once under the decisions `chooser` takes. @public */
export function runExecution(scenario: ExploreScenario, chooser: ExploreChooser, bounds: ExecutionBounds): ExecutionResult {
  const kernel = scenario.boot();
  const decisions: ExploreDecision[] = [];
  const trace: string[] = [];
  const outcomes: ExploreStepOutcome[] = [];
  const failures: ExploreCheckFailure[] = [];
  const stack: string[] = [];
  let steps = 0;
  let preemptions = 0;
  let last: string | undefined;
  let pruned = false;

  const inst = scenario.build(kernel);
  const tasks: TaskState[] = inst.tasks.map((spec) => ({ spec, task: spec.task ?? kernel.sched.kthreadCreate(spec.name), next: 0, blockedOn: undefined }));

  const decide = (kind: ExploreDecisionKind, alts: readonly Alt[], def: number, preemptiveAt: (i: number) => boolean): number => {
    const order = [def, ...alts.map((_, i) => i).filter((i) => i !== def)];
    const preemptive = order.map(preemptiveAt);
    const code = chooser.choose(decisions.length, kind, order.map((i) => alts[i]!.actor), def, preemptive);
    const c = code >= 0 && code < alts.length ? code : 0;
    decisions.push({ kind, n: alts.length, code: c, preemptionsBefore: preemptions, preemptive });
    if (preemptive[c]) preemptions++;
    return order[c]!;
  };

  const taskAlts = (): Alt[] =>
    tasks
      .filter((t) => t.next < t.spec.steps.length && !stack.includes(t.spec.name) && (!t.blockedOn || t.blockedOn.ready()) && (t.spec.steps[t.next]!.ready?.() ?? true))
      .map((t) => ({ actor: t.spec.name, label: t.spec.steps[t.next]!.label, run: () => runTaskStep(t) }));

  const eventAlts = (): Alt[] => kernel.clock.nextEvents().filter((e) => !stack.includes(e.label)).map((e) => ({ actor: e.label, label: e.label, run: () => runEvent(e) }));

  const record = (actor: string, label: string, preempted: boolean): void => {
    steps++;
    trace.push(`${"  ".repeat(stack.length)}${actor === label ? actor : `${actor}: ${label}`}${preempted ? "  <- preemption" : ""}`);
    if (steps > bounds.maxSteps) throw new Oopsed({ kind: "steps", signature: "steps: execution does not terminate", message: `more than ${bounds.maxSteps} steps in one execution` });
  };

  const asOops = (e: unknown, where: string): Oopsed => {
    if (e instanceof Oopsed) return e;
    // A KernelBug's message starts with its kind ("oops: BUG: ..."): the signature says it once.
    const msg = (e instanceof Error ? e.message : String(e)).replace(/^oops: /, "");
    kernel.printk.err(msg.startsWith("BUG") ? msg : `BUG: ${msg}`);
    kernel.printk.err(`in ${where}`);
    return new Oopsed({ kind: "oops", signature: `oops: ${firstLine(msg)}`, message: `${where}: ${msg}` });
  };

  function runTaskStep(t: TaskState): void {
    const step = t.spec.steps[t.next]!;
    stack.push(t.spec.name);
    try {
      const value = kernel.sched.runStep(t.task, () => step.run());
      outcomes.push({ task: t.spec.name, step: step.label, value });
      t.next++;
      t.blockedOn = undefined;
    } catch (e) {
      if (e instanceof Pruned || e instanceof Oopsed) throw e;
      if (e instanceof KernelError) {
        outcomes.push({ task: t.spec.name, step: step.label, errno: e.errno });
        t.next++;
        t.blockedOn = undefined;
      } else if (e instanceof TaskWouldBlock && e.task === t.task) {
        // A kernel thread sleeps on a contended lock: the step unwound and runs again once it is free.
        if (stack.length > 1) throw new Pruned();
        t.blockedOn = e;
        trace.push(`${"  ".repeat(stack.length)}${t.spec.name}: blocked on ${e.what}`);
      } else if (e instanceof KernelBug && e.kind === "deadlock" && stack.length > 1) {
        // A nested step needs a lock its suspended outer frame holds: the LIFO model cannot run this order.
        throw new Pruned();
      } else throw asOops(e, `${t.spec.name}: ${step.label}`);
    } finally {
      stack.pop();
    }
  }

  function runEvent(e: ClockEvent): void {
    stack.push(e.label);
    try {
      kernel.clock.runEvent(e);
    } catch (x) {
      if (x instanceof Pruned || x instanceof Oopsed) throw x;
      if (x instanceof KernelBug && x.kind === "deadlock" && stack.length > 1) throw new Pruned();
      throw asOops(x, e.label);
    } finally {
      stack.pop();
    }
  }

  // Preemption points: continue, or run one other task's step (or a pending event) here, nested.
  // The hooks are consts first: V8 allocates a function literal written straight into a property in
  // old space, and these reach the whole execution's kernel.
  const pointHook = (label: string): void => {
    if (stack.length === 0 || stack.length > bounds.maxPointDepth) return;
    const cont: Alt = { actor: stack[stack.length - 1]!, label: `continue after ${label}`, run: () => undefined };
    const alts = [cont, ...taskAlts(), ...eventAlts()];
    if (alts.length === 1) return;
    const i = decide("point", alts, 0, (j) => j !== 0);
    if (i === 0) return;
    const a = alts[i]!;
    record(a.actor, `${a.label} (at ${label})`, true);
    a.run();
  };
  kernel.sched.pointHook = pointHook;
  // A waiter's pick among due events: no preemption (the waiter sleeps).
  const pickNext: PickNextPolicy = (due) => {
    const alts = due.map((e) => ({ actor: e.label, label: e.label, run: () => undefined }));
    const i = decide("pick", alts, 0, () => false);
    const ev = due[i]!;
    trace.push(`${"  ".repeat(stack.length)}${ev.label}  (picked by a waiter)`);
    return i;
  };
  kernel.clock.pickNext = pickNext;

  try {
    for (;;) {
      const alts = [...taskAlts(), ...eventAlts()];
      if (!alts.length) break;
      const lastAt = last === undefined ? -1 : alts.findIndex((a) => a.actor === last);
      const def = lastAt >= 0 ? lastAt : 0;
      const i = decide("schedule", alts, def, (j) => lastAt >= 0 && j !== lastAt);
      const a = alts[i]!;
      record(a.actor, a.label, lastAt >= 0 && i !== lastAt);
      last = a.actor;
      a.run();
    }
  } catch (e) {
    if (e instanceof Pruned) pruned = true;
    else failures.push(asOops(e, "explorer").failure);
  } finally {
    kernel.sched.pointHook = undefined;
    kernel.clock.pickNext = pickFirst;
  }

  if (!pruned && !failures.length) {
    for (const t of tasks) if (t.next < t.spec.steps.length) failures.push({ kind: "hung", signature: `hung: ${t.spec.name} never ran ${t.spec.steps[t.next]!.label}`, message: `INFO: task ${t.task.comm}:${t.task.pid} blocked${t.blockedOn ? ` on ${t.blockedOn.what}` : ""}: ${t.spec.steps[t.next]!.label} never ran` });
    try {
      inst.finish?.();
      for (let e = kernel.clock.nextEvents()[0]; e; e = kernel.clock.nextEvents()[0]) {
        if (++steps > bounds.maxSteps) throw new Oopsed({ kind: "steps", signature: "steps: execution does not terminate", message: `more than ${bounds.maxSteps} steps in one execution` });
        kernel.clock.runEvent(e);
      }
      for (const e of kernel.clock.pendingEvents()) failures.push({ kind: "hung", signature: `hung: ${e.label}`, message: `INFO: task blocked: ${e.label} never became runnable` });
      const leaks = kernel.leakReport();
      if (!leaks.empty && !inst.skipChecks?.includes("leak")) failures.push({ kind: "leak", signature: `leak: ${[...new Set(leaks.entries.map((x) => x.kind))].sort().join(", ")}`, message: leaks.text() });
      for (const a of inst.check?.(outcomes) ?? []) failures.push({ kind: "assertion", signature: `assertion: ${firstLine(a)}`, message: a });
    } catch (e) {
      failures.push(asOops(e, "teardown").failure);
    }
  }
  if (!pruned) {
    for (const o of kernel.oopses()) failures.push({ kind: "oops", signature: `oops: ${o.syscall}`, message: `${o.syscall}: ${o.error instanceof Error ? o.error.message : String(o.error)}` });
    for (const w of kernel.warnings()) failures.push({ kind: "warn", signature: `WARN: ${firstLine(w)}`, message: w });
    if (!inst.skipChecks?.includes("lockdep")) for (const r of kernel.lockdep.reports()) failures.push({ kind: "lockdep", signature: `lockdep: ${firstLine(r.message)}`, message: r.message });
  }
  // Lockdep first: it names the cause of what follows (an oops after a splat).
  const rank: Record<ExploreFailureKind, number> = { lockdep: 0, oops: 1, warn: 2, assertion: 3, hung: 4, leak: 5, steps: 6 };
  failures.sort((a, b) => rank[a.kind] - rank[b.kind]);
  return {
    decisions,
    codes: decisions.map((d) => d.code),
    steps,
    preemptions,
    pruned,
    failures,
    trace,
    log: failures.length ? kernel.printk.dmesg() : "",
    lockdep: kernel.lockdep
      .reports()
      .map((r) => r.message)
      .join("\n\n"),
    outcomes,
  };
}
