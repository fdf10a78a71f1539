import type { CaseActual, Errno, LifecycleStep, TopologyName } from "@dmabuf-sdk/dmabuf-core";

export type { LifecycleStep };

/** Schema id of the JSON report. */
export const REPORT_SCHEMA = "dmabuf-conformance/v1";


/** Case status, as the JSON schema defines it. */
export type CaseStatus = "pass" | "fail" | "skip" | "unverified";

/** What the oracle expects of a case (absent fields are not checked). */
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

/** What a case actually did (the `actual` of the JSON schema): core's pair lifecycle reports it. */
export type Actual = CaseActual;

/** One case of the matrix before it runs. */
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

/** One case of the report. */
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
}

/** Totals of a report. */
export interface ReportSummary {
  passed: number;
  failed: number;
  skipped: number;
  unverified: number;
}

/** The JSON report (`--format json`). */
export interface ConformanceReport {
  readonly schema: typeof REPORT_SCHEMA;
  /** Seed of the run. */
  readonly seed: number;
  /** `k/n` when this report is one shard, `null` for a whole run or a merge. */
  readonly shard: string | null;
  readonly cases: readonly CaseResult[];
  readonly summary: ReportSummary;
}

/** Summarises `cases`. */
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
