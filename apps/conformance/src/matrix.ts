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
  /** Worker threads to spread cases over (1: in this thread). */
  readonly jobs?: number;
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
type WorkerMessage = { kind: "case"; result: CaseResult } | { kind: "done" } | { kind: "error"; message: string };

/** What a worker is told to do. */
export interface WorkerJob {
  readonly requests: readonly PackageRequest[];
  readonly seed: number;
  readonly ids: readonly string[];
  readonly filter: CaseFilter;
  readonly oracle: Oracle | undefined;
}

function runInWorkers(job: Omit<WorkerJob, "ids">, specs: readonly CaseSpec[], jobs: number, onResult: (r: CaseResult) => void): Promise<void> {
  const buckets: string[][] = Array.from({ length: jobs }, () => []);
  specs.forEach((s, i) => buckets[i % jobs]!.push(s.id));
  return Promise.all(
    buckets
      .filter((b) => b.length)
      .map(
        (ids) =>
          new Promise<void>((resolve, reject) => {
            const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: { ...job, ids } satisfies WorkerJob });
            w.on("message", (m: WorkerMessage) => {
              if (m.kind === "case") onResult(m.result);
              else if (m.kind === "error") reject(new Error(m.message));
              else resolve();
            });
            w.on("error", reject);
            w.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
          }),
      ),
  ).then(() => undefined);
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
  const jobs = Math.max(1, Math.min(opts.jobs ?? 1, specs.length));
  if (jobs > 1) await runInWorkers({ requests, seed, filter: opts.filter ?? {}, oracle: opts.oracle }, specs, jobs, onResult);
  else for (const spec of specs) onResult(runCase(set, spec, seed, oracle));
  results.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { schema: REPORT_SCHEMA, seed, shard: opts.shard ? `${opts.shard.index}/${opts.shard.count}` : null, cases: results, summary: summarize(results) };
}
