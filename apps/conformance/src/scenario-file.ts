import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  Kernel,
  KernelError,
  TOPOLOGY_NAMES,
  UserStruct,
  buildTopology,
  errnoName,
  isErrno,
  topologyKernelOptions,
  LibSync,
  SW_SYNC_PATH,
  swSyncDebugfsInit,
  type AllocSite,
  type Errno,
  type ExportedBuffer,
  type ImportedBuffer,
  type Task,
  type TopologyName,
} from "@dmabuf-sdk/dmabuf-core";
import { drmDevUnplug, drmModule, type DrmDevice } from "@dmabuf-sdk/drm";
import { IgtSyncobj, drmTestDevice } from "@dmabuf-sdk/drm/testing";
import { IN_TREE_PACKAGES, defaultRequests, loadFixtures, type FixtureSet } from "./discovery.js";

// yaml is loaded on first use: `run` never parses YAML, and loading it is a tenth of the start-up.
const requireLazy = createRequire(import.meta.url);
let yamlParse: ((text: string) => unknown) | undefined;
function parseYaml(text: string): unknown {
  yamlParse ??= (requireLazy("yaml") as typeof import("yaml")).parse;
  return yamlParse(text);
}

/** A parsed scenario file. */
export interface ScenarioFile {
  readonly name: string;
  readonly description?: string;
  readonly topology: TopologyName;
  readonly seed?: number;
  /** Packages whose modules and fixtures the scenario uses (in-tree or installed plugins). */
  readonly packages?: readonly string[];
  readonly steps: readonly Record<string, unknown>[];
  /** End checks: leaks and lockdep must be clean unless set to false. */
  readonly checks?: { readonly leaks?: boolean; readonly lockdep?: boolean };
}

/** The result of one step. */
export interface ScenarioStepResult {
  readonly index: number;
  readonly step: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The result of a scenario file. */
export interface ScenarioResult {
  readonly name: string;
  readonly passed: boolean;
  readonly steps: readonly ScenarioStepResult[];
  readonly checks: readonly string[];
}

const STEP_KINDS = [
  "export",
  "import",
  "map",
  "unmap",
  "detach",
  "write",
  "read",
  "dma-read",
  "dma-write",
  "invalidate",
  "restore",
  "release",
  "syscall",
  "call",
  "fault",
  "dmesg",
  "fork",
  "exit",
  "set",
  "unplug",
  "sw-sync",
  "sync-file",
  "drm-device",
  "syncobj",
] as const;

/** Reads and validates a YAML or JSON scenario file. @throws Error with what is wrong. */
export function parseScenarioFile(text: string, path = "<scenario>"): ScenarioFile {
  const doc = (path.endsWith(".json") ? JSON.parse(text) : parseYaml(text)) as Partial<ScenarioFile> | null;
  const bad = (m: string): never => {
    throw new Error(`${path}: ${m}`);
  };
  if (!doc || typeof doc !== "object") bad("not a mapping");
  if (typeof doc!.name !== "string") bad("`name` is required");
  if (!TOPOLOGY_NAMES.includes(doc!.topology as TopologyName)) bad(`\`topology\` must be one of ${TOPOLOGY_NAMES.join(", ")}`);
  if (!Array.isArray(doc!.steps) || !doc!.steps.length) bad("`steps` must be a non-empty list");
  doc!.steps!.forEach((s, i) => {
    const kinds = Object.keys(s ?? {}).filter((k) => (STEP_KINDS as readonly string[]).includes(k));
    if (kinds.length !== 1) bad(`step ${i + 1} must have exactly one of ${STEP_KINDS.join(", ")}`);
  });
  return doc as ScenarioFile;
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

function big(v: unknown): bigint {
  return typeof v === "bigint" ? v : BigInt(v as number | string);
}

function bytesOf(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return new TextEncoder().encode(v);
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  throw new Error(`cannot make bytes of ${JSON.stringify(v)}`);
}

/** Builds a uAPI struct from `{ size, fields: [{ offset, type: u32|s32|u64, value }] }`. */
function structOf(v: unknown): Uint8Array {
  const spec = v as { size: number; fields?: { offset: number; type: "u32" | "s32" | "u64"; value: unknown }[] };
  const s = UserStruct.alloc(spec.size);
  for (const f of spec.fields ?? []) {
    if (f.type === "u64") s.setU64(f.offset, big(f.value));
    else if (f.type === "s32") s.setS32(f.offset, Number(f.value));
    else s.setU32(f.offset, Number(f.value));
  }
  return s.bytes;
}

/** Checks a step's outcome against its `expect`: an errno name, `ok`, or a value. */
function checkExpect(expect: unknown, outcome: { value?: unknown; errno?: string }): string | undefined {
  if (expect === undefined) return outcome.errno ? `failed with ${outcome.errno}` : undefined;
  if (typeof expect === "string" && isErrno(expect)) return outcome.errno === expect ? undefined : `expected ${expect}, got ${outcome.errno ?? `success (${show(outcome.value)})`}`;
  if (expect === "ok") return outcome.errno ? `expected success, got ${outcome.errno}` : undefined;
  if (outcome.errno) return `expected ${show(expect)}, got ${outcome.errno}`;
  const got = outcome.value instanceof Uint8Array && (typeof expect === "string" || Array.isArray(expect)) ? bytesOf(expect) : expect;
  return show(got) === show(outcome.value) ? undefined : `expected ${show(got)}, got ${show(outcome.value)}`;
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `[${[...v].join(",")}]`;
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x));
}

