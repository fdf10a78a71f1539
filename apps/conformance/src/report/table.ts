// The terminal table of a run, coloured only on a TTY without NO_COLOR.
import { TOPOLOGY_NAMES } from "@dmabuf-sdk/dmabuf-core";
import type { CaseResult, ConformanceReport } from "../types.js";
import { STATUS_MARK, cellLabel } from "./label.js";

const COLOURS: Record<CaseResult["status"], string> = { pass: "\x1b[32m", fail: "\x1b[31m", skip: "\x1b[90m", unverified: "\x1b[33m" };
const RESET = "\x1b[0m";

/** Whether to colour: only on a TTY, and never with `NO_COLOR` set (https://no-color.org). @public */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!stream.isTTY && !("NO_COLOR" in env && env.NO_COLOR !== undefined);
}

function pad(s: string, n: number): string {
  return s + " ".repeat(Math.max(0, n - [...s].length));
}

/**
 * The terminal matrix: per topology, exporters down and importers across,
 * each cell the status mark and the negotiated type/route or errno@step;
 * then the pair families, the scenarios and the failures with their reasons.
 * @public
 */
export function formatTable(report: ConformanceReport, colour = false): string {
  const paint = (c: CaseResult, text: string): string => (colour ? `${COLOURS[c.status]}${text}${RESET}` : text);
  const s = report.summary;
  const lines = [
    `dmabuf-conformance: ${report.cases.length} cases: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.unverified} unverified (seed ${report.seed}${report.shard ? `, shard ${report.shard}` : ""})`,
    `${report.tool.name} ${report.tool.version}, node ${report.tool.node}; ${report.packages.map((p) => `${p.name.replace(/^@dmabuf-sdk\//, "")}@${p.version}`).join(" ")}`,
    `started ${report.startedAt}, finished ${report.finishedAt} (${ms(report.durationMs)}); cell durations in ms`,
  ];
  if (report.notRun) lines.push(`stopped at the first failure (--bail): ${report.notRun} selected cases not run`);
  // The lifecycle fills the grid; the pair families (the unplug family) are listed below it.
  const pairs = report.cases.filter((c) => c.exporter !== null && c.scenario === "lifecycle");
  for (const topo of TOPOLOGY_NAMES) {
    const cases = pairs.filter((c) => c.topology === topo);
    if (!cases.length) continue;
    const exporters = [...new Set(cases.map((c) => c.exporter!))];
    const importers = [...new Set(cases.map((c) => c.importer!))];
    const cell = (e: string, i: string): CaseResult | undefined => cases.find((c) => c.exporter === e && c.importer === i);
    const text = (c: CaseResult | undefined): string => (c ? `${STATUS_MARK[c.status]} ${cellLabel(c)} ${Math.round(c.durationMs)}` : "");
    const w0 = Math.max(8, ...exporters.map((e) => e.length));
    const widths = importers.map((i) => Math.max(i.length, ...exporters.map((e) => text(cell(e, i)).length)));
    lines.push("", `${topo}`, `  ${pad("", w0)}  ${importers.map((i, n) => pad(i, widths[n]!)).join("  ")}`.trimEnd());
    for (const e of exporters) {
      lines.push(
        `  ${pad(e, w0)}  ${importers
          .map((i, n) => {
            const c = cell(e, i);
            return c ? paint(c, pad(text(c), widths[n]!)) : pad("", widths[n]!);
          })
          .join("  ")}`.trimEnd(),
      );
    }
  }
  const families = report.cases.filter((c) => c.exporter !== null && c.scenario !== "lifecycle");
  if (families.length) {
    lines.push("", "pair families");
    const w = Math.max(...families.map((c) => c.id.length));
    for (const c of families) lines.push(`  ${paint(c, `${STATUS_MARK[c.status]} ${pad(c.id, w)}  ${cellLabel(c)} ${Math.round(c.durationMs)}`)}`);
  }
  const scenarios = report.cases.filter((c) => c.exporter === null);
  if (scenarios.length) {
    lines.push("", "scenarios");
    const w = Math.max(...scenarios.map((c) => c.id.length));
    for (const c of scenarios) lines.push(`  ${paint(c, `${STATUS_MARK[c.status]} ${pad(c.id, w)}  ${cellLabel(c)}  ${ms(c.durationMs)}`)}`);
  }
  const bad = report.cases.filter((c) => c.status === "fail" || c.status === "unverified");
  if (bad.length) {
    lines.push("", "failures");
    for (const c of bad) {
      lines.push(`  ${paint(c, `${STATUS_MARK[c.status]} ${c.id}`)}  ${ms(c.durationMs)}`);
      for (const m of c.messages) lines.push(...m.split("\n").map((l) => `      ${l}`));
      if (c.rerun) lines.push(`      rerun: ${c.rerun}`);
      if (c.log?.length) lines.push("      kernel log:", ...c.log.map((l) => `        ${l}`));
    }
  }
  lines.push("", `legend: ${STATUS_MARK.pass} pass  ${STATUS_MARK.fail} fail  ${STATUS_MARK.unverified} unverified (no oracle entry)  ${STATUS_MARK.skip} skip; cell = type/P2P route or errno@step`);
  return `${lines.join("\n")}\n`;
}

function ms(v: number): string {
  return `${v.toFixed(1)} ms`;
}

/** A one-line progress bar for long runs (written to stderr on a TTY). @public */
export function progressLine(done: number, total: number, width = 30): string {
  const filled = total ? Math.round((done / total) * width) : width;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} cases`;
}
