#!/usr/bin/env node
/**
 * dmabuf-conformance: runs every exporter × importer pair of the installed
 * dmabuf-sdk packages on every named topology and checks each case against
 * the oracle.
 *
 *   dmabuf-conformance run [--format table|json|junit|ktap|html] [--out FILE]
 *                          [--shard k/n] [--seed N] [--jobs N] [--module PKG]...
 *                          [--exporter PAT] [--importer PAT] [--topology PAT]
 *   dmabuf-conformance merge SHARD.json... [--format ...] [--out FILE]
 *   dmabuf-conformance scenario FILE.yaml|FILE.json
 *
 * Exit status 0 only when every case passes (unverified cases fail the run).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatHtml } from "../report/html.js";
import { formatJson, parseJsonReport } from "../report/json.js";
import { formatJunit } from "../report/junit.js";
import { formatKtap } from "../report/ktap.js";
import { formatTable, progressLine, useColour } from "../report/table.js";
import { runMatrix } from "../matrix.js";
import { runScenarioPath } from "../scenario-file.js";
import { mergeReports, parseShard } from "../shard.js";
import type { ConformanceReport } from "../types.js";

const FORMATS = ["table", "json", "junit", "ktap", "html"] as const;
type Format = (typeof FORMATS)[number];

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
  return report.summary.failed === 0 && report.summary.unverified === 0 && report.cases.length > 0;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: "string", default: "table" },
      out: { type: "string" },
      shard: { type: "string" },
      seed: { type: "string", default: "1" },
      jobs: { type: "string", default: "1" },
      module: { type: "string", multiple: true, default: [] },
      exporter: { type: "string" },
      importer: { type: "string" },
      topology: { type: "string" },
      "no-in-tree": { type: "boolean", default: false },
      "no-progress": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const command = positionals[0] ?? "run";
  const format = values.format as Format;
  if (values.help) {
    process.stdout.write(readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!.replace(/^[\s\S]*?\/\*\*/, "").replace(/^ \* ?/gm, ""));
    return 0;
  }
  if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(", ")}`);

  if (command === "run") {
    const seed = Number(values.seed);
    if (!Number.isInteger(seed)) throw new Error("--seed wants an integer");
    const jobs = Number(values.jobs);
    const tty = !!process.stderr.isTTY && !values["no-progress"];
    const report = await runMatrix({
      seed,
      jobs: Number.isInteger(jobs) && jobs > 0 ? jobs : 1,
      shard: values.shard ? parseShard(values.shard) : undefined,
      modules: values.module as string[],
      inTree: !values["no-in-tree"],
      filter: { exporter: values.exporter, importer: values.importer, topology: values.topology },
      onCase: tty ? (_r, done, total) => process.stderr.write(`\r${progressLine(done, total)}`) : undefined,
    });
    if (tty) process.stderr.write("\n");
    emit(render(report, format, !values.out), values.out);
    if (values.out && format !== "table") process.stdout.write(formatTable(report, useColour(process.stdout)));
    return passed(report) ? 0 : 1;
  }
  if (command === "merge") {
    const files = positionals.slice(1);
    if (!files.length) throw new Error("merge wants shard report files");
    const report = mergeReports(files.map((f) => parseJsonReport(readFileSync(f, "utf8"))));
    emit(render(report, format, !values.out), values.out);
    return passed(report) ? 0 : 1;
  }
  if (command === "scenario") {
    const file = positionals[1];
    if (!file) throw new Error("scenario wants a file");
    const r = await runScenarioPath(file);
    process.stdout.write(`scenario: ${r.name}\n`);
    for (const s of r.steps) process.stdout.write(`  ${s.ok ? "✓" : "✗"} ${String(s.index).padStart(2)} ${s.step}: ${s.detail}\n`);
    for (const c of r.checks) process.stdout.write(`  ✗ ${c}\n`);
    process.stdout.write(`${r.passed ? "PASS" : "FAIL"}\n`);
    return r.passed ? 0 : 1;
  }
  throw new Error(`unknown command "${command}" (run, merge, scenario)`);
}

// exitCode, not exit(): a large report written to a pipe must drain before the process ends.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`dmabuf-conformance: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
