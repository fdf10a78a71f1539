import {
  DmaFault,
  Kernel,
  KernelError,
  buildTopology,
  dmaBufAttachmentIsDynamic,
  registerTraceDmaBufMatchMapping,
  topologyKernelOptions,
  type DmaBufMappingMatch,
  type DmaBufMatchTrace,
  type ConformanceScenario,
  type Errno,
  type ExportedBuffer,
  type ExporterFixture,
  type FixtureContext,
  type ImportedBuffer,
  type ImporterFixture,
  type KernelModule,
} from "@dmabuf-sdk/dmabuf-core";
import type { Actual, LifecycleStep, Negotiation, NegotiationTry } from "./types.js";

/** Size of the buffer every pair exchanges: 16 pages, so lists have several entries. */
export const CASE_BUFFER_SIZE = 64n * 1024n;

/** What running one case produced, before the oracle looks at it. */
export interface CaseRun {
  readonly actual: Actual;
  /** Broken universal invariants (data path, leaks, locks, …): each fails the case. */
  readonly violations: string[];
  readonly steps: string[];
  readonly details?: Record<string, string>;
  /** The case's kernel log, as `dmesg` prints it. */
  readonly log: string[];
  /** The negotiation of the importer's attach, from the `dma_buf_match_mapping` tracepoint. */
  readonly negotiation?: Negotiation;
}

function fieldText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "object") return typeof (v as { name?: unknown }).name === "string" ? (v as { name: string }).name : undefined;
  return String(v);
}