/** Runs a syscall of the scenario's task; a negative return becomes an errno. */
function syscall(task: Task, a: Record<string, unknown>): { value?: unknown; errno?: string } {
  const call = a.call as string;
  const sys = task.sys;
  let r: number | bigint | Uint8Array;
  switch (call) {
    case "open":
      r = sys.open(a.path as string, Number(a.flags ?? 2));
      break;
    case "close":
      r = sys.close(Number(a.fd));
      break;
    case "ioctl":
      r = sys.ioctl(Number(a.fd), Number(a.cmd), a.struct ? structOf(a.struct) : ((a.arg as number | null) ?? null));
      break;
    case "mmap":
      r = sys.mmap(big(a.length), Number(a.prot ?? 3), Number(a.flags ?? 1), Number(a.fd), big(a.offset ?? 0));
      break;
    case "munmap":
      r = sys.munmap(big(a.addr), big(a.length));
      break;
    case "eventfd":
      r = sys.eventfd(Number(a.initval ?? 0), Number(a.flags ?? 0));
      break;
    case "read": {
      const buf = new Uint8Array(Number(a.length ?? 8));
      const n = sys.pread(Number(a.fd), buf, big(a.offset ?? 0));
      r = n < 0 ? n : buf.subarray(0, n);
      break;
    }
    case "poll": {
      const fds: { fd: number; events: number; revents?: number }[] = [{ fd: Number(a.fd), events: Number(a.events ?? 1) }];
      const n = sys.poll(fds, Number(a.timeout ?? 0));
      r = n < 0 ? n : (fds[0]!.revents ?? 0);
      break;
    }
    case "pidfd_open":
      r = sys.pidfdOpen(Number(a.pid), Number(a.flags ?? 0));
      break;
    case "peek":
      r = sys.peek(big(a.addr), Number(a.length));
      break;
    case "poke":
      sys.poke(big(a.addr), bytesOf(a.data));
      r = 0;
      break;
    default:
      throw new Error(`unknown syscall ${call}`);
  }
  if (typeof r === "number" && r < 0) return { errno: errnoName(r) ?? String(r) };
  if (typeof r === "bigint" && r < 0n) return { errno: errnoName(Number(r)) ?? String(r) };
  return { value: r };
}

/** Turns a helper's `-errno`/value result into a step outcome. */
function ret(v: unknown): { value?: unknown; errno?: string } {
  if (typeof v === "number" && v < 0) return { errno: errnoName(v) ?? String(v) };
  if (typeof v === "bigint" && v < 0n) return { errno: errnoName(Number(v)) ?? String(v) };
  return { value: v };
}

