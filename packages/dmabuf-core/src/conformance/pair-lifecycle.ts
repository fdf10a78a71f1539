// The conformance pair lifecycle (export → attach → map → data path → invalidate/revoke → remap → unmap → detach → release → leak check), shared by the conformance app and every package's tests.
import { Buffer } from "node:buffer";
import type { Errno } from "../kernel/errno.js";
import { KernelError } from "../kernel/kernel-error.js";
import { Kernel } from "../kernel/kernel.js";
import type { KernelModule } from "../kernel/module.js";
import { DmaFault } from "../platform/dma-engine.js";
import { buildTopology, topologyKernelOptions, type TopologyName, type TopologyOptions } from "../platform/topologies.js";
import { dmaBufAttachmentIsDynamic } from "../dma-buf/dma-buf.js";
import { registerTraceDmaBufMatchMapping, type DmaBufMatchTrace } from "../dma-buf/dma-buf-mapping.js";
import type { ConformanceScenario, ExportedBuffer, ExporterFixture, FixtureBase, FixtureContext, ImportedBuffer, ImporterFixture, InvalidationOutcome } from "./fixture.js";

/** Size of the buffer every pair exchanges: 16 pages, so lists have several entries. @public */
export const CASE_BUFFER_SIZE = 64n * 1024n;

/** Where a case stopped. @public */
export type LifecycleStep = "setup" | "load" | "export" | "attach" | "map" | "dma" | "invalidate" | "remap" | "restore" | "unmap" | "detach" | "release" | "scenario";

/** What a case actually did (the `actual` of the conformance report). @public */
export interface CaseActual {
  mapType?: string;
  p2p?: string | null;
  errno?: Errno;
  step?: LifecycleStep;
  outcome?: string;
}

/** What running one case produced, before an oracle looks at it. @public */
export interface CaseRun {
  readonly actual: CaseActual;
  /** Broken universal invariants (data path, leaks, locks, …): each fails the case. */
  readonly violations: string[];
  readonly steps: string[];
  /** The exporter-side invalidation the case went through (`'evict'`, `'revoke'`, …), if any. */
  readonly invalidated?: string;
  readonly details?: Record<string, string>;
  /** The case's kernel log, as `dmesg` prints it. */
  readonly log: string[];
  /** Where deferred work and completions ran (pair cases). */
  readonly contexts?: CaseContexts;
  /** The importer's attach as the `dma_buf_match_mapping` tracepoint saw it (pair cases that reached attach). */
  readonly matchTrace?: DmaBufMatchTrace;
}

/** Counts of the execution contexts a case exercised. @public */
export interface CaseContexts {
  /** Work items that ran on a kworker (`workqueue_execute_start` by `kworker/…`). */
  kworkerWork: number;
  /** Trace events emitted in hard-IRQ context on the idle task (device completions, irq_work). */
  hardirqEvents: number;
}

function dmesg(k: Kernel): string[] {
  const text = k.printk.dmesg();
  return text ? text.split("\n") : [];
}

class Violation extends Error {}