/** An entry as reports show it: the type's short name and its data (`SGT exporterRequiresP2p=… exportingP2pDevice=0000:03:00.0`). */
export function describeEntry(m: DmaBufMappingMatch): string {
  const data =
    m.data && typeof m.data === "object"
      ? Object.entries(m.data as Record<string, unknown>)
          .map(([k, v]) => [k, fieldText(v)] as const)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${v}`)
      : [];
  return [m.type.shortName ?? m.type.name, ...data].join(" ");
}

/** The report's view of a match trace: a refusal that logged a P2P distance failure is `p2p-distance`. */
export function negotiationOf(t: DmaBufMatchTrace): Negotiation {
  const tries = t.tries.map((x): NegotiationTry => {
    const why = [...x.log, ...(x.errno ? [`-${x.errno}`] : [])].join("; ") || undefined;
    const verdict =
      x.verdict === "refused"
        ? x.log.some((l) => l.includes("peer-to-peer DMA"))
          ? "p2p-distance"
          : "match-refused"
        : x.verdict === "aborted"
          ? "match-aborted"
          : x.verdict;
    return { exp: x.exp, imp: x.imp, verdict, ...(why ? { why } : {}) };
  });
  return { exporter: t.exporter.map(describeEntry), importer: t.importer.map(describeEntry), tries };
}

function dmesg(k: Kernel): string[] {
  const text = k.printk.dmesg();
  return text ? text.split("\n") : [];
}

class Violation extends Error {}

function shortType(name: string | undefined, shortName: string | undefined): string | undefined {
  return shortName ?? name;
}

function errnoOf(e: unknown): Errno | undefined {
  return e instanceof KernelError ? e.errno : undefined;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Boots the case's machine and loads its modules; module load failures are setup failures. */
function boot(topologyName: Parameters<typeof topologyKernelOptions>[0], seed: number, modules: readonly KernelModule[]): FixtureContext {
  const kernel = new Kernel({ ...topologyKernelOptions(topologyName), seed });
  const topology = buildTopology(kernel, topologyName);
  for (const m of modules) kernel.modprobe(m);
  const task = kernel.fork({ comm: "conformance" });
  // Whatever the machine and its modules hold now is not the case's to release.
  kernel.leaks.setBaseline();
  return { kernel, topology, task };
}

/** A pattern that differs per offset and per pass, from the kernel's seeded randomness. */
function pattern(k: Kernel, len: number): Uint8Array {
  return k.random.getRandomBytes(len);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The universal checks after everything was released. */
function checkInvariants(k: Kernel, violations: string[]): void {
  const leaks = k.leakReport();
  if (!leaks.empty) violations.push(`leak report not empty after release:\n${leaks.text()}`);
  for (const r of k.lockdep.reports()) violations.push(`lockdep: ${r.message.split("\n")[0]} [${r.classes.join(" -> ")}]`);
  for (const w of k.warnings()) violations.push(`WARN: ${w}`);
  for (const o of k.oopses()) violations.push(`oops in ${o.syscall}: ${describe(o.error)}`);
}

/**
 * The lifecycle scenario of one (exporter, importer, topology) case: attach →
 * map → data path both ways → exporter-side invalidation or revoke → stale
 * access and remap (or the expected errno, restore, remap) → unmap → detach →
 * release, then the leak report and lockdep must be clean.
 */
export function runPairCase(topologyName: Parameters<typeof topologyKernelOptions>[0], exporter: ExporterFixture, importer: ImporterFixture, seed: number): CaseRun {
  const actual: Actual = {};
  const violations: string[] = [];
  const steps: string[] = [];
  const stop = (step: LifecycleStep, e: unknown): void => {
    actual.errno = errnoOf(e) ?? "EIO";
    actual.step = step;
    steps.push(`${step}: ${describe(e)}`);
    if (!(e instanceof KernelError)) violations.push(`${step} threw ${describe(e)} instead of a KernelError`);
  };

  let ctx: FixtureContext;
  try {
    ctx = boot(topologyName, seed, [...exporter.modules, ...importer.modules]);
  } catch (e) {
    stop("setup", e);
    violations.push(`setup failed: ${describe(e)}`);
    return { actual, violations, steps, log: [] };
  }
  const k = ctx.kernel;
  let buf: ExportedBuffer | undefined;
  let imp: ImportedBuffer | undefined;
  let importing = false;
  let trace: DmaBufMatchTrace | undefined;
  const untrace = registerTraceDmaBufMatchMapping(k, (t) => {
    if (importing && t.dmabuf === buf?.dmabuf) trace = t;
  });
  // Early returns hand this out before the finally below fills in the log and the trace.
  const result: { actual: Actual; violations: string[]; steps: string[]; log: string[]; negotiation?: Negotiation } = { actual, violations, steps, log: [] };

  const dataPath = (pass: string): boolean => {
    const len = Number(CASE_BUFFER_SIZE);
    const down = pattern(k, len);
    buf!.write(0n, down);
    let got: Uint8Array;
    try {
      got = imp!.dmaRead(0n, len);
    } catch (e) {
      if (e instanceof DmaFault) {
        stop("dma", e);
        return false;
      }
      throw e;
    }
    if (!sameBytes(got, down)) throw new Violation(`data path (${pass}): the importer's DMA read other bytes than the exporter wrote`);
    steps.push(`dma (${pass}): importer read ${len} bytes written by the exporter`);
    if (imp!.dmaWrite) {
      const up = pattern(k, 4096);
      const at = CASE_BUFFER_SIZE - 4096n - 512n;
      imp!.dmaWrite(at, up);
      if (!sameBytes(buf!.read(at, up.length), up)) throw new Violation(`data path (${pass}): the exporter read other bytes than the importer's DMA wrote`);
      steps.push(`dma (${pass}): exporter read ${up.length} bytes written by the importer`);
    }
    return true;
  };

  try {
    try {
      buf = exporter.export(ctx, CASE_BUFFER_SIZE);
      steps.push(`export: ${exporter.name} exported ${CASE_BUFFER_SIZE} bytes (${buf.dmabuf.expName})`);
    } catch (e) {
      stop("export", e);
      return result;
    }
    try {
      importing = true;
      imp = importer.import(ctx, buf);
    } catch (e) {
      stop("attach", e);
      return result;
    } finally {
      importing = false;
    }
    const mt = imp.attachment.mapType;
    actual.mapType = shortType(mt?.type.name, mt?.type.shortName);
    steps.push(`attach: negotiated ${mt?.type.name ?? "nothing"}${dmaBufAttachmentIsDynamic(imp.attachment) ? " (dynamic)" : " (static)"}`);
    try {
      imp.map();
    } catch (e) {
      stop("map", e);
      return result;
    }
    actual.p2p = imp.route() ?? null;
    // An importer may fall back to another type while mapping (Xe: IOV → SGT): report what is in use.
    const used = imp.attachment.mapType;
    if (used && used !== mt) {
      actual.mapType = shortType(used.type.name, used.type.shortName);
      steps.push(`map: fell back to ${used.type.name}`);
    }
    steps.push(`map: mapped${actual.p2p ? ` via ${actual.p2p}` : ""}`);
    if (!dataPath("first")) return result;

    const dynamic = dmaBufAttachmentIsDynamic(imp.attachment);
    if (buf.invalidate && dynamic) {
      const outcome = buf.invalidate();
      steps.push(`invalidate: ${outcome.kind}, then ${outcome.remap === "remap" ? "remap" : `maps fail with ${outcome.remap}`}`);
      if (imp.attachment.importerOps?.invalidateMappings && imp.mapped) {
        throw new Violation(`after ${outcome.kind}: the importer kept its mapping (invalidate_mappings did not drop it)`);
      }
      if (outcome.remap !== "remap") {
        if (imp.staleDmaRead) {
          let reached = false;
          try {
            imp.staleDmaRead(64);
            reached = true;
          } catch (e) {
            if (!(e instanceof DmaFault)) throw e;
            steps.push(`stale access: DMA at the revoked addresses faults (${e.reason})`);
          }
          if (reached) throw new Violation(`after ${outcome.kind}: DMA at the revoked addresses still reached memory`);
        }
        let remapErr: unknown;
        try {
          imp.map();
        } catch (e) {
          remapErr = e;
        }
        if (errnoOf(remapErr) !== outcome.remap) {
          throw new Violation(`while revoked: map ${remapErr ? `failed with ${errnoOf(remapErr) ?? describe(remapErr)}` : "succeeded"}, expected ${outcome.remap}`);
        }
        steps.push(`remap while revoked: ${outcome.remap}`);
        if (!buf.restore) throw new Violation(`${exporter.name}: a revoke without restore()`);
        buf.restore();
        steps.push("restore: exporter back");
      }
      try {
        imp.map();
      } catch (e) {
        stop("remap", e);
        return result;
      }
      if (!dataPath("after invalidation")) return result;
    } else if (buf.invalidate) {
      steps.push("invalidate: skipped (static importer: pinned, nothing to invalidate)");
    }
    imp.unmap();
    steps.push("unmap");
  } catch (e) {
    if (e instanceof Violation) violations.push(e.message);
    else {
      violations.push(`unexpected ${describe(e)}`);
      actual.errno ??= errnoOf(e);
    }
  } finally {
    try {
      imp?.detach();
      if (imp) steps.push("detach");
    } catch (e) {
      violations.push(`detach threw ${describe(e)}`);
    }
    try {
      buf?.release();
      if (buf) steps.push("release");
    } catch (e) {
      violations.push(`release threw ${describe(e)}`);
    }
    k.exitTask(ctx.task, 0);
    checkInvariants(k, violations);
    untrace();
    result.log.push(...dmesg(k));
    if (trace) result.negotiation = negotiationOf(trace);
  }
  return result;
}

/** Runs a scenario case on a fresh kernel and checks the invariants afterwards. */
export function runScenarioCase(scenario: ConformanceScenario, seed: number): CaseRun {
  const actual: Actual = {};
  const violations: string[] = [];
  const steps: string[] = [];
  let ctx: FixtureContext;
  try {
    ctx = boot(scenario.topology, seed, scenario.modules);
  } catch (e) {
    violations.push(`setup failed: ${describe(e)}`);
    return { actual, violations, steps, log: [] };
  }
  let details: Record<string, string> | undefined;
  try {
    const r = scenario.run(ctx);
    actual.outcome = r.outcome;
    if (r.details) details = Object.fromEntries(Object.entries(r.details).map(([key, v]) => [key, String(v)]));
    steps.push(`scenario: ${r.outcome}`);
  } catch (e) {
    actual.step = "scenario";
    actual.errno = errnoOf(e);
    violations.push(`scenario threw ${describe(e)}`);
  } finally {
    ctx.kernel.exitTask(ctx.task, 0);
    checkInvariants(ctx.kernel, violations);
  }
  return { actual, violations, steps, details, log: dmesg(ctx.kernel) };
}
