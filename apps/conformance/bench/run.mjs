// Benchmark of the conformance app (`pnpm bench`): start-up and discovery CPU beside bare Node, the
// default matrix with --jobs 1 and --jobs 2 (same run, alternating), and the matrix with the example
// plugin scaled over shards (fitted exponent of time over cases).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fitExponent, load, median, recordRatio } from "../../../scripts/bench-lib.mjs";

const cli = fileURLToPath(new URL("../dist/bin/dmabuf-conformance.js", import.meta.url));
const preload = pathToFileURL(fileURLToPath(new URL("./cpu-at-exit.mjs", import.meta.url))).href;
const PLUGIN_DIR = fileURLToPath(new URL("../../../examples/plugin-xlink", import.meta.url));
const results = {};
const ratios = {};

/** Runs node with the CPU preload; returns wall seconds, CPU seconds and stdout. */
function run(args, cwd) {
  const t0 = performance.now();
  const p = spawnSync(process.execPath, ["--import", preload, ...args], { encoding: "utf8", maxBuffer: 1 << 28, cwd });
  const wall = (performance.now() - t0) / 1000;
  const m = /cpu-ms ([\d.]+)/.exec(p.stderr);
  if (!m) throw new Error(`no CPU figure:\n${p.stderr}`);
  return { wall, cpu: Number(m[1]) / 1000, status: p.status, stdout: p.stdout };
}

console.log(`conformance (medians of 5; 2 shared cores, load ${load()}):`);
const rounds = { bare: [], startup: [], one: [], two: [] };
let cases = 0;
for (let r = 0; r < 5; r++) {
  rounds.bare.push(run(["-e", "0"]));
  // Start-up + discovery: every package loaded and asked for fixtures, a filter that leaves no case.
  rounds.startup.push(run([cli, "run", "--format", "json", "--exporter", "no-such-exporter"]));
  for (const jobs of [1, 2]) {
    const x = run([cli, "run", "--format", "json", "--jobs", String(jobs)]);
    if (x.status !== 0) throw new Error(`matrix failed (--jobs ${jobs})`);
    cases = JSON.parse(x.stdout).cases.length;
    rounds[jobs === 1 ? "one" : "two"].push(x);
  }
}
const med = (k, f) => median(rounds[k].map((x) => x[f]));
recordRatio(ratios, "start-up + discovery (no case), CPU", med("startup", "cpu"), "s", "bare node -e 0", med("bare", "cpu"), "<= 0.25 s");
recordRatio(ratios, `default matrix, ${cases} cases, --jobs 1, wall`, med("one", "wall"), "s", "start-up + discovery, wall", med("startup", "wall"), "<= 1.0 s on an idle machine");
recordRatio(ratios, `default matrix, ${cases} cases, --jobs 1, CPU`, med("one", "cpu"), "s", "start-up + discovery, CPU", med("startup", "cpu"));
recordRatio(ratios, `default matrix, ${cases} cases, --jobs 2, wall`, med("two", "wall"), "s", "the same with --jobs 1", med("one", "wall"), "<= 1.0x");
results["default matrix"] = { cases, jobs1Wall: med("one", "wall"), jobs2Wall: med("two", "wall"), jobs1Cpu: med("one", "cpu"), startupCpu: med("startup", "cpu"), bareCpu: med("bare", "cpu") };

// Threshold of MIN_CASES_PER_THREAD: the CPU one worker thread costs to start (loading every package).
{
  const { runMatrix } = await import(new URL("../dist/index.js", import.meta.url).href);
  const perCase = [];
  const workerStart = [];
  for (let r = 0; r < 3; r++) {
    let c0 = process.cpuUsage();
    const rep = await runMatrix({ seed: r + 1 });
    let c = process.cpuUsage(c0);
    perCase.push((c.user + c.system) / 1000 / rep.cases.length);
    // All cases in one worker: its extra CPU over the in-thread run is the worker's start-up.
    const t0 = performance.now();
    await runMatrix({ seed: r + 1, jobs: 1, mainThreadRuns: false });
    workerStart.push(performance.now() - t0);
  }
  const caseMs = median(perCase);
  const oneWorkerMs = median(workerStart);
  const startMs = oneWorkerMs - caseMs * cases;
  console.log(`a case costs ${caseMs.toFixed(2)} ms CPU in-thread; a worker's start-up about ${startMs.toFixed(0)} ms wall (${(startMs / caseMs).toFixed(0)} cases' worth) | load ${load()}`);
  results["worker start-up"] = { caseMs, startMs, casesWorth: startMs / caseMs };
}

// The matrix with the example plugin, over shards 1/8, 1/4, 1/2 and the whole: time over cases.
{
  const { runMatrix } = await import(new URL("../dist/index.js", import.meta.url).href);
  const opts = { modules: ["@dmabuf-sdk-examples/plugin-xlink"], cwd: PLUGIN_DIR };
  await runMatrix(opts);
  const ns = [];
  const ms = [];
  for (const count of [8, 4, 2, 1]) {
    const times = [];
    let n = 0;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const rep = await runMatrix({ ...opts, shard: count === 1 ? undefined : { index: 1, count } });
      times.push(performance.now() - t0);
      n = rep.cases.length;
    }
    ns.push(n);
    ms.push(median(times));
  }
  const e = fitExponent(ns, ms);
  console.log(`matrix with the plugin, ${ns.join(" / ")} cases: ${ms.map((x) => x.toFixed(0)).join(" / ")} ms, fitted exponent ${e.toFixed(3)} | load ${load()}`);
  results["matrix with plugin scaling"] = { cases: ns, ms, exponent: e, load: Number(load()) };
}
// Whether a second thread pays at the sizes we ship: one matrix per fresh process (the default one and the
// one with the plugin), one thread against a forced second one, medians of 5.
{
  const { MIN_CASES_PER_THREAD } = await import(new URL("../dist/index.js", import.meta.url).href);
  const child = fileURLToPath(new URL("./one-matrix.mjs", import.meta.url));
  const once = (threads, plugin) => {
    const p = spawnSync(process.execPath, [child, String(threads), ...(plugin ? [PLUGIN_DIR] : [])], { encoding: "utf8" });
    if (p.status !== 0) throw new Error(p.stderr);
    return p.stdout.trim().split(" ").map(Number);
  };
  const forced = {};
  for (const plugin of [false, true]) {
    const one = [];
    const two = [];
    let n = 0;
    for (let r = 0; r < 5; r++) {
      one.push(once(1, plugin)[1]);
      const [c, ms] = once(2, plugin);
      two.push(ms);
      n = c;
    }
    recordRatio(ratios, `matrix of ${n} cases in a fresh process, a forced second thread`, median(two), "ms", "one thread", median(one), `one thread below ${2 * MIN_CASES_PER_THREAD} cases`);
    forced[n] = { one: median(one), two: median(two) };
  }
  results["forced second thread"] = { minCasesPerThread: MIN_CASES_PER_THREAD, ...forced };
}

writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify({ node: process.version, date: new Date().toISOString(), results, ratios }, null, 2) + "\n");
