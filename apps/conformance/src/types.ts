// The types of a conformance run and its report (cases, results, report schema id).
import type { CaseActual, Errno, ExploreFailureKind, LifecycleStep, TopologyName } from "@dmabuf-sdk/dmabuf-core";

export type { LifecycleStep };

/** Schema id of the JSON report. @public */
export const REPORT_SCHEMA = "dmabuf-conformance/v1";


/** Case status, as the JSON schema defines it. @public */
export type CaseStatus = "pass" | "fail" | "skip" | "unverified";

/** What the oracle expects of a case (absent fields are not checked). @public */
export interface Expectation {
  /** Short name of the negotiated mapping type (`'SGT'`, `'PAL'`, `'IOV'`). */
  readonly mapType?: string;
  /** P2P map type of the mapping (`'BUS_ADDR'`, `'THRU_HOST_BRIDGE'`), or null when none applies. */
  readonly p2p?: string | null;
  /** The errno the case stops with, and where. */
  readonly errno?: Errno;
  readonly step?: LifecycleStep;
  /** Outcome of a scenario case (`'ok'`, an errno name, …). */
  readonly outcome?: string;
}

/** What a case actually did (the `actual` of the JSON schema): core's pair lifecycle reports it. @public */
export type Actual = CaseActual;

/** One case of the matrix before it runs. @public */
export interface CaseSpec {
  /** `<topology>/<exporter>/<importer>` or `<topology>/<scenario>`. */
  readonly id: string;
  readonly topology: TopologyName;
  readonly exporter: string | null;
  readonly importer: string | null;
  /** `'lifecycle'` for pairs, the scenario's name otherwise. */
  readonly scenario: string;
  /** Packages the fixtures come from. */
  readonly packages: readonly string[];
}

/** One case of the report. @public */
export interface CaseResult {
  readonly id: string;
  readonly exporter: string | null;
  readonly importer: string | null;
  readonly topology: TopologyName;
  readonly scenario: string;
  readonly status: CaseStatus;
  readonly expected: Expectation | null;
  readonly actual: Actual;
  /** Why a case failed or was skipped (empty when it passed). */
  readonly messages: readonly string[];
  /** What the lifecycle did, step by step. */
  readonly steps: readonly string[];
  /** Kernel seed of the case (the case reruns identically with it). */
  readonly seed: number;
  readonly packages: readonly string[];
  /** Extra details from scenario cases. */
  readonly details?: Readonly<Record<string, string>>;
  /** Wall-clock time the case took, in milliseconds. */
  readonly durationMs: number;
  /** The oracle's reason for its expectation (null when there is no row). */
  readonly reason: string | null;
  /** The case's kernel log (`dmesg`), kept for every case that did not pass. */
  readonly log?: readonly string[];
  /** How the mapping type was negotiated at attach (pair cases). */
  readonly negotiation?: Negotiation;
  /** The command that reruns this case alone (cases that did not pass). */
  readonly rerun?: string;
  /** What `explore` did (explore cases). */
  readonly explore?: ExploreCaseData;
}

/** One distinct failure an exploration found, as the report carries it. @public */
export interface ExploreCaseFailure {
  readonly kind: ExploreFailureKind;
  readonly signature: string;
  /** The schedule that first showed it, and the shrunk one (`explore --replay <shrunk>`). */
  readonly schedule: string;
  readonly shrunk: string;
  readonly preemptions: number;
  readonly steps: number;
  /** 1-based index of the schedule that first showed it. */
  readonly foundAt: number;
  /** What ran in the shrunk schedule. */
  readonly trace: readonly string[];
}

/** The `explore` part of an explore case. @public */
export interface ExploreCaseData {
  readonly strategy: "dfs" | "pct" | "replay";
  readonly preemptionBound: number;
  readonly seed: number;
  readonly schedules: number;
  readonly pruned: number;
  /** DFS: every schedule within the bound ran. */
  readonly complete: boolean;
  readonly failures: readonly ExploreCaseFailure[];
}

/** Why a pair of entries was not taken. @public */
export type NegotiationVerdict = "matched" | "type-mismatch" | "p2p-distance" | "match-refused" | "match-aborted";

/** One (exporter entry, importer entry) pair `dma_buf_match_mapping()` tried. @public */
export interface NegotiationTry {
  readonly exp: number;
  readonly imp: number;
  readonly verdict: NegotiationVerdict;
  /** The kernel's own words, when it said why (its log, an errno). */
  readonly why?: string;
}

/** The negotiation trace of a case: both lists and every pair tried, in loop order. @public */
export interface Negotiation {
  /** The exporter's offers, in priority order (`SGT [EXPORTER_REQUIRES_P2P_DISTANCE 0000:02:00.0]`). */
  readonly exporter: readonly string[];
  /** The importer's list, in its order. */
  readonly importer: readonly string[];
  readonly tries: readonly NegotiationTry[];
}

/** Totals of a report. @public */
export interface ReportSummary {
  passed: number;
  failed: number;
  skipped: number;
  unverified: number;
}

/** A package whose fixtures or modules the run used, with its version. @public */
export interface PackageVersion {
  readonly name: string;
  readonly version: string;
}

/** The JSON report (`--format json`); its JSON Schema is `schema/report.schema.json`. @public */
export interface ConformanceReport {
  readonly schema: typeof REPORT_SCHEMA;
  /** The tool that wrote the report and the Node.js it ran on. */
  readonly tool: { readonly name: string; readonly version: string; readonly node: string };
  /** Packages under test, with their versions. */
  readonly packages: readonly PackageVersion[];
  /** When the run started and ended (ISO 8601, UTC), and its wall-clock length. */
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Seed of the run. */
  readonly seed: number;
  /** `k/n` when this report is one shard, `null` for a whole run or a merge. */
  readonly shard: string | null;
  /** Cases the selection holds before sharding: a merge checks its shards add up to it. */
  readonly total: number;
  /** Cases selected but not run because `--bail` stopped the run. */
  readonly notRun: number;
  readonly cases: readonly CaseResult[];
  readonly summary: ReportSummary;
}

/** Summarises `cases`. @public */
export function summarize(cases: readonly CaseResult[]): ReportSummary {
  const s: ReportSummary = { passed: 0, failed: 0, skipped: 0, unverified: 0 };
  for (const c of cases) {
    if (c.status === "pass") s.passed++;
    else if (c.status === "fail") s.failed++;
    else if (c.status === "skip") s.skipped++;
    else s.unverified++;
  }
  return s;
}
