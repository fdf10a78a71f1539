import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { caseSeed, enumerateCases, type CaseFilter } from "./cases.js";
import { defaultRequests, loadFixtures, type FixtureSet, type PackageRequest } from "./discovery.js";
import { runPairCase, runScenarioCase, runUnplugCase, type CaseRun, type UnplugFamily } from "./lifecycle.js";
import { compare, expectationFor, oracleFor, type Oracle } from "./oracle.js";
import { selectShard, type Shard } from "./shard.js";
import { REPORT_SCHEMA, summarize, type CaseResult, type CaseSpec, type ConformanceReport } from "./types.js";

/** Options of {@link runMatrix}. */
export interface RunOptions {
  /** Seed of the run; each case's kernel seed derives from it and the case id. */
  readonly seed?: number;
  /** Run only this deterministic slice. */
  readonly shard?: Shard;
  /** Threads to spread cases over at most (1: this thread only); see {@link matrixWorkers}. */
  readonly jobs?: number;
  /** Cases each thread must have for another to start (default {@link MIN_CASES_PER_THREAD}). */
  readonly minCasesPerThread?: number;
  /** Cores to use at most (default `os.availableParallelism()`). */
  readonly cores?: number;
  /** Run cases in this thread too (default true); false leaves every case to at least one worker. */
  readonly mainThreadRuns?: boolean;
  readonly filter?: CaseFilter;
  /** Out-of-tree packages (`--module`), resolved from {@link RunOptions.cwd}. */
  readonly modules?: readonly string[];
  /** Include the in-tree packages (default true). */
  readonly inTree?: boolean;
  readonly cwd?: string;
  /** Extra oracle rows (a plugin's own expectations); the in-tree oracle always applies. */
  readonly oracle?: Oracle;
  /** Called after each case. */
  readonly onCase?: (result: CaseResult, done: number, total: number) => void;
}

/** Judges a run against the oracle: violations fail; no expectation is unverified; a mismatch fails. */
export function judge(spec: CaseSpec, run: CaseRun, oracle: Oracle, seed: number): CaseResult {
  const expected = expectationFor(oracle, spec) ?? null;
  const messages = [...run.violations];
  if (expected) messages.push(...compare(expected, run.actual));
  const status = messages.length ? "fail" : expected ? "pass" : "unverified";
  if (!expected && !messages.length) messages.push("no oracle entry: outcome not verified");
  return {
    id: spec.id,
    exporter: spec.exporter,
    importer: spec.importer,
    topology: spec.topology,
    scenario: spec.scenario,
    status,
    expected,
    actual: run.actual,
    messages,
    steps: run.steps,
    seed,
    packages: spec.packages,
    ...(run.details ? { details: run.details } : {}),
  };
}

/** Runs one case by id against a loaded fixture set. */
export function runCase(set: FixtureSet, spec: CaseSpec, runSeed: number, oracle: Oracle): CaseResult {
  const seed = caseSeed(runSeed, spec.id);
  let run: CaseRun;
  if (spec.exporter !== null && spec.importer !== null) {
    const e = set.exporters.find((x) => x.fixture.name === spec.exporter)!.fixture;
    const i = set.importers.find((x) => x.fixture.name === spec.importer)!.fixture;
    run = spec.scenario === "lifecycle" ? runPairCase(spec.topology, e, i, seed) : runUnplugCase(spec.topology, e, i, spec.scenario as UnplugFamily, seed);
  } else {
    const s = set.scenarios.find((x) => x.fixture.name === spec.scenario)!.fixture;
    run = runScenarioCase(s, seed);
  }
  return judge(spec, run, oracle, seed);
}

/** Message a worker sends back. */
type WorkerMessage = { kind: "ready" } | { kind: "case"; result: CaseResult } | { kind: "error"; message: string };

/** What a worker is told to do when it starts: it then asks for cases (`ready`) and gets batches of ids (none: stop). */
export interface WorkerJob {
  readonly requests: readonly PackageRequest[];
  readonly seed: number;
  readonly filter: CaseFilter;
  readonly oracle: Oracle | undefined;
}

/**
 * Cases a thread must have for a worker to pay for its start-up: a worker
 * loads every package again (about 0.2 s of CPU, some 50 cases' worth on the
 * 2-core machine type) while the main thread, already loaded, runs cases.
 * Measured in apps/conformance/bench (docs/benchmarks.md).
 */
