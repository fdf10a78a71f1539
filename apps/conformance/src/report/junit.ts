// The JUnit XML report (junit-10.xsd).
import { TOPOLOGY_NAMES } from "@dmabuf-sdk/dmabuf-core";
import type { CaseResult, ConformanceReport } from "../types.js";
import { cellLabel } from "./label.js";

/** XML text escaping (and no control characters XML 1.0 forbids). @public */
export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Seconds, as the schema's SUREFIRE_TIME pattern takes them (no exponent, no grouping). */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function properties(report: ConformanceReport, indent: string): string[] {
  const props: [string, string][] = [
    ["tool", `${report.tool.name} ${report.tool.version}`],
    ["node", report.tool.node],
    ["seed", String(report.seed)],
    ["startedAt", report.startedAt],
    ["finishedAt", report.finishedAt],
    ...(report.shard ? ([["shard", report.shard]] as [string, string][]) : []),
    ...report.packages.map((p): [string, string] => [`package:${p.name}`, p.version]),
  ];
  return [`${indent}<properties>`, ...props.map(([n, v]) => `${indent}  <property name="${xmlEscape(n)}" value="${xmlEscape(v)}"/>`), `${indent}</properties>`];
}

function testcase(c: CaseResult, topo: string): string[] {
  const name = c.exporter === null ? c.scenario : `${c.exporter} -> ${c.importer}`;
  const out = [`    <testcase classname="dmabuf-conformance.${xmlEscape(topo)}" name="${xmlEscape(name)}" time="${seconds(c.durationMs)}">`];
  const body = [...c.messages, ...(c.rerun ? [`rerun: ${c.rerun}`] : [])].join("\n");
  if (c.status === "fail") out.push(`      <failure type="fail" message="${xmlEscape(c.messages[0] ?? "failed")}">${xmlEscape(body)}</failure>`);
  // Unverified fails the run (exit 1), so it is a failure here too, never a skip.
  else if (c.status === "unverified") out.push(`      <failure type="unverified" message="unverified: no oracle entry (got ${xmlEscape(cellLabel(c))})">${xmlEscape(body)}</failure>`);
  else if (c.status === "skip") out.push(`      <skipped message="${xmlEscape(c.messages[0] ?? "skipped")}"/>`);
  out.push(`      <system-out>${xmlEscape([`id: ${c.id}`, ...(c.reason ? [`oracle: ${c.reason}`] : []), ...c.steps].join("\n"))}</system-out>`);
  if (c.log) out.push(`      <system-err>${xmlEscape(["kernel log (dmesg):", ...c.log].join("\n"))}</system-err>`);
  out.push("    </testcase>");
  return out;
}

/**
 * JUnit XML valid against the Jenkins xUnit plugin's `junit-10.xsd`
 * (`schema/junit-10.xsd`): one `<testsuite>` per topology with the run's
 * versions as properties, one `<testcase>` per case with its duration; failed
 * and unverified cases are `<failure>`s carrying their kernel log in
 * `<system-err>`.
 * @public
 */
export function formatJunit(report: ConformanceReport): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const s = report.summary;
  out.push(`<testsuites name="dmabuf-conformance" tests="${report.cases.length}" failures="${s.failed + s.unverified}" errors="0" time="${seconds(report.durationMs)}">`);
  const groups = [...TOPOLOGY_NAMES.map((t) => [t, report.cases.filter((c) => c.topology === t)] as const)].filter(([, cs]) => cs.length);
  for (const [topo, cases] of groups) {
    const failures = cases.filter((c) => c.status === "fail" || c.status === "unverified").length;
    const skipped = cases.filter((c) => c.status === "skip").length;
    const time = cases.reduce((n, c) => n + c.durationMs, 0);
    out.push(
      `  <testsuite name="${xmlEscape(topo)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(time)}" timestamp="${xmlEscape(report.startedAt)}">`,
    );
    out.push(...properties(report, "    "));
    for (const c of cases) out.push(...testcase(c, topo));
    out.push("  </testsuite>");
  }
  out.push("</testsuites>", "");
  return out.join("\n");
}
