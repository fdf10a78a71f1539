// The KTAP report (Documentation/dev-tools/ktap.rst), as kunit_parser reads it.
import { TOPOLOGY_NAMES } from "@dmabuf-sdk/dmabuf-core";
import type { CaseResult, ConformanceReport } from "../types.js";
import { cellLabel } from "./label.js";

/** A KTAP test name: no `#` (it starts a directive) and no whitespace. */
function ktapName(c: CaseResult): string {
  const name = c.exporter === null ? (c.id.split("/").slice(1).join("/") || c.scenario) : `${c.exporter}_x_${c.importer}`;
  return name.replace(/[#\s]+/g, "_");
}

function diag(indent: string, text: string): string[] {
  return text.split("\n").map((l) => `${indent}# ${l}`.trimEnd());
}

function lines(n: number, c: CaseResult, indent: string): string[] {
  const out = diag(indent, `${c.id}: ${cellLabel(c)} in ${c.durationMs.toFixed(3)} ms`);
  if (c.status === "fail" || c.status === "unverified") {
    if (c.status === "unverified") out.push(...diag(indent, `unverified: ${cellLabel(c)} has no oracle entry`));
    for (const m of c.messages) out.push(...diag(indent, m));
    if (c.rerun) out.push(...diag(indent, `rerun: ${c.rerun}`));
    if (c.log?.length) out.push(...diag(indent, "kernel log:"), ...c.log.flatMap((l) => diag(indent, `  ${l}`)));
    // Unverified fails the run, so it is `not ok` here: kunit_parser's verdict must be the exit status.
    out.push(`${indent}not ok ${n} ${ktapName(c)}`);
  } else if (c.status === "pass") out.push(`${indent}ok ${n} ${ktapName(c)}`);
  else out.push(`${indent}ok ${n} ${ktapName(c)} # SKIP ${(c.messages[0] ?? "").replace(/#/g, "")}`.trimEnd());
  return out;
}

/**
 * KTAP as the kernel's kunit tests print it (Documentation/dev-tools/ktap.rst):
 * one subtest per topology nested at four spaces with its plan, each case's
 * summary and duration as a diagnostic, failures and unverified cases `not ok`
 * with their messages, rerun command and kernel log, then the kselftest
 * totals line. The run's versions and times are diagnostics after the plan.
 * @public
 */
export function formatKtap(report: ConformanceReport): string {
  const groups = TOPOLOGY_NAMES.map((t) => [t, report.cases.filter((c) => c.topology === t)] as const).filter(([, cs]) => cs.length);
  const out = ["KTAP version 1", `1..${groups.length}`];
  out.push(`# ${report.tool.name} ${report.tool.version} (node ${report.tool.node}), seed ${report.seed}${report.shard ? `, shard ${report.shard}` : ""}`);
  out.push(`# started ${report.startedAt}, finished ${report.finishedAt} (${report.durationMs.toFixed(3)} ms)`);
  out.push(`# packages: ${report.packages.map((p) => `${p.name}@${p.version}`).join(" ")}`);
  groups.forEach(([topo, cases], gi) => {
    out.push("    KTAP version 1", `    # Subtest: ${topo}`, `    1..${cases.length}`);
    cases.forEach((c, i) => out.push(...lines(i + 1, c, "    ")));
    const failed = cases.some((c) => c.status === "fail" || c.status === "unverified");
    out.push(`${failed ? "not ok" : "ok"} ${gi + 1} ${topo}`);
  });
  const s = report.summary;
  out.push(`# Totals: pass:${s.passed} fail:${s.failed + s.unverified} xfail:0 xpass:0 skip:${s.skipped} error:0`, "");
  return out.join("\n");
}
