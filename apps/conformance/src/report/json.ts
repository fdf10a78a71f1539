import type { ConformanceReport } from "../types.js";

/** The JSON report (schema `dmabuf-conformance/v1`). */
export function formatJson(report: ConformanceReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Parses a JSON report, checking the schema id. @throws Error otherwise. */
export function parseJsonReport(text: string): ConformanceReport {
  const r = JSON.parse(text) as ConformanceReport;
  if (r?.schema !== "dmabuf-conformance/v1" || !Array.isArray(r.cases)) throw new Error("not a dmabuf-conformance/v1 report");
  return r;
}
