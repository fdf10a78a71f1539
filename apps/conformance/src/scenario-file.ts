// User-written scenario files (YAML or JSON): schema, file:line:col errors, and a run on a fresh kernel.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, extname, join, resolve } from "node:path";
import type { ErrorObject, ValidateFunction } from "ajv";
import { pathToFileURL } from "node:url";
import { Kernel, KernelError, TOPOLOGY_NAMES, buildTopology, caseTopologyOptions, isErrno, topologyKernelOptions, type Task, type Topology, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import { IN_TREE_PACKAGES, defaultRequests, loadFixtures, type FixtureSet } from "./discovery.js";
import { InputError, LocatedDocument, pointerPath, type InputProblem } from "./input-error.js";
import { SCENARIO_STEPS, bytesOf, type JsonSchema, type StepContext, type StepOutcome } from "./scenario-steps.js";

/** A parsed scenario file. @public */
export interface ScenarioFile {
  readonly name: string;
  readonly description?: string;
  readonly topology: TopologyName;
  readonly seed?: number;
  /** Packages whose modules and fixtures the scenario uses (in-tree or installed plugins). */
  readonly packages?: readonly string[];
  /** Set-up steps; with `tasks`, they run once per schedule before the tasks. */
  readonly steps?: readonly Record<string, unknown>[];
  /** Concurrent tasks (name → steps), each its own process forked after the set-up: `scenario` runs them one after the other, `explore` under every interleaving. */
  readonly tasks?: Readonly<Record<string, readonly Record<string, unknown>[]>>;
  /** Steps after every task finished (release what the set-up made). */
  readonly teardown?: readonly Record<string, unknown>[];
  /** End checks: leaks and lockdep must be clean unless set to false. */
  readonly checks?: { readonly leaks?: boolean; readonly lockdep?: boolean };
  /** The file it was read from (`<scenario>` for text). */
  readonly path: string;
}

/** The result of one step. @public */
export interface ScenarioStepResult {
  readonly index: number;
  readonly step: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The result of a scenario file. @public */
export interface ScenarioResult {
  readonly name: string;
  readonly passed: boolean;
  readonly steps: readonly ScenarioStepResult[];
  readonly checks: readonly string[];
  /** The kernel log of the run (`dmesg`). */
  readonly log: readonly string[];
}

/** Keys a step may carry besides its kind. */
const STEP_KEYS = { as: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }, expect: {}, expectOneOf: { type: "array", minItems: 1 } } as const;

/** The step lists of a file, by JSON path: `steps`, `teardown` and each task's. */
function stepLists(data: Record<string, unknown> | null): [(string | number)[], unknown[]][] {
  const out: [(string | number)[], unknown[]][] = [];
  if (!data) return out;
  for (const key of ["steps", "teardown"]) if (Array.isArray(data[key])) out.push([[key], data[key] as unknown[]]);
  const tasks = data.tasks;
  if (tasks && typeof tasks === "object" && !Array.isArray(tasks)) for (const [name, list] of Object.entries(tasks)) if (Array.isArray(list)) out.push([["tasks", name], list as unknown[]]);
  return out;
}

/** The top level of a scenario file; each step is checked against its kind's row of {@link SCENARIO_STEPS}. */
const TOP: JsonSchema = {
  type: "object",
  properties: {
    $schema: { type: "string" },
    name: { type: "string", minLength: 1 },
    description: { type: "string" },
    topology: { enum: TOPOLOGY_NAMES },
    seed: { type: "integer", minimum: 0 },
    packages: { type: "array", items: { type: "string" } },
    steps: { type: "array", minItems: 1, items: { type: "object" } },
    tasks: { type: "object", minProperties: 1, propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_.-]*$" }, additionalProperties: { type: "array", minItems: 1, items: { type: "object" } } },
    teardown: { type: "array", minItems: 1, items: { type: "object" } },
    checks: { type: "object", properties: { leaks: { type: "boolean" }, lockdep: { type: "boolean" } }, additionalProperties: false },
  },
  required: ["name", "topology"],
  anyOf: [
    { properties: { steps: true }, required: ["steps"] },
    { properties: { tasks: true }, required: ["tasks"] },
  ],
  additionalProperties: false,
};

/** The JSON Schema of scenario files, built from the step table (published as `schema/scenario.schema.json`). @public */
export function scenarioSchema(): JsonSchema {
  const steps = Object.entries(SCENARIO_STEPS).map(([kind, d]) => ({
    type: "object",
    description: d.summary,
    properties: { [kind]: d.args, ...STEP_KEYS },
    required: [kind],
    additionalProperties: false,
  }));
  const props = TOP.properties as Record<string, JsonSchema>;
  // `steps`, `teardown` and every task are lists of the same step kinds: one definition, referenced three times.
  const list = { type: "array", minItems: 1, items: { $ref: "#/$defs/step" } };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://github.com/dmabuf-sdk/dmabuf-sdk/apps/conformance/schema/scenario.schema.json",
    title: "dmabuf-conformance scenario file",
    ...TOP,
    properties: { ...props, steps: list, teardown: list, tasks: { ...(props.tasks as Record<string, unknown>), additionalProperties: list } },
    $defs: { step: { oneOf: steps } },
  };
}

