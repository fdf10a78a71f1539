#!/usr/bin/env node
// The dmabuf-conformance command line: run, merge, diff and scenario, on commander.
import { accessSync, constants, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { diffReports, formatDiffJson, formatDiffMarkdown, formatDiffTable } from "../diff.js";
import { InputError } from "../input-error.js";
import { SelectionError, listCases, runMatrix, scenarioFileCase, type RunOptions } from "../matrix.js";
import { formatHtml } from "../report/html.js";
import { formatJson, parseJsonReport } from "../report/json.js";
import { formatJunit } from "../report/junit.js";
import { formatKtap } from "../report/ktap.js";
import { formatTable, progressLine, useColour } from "../report/table.js";
import { readScenarioPaths, runScenarioFile } from "../scenario-file.js";
import { mergeReports, parseShard, type Shard } from "../shard.js";
import { REPORT_SCHEMA, summarize, type CaseResult, type ConformanceReport } from "../types.js";
import { toolInfo } from "../version.js";
import { ExploreError, explore, replaySchedule, type ExecutionResult, type ExploreFailure, type ExploreOptions, type ExploreResult, type ExploreScenario, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import { exploreCase, type ExploreExpectation } from "../explore/explore-case.js";
import { RACE_SCENARIOS, raceScenario } from "../explore/race-scenarios.js";
import { scenarioFileExplorer } from "../explore/scenario-tasks.js";
import { prepareScenarioFile, readScenarioFile } from "../scenario-file.js";

const FORMATS = ["table", "json", "junit", "ktap", "html"] as const;
type Format = (typeof FORMATS)[number];

const EXIT_CODES = `
Exit status:
  0  every case passed
  1  a case failed or is unverified (no oracle entry); for diff: a regression
  2  usage or input error (bad option, unreadable or invalid file, empty selection)`;

/** An error in what the user asked for: exit 2 with the message. */
class UsageError extends Error {}

function render(report: ConformanceReport, format: Format, toTty: boolean): string {
  switch (format) {
    case "json":
      return formatJson(report);
    case "junit":
      return formatJunit(report);
    case "ktap":
      return formatKtap(report);
    case "html":
      return formatHtml(report);
    default:
      return formatTable(report, toTty && useColour(process.stdout));
  }
}

function emit(text: string, out: string | undefined): void {
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
}

function passed(report: ConformanceReport): boolean {
  return report.summary.failed === 0 && report.summary.unverified === 0 && report.notRun === 0;
}

/** `--out` must be writable before anything runs. */
function checkOut(out: string | undefined): void {
  if (!out) return;
  const dir = dirname(resolve(out));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UsageError(`--out ${out}: directory ${dir} does not exist`);
  }
  if (!isDir) throw new UsageError(`--out ${out}: ${dir} is not a directory`);
  try {
    if (statSync(out).isDirectory()) throw new UsageError(`--out ${out}: is a directory`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UsageError(`--out ${out}: directory ${dir} is not writable`);
  }
}

function readReport(file: string): ConformanceReport {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError([{ file, line: 1, col: 1, message: code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message }]);
  }
  return parseJsonReport(text, file);
}

const integer =
  (what: string, min: number) =>
  (v: string): number => {
    if (!/^-?\d+$/.test(v.trim()) || Number(v) < min) throw new InvalidArgumentError(`${what} wants an integer${min > 0 ? ` >= ${min}` : min === 0 ? " >= 0" : ""}.`);
    return Number(v);
  };
const shard = (v: string): Shard => {
  try {
    return parseShard(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--shard /, ""));
  }
};
const collect = (v: string, prev: string[]): string[] => [...prev, ...v.split(",").map((x) => x.trim()).filter(Boolean)];

function formatOption(choices: readonly string[] = FORMATS): Option {
  return new Option("-f, --format <format>", "report format").choices(choices).default("table");
}

interface RunFlags {
  format: Format;
  out?: string;
  shard?: Shard;
  seed?: number;
  jobs: number;
  module: string[];
  exporter?: string;
  importer?: string;
  topology?: string;
  exclude: string[];
  scenario: string[];
  list?: boolean;
  bail?: boolean;
  rerunFailed?: string;
  inTree: boolean;
  progress: boolean;
}