function errnoOf(e: unknown): Errno | undefined {
  return e instanceof KernelError ? e.errno : undefined;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The topology options the fixtures of a case ask for (device identities of their drivers), merged in order. @public */
export function caseTopologyOptions(fixtures: readonly FixtureBase[]): TopologyOptions {
  return Object.assign({}, ...fixtures.map((f) => f.topologyOptions ?? {}));
}

/** A module of the case that the loader refused (insmod's errno): an outcome, not a broken machine. */
class LoadRefused extends Error {
  constructor(
    readonly error: KernelError,
    /** The kernel log up to the refusal (the loader's "Unknown symbol" lines). */
    readonly log: string[],
  ) {
    super(error.message);
  }
}

/**
 * Boots the case's machine and loads its modules. A module the loader
 * refuses with an errno (a restricted symbol, a namespace) is the case's
 * outcome at step `load`; anything else going wrong is a setup failure.
 */
function boot(topologyName: TopologyName, seed: number, modules: readonly KernelModule[], topo: TopologyOptions): FixtureContext {
  const kernel = new Kernel({ ...topologyKernelOptions(topologyName), seed });
  const topology = buildTopology(kernel, topologyName, topo);
  for (const m of modules) {
    try {
      kernel.modprobe(m);
    } catch (e) {
      if (e instanceof KernelError) throw new LoadRefused(e, dmesg(kernel));
      throw e;
    }
  }
  const task = kernel.fork({ comm: "conformance" });
  // Whatever the machine and its modules hold now is not the case's to release.
  kernel.leaks.setBaseline();
  return { kernel, topology, task };
}

/** What a case's body threw: a {@link Violation} as it is, anything else as unexpected; its errno, if any. */
function caught(e: unknown, violations: string[]): Errno | undefined {
  if (e instanceof Violation) {
    violations.push(e.message);
    return undefined;
  }
  violations.push(`unexpected ${describe(e)}`);
  return errnoOf(e);
}

/** The end of every case, whatever happened: detach, then release, each recorded or its throw a violation. */
function teardown(imp: ImportedBuffer | undefined, buf: ExportedBuffer | undefined, steps: string[], violations: string[]): void {
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
}

/** Byte equality by memcmp (`Buffer.equals`): a JS loop over every case's 128 KiB was 4% of a matrix run. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** The universal checks after everything was released. */
function checkInvariants(k: Kernel, violations: string[], contexts?: CaseContexts): void {
  // Quiescence first: deferred work (kworkers, device interrupts) that is due runs before the leak check.
  k.clock.flush();
  for (const e of k.clock.pendingEvents().filter((x) => x.atNs <= k.clock.nowNs)) violations.push(`blocked at the end: ${e.label}`);
  if (contexts) {
    contexts.kworkerWork = k.trace.events("workqueue_execute_start").filter((e) => e.comm.startsWith("kworker/")).length;
    contexts.hardirqEvents = k.trace.events().filter((e) => e.comm === "swapper/0").length;
  }
  const leaks = k.leakReport();
  if (!leaks.empty) violations.push(`leak report not empty after release:\n${leaks.text()}`);
  for (const r of k.lockdep.reports()) violations.push(`lockdep: ${r.message.split("\n")[0]} [${r.classes.join(" -> ")}]`);
  for (const w of k.warnings()) violations.push(`WARN: ${w}`);
  for (const o of k.oopses()) violations.push(`oops in ${o.syscall}: ${describe(o.error)}`);
}

/**
 * The lifecycle of one (exporter, importer, topology) case: attach → map →
 * data path both ways → exporter-side invalidation or revoke → stale access
 * and remap (or the expected errno, restore, remap) → unmap → detach →
 * release, then the leak report, lockdep, WARNs and oopses must be clean.
 * @public
 */
export function runPairCase(topologyName: TopologyName, exporter: ExporterFixture, importer: ImporterFixture, seed: number): CaseRun {
  const actual: CaseActual = {};
  const violations: string[] = [];
  const steps: string[] = [];
  let invalidated: string | undefined;
  const log: string[] = [];
  const contexts: CaseContexts = { kworkerWork: 0, hardirqEvents: 0 };
  let matchTrace: DmaBufMatchTrace | undefined;
  // Early returns hand this out before the finally below fills in the log and the trace: build it lazily.
  const result = (): CaseRun => ({
    actual,
    violations,
    steps,
    log,
    ...(invalidated !== undefined ? { invalidated } : {}),
    ...(ctx ? { contexts } : {}),
    ...(matchTrace ? { matchTrace } : {}),
  });
  const stop = (step: LifecycleStep, e: unknown): CaseRun => {
    actual.errno = errnoOf(e) ?? "EIO";
    actual.step = step;
    steps.push(`${step}: ${describe(e)}`);
    if (!(e instanceof KernelError)) violations.push(`${step} threw ${describe(e)} instead of a KernelError`);
    return result();
  };

  let ctx: FixtureContext | undefined;
  try {
    // The importer's first: a fixture may bring a differently built module the exporter also requires (kvm's PAL naming kvm).
    ctx = boot(topologyName, seed, [...importer.modules, ...exporter.modules], caseTopologyOptions([exporter, importer]));
  } catch (e) {
    if (e instanceof LoadRefused) {
      log.push(...e.log);
      return stop("load", e.error);
    }
    stop("setup", e);
    violations.push(`setup failed: ${describe(e)}`);
    return result();
  }
  const k = ctx.kernel;
  const task = ctx.task;
  const fctx: FixtureContext = ctx;
  let buf: ExportedBuffer | undefined;
  let imp: ImportedBuffer | undefined;
  let importing = false;
  const untrace = registerTraceDmaBufMatchMapping(k, (t) => {
    if (importing && t.dmabuf === buf?.dmabuf) matchTrace = t;
  });

  /** Exporter writes, importer DMA-reads; importer DMA-writes, exporter reads. False when the DMA faulted (the case stops there). */
  const dataPath = (pass: string): boolean => {
    const len = Number(CASE_BUFFER_SIZE);
    const down = k.random.getRandomBytes(len);
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
      const up = k.random.getRandomBytes(4096);
      const at = CASE_BUFFER_SIZE - 4096n - 512n;
      imp!.dmaWrite(at, up);
      if (!sameBytes(buf!.read(at, up.length), up)) throw new Violation(`data path (${pass}): the exporter read other bytes than the importer's DMA wrote`);
      steps.push(`dma (${pass}): exporter read ${up.length} bytes written by the importer`);
    }
    return true;
  };

  /** One step that may legitimately fail with an errno: true when it did (the case stops there). */
  const step = (name: LifecycleStep, fn: () => void): boolean => {
    try {
      fn();
      return false;
    } catch (e) {
      stop(name, e);
      return true;
    }
  };

  try {
    if (step("export", () => (buf = exporter.export(fctx, CASE_BUFFER_SIZE)))) return result();
    steps.push(`export: ${exporter.name} exported ${CASE_BUFFER_SIZE} bytes (${buf!.dmabuf.expName})`);
    importing = true;
    const failed = step("attach", () => (imp = importer.import(fctx, buf!)));
    importing = false;
    if (failed) return result();
    const mt = imp!.attachment?.mapType;
    actual.mapType = mt?.type.shortName ?? mt?.type.name;
    // An importer without an attachment (KVM following a user mapping) is kept in sync by mmu notifiers: dynamic.
    const dynamic = imp!.attachment ? dmaBufAttachmentIsDynamic(imp!.attachment) : true;
    steps.push(`attach: negotiated ${mt?.type.name ?? "nothing"}${dynamic ? " (dynamic)" : " (static)"}`);
    if (step("map", () => imp!.map())) return result();
    actual.p2p = imp!.route() ?? null;
    // An importer may fall back to another type while mapping (Xe: IOV → SGT): report what is in use.
    const used = imp!.attachment?.mapType;
    if (used && used !== mt) {
      actual.mapType = used.type.shortName ?? used.type.name;
      steps.push(`map: fell back to ${used.type.name}`);
    }
    steps.push(`map: mapped${actual.p2p ? ` via ${actual.p2p}` : ""}`);
    if (!dataPath("first")) return result();

    if (buf!.invalidate && dynamic) {
      const outcome = buf!.invalidate();
      invalidated = outcome.kind;
      steps.push(`invalidate: ${outcome.kind}, then ${outcome.remap === "remap" ? "remap" : `maps fail with ${outcome.remap}`}`);
      if ((!imp!.attachment || imp!.attachment.importerOps?.invalidateMappings) && imp!.mapped) {
        throw new Violation(`after ${outcome.kind}: the importer kept its mapping (invalidate_mappings did not drop it)`);
      }
      if (outcome.remap !== "remap") revoked(imp!, buf!, outcome.kind, imp!.revokedErrno ?? outcome.remap, exporter.name, steps);
      if (step("remap", () => imp!.map())) return result();
      if (!dataPath("after invalidation")) return result();
    } else if (buf!.invalidate) {
      steps.push("invalidate: skipped (static importer: pinned, nothing to invalidate)");
    }
    imp!.unmap();
    steps.push("unmap");
  } catch (e) {
    actual.errno ??= caught(e, violations);
  } finally {
    teardown(imp, buf, steps, violations);
    k.exitTask(task, 0);
    checkInvariants(k, violations, contexts);
    untrace();
    log.push(...dmesg(k));
  }
  return result();
}

