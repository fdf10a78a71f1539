// @dmabuf-sdk/conformance: the conformance app as a library (run the matrix, judge cases, write reports).
/**
 * The dmabuf-sdk conformance app as a library: run the matrix, judge cases
 * against the oracle, compare reports, run scenario files, explore races
 * under every interleaving, and format the reports the CLI prints.
 *
 * @packageDocumentation
 */
export {
  runMatrix,
  planMatrix,
  listCases,
  runCase,
  judge,
  scenarioFileCase,
  rerunCommand,
  matrixWorkers,
  MIN_CASES_PER_THREAD,
  SelectionError,
  type RunOptions,
  type MatrixPlan,
  type WorkerJob,
} from "./matrix.js";
export { loadFixtures, loadPackageModule, defaultRequests, IN_TREE_PACKAGES, type FixtureSet, type PackageRequest, type Sourced } from "./discovery.js";
export { enumerateCases, caseSeed, idGlob, matchesAny, matcher, selectIds, type CaseFilter } from "./cases.js";
export { runPairCase, runScenarioCase, runUnplugCase, CASE_BUFFER_SIZE, type CaseRun, type CaseContexts, type UnplugFamily } from "@dmabuf-sdk/dmabuf-core";
export { describeEntry, negotiationOf } from "./negotiation.js";
export { IN_TREE_ORACLE, expectationFor, oracleRowFor, compare, mergeOracles, oracleFor, type Oracle, type OracleRow, type ScenarioOracleRow, type UnplugOracleRow } from "./oracle.js";
export { parseShard, selectShard, mergeReports, type Shard } from "./shard.js";
export {
  parseScenarioFile,
  readScenarioFile,
  readScenarioPaths,
  runScenarioFile,
  runScenarioPath,
  scenarioSchema,
  scenarioStem,
  stepKind,
  prepareScenarioFile,
  ScenarioInstance,
  type PreparedScenario,
  type ScenarioFile,
  type ScenarioResult,
  type ScenarioStepResult,
} from "./scenario-file.js";
export { RACE_SCENARIOS, raceScenario, type RaceScenario } from "./explore/race-scenarios.js";
export { exploreCase, type ExploreExpectation } from "./explore/explore-case.js";
export { scenarioFileExplorer } from "./explore/scenario-tasks.js";
export { vfioCloseVsAttach } from "./explore/vfio-match-window.js";
export { vfioRevokeVsUnmap, vfioDeferredUnmapRace } from "./explore/vfio-revoke-vs-unmap.js";
export { vfioUnplugVsDma } from "./explore/vfio-unplug-vs-dma.js";
export { vfioRevokeVsClose } from "./explore/vfio-revoke-vs-close.js";
export { xeUnplugVsDma } from "./explore/xe-unplug-vs-dma.js";
export { dmaBufCloseVsAttach } from "./explore/dma-buf-close-vs-attach.js";
export { DeferredUnmapImporter } from "./explore/deferred-unmap-importer.js";
export { drmSchedKillVsIrq } from "./explore/drm-sched-kill.js";
export { SCENARIO_STEPS, type StepDefinition, type StepContext, type StepOutcome, type JsonSchema } from "./scenario-steps.js";
export { InputError, LocatedDocument, type InputProblem } from "./input-error.js";
export { diffReports, formatDiffTable, formatDiffJson, formatDiffMarkdown, type ReportDiff, type DiffEntry, type DiffKind, type FieldChange } from "./diff.js";
export { formatJson, parseJsonReport, reportSchema } from "./report/json.js";
export { formatTable, progressLine, useColour } from "./report/table.js";
export { formatJunit, xmlEscape } from "./report/junit.js";
export { formatKtap } from "./report/ktap.js";
export { formatHtml } from "./report/html.js";
export { drawTopology, type TopologyDrawing } from "./report/topology-svg.js";
export { cellLabel, STATUS_MARK } from "./report/label.js";
export { toolInfo } from "./version.js";
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
  type Negotiation,
  type NegotiationTry,
  type NegotiationVerdict,
  type PackageVersion,
  type ExploreCaseData,
  type ExploreCaseFailure,
} from "./types.js";