async function run(cases: string[], o: RunFlags): Promise<number> {
  checkOut(o.out);
  let ids = cases;
  let seed = o.seed;
  if (o.rerunFailed) {
    const prev = readReport(o.rerunFailed);
    ids = [...ids, ...prev.cases.filter((c) => c.status === "fail" || c.status === "unverified").map((c) => c.id)];
    seed ??= prev.seed;
    if (!ids.length) {
      process.stderr.write(`dmabuf-conformance: ${o.rerunFailed}: no failed or unverified case to rerun\n`);
      return 0;
    }
  }
  const scenarioFiles = o.scenario.length ? readScenarioPaths(o.scenario) : [];
  const opts: RunOptions = {
    seed: seed ?? 1,
    jobs: o.jobs,
    shard: o.shard,
    modules: o.module,
    inTree: o.inTree,
    scenarioFiles,
    bail: o.bail,
    filter: { exporter: o.exporter, importer: o.importer, topology: o.topology, ids, exclude: o.exclude },
  };
  if (o.list) {
    emit(`${(await listCases(opts)).join("\n")}\n`, o.out);
    return 0;
  }
  const tty = !!process.stderr.isTTY && o.progress;
  const report = await runMatrix({ ...opts, onCase: tty ? (_r: CaseResult, done: number, total: number) => process.stderr.write(`\r${progressLine(done, total)}`) : undefined });
  if (tty) process.stderr.write("\n");
  emit(render(report, o.format, !o.out), o.out);
  if (o.out && o.format !== "table") process.stdout.write(formatTable(report, useColour(process.stdout)));
  else if (o.format !== "table") for (const c of report.cases) if (c.rerun) process.stderr.write(`${c.status} ${c.id}: rerun with: ${c.rerun}\n`);
  return passed(report) ? 0 : 1;
}

async function scenario(paths: string[], o: { format: Format; out?: string }): Promise<number> {
  checkOut(o.out);
  const files = readScenarioPaths(paths);
  const started = new Date();
  const t0 = performance.now();
  const cases: CaseResult[] = [];
  const text: string[] = [];
  for (const f of files) {
    const c0 = performance.now();
    const r = await runScenarioFile(f);
    const c = scenarioFileCase(f, r, Math.round((performance.now() - c0) * 1000) / 1000);
    cases.push({ ...c, ...(c.status !== "pass" ? { rerun: `dmabuf-conformance scenario ${f.path}` } : {}) });
    text.push(`scenario: ${r.name} (${f.path})`);
    for (const s of r.steps) text.push(`  ${s.ok ? "✓" : "✗"} ${String(s.index).padStart(2)} ${s.step}: ${s.detail}`);
    for (const x of r.checks) text.push(`  ✗ ${x}`);
    text.push(`${r.passed ? "PASS" : "FAIL"} in ${c.durationMs.toFixed(1)} ms`);
    if (!r.passed) text.push("kernel log:", ...r.log.map((l) => `  ${l}`));
  }
  cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const report: ConformanceReport = {
    schema: REPORT_SCHEMA,
    tool: toolInfo(),
    packages: [],
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
    seed: 1,
    shard: null,
    total: cases.length,
    notRun: 0,
    cases,
    summary: summarize(cases),
  };
  const s = report.summary;
  if (o.format === "table") emit(`${text.join("\n")}\n${files.length} scenario files: ${s.passed} passed, ${s.failed} failed\n`, o.out);
  else emit(render(report, o.format, !o.out), o.out);
  return passed(report) ? 0 : 1;
}

interface ExploreFlags {
  list?: boolean;
  all?: boolean;
  strategy?: "dfs" | "pct";
  preemptionBound?: number;
  maxSchedules?: number;
  iterations?: number;
  depth?: number;
  seed?: number;
  replay?: string;
  shrink: boolean;
  format: Format;
  out?: string;
}

/** What `explore` runs: a shipped race or a scenario file with `tasks:`. */
interface ExploreTarget {
  readonly name: string;
  readonly topology: TopologyName;
  readonly expect: ExploreExpectation;
  readonly options: ExploreOptions;
  readonly header: string;
  readonly packages: readonly string[];
  scenario(): ExploreScenario;
}

async function exploreTarget(arg: string): Promise<ExploreTarget> {
  const race = raceScenario(arg);
  if (race) return { name: race.id, topology: race.topology, expect: { found: race.expect }, options: race.options, header: `${race.form}: ${race.summary}\n  fix: ${race.fix}`, packages: [], scenario: race.scenario };
  let isFile = false;
  try {
    isFile = statSync(arg).isFile();
  } catch {
    throw new UsageError(`explore: ${arg} is neither a shipped race (see --list) nor a scenario file`);
  }
  if (!isFile) throw new UsageError(`explore: ${arg} is a directory; name one scenario file`);
  const file = readScenarioFile(arg);
  if (!file.tasks) throw new InputError([{ file: arg, line: 1, col: 1, message: "no `tasks:` to interleave (explore needs a scenario file with tasks)" }]);
  const prep = await prepareScenarioFile(file);
  const scn = scenarioFileExplorer(prep);
  return { name: arg, topology: file.topology, expect: { found: null }, options: {}, header: `scenario file ${arg}: ${file.name} (${Object.keys(file.tasks).length} tasks)`, packages: [...(file.packages ?? [])], scenario: () => scn };
}