// ajv and the compiled schemas are made on first use: no import-time work, and `run` without scenario files never needs them.
const requireLazy = createRequire(import.meta.url);
let validators: { top: ValidateFunction; args: Map<string, ValidateFunction> } | undefined;
function compiled(): { top: ValidateFunction; args: Map<string, ValidateFunction> } {
  if (!validators) {
    const { Ajv } = requireLazy("ajv") as typeof import("ajv");
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    validators = { top: ajv.compile(TOP), args: new Map(Object.entries(SCENARIO_STEPS).map(([kind, d]) => [kind, ajv.compile(d.args)])) };
  }
  return validators;
}

function problems(doc: LocatedDocument, base: (string | number)[], errors: readonly ErrorObject[] | null | undefined): InputProblem[] {
  const out: InputProblem[] = [];
  for (const e of errors ?? []) {
    // anyOf branches repeat themselves; the anyOf error says it once.
    if (e.schemaPath.includes("/anyOf/") || (e.schemaPath.startsWith("#/anyOf/") && e.keyword === "required")) continue;
    const path = [...base, ...pointerPath(e.instancePath)];
    const where = path.length ? `\`${path.join(".")}\`` : "the file";
    if (e.keyword === "additionalProperties") {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      out.push(doc.problem(path, `unknown key \`${key}\` in ${where}`, key));
    } else if (e.keyword === "required") out.push(doc.problem(path, `${where} needs \`${(e.params as { missingProperty: string }).missingProperty}\``));
    else if (e.keyword === "enum") out.push(doc.problem(path, `${where} must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).join(", ")}`));
    else if (e.keyword === "anyOf" && e.schemaPath === "#/anyOf") out.push(doc.problem(path, "the file needs `steps` or `tasks`"));
    else if (e.keyword === "anyOf") out.push(doc.problem(path, `${where} has the wrong type (a value of the documented type or a $name reference)`));
    else out.push(doc.problem(path, `${where} ${e.message ?? "is invalid"}`));
  }
  return out;
}

/**
 * Reads and validates a YAML or JSON scenario file: unknown keys, unknown
 * step kinds and ill-typed arguments are reported at their line and column.
 * @throws InputError with every problem found.
 * @public
 */
export function parseScenarioFile(text: string, path = "<scenario>"): ScenarioFile {
  const doc = new LocatedDocument(text, path);
  const data = doc.value() as Record<string, unknown> | null;
  const found: InputProblem[] = [];
  const { top: checkTop, args: checkArgs } = compiled();
  if (!checkTop(data)) found.push(...problems(doc, [], checkTop.errors));
  for (const [base, steps] of stepLists(data)) {
    const where = base.length > 1 ? ` of task ${base[1]}` : base[0] === "teardown" ? " of teardown" : "";
    steps.forEach((raw, i) => {
      if (!raw || typeof raw !== "object" || Array.isArray(raw)) return;
      const keys = Object.keys(raw);
      const kinds = keys.filter((k) => k in SCENARIO_STEPS);
      for (const k of keys) if (!(k in SCENARIO_STEPS) && !(k in STEP_KEYS)) found.push(doc.problem([...base, i], `unknown key \`${k}\` in step ${i + 1}${where} (step kinds: ${Object.keys(SCENARIO_STEPS).join(", ")}; besides its kind a step may have \`as\`, \`expect\` and \`expectOneOf\`)`, k));
      if (kinds.length !== 1) {
        if (!keys.some((k) => !(k in SCENARIO_STEPS) && !(k in STEP_KEYS))) found.push(doc.problem([...base, i], `step ${i + 1}${where} must have exactly one step kind, has ${kinds.length ? kinds.join(", ") : "none"}`));
        return;
      }
      const kind = kinds[0]!;
      const args = (raw as Record<string, unknown>)[kind] ?? {};
      const check = checkArgs.get(kind)!;
      if (!check(args)) found.push(...problems(doc, [...base, i, kind], check.errors));
      const as = (raw as Record<string, unknown>).as;
      if (as !== undefined && (typeof as !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(as))) found.push(doc.problem([...base, i, "as"], "`as` must be a name (letters, digits, _)"));
      const oneOf = (raw as Record<string, unknown>).expectOneOf;
      if (oneOf !== undefined && (!Array.isArray(oneOf) || !oneOf.length)) found.push(doc.problem([...base, i, "expectOneOf"], "`expectOneOf` must be a non-empty list of expectations"));
      if (oneOf !== undefined && (raw as Record<string, unknown>).expect !== undefined) found.push(doc.problem([...base, i], "a step has `expect` or `expectOneOf`, not both"));
    });
  }
  if (found.length) throw new InputError(found);
  return { ...(data as unknown as Omit<ScenarioFile, "path">), path };
}

