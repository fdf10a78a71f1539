// The conformance matrix: every exporter × importer fixture pair on every topology, through the pair lifecycle.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { caseSeed, enumerateCases, idGlob, matcher, selectIds, type CaseFilter } from "./cases.js";
import { defaultRequests, loadFixtures, type FixtureSet, type PackageRequest } from "./discovery.js";
import { runPairCase, runScenarioCase, runUnplugCase, type CaseRun, type UnplugFamily } from "@dmabuf-sdk/dmabuf-core";
import { negotiationOf } from "./negotiation.js";
import { packageFile } from "./package-dir.js";
import { compare, oracleFor, oracleRowFor, type Oracle } from "./oracle.js";
import { runScenarioFile, scenarioStem, type ScenarioFile, type ScenarioResult } from "./scenario-file.js";
import { selectShard, type Shard } from "./shard.js";
import { REPORT_SCHEMA, summarize, type CaseResult, type CaseSpec, type ConformanceReport, type PackageVersion } from "./types.js";
import { toolInfo } from "./version.js";

/** Options of {@link runMatrix}. @public */
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
  /** Scenario files that join the run as cases (`<topology>/file:<stem>`). */
  readonly scenarioFiles?: readonly ScenarioFile[];
  /** Stop after the first case that does not pass (the rest are counted in `notRun`). */
  readonly bail?: boolean;
  /** Called after each case. */
  readonly onCase?: (result: CaseResult, done: number, total: number) => void;
}

/** Judges a run against the oracle: violations fail; no expectation is unverified; a mismatch fails. @public */
export function judge(spec: CaseSpec, run: CaseRun, oracle: Oracle, seed: number, durationMs = 0): CaseResult {
  const row = oracleRowFor(oracle, spec);
  const expected = row?.expect ?? null;
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
    durationMs,
    reason: row?.why ?? null,
    ...(status !== "pass" ? { log: run.log } : {}),
    ...(run.matchTrace ? { negotiation: negotiationOf(run.matchTrace) } : {}),
  };
}

/** Runs one case by id against a loaded fixture set. @public */
export function runCase(set: FixtureSet, spec: CaseSpec, runSeed: number, oracle: Oracle): CaseResult {
  const seed = caseSeed(runSeed, spec.id);
  const t0 = performance.now();
  let run: CaseRun;
  if (spec.exporter !== null && spec.importer !== null) {
    const e = set.exporters.find((x) => x.fixture.name === spec.exporter)!.fixture;
    const i = set.importers.find((x) => x.fixture.name === spec.importer)!.fixture;
    run = spec.scenario === "lifecycle" ? runPairCase(spec.topology, e, i, seed) : runUnplugCase(spec.topology, e, i, spec.scenario as UnplugFamily, seed);
  } else {
    const s = set.scenarios.find((x) => x.fixture.name === spec.scenario)!.fixture;
    run = runScenarioCase(s, seed);
  }
  return judge(spec, run, oracle, seed, Math.round((performance.now() - t0) * 1000) / 1000);
}

/** The case of a scenario file: its own `expect`s are its oracle. @public */
export function scenarioFileCase(file: ScenarioFile, r: ScenarioResult, durationMs: number): CaseResult {
  const failed = r.steps.find((s) => !s.ok);
  const outcome = failed ? `step ${failed.index} (${failed.step}) failed` : r.checks.length ? "end checks failed" : "ok";
  const messages = [...r.steps.filter((s) => !s.ok).map((s) => `step ${s.index} ${s.step}: ${s.detail}`), ...r.checks];
  const status = r.passed ? "pass" : "fail";
  return {
    id: `${file.topology}/file:${scenarioStem(file)}`,
    exporter: null,
    importer: null,
    topology: file.topology,
    scenario: file.name,
    status,
    expected: { outcome: "ok" },
    actual: { outcome },
    messages,
    steps: r.steps.map((s) => `${s.ok ? "✓" : "✗"} ${s.index} ${s.step}: ${s.detail}`),
    seed: file.seed ?? 1,
    packages: [...(file.packages ?? [])],
    durationMs,
    reason: `${file.path}: each step's expect, then an empty leak report and no lockdep report`,
    ...(status !== "pass" ? { log: r.log } : {}),
  };
}

/** Message a worker sends back. */
type WorkerMessage = { kind: "ready" } | { kind: "case"; result: CaseResult } | { kind: "error"; message: string };

