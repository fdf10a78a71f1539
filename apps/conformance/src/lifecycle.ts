import {
  DmaFault,
  Kernel,
  KernelError,
  buildTopology,
  dmaBufAttachmentIsDynamic,
  topologyKernelOptions,
  type ConformanceScenario,
  type Errno,
  type ExportedBuffer,
  type ExporterFixture,
  type FixtureContext,
  type ImportedBuffer,
  type ImporterFixture,
  type KernelModule,
} from "@dmabuf-sdk/dmabuf-core";
import type { Actual, LifecycleStep } from "./types.js";

/** Size of the buffer every pair exchanges: 16 pages, so lists have several entries. */
export const CASE_BUFFER_SIZE = 64n * 1024n;

/** What running one case produced, before the oracle looks at it. */
export interface CaseRun {
  readonly actual: Actual;
  /** Broken universal invariants (data path, leaks, locks, …): each fails the case. */
  readonly violations: string[];
  readonly steps: string[];
  readonly details?: Record<string, string>;
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
    return { actual, violations, steps };
  }
  const k = ctx.kernel;
  let buf: ExportedBuffer | undefined;
  let imp: ImportedBuffer | undefined;

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
      return { actual, violations, steps };
    }
    try {
      imp = importer.import(ctx, buf);
    } catch (e) {
      stop("attach", e);
      return { actual, violations, steps };
    }
    const mt = imp.attachment.mapType;
    actual.mapType = shortType(mt?.type.name, mt?.type.shortName);
    steps.push(`attach: negotiated ${mt?.type.name ?? "nothing"}${dmaBufAttachmentIsDynamic(imp.attachment) ? " (dynamic)" : " (static)"}`);
    try {
      imp.map();
    } catch (e) {
      stop("map", e);
      return { actual, violations, steps };
    }
    actual.p2p = imp.route() ?? null;
    // An importer may fall back to another type while mapping (Xe: IOV → SGT): report what is in use.
    const used = imp.attachment.mapType;
    if (used && used !== mt) {
      actual.mapType = shortType(used.type.name, used.type.shortName);
      steps.push(`map: fell back to ${used.type.name}`);
    }
    steps.push(`map: mapped${actual.p2p ? ` via ${actual.p2p}` : ""}`);
    if (!dataPath("first")) return { actual, violations, steps };

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
        return { actual, violations, steps };
      }
      if (!dataPath("after invalidation")) return { actual, violations, steps };
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
  }
  return { actual, violations, steps };
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
    return { actual, violations, steps };
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
  return { actual, violations, steps, details };
}

/** The members of the unplug family: which side's device leaves the bus mid-lifecycle. */
export type UnplugFamily = "unplug-exporter" | "unplug-importer";

/**
 * The unplug family of one pair (syncobj-unplug.md 7.3–7.5): attach → map →
 * data path, then the exporter's (or the importer's) device is hot-unplugged.
 * Exporter gone: a dynamic importer must have been invalidated; its next map
 * either works and reads the same bytes (`'remap'`: the buffer survives in
 * system memory) or fails for good with an errno (stale DMA faults); a
 * static importer keeps its pinned mapping (`'kept'`). Importer gone: the
 * exporter's buffer stays valid (`'ok'`). Then detach, release, and the
 * leak report and lockdep must be clean.
 */
