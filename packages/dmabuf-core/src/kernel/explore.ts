// The interleaving explorer: every schedule of a scenario's tasks up to a preemption bound (CHESS), or seeded PCT schedules, each on a fresh kernel.
import { runExecution, type ExecutionBounds, type ExecutionResult, type ExploreChooser, type ExploreFailureKind, type ExploreScenario } from "./explore-run.js";
import { ExploreError, decodeSchedule, encodeSchedule } from "./explore-schedule.js";
import { replayChooser, shrinkExecution } from "./explore-shrink.js";
import { KernelRandom } from "./random.js";

/** How schedules are chosen. @public */
export type ExploreStrategy = "dfs" | "pct";

/** Options of {@link explore}. @public */
export interface ExploreOptions {
  /** `dfs`: every schedule with at most `preemptionBound` preemptions, depth first; `pct`: `iterations` seeded PCT schedules. Default `dfs`. */
  readonly strategy?: ExploreStrategy;
  /** Preemptions per schedule (switching away from a task that could go on). Default 2. */
  readonly preemptionBound?: number;
  /** DFS: stop after this many schedules (the result says whether the space was exhausted). Default 20 000. */
  readonly maxSchedules?: number;
  /** PCT: schedules to run. Default 1 000. */
  readonly iterations?: number;
  /** PCT: bug depth d (d − 1 priority change points). Default 3. */
  readonly pctDepth?: number;
  /** PCT seed. Default 1. */
  readonly seed?: number;
  /** Steps and events per execution. Default 2 000. */
  readonly maxSteps?: number;
  /** Nesting of preemption points. Default 1. */
  readonly maxPointDepth?: number;
  /** Shrink each distinct failure's schedule. Default true. */
  readonly shrink?: boolean;
  /** Stop at the first failing schedule. Default false. */
  readonly failFast?: boolean;
}

/** One distinct failure (by signature) and the schedules that show it. @public */
export interface ExploreFailure {
  readonly kind: ExploreFailureKind;
  readonly signature: string;
  /** Every failure message of the shrunk execution. */
  readonly messages: readonly string[];
  /** The schedule that first showed it. */
  readonly schedule: string;
  /** The shrunk schedule (the same as `schedule` when shrinking is off). */
  readonly shrunk: string;
  readonly preemptions: number;
  readonly steps: number;
  /** What ran in the shrunk execution. */
  readonly trace: readonly string[];
  /** Its kernel log and lockdep reports. */
  readonly log: string;
  readonly lockdep: string;
  /** Index of the schedule that first showed it (1-based). */
  readonly foundAt: number;
}

/** What an exploration did. @public */
export interface ExploreResult {
  readonly scenario: string;
  readonly strategy: ExploreStrategy | "replay";
  readonly preemptionBound: number;
  readonly seed: number;
  /** Executions run (pruned ones included). */
  readonly schedules: number;
  /** Executions the single-threaded model could not complete (a nested step needed a suspended frame's lock). */
  readonly pruned: number;
  /** DFS: every schedule within the bound ran. */
  readonly complete: boolean;
  /** Most decisions in one execution. */
  readonly maxDecisions: number;
  readonly failures: readonly ExploreFailure[];
}

function boundsOf(o: ExploreOptions): ExecutionBounds {
  return { maxSteps: o.maxSteps ?? 2000, maxPointDepth: o.maxPointDepth ?? 1 };
}

class Collector {
  readonly failures = new Map<string, { first: ExecutionResult; at: number }>();
  schedules = 0;
  pruned = 0;
  maxDecisions = 0;
  add(r: ExecutionResult): boolean {
    this.schedules++;
    if (r.pruned) this.pruned++;
    this.maxDecisions = Math.max(this.maxDecisions, r.decisions.length);
    for (const f of r.failures) if (!this.failures.has(f.signature)) this.failures.set(f.signature, { first: r, at: this.schedules });
    return r.failures.length > 0;
  }
  result(scenario: ExploreScenario, strategy: ExploreResult["strategy"], o: ExploreOptions, complete: boolean): ExploreResult {
    const bounds = boundsOf(o);
    const failures = [...this.failures].map(([signature, { first, at }]): ExploreFailure => {
      const s = o.shrink === false ? first : shrinkExecution(scenario, first, signature, bounds);
      return {
        kind: first.failures.find((f) => f.signature === signature)!.kind,
        signature,
        messages: s.failures.map((f) => f.message),
        schedule: encodeSchedule(first.codes),
        shrunk: encodeSchedule(s.codes),
        preemptions: s.preemptions,
        steps: s.steps,
        trace: s.trace,
        log: s.log,
        lockdep: s.lockdep,
        foundAt: at,
      };
    });
    return { scenario: scenario.name, strategy, preemptionBound: o.preemptionBound ?? 2, seed: o.seed ?? 1, schedules: this.schedules, pruned: this.pruned, complete, maxDecisions: this.maxDecisions, failures };
  }
}

