/**
 * The dmabuf-sdk conformance app as a library: run the matrix, judge cases
 * against the oracle, and format the reports the CLI prints.
 *
 * @packageDocumentation
 */
export { runMatrix, runCase, judge, matrixWorkers, MIN_CASES_PER_THREAD, type RunOptions, type WorkerJob } from "./matrix.js";
export { loadFixtures, loadPackageModule, defaultRequests, IN_TREE_PACKAGES, type FixtureSet, type PackageRequest, type Sourced } from "./discovery.js";
export { enumerateCases, caseSeed, type CaseFilter } from "./cases.js";
export { runPairCase, runScenarioCase, runUnplugCase, CASE_BUFFER_SIZE, type CaseRun, type UnplugFamily } from "./lifecycle.js";
export { IN_TREE_ORACLE, expectationFor, compare, mergeOracles, oracleFor, type Oracle, type OracleRow, type ScenarioOracleRow, type UnplugOracleRow } from "./oracle.js";
export { parseShard, selectShard, mergeReports, type Shard } from "./shard.js";
export { parseScenarioFile, runScenarioFile, runScenarioPath, type ScenarioFile, type ScenarioResult, type ScenarioStepResult } from "./scenario-file.js";
export { formatJson, parseJsonReport } from "./report/json.js";
export { formatTable, progressLine, useColour } from "./report/table.js";
export { formatJunit, xmlEscape } from "./report/junit.js";
export { formatKtap } from "./report/ktap.js";
export { formatHtml } from "./report/html.js";
export { cellLabel, STATUS_MARK } from "./report/label.js";
export {
  REPORT_SCHEMA,
  summarize,
  type CaseResult,
  type CaseSpec,
  type CaseStatus,
  type ConformanceReport,
  type ReportSummary,
  type Expectation,
  type Actual,
  type LifecycleStep,
} from "./types.js";