/** Reads one file. @throws InputError when it cannot be read or is not a valid scenario. @public */
export function readScenarioFile(path: string): ScenarioFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError([{ file: path, line: 1, col: 1, message: code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message }]);
  }
  return parseScenarioFile(text, path);
}

const SCENARIO_EXT = new Set([".yaml", ".yml", ".json"]);

/**
 * The scenario files named by `paths`: files as given, directories searched
 * (recursively, sorted) for `.yaml`, `.yml` and `.json`. Every file is read
 * and validated before any runs.
 * @throws InputError with the problems of every bad file.
 * @public
 */
export function readScenarioPaths(paths: readonly string[]): ScenarioFile[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (SCENARIO_EXT.has(extname(name))) files.push(p);
    }
  };
  const found: InputProblem[] = [];
  for (const p of paths) {
    let dir = false;
    try {
      dir = statSync(p).isDirectory();
    } catch {
      found.push({ file: p, line: 1, col: 1, message: "no such file or directory" });
      continue;
    }
    if (!dir) files.push(p);
    else {
      const before = files.length;
      walk(p);
      if (files.length === before) found.push({ file: p, line: 1, col: 1, message: "no .yaml, .yml or .json scenario file in this directory" });
    }
  }
  const out: ScenarioFile[] = [];
  for (const f of files) {
    try {
      out.push(readScenarioFile(f));
    } catch (e) {
      if (e instanceof InputError) found.push(...e.problems);
      else throw e;
    }
  }
  if (found.length) throw new InputError(found);
  return out;
}

/** The case-id stem of a scenario file: its file name without the extension. @public */
export function scenarioStem(file: ScenarioFile): string {
  return basename(file.path, extname(file.path));
}

type Vars = Map<string, unknown>;

/** Resolves `$name.path` references, `123n`/`0x..n` bigints and nested structures. */
function value(v: unknown, vars: Vars): unknown {
  if (typeof v === "string") {
    if (v.startsWith("$")) {
      const [head, ...path] = v.slice(1).split(".");
      if (!vars.has(head!)) throw new Error(`unknown variable $${head}`);
      let cur: unknown = vars.get(head!);
      for (const p of path) cur = (cur as Record<string, unknown>)?.[p];
      return cur;
    }
    if (/^(0x[0-9a-f]+|\d+)n$/i.test(v)) return BigInt(v.slice(0, -1));
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => value(x, vars));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, value(x, vars)]));
  return v;
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `[${[...v].join(",")}]`;
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x));
}

/** Checks a step's outcome against its `expect`: an errno name, `ok`, or a value. */
function checkExpect(expect: unknown, outcome: StepOutcome): string | undefined {
  if (expect === undefined) return outcome.errno ? `failed with ${outcome.errno}` : undefined;
  if (typeof expect === "string" && isErrno(expect)) return outcome.errno === expect ? undefined : `expected ${expect}, got ${outcome.errno ?? `success (${show(outcome.value)})`}`;
  if (expect === "ok") return outcome.errno ? `expected success, got ${outcome.errno}` : undefined;
  if (outcome.errno) return `expected ${show(expect)}, got ${outcome.errno}`;
  const got = outcome.value instanceof Uint8Array && (typeof expect === "string" || Array.isArray(expect)) ? bytesOf(expect) : expect;
  return show(got) === show(outcome.value) ? undefined : `expected ${show(got)}, got ${show(outcome.value)}`;
}