function exploreOptionsOf(t: ExploreTarget, o: ExploreFlags): ExploreOptions {
  return {
    ...t.options,
    ...(o.strategy ? { strategy: o.strategy } : {}),
    ...(o.preemptionBound !== undefined ? { preemptionBound: o.preemptionBound } : {}),
    ...(o.maxSchedules !== undefined ? { maxSchedules: o.maxSchedules } : {}),
    ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
    ...(o.depth !== undefined ? { pctDepth: o.depth } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    shrink: o.shrink,
  };
}

/** One replayed execution as an exploration result (one schedule). */
function replayResult(name: string, schedule: string, x: ExecutionResult): ExploreResult {
  const seen = new Set<string>();
  const failures: ExploreFailure[] = [];
  for (const f of x.failures) {
    if (seen.has(f.signature)) continue;
    seen.add(f.signature);
    failures.push({ kind: f.kind, signature: f.signature, messages: x.failures.map((y) => y.message), schedule, shrunk: schedule, preemptions: x.preemptions, steps: x.steps, trace: x.trace, log: x.log, lockdep: x.lockdep, foundAt: 1 });
  }
  return { scenario: name, strategy: "replay", preemptionBound: x.preemptions, seed: 1, schedules: 1, pruned: x.pruned ? 1 : 0, complete: true, maxDecisions: x.decisions.length, failures };
}

function exploreText(t: ExploreTarget, c: CaseResult, r: ExploreResult, x?: ExecutionResult): string[] {
  const out = [`explore ${t.name}`, `  ${t.header}`, `  ${c.messages[0]}`];
  if (x) out.push("  trace:", ...x.trace.map((l) => `    ${l}`));
  for (const f of r.failures) {
    out.push(`  ✗ ${f.signature}`, `    replay: dmabuf-conformance explore ${t.name} --replay ${f.shrunk}  (${f.preemptions} preemption${f.preemptions === 1 ? "" : "s"}, ${f.steps} steps; first seen at schedule ${f.foundAt} as ${f.schedule})`);
    if (!x) out.push("    trace:", ...f.trace.map((l) => `      ${l}`));
    out.push("    failures:", ...f.messages.flatMap((m) => m.split("\n")).map((l) => `      ${l}`));
    if (f.lockdep) out.push("    lockdep:", ...f.lockdep.split("\n").map((l) => `      ${l}`));
    out.push("    kernel log:", ...f.log.split("\n").map((l) => `      ${l}`));
  }
  out.push(`${c.status === "pass" ? "PASS" : "FAIL"}: expected ${c.expected!.outcome}, ${r.failures.length ? `found ${r.failures.length} distinct failure${r.failures.length > 1 ? "s" : ""}` : "clean"} in ${c.durationMs.toFixed(1)} ms`);
  return out;
}

async function exploreCmd(arg: string | undefined, o: ExploreFlags): Promise<number> {
  checkOut(o.out);
  if (o.list) {
    const w = Math.max(...RACE_SCENARIOS.map((r) => r.id.length));
    emit(`${RACE_SCENARIOS.map((r) => `${r.id.padEnd(w)}  ${r.form.padEnd(7)}  ${r.summary}`).join("\n")}\n`, o.out);
    return 0;
  }
  if (o.all && arg) throw new UsageError("explore: give a scenario or --all, not both");
  if (!o.all && !arg) throw new UsageError("explore: name a shipped race (--list), a scenario file with tasks, or --all");
  if (o.replay && o.all) throw new UsageError("explore: --replay replays one scenario");
  const targets = o.all ? await Promise.all(RACE_SCENARIOS.map((r) => exploreTarget(r.id))) : [await exploreTarget(arg!)];
  const started = new Date();
  const t0 = performance.now();
  const cases: CaseResult[] = [];
  const text: string[] = [];
  for (const t of targets) {
    const c0 = performance.now();
    let r: ExploreResult;
    let x: ExecutionResult | undefined;
    if (o.replay) {
      x = replaySchedule(t.scenario(), o.replay);
      r = replayResult(t.name, o.replay, x);
    } else r = explore(t.scenario(), exploreOptionsOf(t, o));
    const c = exploreCase(t.name, t.topology, r, o.replay ? { found: null } : t.expect, Math.round((performance.now() - c0) * 1000) / 1000, t.packages);
    cases.push(c);
    text.push(...exploreText(t, c, r, x), "");
  }
  const report: ConformanceReport = {
    schema: REPORT_SCHEMA,
    tool: toolInfo(),
    packages: [],
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
    seed: o.seed ?? 1,
    shard: null,
    total: cases.length,
    notRun: 0,
    cases,
    summary: summarize(cases),
  };
  const s = report.summary;
  if (o.format === "table") emit(`${text.join("\n")}${cases.length} explored: ${s.passed} as expected, ${s.failed} not\n`, o.out);
  else emit(render(report, o.format, !o.out), o.out);
  return passed(report) ? 0 : 1;
}

/** The program; `exit` receives the exit status. */
export function program(): Command {
  const cli = new Command("dmabuf-conformance")
    .description("Cross-tests every dma-buf exporter with every importer of the installed dmabuf-sdk packages on every named topology, against a reviewed oracle.")
    .version(toolInfo().version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride()
    .addHelpText("after", EXIT_CODES);

  cli
    .command("run", { isDefault: true })
    .summary("run the matrix (the default command)")
    .description("Run every exporter × importer pair on every topology, the packages' scenarios and any scenario files, and judge each case against the oracle.")
    .argument("[cases...]", "case ids or globs (`*`: any characters, `?`: one): sriov/vfio-pci/xe, 'same-switch/*', '*/iommufd'")
    .addOption(formatOption())
    .option("-o, --out <file>", "write the report to this file (the table still goes to stdout)")
    .option("--shard <k/n>", "run only every n-th case from the k-th (CI fan-out; merge the shards with `merge`)", shard)
    .option("--seed <n>", "seed of the run; each case's kernel seed derives from it and the case id (default: 1, or the report's with --rerun-failed)", integer("--seed", 0))
    .option("-j, --jobs <n>", "worker threads to spread the cases over", integer("--jobs", 1), 1)
    .option("-m, --module <package>", "add an installed out-of-tree package, resolved from the current directory (repeatable)", collect, [])
    .option("--exporter <patterns>", "only exporters matching these comma-separated names (`*` wildcards)")
    .option("--importer <patterns>", "only importers matching these names")
    .option("--topology <patterns>", "only these topologies")
    .option("-x, --exclude <patterns>", "leave out cases matching these ids or globs (repeatable, comma-separated)", collect, [])
    .option("-s, --scenario <path>", "add a scenario file, or every scenario file of a directory, as cases (repeatable)", (v: string, p: string[]) => [...p, v], [])
    .option("-l, --list", "print the ids of the selected cases and exit")
    .option("--bail", "stop at the first case that does not pass")
    .option("--rerun-failed <report.json>", "run the failed and unverified cases of a JSON report again, with its seed")
    .option("--no-in-tree", "leave out the in-tree packages (test only --module packages)")
    .option("--no-progress", "no progress bar on stderr")
    .addHelpText("after", `${EXIT_CODES}\n\nEach case that does not pass is printed with the command that reruns it alone.`)
    .action(async (cases: string[], o: RunFlags) => {
      process.exitCode = await run(cases, o);
    });

  cli
    .command("merge")
    .summary("merge the JSON reports of every shard of one run")
    .description("Combine the JSON reports of shards 1..n of one run into the report of the whole run; refuses an incomplete set, a shard given twice, or shards of different runs.")
    .argument("<shards...>", "JSON reports written by `run --shard k/n --format json`")
    .addOption(formatOption())
    .option("-o, --out <file>", "write the merged report to this file")
    .addHelpText("after", EXIT_CODES)
    .action((files: string[], o: { format: Format; out?: string }) => {
      checkOut(o.out);
      const reports = files.map(readReport);
      let report: ConformanceReport;
      try {
        report = mergeReports(reports, files);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      emit(render(report, o.format, !o.out), o.out);
      process.exitCode = passed(report) ? 0 : 1;
    });

  cli
    .command("diff")
    .summary("what changed between two JSON reports")
    .description("Compare two JSON reports case by case: regressions, fixes, changed cells (mapping type, P2P route, errno, step) and added or removed cases.")
    .argument("<base>", "the report before the change")
    .argument("<head>", "the report after the change")
    .addOption(new Option("-f, --format <format>", "table, json, or markdown (for a pull-request comment)").choices(["table", "json", "markdown"]).default("table"))
    .option("-o, --out <file>", "write the diff to this file")
    .addHelpText("after", `${EXIT_CODES.replace("a case failed or is unverified (no oracle entry); for diff: a regression", "a regression: a case that passed (or is new) fails or is unverified")}`)
    .action((base: string, head: string, o: { format: string; out?: string }) => {
      checkOut(o.out);
      const d = diffReports(readReport(base), readReport(head));
      emit(o.format === "json" ? formatDiffJson(d) : o.format === "markdown" ? formatDiffMarkdown(d) : formatDiffTable(d), o.out);
      process.exitCode = d.counts.regression ? 1 : 0;
    });

  cli
    .command("scenario")
    .summary("run scenario files")
    .description("Run YAML or JSON scenario files, each on a fresh kernel; a directory runs every .yaml, .yml and .json file in it. Every file is validated before any runs.")
    .argument("<paths...>", "scenario files or directories")
    .addOption(formatOption())
    .option("-o, --out <file>", "write the report to this file")
    .addHelpText("after", EXIT_CODES)
    .action(async (paths: string[], o: { format: Format; out?: string }) => {
      process.exitCode = await scenario(paths, o);
    });
  cli
    .command("explore")
    .summary("run a race under every interleaving (or seeded PCT schedules)")
    .description(
      "Run a scenario's tasks (processes, kernel threads, IRQ handlers, kworkers) under every interleaving up to a preemption bound (depth-first, CHESS-style), or under seeded PCT schedules, each schedule on a fresh kernel. Each schedule is checked for an oops, a lockdep report, a WARN, a hung task, a leak and the scenario's assertions; every distinct failure is printed with a schedule string that replays it (shrunk to the fewest preemptions, then steps), its trace, lockdep report and kernel log. A shipped pre-fix race passes when its bug is found; a fixed race or a scenario file passes when every schedule is clean.",
    )
    .argument("[scenario]", "a shipped race (see --list) or a scenario file with `tasks:`")
    .option("-l, --list", "list the shipped race scenarios")
    .option("--all", "explore every shipped race")
    .addOption(new Option("--strategy <strategy>", "dfs: every schedule within the preemption bound; pct: seeded random PCT schedules").choices(["dfs", "pct"]))
    .option("-b, --preemption-bound <n>", "dfs: most preemptions per schedule (default 2)", integer("--preemption-bound", 0))
    .option("--max-schedules <n>", "dfs: stop after this many schedules (default 20000; shipped races 5000)", integer("--max-schedules", 1))
    .option("--iterations <n>", "pct: schedules to run (default 1000)", integer("--iterations", 1))
    .option("--depth <d>", "pct: bug depth, d - 1 priority change points (default 3)", integer("--depth", 1))
    .option("--seed <n>", "pct: the seed (default 1)", integer("--seed", 0))
    .option("--replay <schedule>", "run exactly this schedule (an `e1.` string printed by an earlier run) and print its trace, lockdep report and kernel log")
    .option("--no-shrink", "report each failure's first schedule without shrinking it")
    .addOption(formatOption())
    .option("-o, --out <file>", "write the report to this file")
    .addHelpText("after", EXIT_CODES.replace("a case failed or is unverified (no oracle entry); for diff: a regression", "a schedule failed (a shipped pre-fix race: its bug was not found)"))
    .action(async (arg: string | undefined, o: ExploreFlags) => {
      process.exitCode = await exploreCmd(arg, o);
    });
  return cli;
}

/** Runs the CLI on `argv` (without node and the script) and resolves to the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  process.exitCode = undefined;
  try {
    await program().parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof InputError || e instanceof UsageError || e instanceof SelectionError || e instanceof ExploreError) {
      process.stderr.write(`dmabuf-conformance: ${e.message.split("\n").join("\ndmabuf-conformance: ")}\n`);
      return 2;
    }
    process.stderr.write(`dmabuf-conformance: ${e instanceof Error ? (process.env.DMABUF_CONFORMANCE_DEBUG ? (e.stack ?? e.message) : e.message) : String(e)}\n`);
    return 2;
  }
}

// Exit only once stdout is flushed: process.exit() drops what a pipe has not taken yet (a JSON report past 64 KiB).
main(process.argv.slice(2)).then((code) => process.stdout.write("", () => process.exit(code)));