/** While revoked: stale DMA must fault, a map must fail with `errno`; then the exporter restores. Throws a Violation otherwise. */
function revoked(imp: ImportedBuffer, buf: ExportedBuffer, kind: string, errno: Errno, exporter: string, steps: string[]): void {
  if (imp.staleDmaRead) {
    let reached = false;
    try {
      imp.staleDmaRead(64);
      reached = true;
    } catch (e) {
      if (!(e instanceof DmaFault)) throw e;
      steps.push(`stale access: DMA at the revoked addresses faults (${e.reason})`);
    }
    if (reached) throw new Violation(`after ${kind}: DMA at the revoked addresses still reached memory`);
  }
  let remapErr: unknown;
  try {
    imp.map();
  } catch (e) {
    remapErr = e;
  }
  if (errnoOf(remapErr) !== errno) {
    throw new Violation(`while revoked: map ${remapErr ? `failed with ${errnoOf(remapErr) ?? describe(remapErr)}` : "succeeded"}, expected ${errno}`);
  }
  steps.push(`remap while revoked: ${errno}`);
  if (!buf.restore) throw new Violation(`${exporter}: a revoke without restore()`);
  buf.restore();
  steps.push("restore: exporter back");
}

/** The members of the unplug family: which side's device leaves the bus mid-lifecycle. @public */
export type UnplugFamily = "unplug-exporter" | "unplug-importer";

