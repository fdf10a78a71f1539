import { TOPOLOGY_NAMES } from "@dmabuf-sdk/dmabuf-core";
import type { ConformanceReport } from "../types.js";
import { cellLabel } from "./label.js";

/** XML text escaping. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** JUnit XML: one `<testsuite>` per topology, one `<testcase>` per case. */
export function formatJunit(report: ConformanceReport): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const s = report.summary;
  out.push(`<testsuites name="dmabuf-conformance" tests="${report.cases.length}" failures="${s.failed}" skipped="${s.skipped + s.unverified}">`);
  for (const topo of TOPOLOGY_NAMES) {
    const cases = report.cases.filter((c) => c.topology === topo);
    if (!cases.length) continue;
    const failures = cases.filter((c) => c.status === "fail").length;
    const skipped = cases.filter((c) => c.status === "skip" || c.status === "unverified").length;
    out.push(`  <testsuite name="${xmlEscape(topo)}" tests="${cases.length}" failures="${failures}" skipped="${skipped}">`);
    for (const c of cases) {
      const name = c.exporter === null ? c.scenario : `${c.exporter} -> ${c.importer}`;
      out.push(`    <testcase classname="dmabuf-conformance.${xmlEscape(topo)}" name="${xmlEscape(name)}">`);
      if (c.status === "fail") out.push(`      <failure message="${xmlEscape(c.messages[0] ?? "failed")}">${xmlEscape(c.messages.join("\n"))}</failure>`);
      else if (c.status === "unverified") out.push(`      <skipped message="unverified: no oracle entry (got ${xmlEscape(cellLabel(c))})"/>`);
      else if (c.status === "skip") out.push(`      <skipped message="${xmlEscape(c.messages[0] ?? "skipped")}"/>`);
      out.push(`      <system-out>${xmlEscape(c.steps.join("\n"))}</system-out>`, "    </testcase>");
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>", "");
  return out.join("\n");
}