export const MIN_CASES_PER_THREAD = 150;

/** Ids handed to a worker per request. */
const BATCH = 4;

/**
 * Worker threads to start for `jobs` and `cases`: the main thread runs cases
 * too, each thread must have at least `minCases` of them, and no more threads
 * than the machine has cores.
 */
export function matrixWorkers(jobs: number, cases: number, minCases = MIN_CASES_PER_THREAD, cores = availableParallelism()): number {
  return Math.max(0, Math.min(jobs, Math.floor(cases / Math.max(1, minCases)), cores) - 1);
}

/**
 * Runs `specs` in this thread and in `workers` worker threads pulling from
 * the same queue, so a worker that is still starting costs the run nothing:
 * when this thread has run the last case, a worker with nothing in hand is
 * stopped.
 */
async function runShared(
  set: FixtureSet,
  oracle: Oracle,
  job: WorkerJob,
  specs: readonly CaseSpec[],
  workers: number,
  mainRuns: boolean,
  onResult: (r: CaseResult) => void,
): Promise<void> {
  let next = 0;
  const threads: { w: Worker; inHand: number; done: Promise<void> }[] = [];
  let failure: Error | undefined;
  const feed = (t: (typeof threads)[number]): void => {
    const ids = specs.slice(next, next + BATCH).map((s) => s.id);
    next += ids.length;
    t.inHand = ids.length;
    if (ids.length) t.w.postMessage(ids);
    else void t.w.terminate();
  };
  for (let i = 0; i < workers; i++) {
    const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: job });
    const t = { w, inHand: -1, done: Promise.resolve() };
    t.done = new Promise<void>((resolve) => {
      w.on("message", (m: WorkerMessage) => {
        if (m.kind === "case") {
          onResult(m.result);
          if (--t.inHand === 0) feed(t);
        } else if (m.kind === "ready") feed(t);
        else {
          failure ??= new Error(m.message);
          void w.terminate();
        }
      });
      w.on("error", (e) => {
        failure ??= e;
      });
      w.on("exit", () => resolve());
    });
    threads.push(t);
  }
  try {
    while (mainRuns && next < specs.length && !failure) {
      onResult(runCase(set, specs[next++]!, job.seed, oracle));
      // Let workers' messages in between cases.
      if (workers) await new Promise<void>((r) => setImmediate(r));
    }
    // Only workers run (or finish their batches): wait for them.
    if (!mainRuns) await Promise.all(threads.map((t) => t.done));
  } finally {
    // Workers not started yet (-1) or idle (0) are stopped; busy ones finish their batch.
    for (const t of threads) if (t.inHand <= 0 || failure) void t.w.terminate();
    await Promise.all(threads.map((t) => t.done));
  }
  if (failure) throw failure;
}

/**
 * Runs the matrix: loads the fixtures of the in-tree packages and of
 * `modules`, enumerates every case, takes the shard, runs each case on a
 * fresh kernel (in worker threads with `jobs` > 1) and judges it.
 */
export async function runMatrix(opts: RunOptions = {}): Promise<ConformanceReport> {
  const seed = opts.seed ?? 1;
  const requests = defaultRequests(opts.modules, opts.cwd, opts.inTree ?? true);
  const set = await loadFixtures(requests);
  const oracle = oracleFor(set, opts.oracle);
  const all = enumerateCases(set, opts.filter);
  const specs = opts.shard ? selectShard(all, opts.shard) : all;
  const results: CaseResult[] = [];
  const onResult = (r: CaseResult): void => {
    results.push(r);
    opts.onCase?.(r, results.length, specs.length);
  };
  const mainRuns = opts.mainThreadRuns ?? true;
  const workers = mainRuns ? matrixWorkers(opts.jobs ?? 1, specs.length, opts.minCasesPerThread, opts.cores) : Math.max(1, opts.jobs ?? 1);
  await runShared(set, oracle, { requests, seed, filter: opts.filter ?? {}, oracle: opts.oracle }, specs, workers, mainRuns, onResult);
  results.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { schema: REPORT_SCHEMA, seed, shard: opts.shard ? `${opts.shard.index}/${opts.shard.count}` : null, cases: results, summary: summarize(results) };
}