/** `sw-sync` steps: `op: timeline | fence | inc` (the debugfs timeline is created on first use). */
function swSyncStep(kernel: Kernel, task: Task, a: Record<string, unknown>): { value?: unknown; errno?: string } {
  if (!kernel.devfs.lookup(SW_SYNC_PATH)) swSyncDebugfsInit(kernel);
  const lib = new LibSync(kernel, task.sys);
  switch (a.op) {
    case "timeline":
      return ret(lib.timelineCreate());
    case "fence":
      return ret(lib.createFence(Number(a.timeline), Number(a.value)));
    case "inc":
      return ret(lib.inc(Number(a.timeline), Number(a.count ?? 1)));
    default:
      return fail(`unknown sw-sync op ${String(a.op)}`);
  }
}

/** `sync-file` steps: `op: merge | info | status | wait | set-deadline`. */
function syncFileStep(kernel: Kernel, task: Task, a: Record<string, unknown>): { value?: unknown; errno?: string } {
  const lib = new LibSync(kernel, task.sys);
  switch (a.op) {
    case "merge":
      return ret(lib.merge(Number(a.fd), Number(a.fd2), (a.name as string | undefined) ?? "merge"));
    case "info": {
      const i = lib.fileInfo(Number(a.fd));
      return typeof i === "number" ? ret(i) : { value: { name: i.name, status: i.status, fences: i.fences.map((f) => f.status) } };
    }
    case "status":
      return { value: lib.status(Number(a.fd)) };
    case "wait":
      return ret(lib.fenceWait(Number(a.fd), Number(a.timeout ?? 0)));
    case "set-deadline":
      return ret(lib.setDeadline(Number(a.fd), big(a.deadline)));
    default:
      return fail(`unknown sync-file op ${String(a.op)}`);
  }
}

/**
 * `syncobj` steps on a DRM fd (`fd`): `op: create | destroy | handle-to-fd |
 * fd-to-handle | import-sync-file | export-sync-file | wait | timeline-wait |
 * reset | signal | timeline-signal | query | transfer | eventfd`, with the
 * igt helpers' arguments.
 */
function syncobjStep(kernel: Kernel, task: Task, a: Record<string, unknown>): { value?: unknown; errno?: string } {
  const so = new IgtSyncobj(kernel, task.sys, Number(a.fd));
  const handles = ((a.handles as unknown[] | undefined) ?? [a.handle]).map(Number);
  const points = a.points === undefined ? null : (a.points as unknown[]).map(big);
  const flags = Number(a.flags ?? 0);
  switch (a.op) {
    case "create":
      return ret(so.create(flags));
    case "destroy":
      return ret(so.destroy(Number(a.handle)));
    case "handle-to-fd":
      return ret(so.handleToFdRaw(Number(a.handle), flags, big(a.point ?? 0)));
    case "fd-to-handle":
      return ret(so.fdToHandleRaw(Number(a.syncobjFd), flags, Number(a.handle ?? 0), big(a.point ?? 0)));
    case "import-sync-file":
      return ret(a.point === undefined ? so.importSyncFile(Number(a.handle), Number(a.syncFile)) : so.importSyncFilePoint(Number(a.handle), Number(a.syncFile), big(a.point)));
    case "export-sync-file":
      return ret(so.exportSyncFile(Number(a.handle), a.point === undefined ? undefined : big(a.point)));
    case "wait": {
      const r = so.wait(handles, big(a.timeout ?? 0), flags);
      return r.ret < 0 ? ret(r.ret) : { value: r.firstSignaled };
    }
    case "timeline-wait": {
      const r = so.timelineWait(handles, points, big(a.timeout ?? 0), flags);
      return r.ret < 0 ? ret(r.ret) : { value: r.firstSignaled };
    }
    case "reset":
      return ret(so.reset(handles));
    case "signal":
      return ret(so.signal(handles));
    case "timeline-signal":
      return ret(so.timelineSignal(handles, points));
    case "query":
      return ret(so.query(handles, flags));
    case "transfer":
      return ret(so.transfer(Number(a.dst), big(a.dstPoint ?? 0), Number(a.src), big(a.srcPoint ?? 0), flags));
    case "eventfd":
      return ret(so.eventfd(Number(a.handle), big(a.point ?? 0), flags, Number(a.eventfd)));
    default:
      return fail(`unknown syncobj op ${String(a.op)}`);
  }
}

