// Sharding of a run (--shard k/n) and the merge of the shards' reports.
import { REPORT_SCHEMA, summarize, type CaseResult, type ConformanceReport } from "./types.js";

/** A slice of a run: the `index`-th of `count` (1-based), as `--shard k/n`. @public */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parses `k/n`. @throws Error for anything else. @public */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new Error(`--shard wants k/n with 1 <= k <= n, got "${text}"`);
  return { index, count };
}

/** The cases of shard `k/n`: every n-th case of the sorted list, from the k-th. Deterministic. @public */
export function selectShard<T>(sorted: readonly T[], shard: Shard): T[] {
  return sorted.filter((_, i) => i % shard.count === shard.index - 1);
}

/**
 * Combines the shard reports of one run into the report of the whole run.
 * Refuses anything else: reports that are not shards, shards of different
 * splits, seeds, selections or package versions, a shard given twice, a
 * missing shard, a case in two shards, or cases that do not add up to the
 * selection's total.
 * @param names what to call each report in errors (its file name)
 * @throws Error saying what is wrong
 * @public
 */
export function mergeReports(reports: readonly ConformanceReport[], names: readonly string[] = reports.map((_, i) => `report ${i + 1}`)): ConformanceReport {
  if (!reports.length) throw new Error("merge: no reports");
  const first = reports[0]!;
  const seen = new Map<number, string>();
  let count = 0;
  reports.forEach((r, i) => {
    const name = names[i]!;
    if (r.schema !== REPORT_SCHEMA) throw new Error(`merge: ${name}: report schema ${String(r.schema)}, expected ${REPORT_SCHEMA}`);
    if (r.shard === null) throw new Error(`merge: ${name} is a whole run, not a shard (run with --shard k/n)`);
    const s = parseShard(r.shard);
    if (i === 0) count = s.count;
    else if (s.count !== count) throw new Error(`merge: ${name} is shard ${r.shard} but ${names[0]} is of ${count} shards`);
    if (seen.has(s.index)) throw new Error(`merge: shard ${s.index}/${count} given twice (${seen.get(s.index)}, ${name})`);
    seen.set(s.index, name);
    if (r.seed !== first.seed) throw new Error(`merge: seeds differ (${names[0]}: ${first.seed}, ${name}: ${r.seed})`);
    if (r.total !== first.total) throw new Error(`merge: the shards come from different selections (${names[0]}: ${first.total} cases, ${name}: ${r.total})`);
    if (r.notRun) throw new Error(`merge: ${name} stopped early (--bail): ${r.notRun} cases not run`);
    const pk = (x: ConformanceReport) => x.packages.map((p) => `${p.name}@${p.version}`).join(" ");
    if (pk(r) !== pk(first)) throw new Error(`merge: ${name} tested other packages (${pk(r)}) than ${names[0]} (${pk(first)})`);
  });
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((k) => !seen.has(k));
  if (missing.length) throw new Error(`merge: incomplete shard set: missing shard${missing.length > 1 ? "s" : ""} ${missing.map((k) => `${k}/${count}`).join(", ")}`);
  const byId = new Map<string, CaseResult>();
  reports.forEach((r, i) => {
    for (const c of r.cases) {
      if (byId.has(c.id)) throw new Error(`merge: case ${c.id} is in more than one report (${names[i]})`);
      byId.set(c.id, c);
    }
  });
  if (byId.size !== first.total) throw new Error(`merge: the shards hold ${byId.size} cases, the selection has ${first.total}`);
  const cases = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const startedAt = reports.map((r) => r.startedAt).sort()[0]!;
  const finishedAt = reports.map((r) => r.finishedAt).sort().at(-1)!;
  return {
    schema: REPORT_SCHEMA,
    tool: first.tool,
    packages: first.packages,
    startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(startedAt),
    seed: first.seed,
    shard: null,
    total: first.total,
    notRun: 0,
    cases,
    summary: summarize(cases),
  };
}