/**
 * The unplug family of one pair (syncobj-unplug.md 7.3–7.5): attach → map →
 * data path, then the exporter's (or the importer's) device is hot-unplugged.
 * Exporter gone: a dynamic importer must have been invalidated; its next map
 * either works and reads the same bytes (`'remap'`: the buffer survives in
 * system memory) or fails for good with an errno (stale DMA faults); an
 * importer following a CPU mapping of a surviving buffer may instead see
 * the driver's zeroed dummy page (`'dummy-page'`); a static importer keeps
 * its pinned mapping (`'kept'`). A module the loader refuses is the
 * outcome at step `load`, as in {@link runPairCase}. Importer gone: the
 * exporter's buffer stays valid (`'ok'`). Then detach, release, and the
 * leak report, lockdep, WARNs and oopses must be clean.
 * @public
 */
export function runUnplugCase(topologyName: TopologyName, exporter: ExporterFixture, importer: ImporterFixture, family: UnplugFamily, seed: number): CaseRun {
  const actual: CaseActual = {};
  const violations: string[] = [];
  const steps: string[] = [];
  const log: string[] = [];
  const contexts: CaseContexts = { kworkerWork: 0, hardirqEvents: 0 };
  let booted = false;
  const result = (): CaseRun => ({ actual, violations, steps, log, ...(booted ? { contexts } : {}) });
  const stop = (step: LifecycleStep, e: unknown): CaseRun => {
    actual.errno = errnoOf(e) ?? "EIO";
    actual.step = step;
    steps.push(`${step}: ${describe(e)}`);
    if (!(e instanceof KernelError) && !(e instanceof DmaFault)) violations.push(`${step} threw ${describe(e)} instead of a KernelError`);
    return result();
  };
  let ctx: FixtureContext;
  try {
    // The importer's first, as in runPairCase (kvm's PAL build naming kvm must be the one loaded).
    ctx = boot(topologyName, seed, [...importer.modules, ...exporter.modules], caseTopologyOptions([exporter, importer]));
  } catch (e) {
    if (e instanceof LoadRefused) {
      log.push(...e.log);
      return stop("load", e.error);
    }
    stop("setup", e);
    violations.push(`setup failed: ${describe(e)}`);
    return result();
  }
  booted = true;
  const k = ctx.kernel;
  const len = Number(CASE_BUFFER_SIZE);
  let buf: ExportedBuffer | undefined;
  let imp: ImportedBuffer | undefined;
  try {
    try {
      buf = exporter.export(ctx, CASE_BUFFER_SIZE);
    } catch (e) {
      return stop("export", e);
    }
    try {
      imp = importer.import(ctx, buf);
    } catch (e) {
      return stop("attach", e);
    }
    try {
      imp.map();
    } catch (e) {
      return stop("map", e);
    }
    const mt = imp.attachment?.mapType;
    actual.mapType = mt?.type.shortName ?? mt?.type.name;
    actual.p2p = imp.route() ?? null;
    const data = k.random.getRandomBytes(len);
    buf.write(0n, data);
    try {
      if (!sameBytes(imp.dmaRead(0n, len), data)) throw new Violation("data path before the unplug: the importer read other bytes");
    } catch (e) {
      if (e instanceof DmaFault) return stop("dma", e);
      throw e;
    }
    steps.push(`map + dma: ${len} bytes`);
    if (family === "unplug-exporter") {
      if (!buf.unplug) throw new Violation(`${exporter.name} declares hotUnplug but its buffer has no unplug()`);
      const gone = buf.unplug();
      const expected = unplugExpectation(gone, imp);
      steps.push(`unplug: the exporter's device left the bus (maps afterwards: ${gone.remap}${imp.attachment ? "" : `; this importer follows a CPU mapping: ${expected}`})`);
      if ((!imp.attachment || imp.attachment.importerOps?.invalidateMappings) && imp.mapped) throw new Violation("after the exporter's unplug the dynamic importer kept its mapping");
      if (imp.mapped) {
        if (!sameBytes(imp.dmaRead(0n, len), data)) throw new Violation("the static importer's pinned mapping no longer reaches the bytes");
        actual.outcome = "kept";
      } else {
        try {
          imp.map();
          const got = imp.dmaRead(0n, len);
          if (sameBytes(got, data)) actual.outcome = "remap";
          else if (expected === "dummy-page" && !imp.attachment) actual.outcome = dummyPage(imp, buf, got, data);
          else throw new Violation("after the exporter's unplug the remapped buffer holds other bytes");
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
        if (actual.outcome !== expected) violations.push(`the exporter said maps give ${expected} after its unplug, the importer got ${actual.outcome}`);
      }
      steps.push(`after unplug: ${actual.outcome}`);
    } else {
      if (!imp.unplug) throw new Violation(`${importer.name} declares hotUnplug but its import has no unplug()`);
      imp.unplug();
      steps.push("unplug: the importer's device left the bus");
      const again = k.random.getRandomBytes(4096);
      buf.write(0n, again);
      actual.outcome = sameBytes(buf.read(0n, again.length), again) ? "ok" : "exporter buffer lost";
      steps.push(`exporter buffer after the importer's unplug: ${actual.outcome}`);
    }
  } catch (e) {
    actual.errno ??= caught(e, violations);
  } finally {
    teardown(imp, buf, steps, violations);
    k.exitTask(ctx.task, 0);
    checkInvariants(k, violations, contexts);
    log.push(...dmesg(k));
  }
  return result();
}

/**
 * What the importer's next map gives after the exporter's unplug. An
 * importer with an attachment gets the exporter's word (`remap` or its
 * errno). One without (KVM following the VMM's mapping) faults through the
 * CPU mapping: a buffer revoked for good fails with the importer's own errno
 * (KVM_RUN: `EFAULT` for an hva slot), and a surviving buffer whose CPU
 * mappings the driver redirects (`cpuFault`) gives a dummy page, or
 * `EFAULT` on SIGBUS (fixup_user_fault: VM_FAULT_SIGBUS → -EFAULT).
 */
function unplugExpectation(gone: InvalidationOutcome, imp: ImportedBuffer): string {
  if (gone.remap !== "remap") return imp.revokedErrno ?? gone.remap;
  if (imp.attachment || !gone.cpuFault) return "remap";
  return gone.cpuFault === "dummy-page" ? "dummy-page" : "EFAULT";
}

/**
 * Checks what an importer following a CPU mapping sees once the driver
 * redirected it to a dummy page (ttm_bo_vm_dummy_page(): one zeroed page):
 * it reads zeros, the exporter still holds the bytes, and the importer's
 * writes do not reach the buffer. Throws a Violation otherwise.
 */
function dummyPage(imp: ImportedBuffer, buf: ExportedBuffer, got: Uint8Array, data: Uint8Array): string {
  if (got.some((b) => b !== 0)) throw new Violation("after the exporter's unplug the CPU mapping shows other bytes than a zeroed dummy page");
  if (!sameBytes(buf.read(0n, data.length), data)) throw new Violation("after the exporter's unplug the exporter's buffer lost its bytes");
  if (imp.dmaWrite) {
    imp.dmaWrite(0n, new Uint8Array(4096).fill(0xa5));
    if (!sameBytes(buf.read(0n, 4096), data.subarray(0, 4096))) throw new Violation("after the exporter's unplug a write through the dummy page reached the buffer");
  }
  return "dummy-page";
}

/** Runs a scenario case on a fresh kernel and checks the invariants afterwards. @public */
export function runScenarioCase(scenario: ConformanceScenario, seed: number): CaseRun {
  const actual: CaseActual = {};
  const violations: string[] = [];
  const steps: string[] = [];
  let ctx: FixtureContext;
  try {
    ctx = boot(scenario.topology, seed, scenario.modules, {});
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
  return { actual, violations, steps, log: dmesg(ctx.kernel), ...(details ? { details } : {}) };
}