/**
 * Runs a scenario file on a fresh kernel of its topology: loads the named
 * packages' modules, runs each step against its `expect`, and finally checks
 * the leak report and lockdep.
 */
export async function runScenarioFile(scn: ScenarioFile, opts: { cwd?: string } = {}): Promise<ScenarioResult> {
  const cwd = opts.cwd ?? process.cwd();
  // The packages the file names (in-tree ones from the app, others from cwd), or every in-tree package.
  const requests = scn.packages
    ? scn.packages.map((name) => (IN_TREE_PACKAGES.includes(name) ? { name } : { name, from: cwd }))
    : defaultRequests([], cwd, true);
  const set: FixtureSet = await loadFixtures(requests);
  const kernel = new Kernel({ ...topologyKernelOptions(scn.topology), seed: scn.seed ?? 1 });
  const topology = buildTopology(kernel, scn.topology);
  const task = kernel.fork({ comm: "scenario" });
  const vars: Vars = new Map<string, unknown>([
    ["kernel", kernel],
    ["topology", topology],
    ["task", task],
  ]);
  const loaded = new Set<string>();
  const steps: ScenarioStepResult[] = [];
  const ctx = { kernel, topology, task };
  const exporterOf = (n: string) => set.exporters.find((e) => e.fixture.name === n)?.fixture ?? fail(`no exporter fixture ${n}`);
  const importerOf = (n: string) => set.importers.find((e) => e.fixture.name === n)?.fixture ?? fail(`no importer fixture ${n}`);
  const load = (mods: readonly { name: string }[]) => {
    for (const m of mods) {
      if (loaded.has(m.name)) continue;
      kernel.modprobe(m as never);
      loaded.add(m.name);
    }
  };
  const require = createRequire(join(resolve(cwd), "noop.js"));

  for (const [index, raw] of scn.steps.entries()) {
    const kind = Object.keys(raw).find((k) => (STEP_KINDS as readonly string[]).includes(k))!;
    const a = (value(raw[kind], vars) ?? {}) as Record<string, unknown>;
    const expect = raw.expect !== undefined ? value(raw.expect, vars) : a.expect;
    let outcome: { value?: unknown; errno?: string } = {};
    try {
      switch (kind) {
        case "export": {
          const f = exporterOf(a.fixture as string);
          load(f.modules);
          outcome.value = f.export(ctx, big(a.size ?? 65536));
          break;
        }
        case "import": {
          const f = importerOf(a.fixture as string);
          load(f.modules);
          outcome.value = f.import(ctx, a.buffer as ExportedBuffer);
          break;
        }
        case "map":
          (a.import as ImportedBuffer).map();
          outcome.value = (a.import as ImportedBuffer).attachment.mapType?.type.shortName ?? (a.import as ImportedBuffer).attachment.mapType?.type.name;
          break;
        case "unmap":
          (a.import as ImportedBuffer).unmap();
          break;
        case "detach":
          (a.import as ImportedBuffer).detach();
          break;
        case "write":
          (a.buffer as ExportedBuffer).write(big(a.offset ?? 0), bytesOf(a.data));
          break;
        case "read":
          outcome.value = (a.buffer as ExportedBuffer).read(big(a.offset ?? 0), Number(a.length));
          break;
        case "dma-read":
          outcome.value = (a.import as ImportedBuffer).dmaRead(big(a.offset ?? 0), Number(a.length));
          break;
        case "dma-write":
          (a.import as ImportedBuffer).dmaWrite!(big(a.offset ?? 0), bytesOf(a.data));
          break;
        case "invalidate":
          outcome.value = (a.buffer as ExportedBuffer).invalidate?.() ?? fail("exporter has no invalidation");
          outcome.value = (outcome.value as { remap: string }).remap;
          break;
        case "restore":
          (a.buffer as ExportedBuffer).restore?.();
          break;
        case "release":
          (a.buffer as ExportedBuffer).release();
          break;
        case "syscall":
          outcome = syscall((a.task as Task | undefined) ?? task, a);
          break;
        case "call": {
          const [pkg, name] = String(a.fn).split("#");
          const mod = (await import(pathToFileURL(require.resolve(pkg!)).href)) as Record<string, unknown>;
          const fn = mod[name!];
          if (typeof fn !== "function") fail(`${a.fn} is not an exported function`);
          outcome.value = (fn as (...args: unknown[]) => unknown)(...((a.args as unknown[]) ?? []));
          break;
        }
        case "fault":
          kernel.faults.inject({ site: a.site as AllocSite | undefined, nth: a.nth as number | undefined, what: a.what as string | undefined, times: a.times as number | undefined });
          break;
        case "dmesg":
          outcome.value = kernel.printk.contains(String(a.contains));
          if (!outcome.value) outcome = { errno: "ENOENT" };
          break;
        case "fork":
          outcome.value = kernel.fork({ comm: (a.comm as string) ?? "child", parent: task });
          break;
        case "exit":
          kernel.exitTask((a.task as Task) ?? task, Number(a.code ?? 0));
          break;
        case "set":
          break;
        case "unplug":
          // The exporter's device (a buffer) or the importer's (an import) leaves the bus; a DRM device is unplugged as a whole.
          if (a.buffer) {
            // The value says what maps do afterwards: "remap", or "revoked <errno>".
            const r = ((a.buffer as ExportedBuffer).unplug ?? fail("exporter has no unplug"))().remap;
            outcome.value = r === "remap" ? r : `revoked ${r}`;
          }
          else if (a.import) ((a.import as ImportedBuffer).unplug ?? fail("importer has no unplug"))();
          else if (a.device) {
            // The device's removal: drm_dev_unplug(), then the driver drops its reference (files keep theirs).
            drmDevUnplug(a.device as DrmDevice);
            (a.device as DrmDevice).put();
          }
          else fail("unplug needs buffer, import or device");
          break;
        case "sw-sync":
          outcome = swSyncStep(kernel, (a.task as Task | undefined) ?? task, a);
          break;
        case "sync-file":
          outcome = syncFileStep(kernel, (a.task as Task | undefined) ?? task, a);
          break;
        case "drm-device":
          if (!loaded.has("drm")) {
            kernel.modprobe(drmModule);
            loaded.add("drm");
          }
          outcome.value = drmTestDevice(kernel, { name: (a.name as string | undefined) ?? "drm-test", ...(a.fenceError !== undefined ? { unplugFenceError: a.fenceError as Errno | null } : {}) });
          break;
        case "syncobj":
          outcome = syncobjStep(kernel, (a.task as Task | undefined) ?? task, a);
          break;
      }
    } catch (e) {
      if (e instanceof KernelError) outcome = { errno: e.errno };
      else if (e instanceof Error && e.name === "UserSignal") outcome = { errno: (e as Error & { signal: string }).signal };
      else outcome = { errno: `error: ${e instanceof Error ? e.message : String(e)}` };
    }
    const problem = checkExpect(expect, outcome);
    const name = typeof raw.as === "string" ? raw.as : typeof a.as === "string" ? a.as : undefined;
    if (name && outcome.errno === undefined) vars.set(name, kind === "set" ? a.value : outcome.value);
    steps.push({ index: index + 1, step: kind, ok: !problem, detail: problem ?? (outcome.errno ? `${outcome.errno} (expected)` : "ok") });
  }
  kernel.exitTask(task, 0);
  const checks: string[] = [];
  if (scn.checks?.leaks !== false && !kernel.leakReport().empty) checks.push(`leak report not empty:\n${kernel.leakReport().text()}`);
  if (scn.checks?.lockdep !== false) for (const r of kernel.lockdep.reports()) checks.push(`lockdep: ${r.message.split("\n")[0]}`);
  return { name: scn.name, passed: steps.every((s) => s.ok) && !checks.length, steps, checks };
}

function fail(m: string): never {
  throw new Error(m);
}

/** Reads and runs a scenario file from disk. */
export async function runScenarioPath(path: string, opts: { cwd?: string } = {}): Promise<ScenarioResult> {
  return runScenarioFile(parseScenarioFile(readFileSync(path, "utf8"), path), opts);
}