/** What a worker is told to do when it starts: it then asks for cases (`ready`) and gets batches of ids (none: stop). @public */
export interface WorkerJob {
  readonly requests: readonly PackageRequest[];
  readonly seed: number;
  readonly filter: CaseFilter;
  readonly oracle: Oracle | undefined;
}

/**
 * Cases a thread must have for a worker to pay for its start-up. On the
 * 2-core machine type a forced second thread made one matrix per process
 * (as the CLI runs it) 1.14x slower at 531 and at 636 cases, 0.86-1.17x
 * across passes (apps/conformance/bench, docs/benchmarks.md): the worker
 * loads every package again and runs its cases cold, beside V8's own
 * threads. So a second thread starts only from 1,100 cases.
 * @public
 */
export const MIN_CASES_PER_THREAD = 550;

/** Ids handed to a worker per request. */
const BATCH = 4;

/**
 * Worker threads to start for `jobs` and `cases`: the main thread runs cases
 * too, each thread must have at least `minCases` of them, and no more threads
 * than the machine has cores.
 * @public
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
  onResult: (r: CaseResult) => boolean,
): Promise<void> {
  let next = 0;
  const threads: { w: Worker; inHand: number; done: Promise<void> }[] = [];
  let failure: Error | undefined;
  // --bail: onResult says stop; nothing more is handed out.
  let stopped = false;
  const feed = (t: (typeof threads)[number]): void => {
    const ids = stopped ? [] : specs.slice(next, next + BATCH).map((s) => s.id);
    next += ids.length;
    t.inHand = ids.length;
    if (ids.length) t.w.postMessage(ids);
    else void t.w.terminate();
  };
  for (let i = 0; i < workers; i++) {
    const w = new Worker(packageFile("dist/worker.js"), { workerData: job });
    const t = { w, inHand: -1, done: Promise.resolve() };
    t.done = new Promise<void>((resolve) => {
      w.on("message", (m: WorkerMessage) => {
        if (m.kind === "case") {
          if (!stopped && !onResult(m.result)) stopped = true;
          if (--t.inHand === 0 || stopped) feed(t);
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
    while (mainRuns && next < specs.length && !failure && !stopped) {
      if (!onResult(runCase(set, specs[next++]!, job.seed, oracle))) stopped = true;
      // Let workers' messages in between cases.
      if (workers) await new Promise<void>((r) => setImmediate(r));
    }
    // Only workers run (or finish their batches): wait for them.
    if (!mainRuns) await Promise.all(threads.map((t) => t.done));
  } finally {
    // Workers not started yet (-1) or idle (0) are stopped; busy ones finish their batch.
    for (const t of threads) if (t.inHand <= 0 || failure || stopped) void t.w.terminate();
    await Promise.all(threads.map((t) => t.done));
  }
  if (failure) throw failure;
}

const APP_REQUIRE = createRequire(import.meta.url);

/** Versions of core and of every package the run loaded. */
function packageVersions(set: FixtureSet): PackageVersion[] {
  const core = JSON.parse(readFileSync(APP_REQUIRE.resolve("@dmabuf-sdk/dmabuf-core/package.json"), "utf8")) as { name: string; version: string };
  return [{ name: core.name, version: core.version }, ...set.packages.map((p) => ({ name: p.name, version: p.version }))];
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** The command that reruns case `id` alone, with the run's seed, packages and scenario files. @public */
export function rerunCommand(id: string, opts: RunOptions, seed: number): string {
  const args = ["dmabuf-conformance", "run", shellQuote(id), "--seed", String(seed)];
  for (const m of opts.modules ?? []) args.push("--module", shellQuote(m));
  if (opts.inTree === false) args.push("--no-in-tree");
  const file = opts.scenarioFiles?.find((f) => id === `${f.topology}/file:${scenarioStem(f)}`);
  if (file) args.push("--scenario", shellQuote(file.path));
  return args.join(" ");
}

function cmpId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A selection that names cases that do not exist, or selects none (the CLI exits 2). @public */
export class SelectionError extends Error {
  override readonly name = "SelectionError";
}

/** The cases a run would execute, before any runs. @public */
export interface MatrixPlan {
  readonly set: FixtureSet;
  readonly oracle: Oracle;
  readonly requests: readonly PackageRequest[];
  /** Every case of the selection, before sharding. */
  readonly all: readonly CaseSpec[];
  /** The cases this run executes (the shard of `all`). */
  readonly specs: readonly CaseSpec[];
  readonly files: ReadonlyMap<string, ScenarioFile>;
}

/**
 * Loads the fixtures and works out the cases: every pair and scenario of the
 * packages plus the scenario files, then the filters, ids and excludes, then
 * the shard.
 * @throws SelectionError when an id or glob matches no case, or nothing is selected
 * @public
 */
export async function planMatrix(opts: RunOptions = {}): Promise<MatrixPlan> {
  const requests = defaultRequests(opts.modules, opts.cwd, opts.inTree ?? true);
  const set = await loadFixtures(requests);
  const oracle = oracleFor(set, opts.oracle);
  const filter = opts.filter ?? {};
  const files = new Map<string, ScenarioFile>();
  const fileSpecs: CaseSpec[] = [];
  for (const f of opts.scenarioFiles ?? []) {
    const spec: CaseSpec = { id: `${f.topology}/file:${scenarioStem(f)}`, topology: f.topology, exporter: null, importer: null, scenario: f.name, packages: [...(f.packages ?? [])] };
    if (files.has(spec.id)) throw new SelectionError(`two scenario files give case ${spec.id} (${files.get(spec.id)!.path}, ${f.path})`);
    files.set(spec.id, f);
    if (filter.scenarios !== false && !filter.exporter && !filter.importer && matcher(filter.topology)(f.topology)) fileSpecs.push(spec);
  }
  const unselected = [...enumerateCases(set, { ...filter, ids: undefined, exclude: undefined }), ...fileSpecs];
  const unknown = (filter.ids ?? []).filter((p) => !unselected.some((c) => idGlob(p).test(c.id)));
  if (unknown.length) throw new SelectionError(`no case matches ${unknown.map((p) => `"${p}"`).join(", ")} (list the cases with --list)`);
  const all = selectIds(unselected, filter).sort(cmpId);
  if (!all.length) throw new SelectionError("the selection holds no case (list the cases with --list, without filters)");
  const specs = opts.shard ? selectShard(all, opts.shard) : all;
  return { set, oracle, requests, all, specs, files };
}

/** The ids of the cases a run would execute, in run order (`--list`). @public */
export async function listCases(opts: RunOptions = {}): Promise<string[]> {
  return (await planMatrix(opts)).specs.map((s) => s.id);
}

/**
 * Runs the matrix: loads the fixtures of the in-tree packages and of
 * `modules`, enumerates every case (with the scenario files), applies the
 * selection, takes the shard, runs each case on a fresh kernel (in worker
 * threads with `jobs` > 1) and judges it.
 * @throws SelectionError when the selection is empty or names unknown cases
 * @public
 */
export async function runMatrix(opts: RunOptions = {}): Promise<ConformanceReport> {
  const started = new Date();
  const t0 = performance.now();
  const seed = opts.seed ?? 1;
  const { set, oracle, requests, all, specs, files } = await planMatrix(opts);
  const filter = opts.filter ?? {};
  const results: CaseResult[] = [];
  let stopped = false;
  const onResult = (r: CaseResult): boolean => {
    if (stopped) return false;
    const done = r.status === "pass" ? r : { ...r, rerun: rerunCommand(r.id, opts, seed) };
    results.push(done);
    opts.onCase?.(done, results.length, specs.length);
    if (opts.bail && r.status !== "pass") stopped = true;
    return !stopped;
  };
  const pairSpecs = specs.filter((s) => !files.has(s.id));
  const mainRuns = opts.mainThreadRuns ?? true;
  const workers = mainRuns ? matrixWorkers(opts.jobs ?? 1, pairSpecs.length, opts.minCasesPerThread, opts.cores) : Math.max(1, opts.jobs ?? 1);
  if (pairSpecs.length) await runShared(set, oracle, { requests, seed, filter, oracle: opts.oracle }, pairSpecs, workers, mainRuns, onResult);
  for (const spec of specs.filter((s) => files.has(s.id))) {
    if (stopped) break;
    const c0 = performance.now();
    const r = await runScenarioFile(files.get(spec.id)!, { cwd: opts.cwd });
    onResult(scenarioFileCase(files.get(spec.id)!, r, Math.round((performance.now() - c0) * 1000) / 1000));
  }
  results.sort(cmpId);
  const finished = new Date();
  return {
    schema: REPORT_SCHEMA,
    tool: toolInfo(),
    packages: packageVersions(set),
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
    seed,
    shard: opts.shard ? `${opts.shard.index}/${opts.shard.count}` : null,
    total: all.length,
    notRun: specs.length - results.length,
    cases: results,
    summary: summarize(results),
  };
}