/** `expectOneOf`: the outcome meets one of the expectations. */
function checkOneOf(list: readonly unknown[], outcome: StepOutcome): string | undefined {
  if (list.some((e) => checkExpect(e, outcome) === undefined)) return undefined;
  return `expected one of ${list.map(show).join(", ")}, got ${outcome.errno ?? `success (${show(outcome.value)})`}`;
}

/** The step kind of a validated step. @public */
export function stepKind(raw: Readonly<Record<string, unknown>>): string {
  return Object.keys(raw).find((k) => k in SCENARIO_STEPS)!;
}

/** A scenario file made ready to run: its fixtures loaded and the modules of its `call` steps imported, so every step runs synchronously. @public */
export interface PreparedScenario {
  readonly file: ScenarioFile;
  readonly set: FixtureSet;
  readonly imported: ReadonlyMap<string, Record<string, unknown>>;
  readonly cwd: string;
}

/** Loads what a scenario file needs before any kernel boots. @public */
export async function prepareScenarioFile(scn: ScenarioFile, opts: { cwd?: string } = {}): Promise<PreparedScenario> {
  const cwd = opts.cwd ?? process.cwd();
  // The packages the file names (in-tree ones from the app, others from cwd), or every in-tree package.
  const requests = scn.packages
    ? scn.packages.map((name) => (IN_TREE_PACKAGES.includes(name) ? { name } : { name, from: cwd }))
    : defaultRequests([], cwd, true);
  const set: FixtureSet = await loadFixtures(requests);
  const require = createRequire(join(resolve(cwd), "noop.js"));
  const imported = new Map<string, Record<string, unknown>>();
  const all = [...(scn.steps ?? []), ...Object.values(scn.tasks ?? {}).flat(), ...(scn.teardown ?? [])];
  for (const raw of all) {
    if (!("call" in raw)) continue;
    const pkg = String((raw.call as { fn: string }).fn).split("#")[0]!;
    if (imported.has(pkg)) continue;
    let href: string;
    try {
      href = pathToFileURL(require.resolve(pkg)).href;
    } catch {
      continue; // the step reports it when it runs
    }
    imported.set(pkg, (await import(href)) as Record<string, unknown>);
  }
  return { file: scn, set, imported, cwd };
}

/**
 * One scenario file on one kernel: the variables, the scenario's process,
 * one forked process per task, and every step's result. With `strict`, a
 * step that throws anything but a kernel error (an oops) propagates instead
 * of being recorded, as the explorer needs.
 * @public
 */
export class ScenarioInstance {
  readonly topology: Topology;
  /** The scenario's own process. */
  readonly task: Task;
  readonly results: ScenarioStepResult[] = [];
  readonly #vars: Vars;
  readonly #loaded = new Set<string>();
  readonly #procs: Task[] = [];
  readonly #require: NodeJS.Require;