export function runUnplugCase(topologyName: Parameters<typeof topologyKernelOptions>[0], exporter: ExporterFixture, importer: ImporterFixture, family: UnplugFamily, seed: number): CaseRun {
  const actual: Actual = {};
  const violations: string[] = [];
  const steps: string[] = [];
  const stop = (step: LifecycleStep, e: unknown): void => {
    actual.errno = errnoOf(e) ?? "EIO";
    actual.step = step;
    steps.push(`${step}: ${describe(e)}`);
    if (!(e instanceof KernelError) && !(e instanceof DmaFault)) violations.push(`${step} threw ${describe(e)} instead of a KernelError`);
  };
  let ctx: FixtureContext;
  try {
    ctx = boot(topologyName, seed, [...exporter.modules, ...importer.modules]);
  } catch (e) {
    stop("setup", e);
    violations.push(`setup failed: ${describe(e)}`);
    return { actual, violations, steps };
  }
  const k = ctx.kernel;
  const len = Number(CASE_BUFFER_SIZE);
  let buf: ExportedBuffer | undefined;
  let imp: ImportedBuffer | undefined;
  try {
    try {
      buf = exporter.export(ctx, CASE_BUFFER_SIZE);
    } catch (e) {
      stop("export", e);
      return { actual, violations, steps };
    }
    try {
      imp = importer.import(ctx, buf);
    } catch (e) {
      stop("attach", e);
      return { actual, violations, steps };
    }
    try {
      imp.map();
    } catch (e) {
      stop("map", e);
      return { actual, violations, steps };
    }
    const mt = imp.attachment.mapType;
    actual.mapType = shortType(mt?.type.name, mt?.type.shortName);
    actual.p2p = imp.route() ?? null;
    const data = pattern(k, len);
    buf.write(0n, data);
    try {
      if (!sameBytes(imp.dmaRead(0n, len), data)) throw new Violation("data path before the unplug: the importer read other bytes");
    } catch (e) {
      if (e instanceof DmaFault) {
        stop("dma", e);
        return { actual, violations, steps };
      }
      throw e;
    }
    steps.push(`map + dma: ${len} bytes`);
    if (family === "unplug-exporter") {
      if (!buf.unplug) throw new Violation(`${exporter.name} declares hotUnplug but its buffer has no unplug()`);
      const expected = buf.unplug();
      steps.push(`unplug: the exporter's device left the bus (maps afterwards: ${expected.remap})`);
      if (imp.attachment.importerOps?.invalidateMappings && imp.mapped) throw new Violation("after the exporter's unplug the dynamic importer kept its mapping");
      if (imp.mapped) {
        if (!sameBytes(imp.dmaRead(0n, len), data)) throw new Violation("the static importer's pinned mapping no longer reaches the bytes");
        actual.outcome = "kept";
      } else {
        try {
          imp.map();
          if (!sameBytes(imp.dmaRead(0n, len), data)) throw new Violation("after the exporter's unplug the remapped buffer holds other bytes");
          actual.outcome = "remap";
        } catch (e) {
          if (e instanceof Violation) throw e;
          actual.outcome = errnoOf(e) ?? describe(e);
          if (imp.staleDmaRead) {
            let reached = false;
            try {
              imp.staleDmaRead(64);
              reached = true;
            } catch (x) {
              if (!(x instanceof DmaFault)) throw x;
            }
            if (reached) throw new Violation("after the exporter's unplug DMA at the old addresses still reached memory");
          }
        }
        if (actual.outcome !== expected.remap) violations.push(`the exporter said maps give ${expected.remap} after its unplug, the importer got ${actual.outcome}`);
      }
      steps.push(`after unplug: ${actual.outcome}`);
    } else {
      if (!imp.unplug) throw new Violation(`${importer.name} declares hotUnplug but its import has no unplug()`);
      imp.unplug();
      steps.push("unplug: the importer's device left the bus");
      const again = pattern(k, 4096);
      buf.write(0n, again);
      actual.outcome = sameBytes(buf.read(0n, again.length), again) ? "ok" : "exporter buffer lost";
      steps.push(`exporter buffer after the importer's unplug: ${actual.outcome}`);
    }
  } catch (e) {
    if (e instanceof Violation) violations.push(e.message);
    else {
      violations.push(`unexpected ${describe(e)}`);
      actual.errno ??= errnoOf(e);
    }
  } finally {
    try {
      imp?.detach();
    } catch (e) {
      violations.push(`detach threw ${describe(e)}`);
    }
    try {
      buf?.release();
    } catch (e) {
      violations.push(`release threw ${describe(e)}`);
    }
    k.exitTask(ctx.task, 0);
    checkInvariants(k, violations);
  }
  return { actual, violations, steps };
}
