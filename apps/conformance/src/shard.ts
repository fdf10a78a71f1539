import { REPORT_SCHEMA, summarize, type CaseResult, type ConformanceReport } from "./types.js";

/** A slice of a run: the `index`-th of `count` (1-based), as `--shard k/n`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parses `k/n`. @throws Error for anything else. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new Error(`--shard wants k/n with 1 <= k <= n, got "${text}"`);
  return { index, count };
}

/** The cases of shard `k/n`: every n-th case of the sorted list, from the k-th. Deterministic. */
export function selectShard<T>(sorted: readonly T[], shard: Shard): T[] {
  return sorted.filter((_, i) => i % shard.count === shard.index - 1);
}

/**
 * Combines shard reports into one report, as if the run had not been split.
 * @throws Error when the reports disagree (schema, seed) or share a case.
 */
export function mergeReports(reports: readonly ConformanceReport[]): ConformanceReport {
  if (!reports.length) throw new Error("merge: no reports");
  const seed = reports[0]!.seed;
  const byId = new Map<string, CaseResult>();
  for (const r of reports) {
    if (r.schema !== REPORT_SCHEMA) throw new Error(`merge: report schema ${String(r.schema)}, expected ${REPORT_SCHEMA}`);
    if (r.seed !== seed) throw new Error(`merge: seeds differ (${seed} and ${r.seed})`);
    for (const c of r.cases) {
      if (byId.has(c.id)) throw new Error(`merge: case ${c.id} is in more than one report`);
      byId.set(c.id, c);
    }
  }
  const cases = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { schema: REPORT_SCHEMA, seed, shard: null, cases, summary: summarize(cases) };
}
