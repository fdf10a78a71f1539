// The step kinds of a scenario file: one table entry per kind, with the JSON Schema of its arguments and what it does.
import { pathToFileURL } from "node:url";
import {
  LibSync,
  SW_SYNC_PATH,
  UserStruct,
  errnoName,
  swSyncDebugfsInit,
  type AllocSite,
  type Errno,
  type ExportedBuffer,
  type ExporterFixture,
  type FixtureContext,
  type ImportedBuffer,
  type ImporterFixture,
  type Kernel,
  type Task,
  type Topology,
} from "@dmabuf-sdk/dmabuf-core";
import { drmDevUnplug, drmModule, type DrmDevice } from "@dmabuf-sdk/drm";
import { IgtSyncobj, drmTestDevice } from "@dmabuf-sdk/drm/testing";
import { KVM_SCENARIO_STEPS } from "./scenario-kvm-steps.js";

import { IO_URING_STEPS } from "./io-uring-steps.js";

/** A JSON Schema (draft 2020-12) object, as ajv takes it. @public */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** What a step produced: a value (checked against `expect`, bound by `as`) or an errno name. @public */
export interface StepOutcome {
  value?: unknown;
  errno?: string;
}

/** What a step can reach while it runs. @public */
export interface StepContext extends FixtureContext {
  readonly kernel: Kernel;
  readonly topology: Topology;
  /** The scenario's own process. */
  readonly task: Task;
  exporter(name: string): ExporterFixture;
  importer(name: string): ImporterFixture;
  /** `modprobe`s the modules a fixture needs, once each. */
  load(modules: readonly { readonly name: string }[]): void;
  /** Resolves a package the way the scenario's packages were (from the working directory). */
  resolve(pkg: string): string;
  /** Modules of `call` steps imported before the run (by package name): such a call runs synchronously. */
  readonly imported?: ReadonlyMap<string, Record<string, unknown>>;
}

/** One step kind: its documentation line, the schema of its arguments and its action. @public */
export interface StepDefinition {
  readonly summary: string;
  /** Schema of the step's argument object (`$name` references allowed where a value is). */
  readonly args: JsonSchema;
  run(args: Readonly<Record<string, unknown>>, ctx: StepContext): StepOutcome | Promise<StepOutcome>;
}

/** A `$name` or `$name.field` reference to an earlier step's result. */
const VAR: JsonSchema = { type: "string", pattern: "^\\$[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)*$" };
const orVar = (s: JsonSchema): JsonSchema => ({ anyOf: [s, VAR] });
/** A number, or a bigint written as a string ending in `n` (`"0x4000000000n"`). */
const NUM: JsonSchema = orVar({ anyOf: [{ type: "integer" }, { type: "string", pattern: "^(0x[0-9a-fA-F]+|[0-9]+)n$" }] });
/** Bytes: a string (UTF-8) or a list of byte values. */
const BYTES: JsonSchema = orVar({ anyOf: [{ type: "string" }, { type: "array", items: { type: "integer", minimum: 0, maximum: 255 } }] });
const obj = (properties: Record<string, JsonSchema>, required: readonly string[] = []): JsonSchema => ({ type: "object", properties, required, additionalProperties: false });
const BUFFER = obj({ buffer: VAR }, ["buffer"]);
const IMPORT = obj({ import: VAR }, ["import"]);
/** A uAPI struct: `{ size, fields: [{ offset, type: u32|s32|u64, value }] }`. */
const STRUCT: JsonSchema = obj(
  { size: { type: "integer", minimum: 0 }, fields: { type: "array", items: obj({ offset: { type: "integer", minimum: 0 }, type: { enum: ["u32", "s32", "u64"] }, value: NUM }, ["offset", "type", "value"]) } },
  ["size"],
);
const SYSCALLS = ["open", "close", "ioctl", "mmap", "munmap", "eventfd", "read", "poll", "pidfd_open", "peek", "poke"] as const;

function big(v: unknown): bigint {
  return typeof v === "bigint" ? v : BigInt(v as number | string);
}

/** Bytes of a string (UTF-8), a byte list or a Uint8Array. */
export function bytesOf(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return new TextEncoder().encode(v);
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  throw new Error(`cannot make bytes of ${JSON.stringify(v)}`);
}

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

function fail(m: string): never {
  throw new Error(m);
}