  constructor(
    readonly prep: PreparedScenario,
    readonly kernel: Kernel,
    readonly strict: boolean,
  ) {
    // Device identities the loaded fixtures' drivers need (the Xe PF of `sriov`).
    this.topology = buildTopology(kernel, prep.file.topology, caseTopologyOptions([...prep.set.exporters, ...prep.set.importers].map((x) => x.fixture)));
    this.task = kernel.fork({ comm: "scenario" });
    this.#vars = new Map<string, unknown>([
      ["kernel", kernel],
      ["topology", this.topology],
      ["task", this.task],
    ]);
    this.#require = createRequire(join(resolve(prep.cwd), "noop.js"));
  }

  /** The kernel a scenario file boots: its topology's options and its seed. */
  static boot(file: ScenarioFile): Kernel {
    return new Kernel({ ...topologyKernelOptions(file.topology), seed: file.seed ?? 1 });
  }

  #context(task: Task): StepContext {
    const { set } = this.prep;
    const kernel = this.kernel;
    return {
      kernel,
      topology: this.topology,
      task,
      exporter: (n) => set.exporters.find((e) => e.fixture.name === n)?.fixture ?? fail(`no exporter fixture ${n}`),
      importer: (n) => set.importers.find((e) => e.fixture.name === n)?.fixture ?? fail(`no importer fixture ${n}`),
      load: (mods) => {
        for (const m of mods) {
          if (this.#loaded.has(m.name)) continue;
          kernel.modprobe(m as never);
          this.#loaded.add(m.name);
        }
      },
      resolve: (pkg) => this.#require.resolve(pkg),
      imported: this.prep.imported,
    };
  }

  /** A process of task `name`, forked from the scenario's after the set-up (it inherits its fds). */
  spawn(name: string): Task {
    const t = this.kernel.fork({ comm: name, parent: this.task });
    this.#procs.push(t);
    return t;
  }

  /** Runs one step as `task` (default the scenario's process), checks its expectation and records the result. */
  runStep(raw: Readonly<Record<string, unknown>>, task: Task = this.task, who?: string): ScenarioStepResult {
    const kind = stepKind(raw);
    let outcome: StepOutcome;
    let problem: string | undefined;
    try {
      const a = (value(raw[kind], this.#vars) ?? {}) as Record<string, unknown>;
      const r = SCENARIO_STEPS[kind]!.run(a, this.#context(task));
      if (r instanceof Promise) throw new Error(`step \`${kind}\` did not run synchronously`);
      outcome = r;
    } catch (e) {
      if (e instanceof KernelError) outcome = { errno: e.errno };
      else if (e instanceof Error && e.name === "UserSignal") outcome = { errno: (e as Error & { signal: string }).signal };
      else if (this.strict) throw e;
      else outcome = { errno: `error: ${e instanceof Error ? e.message : String(e)}` };
    }
    try {
      problem = Array.isArray(raw.expectOneOf) ? checkOneOf(value(raw.expectOneOf, this.#vars) as unknown[], outcome) : checkExpect(raw.expect !== undefined ? value(raw.expect, this.#vars) : undefined, outcome);
    } catch (e) {
      problem = e instanceof Error ? e.message : String(e);
    }
    if (typeof raw.as === "string" && outcome.errno === undefined) this.#vars.set(raw.as, outcome.value);
    const res = { index: this.results.length + 1, step: who ? `${who}: ${kind}` : kind, ok: !problem, detail: problem ?? (outcome.errno ? `${outcome.errno} (expected)` : "ok") };
    this.results.push(res);
    return res;
  }

  /** Exits every process, then runs what became due (kworkers, IRQs) before the checks. */
  finish(): void {
    for (const t of this.#procs) this.kernel.exitTask(t, 0);
    this.kernel.exitTask(this.task, 0);
    this.kernel.clock.flush();
  }

  /** The file's end checks: an empty leak report and no lockdep report, unless turned off. */
  endChecks(): string[] {
    const checks: string[] = [];
    const { file } = this.prep;
    if (file.checks?.leaks !== false && !this.kernel.leakReport().empty) checks.push(`leak report not empty:\n${this.kernel.leakReport().text()}`);
    if (file.checks?.lockdep !== false) for (const r of this.kernel.lockdep.reports()) checks.push(`lockdep: ${r.message.split("\n")[0]}`);
    return checks;
  }
}

/**
 * Runs a scenario file on a fresh kernel of its topology: loads the named
 * packages' modules, runs the set-up steps, then each task's steps (each
 * task its own process, one task after the other), then the teardown, each
 * against its `expect`, and finally checks the leak report and lockdep.
 * @public
 */
export async function runScenarioFile(scn: ScenarioFile, opts: { cwd?: string } = {}): Promise<ScenarioResult> {
  const prep = await prepareScenarioFile(scn, opts);
  const inst = new ScenarioInstance(prep, ScenarioInstance.boot(scn), false);
  for (const raw of scn.steps ?? []) inst.runStep(raw);
  for (const [name, steps] of Object.entries(scn.tasks ?? {})) {
    const t = inst.spawn(name);
    for (const raw of steps) inst.runStep(raw, t, name);
  }
  for (const raw of scn.teardown ?? []) inst.runStep(raw);
  inst.finish(); // quiescence: due kworker/IRQ work runs before the checks
  const checks = inst.endChecks();
  const log = inst.kernel.printk.dmesg();
  return { name: scn.name, passed: inst.results.every((s) => s.ok) && !checks.length, steps: inst.results, checks, log: log ? log.split("\n") : [] };
}

function fail(m: string): never {
  throw new Error(m);
}

/** Reads and runs a scenario file from disk. @public */
export async function runScenarioPath(path: string, opts: { cwd?: string } = {}): Promise<ScenarioResult> {
  return runScenarioFile(readScenarioFile(path), opts);
}
