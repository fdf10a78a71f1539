// An exploration as a report case: table, JSON, JUnit, KTAP and HTML carry what `explore` found and how to replay it.
import type { ExploreResult, TopologyName } from "@dmabuf-sdk/dmabuf-core";
import type { CaseResult } from "../types.js";

/** What the case expects: a failure with this signature prefix (a pre-fix race), or none. @public */
export interface ExploreExpectation {
  readonly found: string | null;
}

/**
 * The report case of one exploration, `<topology>/explore:<name>`. A pre-fix
 * race passes when its bug is found, everything else when no schedule
 * failed; every failure is listed with its shrunk schedule (`rerun` replays
 * the first one), the shrunk trace, and the kernel log of that run.
 * @public
 */
export function exploreCase(name: string, topology: TopologyName, r: ExploreResult, expect: ExploreExpectation, durationMs: number, packages: readonly string[] = []): CaseResult {
  const hit = expect.found === null ? undefined : r.failures.find((f) => f.signature.startsWith(expect.found!));
  const pass = expect.found === null ? r.failures.length === 0 : hit !== undefined;
  const bounds = r.strategy === "pct" ? `pct, seed ${r.seed}` : r.strategy === "replay" ? "replay" : `preemption bound ${r.preemptionBound}${r.complete ? ", exhaustive" : ", stopped at --max-schedules"}`;
  const outcome = r.failures.length ? `found: ${r.failures.map((f) => f.signature).join("; ")}` : `clean: ${r.schedules} schedules (${bounds})`;
  const shown = hit ?? r.failures[0];
  const base = `dmabuf-conformance explore ${name}`;
  return {
    id: `${topology}/explore:${name}`,
    exporter: null,
    importer: null,
    topology,
    scenario: `explore ${name}`,
    status: pass ? "pass" : "fail",
    expected: { outcome: expect.found === null ? "clean" : `found: ${expect.found}` },
    actual: { outcome },
    messages: [
      `${r.schedules} schedules (${bounds}), ${r.pruned} pruned`,
      ...r.failures.map((f) => `${f.signature}: replay ${f.shrunk} (${f.preemptions} preemptions, ${f.steps} steps); first seen at schedule ${f.foundAt} as ${f.schedule}`),
      ...(pass ? [] : (shown?.messages ?? [])),
    ],
    steps: r.failures.flatMap((f) => [`schedule ${f.shrunk} (${f.signature}):`, ...f.trace.map((l) => `  ${l}`)]),
    seed: r.seed,
    packages: [...packages],
    durationMs,
    reason: expect.found === null ? "every schedule within the bounds: no oops, lockdep report, WARN, hung task or leak, and the scenario's assertions hold" : `the pre-fix form must show ${expect.found}`,
    ...(shown ? { log: shown.log.split("\n") } : pass ? {} : { log: [] }),
    ...(shown ? { rerun: `${base} --replay ${shown.shrunk}` } : pass ? {} : { rerun: base }),
    explore: {
      strategy: r.strategy,
      preemptionBound: r.preemptionBound,
      seed: r.seed,
      schedules: r.schedules,
      pruned: r.pruned,
      complete: r.complete,
      failures: r.failures.map((f) => ({ kind: f.kind, signature: f.signature, schedule: f.schedule, shrunk: f.shrunk, preemptions: f.preemptions, steps: f.steps, foundAt: f.foundAt, trace: [...f.trace] })),
    },
  };
}
