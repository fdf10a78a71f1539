// What a change did to the matrix: two JSON reports compared case by case.
import type { Actual, CaseResult, CaseStatus, ConformanceReport } from "./types.js";
import { cellLabel } from "./report/label.js";

/** A field of a case's outcome that differs between the two reports. @public */
export interface FieldChange {
  readonly field: "status" | keyof Actual;
  readonly base: string | null;
  readonly head: string | null;
}

/** How a case moved. @public */
export type DiffKind = "regression" | "fix" | "changed" | "added" | "removed";

/** One case that differs. @public */
export interface DiffEntry {
  readonly id: string;
  readonly kind: DiffKind;
  readonly base: { readonly status: CaseStatus; readonly cell: string } | null;
  readonly head: { readonly status: CaseStatus; readonly cell: string } | null;
  readonly changes: readonly FieldChange[];
  /** Why head's case fails, when it does. */
  readonly messages: readonly string[];
}

/** The comparison of two reports. @public */
export interface ReportDiff {
  readonly base: { readonly tool: string; readonly seed: number; readonly cases: number; readonly startedAt: string };
  readonly head: { readonly tool: string; readonly seed: number; readonly cases: number; readonly startedAt: string };
  /** Entries by id; regressions first, then fixes, changed, added, removed. */
  readonly entries: readonly DiffEntry[];
  readonly counts: Readonly<Record<DiffKind, number>> & { readonly unchanged: number };
}

const FIELDS: readonly (keyof Actual)[] = ["mapType", "p2p", "errno", "step", "outcome"];
const ORDER: readonly DiffKind[] = ["regression", "fix", "changed", "added", "removed"];

const passing = (s: CaseStatus | undefined): boolean => s === "pass" || s === "skip";
const text = (v: unknown): string | null => (v === undefined || v === null ? null : String(v));

/**
 * Compares `head` with `base`: a case that passed (or was absent) and now
 * fails or is unverified is a regression; one that failed and now passes is a
 * fix; one whose status is the same but whose mapping type, P2P route, errno
 * or step differs is changed; the others were added or removed.
 * @public
 */
export function diffReports(base: ConformanceReport, head: ConformanceReport): ReportDiff {
  const b = new Map(base.cases.map((c) => [c.id, c]));
  const h = new Map(head.cases.map((c) => [c.id, c]));
  const ids = [...new Set([...b.keys(), ...h.keys()])].sort();
  const entries: DiffEntry[] = [];
  let unchanged = 0;
  for (const id of ids) {
    const x = b.get(id);
    const y = h.get(id);
    const changes: FieldChange[] = [];
    if (x?.status !== y?.status) changes.push({ field: "status", base: text(x?.status), head: text(y?.status) });
    if (x && y) for (const f of FIELDS) if (text(x.actual[f]) !== text(y.actual[f])) changes.push({ field: f, base: text(x.actual[f]), head: text(y.actual[f]) });
    let kind: DiffKind | null;
    if (y && !passing(y.status) && (!x || passing(x.status))) kind = "regression";
    else if (!x) kind = "added";
    else if (!y) kind = "removed";
    else if (!passing(x.status) && passing(y.status)) kind = "fix";
    else kind = changes.length ? "changed" : null;
    if (!kind) {
      unchanged++;
      continue;
    }
    const side = (c: CaseResult | undefined) => (c ? { status: c.status, cell: cellLabel(c) } : null);
    entries.push({ id, kind, base: side(x), head: side(y), changes, messages: y && !passing(y.status) ? y.messages : [] });
  }
  entries.sort((p, q) => ORDER.indexOf(p.kind) - ORDER.indexOf(q.kind) || (p.id < q.id ? -1 : 1));
  const counts = Object.fromEntries(ORDER.map((k) => [k, entries.filter((e) => e.kind === k).length])) as Record<DiffKind, number>;
  const meta = (r: ConformanceReport) => ({ tool: `${r.tool.name} ${r.tool.version}`, seed: r.seed, cases: r.cases.length, startedAt: r.startedAt });
  return { base: meta(base), head: meta(head), entries, counts: { ...counts, unchanged } };
}

function changeText(e: DiffEntry): string {
  return e.changes.map((c) => `${c.field} ${c.base ?? "—"} → ${c.head ?? "—"}`).join(", ");
}

function summaryLine(d: ReportDiff): string {
  const c = d.counts;
  return `${c.regression} regressions, ${c.fix} fixes, ${c.changed} changed, ${c.added} added, ${c.removed} removed, ${c.unchanged} unchanged`;
}

/** The diff for a terminal: one line per case that moved. @public */
export function formatDiffTable(d: ReportDiff): string {
  const out = [`dmabuf-conformance diff: ${summaryLine(d)}`, `base: ${d.base.tool}, seed ${d.base.seed}, ${d.base.cases} cases, ${d.base.startedAt}`, `head: ${d.head.tool}, seed ${d.head.seed}, ${d.head.cases} cases, ${d.head.startedAt}`];
  if (d.entries.length) {
    const w = Math.max(...d.entries.map((e) => e.id.length));
    const k = Math.max(...d.entries.map((e) => e.kind.length));
    out.push("");
    for (const e of d.entries) {
      out.push(`${e.kind.padEnd(k)}  ${e.id.padEnd(w)}  ${e.base?.cell ?? "—"} → ${e.head?.cell ?? "—"}  (${changeText(e)})`);
      for (const m of e.messages) out.push(...m.split("\n").map((l) => `${" ".repeat(k + 2)}  ${l}`));
    }
  }
  return `${out.join("\n")}\n`;
}

/** The diff as JSON. @public */
export function formatDiffJson(d: ReportDiff): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

function md(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The diff as Markdown, for a pull-request comment. @public */
export function formatDiffMarkdown(d: ReportDiff): string {
  const out = [`### dmabuf-conformance: ${d.counts.regression ? "❌" : "✅"} ${summaryLine(d)}`, "", `base: ${d.base.tool}, seed ${d.base.seed}, ${d.base.cases} cases · head: ${d.head.tool}, seed ${d.head.seed}, ${d.head.cases} cases`];
  if (d.entries.length) {
    out.push("", "| | case | base | head | what changed |", "|---|---|---|---|---|");
    for (const e of d.entries) {
      const why = e.messages.length ? `<br>${md(e.messages.join("; "))}` : "";
      out.push(`| ${e.kind} | \`${md(e.id)}\` | ${md(e.base ? `${e.base.status} ${e.base.cell}` : "—")} | ${md(e.head ? `${e.head.status} ${e.head.cell}` : "—")} | ${md(changeText(e))}${why} |`);
    }
  } else out.push("", "No case changed.");
  return `${out.join("\n")}\n`;
}