/** DFS over decision lists with a preemption bound: the next list is the deepest decision moved to its next alternative within the bound. */
function nextPrefix(r: ExecutionResult, bound: number): number[] | undefined {
  for (let i = r.decisions.length - 1; i >= 0; i--) {
    const d = r.decisions[i]!;
    for (let c = d.code + 1; c < d.n; c++) if (d.preemptionsBefore + (d.preemptive[c] ? 1 : 0) <= bound) return [...r.codes.slice(0, i), c];
  }
  return undefined;
}

/**
 * PCT (Burckhardt et al., ASPLOS 2010, as shuttle and Coyote run it): each
 * actor gets a random priority when first seen, d − 1 change points are
 * drawn among the first k decisions, the highest-priority alternative runs,
 * and at change point i the actor about to run drops to priority d − i.
 */
function pctChooser(rng: KernelRandom, depth: number, k: number): ExploreChooser {
  const prio = new Map<string, number>();
  const changes = new Map<number, number>();
  for (let i = 1; i < depth; i++) changes.set(rng.getRandomU32Below(Math.max(1, k)), i);
  return {
    choose(index, _kind, actors) {
      for (const a of actors) if (!prio.has(a)) prio.set(a, depth + 1 + rng.getRandomU32() / 0x1_0000_0000);
      let best = 0;
      for (let c = 1; c < actors.length; c++) if (prio.get(actors[c]!)! > prio.get(actors[best]!)!) best = c;
      const ch = changes.get(index);
      if (ch !== undefined) prio.set(actors[best]!, depth - ch);
      return best;
    },
  };
}

/**
 * Explores `scenario`: each schedule runs on a fresh kernel (`scenario.boot()`)
 * and is checked for oopses, lockdep reports, WARNs, hung tasks, leaks and
 * the scenario's assertions. Distinct failures come back with a replayable,
 * shrunk schedule string.
 * @public
 */
export function explore(scenario: ExploreScenario, options: ExploreOptions = {}): ExploreResult {
  const bounds = boundsOf(options);
  const col = new Collector();
  if ((options.strategy ?? "dfs") === "pct") {
    const rng = new KernelRandom(options.seed ?? 1);
    let k = 16;
    for (let i = 0; i < (options.iterations ?? 1000); i++) {
      const r = runExecution(scenario, pctChooser(rng, options.pctDepth ?? 3, k), bounds);
      k = Math.max(k, r.decisions.length);
      if (col.add(r) && options.failFast) break;
    }
    return col.result(scenario, "pct", options, false);
  }
  const bound = options.preemptionBound ?? 2;
  const max = options.maxSchedules ?? 20_000;
  let prefix: number[] | undefined = [];
  while (prefix && col.schedules < max) {
    const r = runExecution(scenario, replayChooser(prefix, false), bounds);
    if (col.add(r) && options.failFast) return col.result(scenario, "dfs", options, false);
    prefix = nextPrefix(r, bound);
  }
  return col.result(scenario, "dfs", options, prefix === undefined);
}

/** Counts the schedules within each preemption bound 0..`maxBound` (no checks kept, no shrinking). @public */
export function countSchedules(scenario: ExploreScenario, maxBound: number, options: Pick<ExploreOptions, "maxSchedules" | "maxSteps" | "maxPointDepth"> = {}): { bound: number; schedules: number; complete: boolean }[] {
  const out: { bound: number; schedules: number; complete: boolean }[] = [];
  for (let bound = 0; bound <= maxBound; bound++) {
    const r = explore(scenario, { ...options, preemptionBound: bound, shrink: false });
    out.push({ bound, schedules: r.schedules, complete: r.complete });
  }
  return out;
}

/**
 * Replays one schedule string exactly and returns that execution's result
 * (its failures, trace, kernel log and lockdep reports).
 * @throws ExploreError `schedule-format` for a bad string, `schedule-divergence` when a decision no longer fits the scenario.
 * @public
 */
export function replaySchedule(scenario: ExploreScenario, schedule: string, options: Pick<ExploreOptions, "maxSteps" | "maxPointDepth"> = {}): ExecutionResult {
  const codes = decodeSchedule(schedule);
  const chooser = replayChooser(codes, true);
  const r = runExecution(scenario, chooser, boundsOf(options));
  if (chooser.divergedAt !== undefined) throw new ExploreError("schedule-divergence", `schedule divergence at decision ${chooser.divergedAt}: the scenario offers fewer alternatives than ${schedule} asks for (the model or scenario changed)`);
  return r;
}