/** Runs a syscall of `task`; a negative return becomes an errno. */
function syscall(task: Task, a: Readonly<Record<string, unknown>>): StepOutcome {
  const sys = task.sys;
  let r: number | bigint | Uint8Array;
  switch (a.call as (typeof SYSCALLS)[number]) {
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
      const n = sys.read(Number(a.fd), buf);
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
  }
  if (typeof r === "number" && r < 0) return { errno: errnoName(r) ?? String(r) };
  if (typeof r === "bigint" && r < 0n) return { errno: errnoName(Number(r)) ?? String(r) };
  return { value: r };
}

/** Turns a helper's `-errno`/value result into a step outcome. */
function ret(v: unknown): StepOutcome {
  if (typeof v === "number" && v < 0) return { errno: errnoName(v) ?? String(v) };
  if (typeof v === "bigint" && v < 0n) return { errno: errnoName(Number(v)) ?? String(v) };
  return { value: v };
}

const SW_SYNC_OPS = ["timeline", "fence", "inc"] as const;

/** `sw-sync` steps (the debugfs timeline file is created on first use). */
function swSyncStep(kernel: Kernel, task: Task, a: Readonly<Record<string, unknown>>): StepOutcome {
  if (!kernel.devfs.lookup(SW_SYNC_PATH)) swSyncDebugfsInit(kernel);
  const lib = new LibSync(kernel, task.sys);
  switch (a.op as (typeof SW_SYNC_OPS)[number]) {
    case "timeline":
      return ret(lib.timelineCreate());
    case "fence":
      return ret(lib.createFence(Number(a.timeline), Number(a.value)));
    case "inc":
      return ret(lib.inc(Number(a.timeline), Number(a.count ?? 1)));
  }
}

const SYNC_FILE_OPS = ["merge", "info", "status", "wait", "set-deadline"] as const;

/** `sync-file` steps on a sync_file fd. */
function syncFileStep(kernel: Kernel, task: Task, a: Readonly<Record<string, unknown>>): StepOutcome {
  const lib = new LibSync(kernel, task.sys);
  switch (a.op as (typeof SYNC_FILE_OPS)[number]) {
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
  }
}

const SYNCOBJ_OPS = [
  "create",
  "destroy",
  "handle-to-fd",
  "fd-to-handle",
  "import-sync-file",
  "export-sync-file",
  "wait",
  "timeline-wait",
  "reset",
  "signal",
  "timeline-signal",
  "query",
  "transfer",
  "eventfd",
] as const;

/** `syncobj` steps on a DRM fd (`fd`), with igt's `lib/igt_syncobj.c` helpers' arguments. */
function syncobjStep(kernel: Kernel, task: Task, a: Readonly<Record<string, unknown>>): StepOutcome {
  const so = new IgtSyncobj(kernel, task.sys, Number(a.fd));
  const handles = ((a.handles as unknown[] | undefined) ?? [a.handle]).map(Number);
  const points = a.points === undefined ? null : (a.points as unknown[]).map(big);
  const flags = Number(a.flags ?? 0);
  switch (a.op as (typeof SYNCOBJ_OPS)[number]) {
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
  }
}

/**
 * Every step kind a scenario file may use. Later features add a row (its
 * schema goes into `schema/scenario.schema.json` through `scenarioSchema()`).
 * @public
 */
