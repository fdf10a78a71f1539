import { TOPOLOGY_NAMES } from "@dmabuf-sdk/dmabuf-core";
import type { CaseResult, ConformanceReport } from "../types.js";
import { cellLabel } from "./label.js";

function line(n: number, c: CaseResult, indent: string): string[] {
  const name = c.exporter === null ? c.scenario : `${c.exporter}_x_${c.importer}`;
  const out = c.messages.filter(() => c.status === "fail").flatMap((m) => m.split("\n").map((l) => `${indent}# ${l}`));
  if (c.status === "pass") out.push(`${indent}ok ${n} ${name}`);
  else if (c.status === "fail") out.push(`${indent}not ok ${n} ${name}`);
  else if (c.status === "unverified") out.push(`${indent}ok ${n} ${name} # SKIP unverified: ${cellLabel(c)} has no oracle entry`);
  else out.push(`${indent}ok ${n} ${name} # SKIP ${c.messages[0] ?? ""}`.trimEnd());
  return out;
}

/**
 * KTAP as kernel selftests and kunit print it: one subtest per topology,
 * nested at four spaces, a plan in each, `# SKIP` for unverified cases, and
 * the kselftest totals line.
 */
export function formatKtap(report: ConformanceReport): string {
  const groups = TOPOLOGY_NAMES.map((t) => [t, report.cases.filter((c) => c.topology === t)] as const).filter(([, cs]) => cs.length);
  const out = ["KTAP version 1", `1..${groups.length}`];
  groups.forEach(([topo, cases], gi) => {
    out.push("    KTAP version 1", `    # Subtest: ${topo}`, `    1..${cases.length}`);
    cases.forEach((c, i) => out.push(...line(i + 1, c, "    ")));
    const failed = cases.some((c) => c.status === "fail");
    out.push(`${failed ? "not ok" : "ok"} ${gi + 1} ${topo}`);
  });
  const s = report.summary;
  out.push(`# Totals: pass:${s.passed} fail:${s.failed} xfail:0 xpass:0 skip:${s.skipped + s.unverified} error:0`, "");
  return out.join("\n");
}