export const SCENARIO_STEPS: Readonly<Record<string, StepDefinition>> = {
  export: {
    summary: "export a buffer with an exporter fixture (`fixture`, `size` in bytes, default 64 KiB)",
    args: obj({ fixture: { type: "string" }, size: NUM }, ["fixture"]),
    run(a, ctx) {
      const f = ctx.exporter(a.fixture as string);
      ctx.load(f.modules);
      return { value: f.export(ctx, big(a.size ?? 65536)) };
    },
  },
  import: {
    summary: "import `buffer` with an importer fixture (attach: the negotiation runs here)",
    args: obj({ fixture: { type: "string" }, buffer: VAR }, ["fixture", "buffer"]),
    run(a, ctx) {
      const f = ctx.importer(a.fixture as string);
      ctx.load(f.modules);
      return { value: f.import(ctx, a.buffer as ExportedBuffer) };
    },
  },
  map: {
    summary: "map an import; the value is the negotiated type's short name",
    args: IMPORT,
    run(a) {
      const imp = a.import as ImportedBuffer;
      imp.map();
      return { value: imp.attachment?.mapType?.type.shortName ?? imp.attachment?.mapType?.type.name };
    },
  },
  unmap: { summary: "unmap an import", args: IMPORT, run: (a) => ((a.import as ImportedBuffer).unmap(), {}) },
  detach: { summary: "detach an import", args: IMPORT, run: (a) => ((a.import as ImportedBuffer).detach(), {}) },
  write: {
    summary: "write `data` into the buffer through the exporter's own path",
    args: obj({ buffer: VAR, offset: NUM, data: BYTES }, ["buffer", "data"]),
    run: (a) => ((a.buffer as ExportedBuffer).write(big(a.offset ?? 0), bytesOf(a.data)), {}),
  },
  read: {
    summary: "read `length` bytes through the exporter's own path",
    args: obj({ buffer: VAR, offset: NUM, length: NUM }, ["buffer", "length"]),
    run: (a) => ({ value: (a.buffer as ExportedBuffer).read(big(a.offset ?? 0), Number(a.length)) }),
  },
  "dma-read": {
    summary: "the importer's device DMA-reads `length` bytes",
    args: obj({ import: VAR, offset: NUM, length: NUM }, ["import", "length"]),
    run: (a) => ({ value: (a.import as ImportedBuffer).dmaRead(big(a.offset ?? 0), Number(a.length)) }),
  },
  "dma-write": {
    summary: "the importer's device DMA-writes `data`",
    args: obj({ import: VAR, offset: NUM, data: BYTES }, ["import", "data"]),
    run(a) {
      const imp = a.import as ImportedBuffer;
      if (!imp.dmaWrite) fail("this importer cannot DMA-write");
      imp.dmaWrite(big(a.offset ?? 0), bytesOf(a.data));
      return {};
    },
  },
  invalidate: {
    summary: "exporter-side move or revoke; the value is what a new map does (`remap` or an errno)",
    args: BUFFER,
    run(a) {
      const b = a.buffer as ExportedBuffer;
      if (!b.invalidate) fail("exporter has no invalidation");
      return { value: b.invalidate().remap };
    },
  },
  restore: { summary: "exporter back after a revoke", args: BUFFER, run: (a) => ((a.buffer as ExportedBuffer).restore?.(), {}) },
  release: { summary: "release the exporter's buffer", args: BUFFER, run: (a) => ((a.buffer as ExportedBuffer).release(), {}) },
  syscall: {
    summary: `a uAPI call of a process (\`call\`: ${SYSCALLS.join(", ")}); a negative return is its errno`,
    args: obj(
      {
        call: { enum: SYSCALLS },
        task: VAR,
        path: { type: "string" },
        flags: NUM,
        fd: NUM,
        cmd: NUM,
        arg: { anyOf: [NUM, { type: "null" }] },
        struct: STRUCT,
        length: NUM,
        prot: NUM,
        offset: NUM,
        addr: NUM,
        pid: NUM,
        data: BYTES,
        initval: NUM,
        events: NUM,
        timeout: NUM,
      },
      ["call"],
    ),
    run: (a, ctx) => syscall((a.task as Task | undefined) ?? ctx.task, a),
  },
  call: {
    summary: 'an exported function of a loaded package (`fn: "<package>#<export>"`, `args`)',
    args: obj({ fn: { type: "string", pattern: "^[^#]+#[A-Za-z_$][A-Za-z0-9_$]*$" }, args: { type: "array" } }, ["fn"]),
    run(a, ctx) {
      const [pkg, name] = String(a.fn).split("#");
      const call = (mod: Record<string, unknown>): StepOutcome => {
        const fn = mod[name!];
        if (typeof fn !== "function") fail(`${String(a.fn)} is not an exported function`);
        return { value: (fn as (...args: unknown[]) => unknown)(...((a.args as unknown[] | undefined) ?? [])) };
      };
      const pre = ctx.imported?.get(pkg!);
      return pre ? call(pre) : import(pathToFileURL(ctx.resolve(pkg!)).href).then((m) => call(m as Record<string, unknown>));
    },
  },
  fault: {
    summary: "inject a fault (`site`, `nth`, `what`, `times`), as the kernel's fault-injection knobs",
    args: obj({ site: { type: "string" }, nth: { type: "integer", minimum: 1 }, what: { type: "string" }, times: { type: "integer", minimum: 1 } }),
    run(a, ctx) {
      ctx.kernel.faults.inject({ site: a.site as AllocSite | undefined, nth: a.nth as number | undefined, what: a.what as string | undefined, times: a.times as number | undefined });
      return {};
    },
  },
  dmesg: {
    summary: "the kernel log holds a line containing `contains` (otherwise ENOENT)",
    args: obj({ contains: { type: "string" } }, ["contains"]),
    run: (a, ctx) => (ctx.kernel.printk.contains(String(a.contains)) ? { value: true } : { errno: "ENOENT" }),
  },
  fork: {
    summary: "fork a child of the scenario's process (`comm`)",
    args: obj({ comm: { type: "string" } }),
    run: (a, ctx) => ({ value: ctx.kernel.fork({ comm: (a.comm as string | undefined) ?? "child", parent: ctx.task }) }),
  },
  exit: {
    summary: "a process exits (`task`, default the scenario's own; `code`)",
    args: obj({ task: VAR, code: { type: "integer" } }),
    run(a, ctx) {
      ctx.kernel.exitTask((a.task as Task | undefined) ?? ctx.task, Number(a.code ?? 0));
      return {};
    },
  },
  unplug: {
    summary:
      "hot-unplug a device: the exporter's (`buffer`; the value is what maps do afterwards: `remap` or `revoked <errno>`), the importer's (`import`), or a DRM device (`device`: drm_dev_unplug, then the driver drops its reference; open files keep theirs)",
    args: { type: "object", properties: { buffer: VAR, import: VAR, device: VAR }, minProperties: 1, maxProperties: 1, additionalProperties: false },
    run(a) {
      if (a.buffer) {
        const b = a.buffer as ExportedBuffer;
        if (!b.unplug) fail("exporter has no unplug");
        const r = b.unplug().remap;
        return { value: r === "remap" ? r : `revoked ${r}` };
      }
      if (a.import) {
        const imp = a.import as ImportedBuffer;
        if (!imp.unplug) fail("importer has no unplug");
        imp.unplug();
        return {};
      }
      const dev = a.device as DrmDevice;
      drmDevUnplug(dev);
      dev.put();
      return {};
    },
  },
  "drm-device": {
    summary: "a registered DRM test device (`/dev/dri/card<N>`, `renderD<N>`) with syncobjs; `fenceError`: what its fences signal with on unplug (an errno name or null; default ENODEV)",
    args: obj({ name: { type: "string" }, fenceError: { anyOf: [{ type: "string", pattern: "^E[A-Z0-9]+$" }, { type: "null" }] } }),
    run(a, ctx) {
      ctx.load([drmModule]);
      return { value: drmTestDevice(ctx.kernel, { name: (a.name as string | undefined) ?? "drm-test", ...(a.fenceError !== undefined ? { unplugFenceError: a.fenceError as Errno | null } : {}) }) };
    },
  },
  "sw-sync": {
    summary: `sw_sync's debugfs timeline (\`op\`: ${SW_SYNC_OPS.join(", ")}): a timeline fd, a fence fd at \`value\` on \`timeline\`, or advance it by \`count\``,
    args: obj({ op: { enum: SW_SYNC_OPS }, task: VAR, timeline: NUM, value: NUM, count: NUM }, ["op"]),
    run: (a, ctx) => swSyncStep(ctx.kernel, (a.task as Task | undefined) ?? ctx.task, a),
  },
  "sync-file": {
    summary: `a sync_file ioctl (\`op\`: ${SYNC_FILE_OPS.join(", ")}) on \`fd\`; \`status\` is 1 signalled, 0 pending, or the fence's negative error`,
    args: obj({ op: { enum: SYNC_FILE_OPS }, task: VAR, fd: NUM, fd2: NUM, name: { type: "string" }, timeout: NUM, deadline: NUM }, ["op", "fd"]),
    run: (a, ctx) => syncFileStep(ctx.kernel, (a.task as Task | undefined) ?? ctx.task, a),
  },
  syncobj: {
    summary: `a DRM syncobj ioctl on the DRM fd \`fd\` (\`op\`: ${SYNCOBJ_OPS.join(", ")}), with igt's helper arguments; waits give the first signalled index`,
    args: obj(
      {
        op: { enum: SYNCOBJ_OPS },
        task: VAR,
        fd: NUM,
        handle: NUM,
        handles: { type: "array", items: NUM },
        points: { type: "array", items: NUM },
        point: NUM,
        flags: NUM,
        timeout: NUM,
        syncobjFd: NUM,
        syncFile: NUM,
        dst: NUM,
        dstPoint: NUM,
        src: NUM,
        srcPoint: NUM,
        eventfd: NUM,
      },
      ["op", "fd"],
    ),
    run: (a, ctx) => syncobjStep(ctx.kernel, (a.task as Task | undefined) ?? ctx.task, a),
  },
  set: {
    summary: "bind `value` to the step's `as` name",
    args: obj({ value: {} }, ["value"]),
    run: (a) => ({ value: a.value }),
  },
  ...IO_URING_STEPS,
  ...KVM_SCENARIO_STEPS,
};
