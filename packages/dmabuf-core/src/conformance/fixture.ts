// The conformance fixture contract: the exporters and importers a package offers to the pair lifecycle.
import type { InjectionToken } from "tsyringe";
import type { Errno } from "../kernel/errno.js";
import type { Kernel } from "../kernel/kernel.js";
import type { KernelModule } from "../kernel/module.js";
import type { DmaBuf, DmaBufAttachment } from "../dma-buf/dma-buf.js";
import type { Topology, TopologyName, TopologyOptions } from "../platform/topologies.js";
import type { Task } from "../uapi/task.js";

/**
 * The contract between driver packages and the conformance app. A package
 * contributes exporter and importer fixtures by providing a
 * `ConformanceFixtures` value from its module's `init`
 * (`ctx.provide(ConformanceFixtures, …)`); the app loads the modules into a
 * kernel, asks `kernel.providers(ConformanceFixtures)`, and runs every
 * (exporter, importer, topology) case on a fresh kernel. Fixtures are
 * stateless descriptions: all state lives in the handles they return.
 * @public
 */
export interface ConformanceFixtures {
  /** Package name, for reports. */
  readonly package: string;
  readonly exporters: readonly ExporterFixture[];
  readonly importers: readonly ImporterFixture[];
  /** Cases that are not an exporter × importer pair (memcg/LSM charging, …). */
  readonly scenarios?: readonly ConformanceScenario[];
  /**
   * What an out-of-tree package expects of the cases involving its own
   * fixtures (its reviewed oracle rows). The app applies them only to those
   * cases; in-tree pairs are judged by the app's own table.
   */
  readonly expectations?: readonly ConformanceExpectation[];
}

/** An oracle row a fixture package ships for its own cases. @public */
export interface ConformanceExpectation {
  readonly exporter: string;
  readonly importer: string;
  /** A topology name, or `'*'` for every topology the pair is placed on. */
  readonly topology: TopologyName | "*";
  readonly expect: {
    /** Short name of the negotiated type (`'SGT'`). */
    readonly mapType?: string;
    /** P2P map type of the mapping, or null when none applies. */
    readonly p2p?: string | null;
    /** The errno the case stops with, and the lifecycle step (`'attach'`, `'map'`, `'dma'`, …). */
    readonly errno?: Errno;
    readonly step?: string;
  };
  /** Why, with the source that says so. */
  readonly why: string;
}

/** DI token of `ConformanceFixtures` (multi-provider). @public */
export const ConformanceFixtures: InjectionToken<ConformanceFixtures> = Symbol.for("@dmabuf-sdk/dmabuf-core/ConformanceFixtures");

/** What a fixture gets for one case. @public */
export interface FixtureContext {
  /** A fresh kernel booted for {@link FixtureContext.topology}, with the fixture's modules loaded. */
  readonly kernel: Kernel;
  readonly topology: Topology;
  /** The user process of the case (holds the fds a real program would). */
  readonly task: Task;
}

/** Common part of exporter and importer fixtures. @public */
export interface FixtureBase {
  /** Report name, starting with the driver's short name: `'vfio-pci'`, `'xe-vram'`, `'compat-exporter'`, `'system-heap'`. */
  readonly name: string;
  /** One line on what it models. */
  readonly description: string;
  /** Modules the case must load (with `kernel.modprobe`) before using the fixture. */
  readonly modules: readonly KernelModule[];
  /** Whether the fixture can be placed on this topology's slot. */
  placeable(topology: Topology): boolean;
  /**
   * Its device can be hot-unplugged mid-lifecycle: its buffers (exporter) or
   * imports (importer) implement `unplug()`, and the matrix runs the unplug
   * family for its pairs.
   */
  readonly hotUnplug?: boolean;
  /**
   * Device identities the fixture's driver needs on the topologies (the
   * `sriov` PF of the Xe fixtures), merged into the options the case's
   * topology is built with; absent when the generic machines suit it.
   */
  readonly topologyOptions?: TopologyOptions;
}

/** What an exporter-side invalidation does to the importers' next map. @public */
export interface InvalidationOutcome {
  /**
   * `'remap'`: the buffer moved; a new map succeeds at once. An errno: the
   * buffer is revoked; maps fail with it until {@link ExportedBuffer.restore}.
   */
  readonly remap: "remap" | Errno;
  /** What happened, for reports: `'move'`, `'evict'`, `'revoke'`, … */
  readonly kind: string;
  /**
   * After an unplug whose buffer survives (`remap`): what a fault on a CPU
   * mapping of it gets, when the driver redirects those (the hot-unplug
   * rule: a dummy page or SIGBUS, driver's choice). Importers that follow
   * a CPU mapping (no attachment) see this instead of `remap`.
   */
  readonly cpuFault?: "dummy-page" | "SIGBUS";
}

/** An exporter fixture: puts an exporting driver on the topology's exporter slot. @public */
export interface ExporterFixture extends FixtureBase {
  /**
   * Exports a buffer of `size` bytes (a multiple of the page size). Throws
   * `KernelError` when the exporter refuses.
   */
  export(ctx: FixtureContext, size: bigint): ExportedBuffer;
}

/** A buffer as its exporter sees it. The fixture holds one dma-buf reference until `release()`. @public */
export interface ExportedBuffer {
  readonly dmabuf: DmaBuf;
  /** Writes through the exporter's own path (CPU: BAR, BO map, pages). */
  write(offset: bigint, data: Uint8Array): void;
  /** Reads through the exporter's own path. */
  read(offset: bigint, len: number): Uint8Array;
  /** An exporter-side invalidation (move, evict, revoke), or absent when the exporter cannot do one. */
  invalidate?(): InvalidationOutcome;
  /**
   * Hot-unplug of the exporting device mid-lifecycle (it leaves the PCI bus
   * while the buffer is shared). Returns what a map does afterwards:
   * `'remap'` when the buffer survives elsewhere (Xe moves exported BOs to
   * system memory), or the errno maps fail with for good (vfio-pci: `ENODEV`),
   * and what CPU mappings of the buffer fault to (`cpuFault`).
   * Absent when the exporter has no device to remove.
   */
  unplug?(): InvalidationOutcome;
  /** Ends a revoke (memory re-enabled, device back); maps work again. */
  restore?(): void;
  /** Drops the fixture's references (fds, devices). After every importer detached, nothing may remain. */
  release(): void;
}

/** An importer fixture: an importing driver on the topology's importer slot. @public */
export interface ImporterFixture extends FixtureBase {
  /**
   * Attaches to the buffer as the driver does (its own entry list, static or
   * dynamic). Throws `KernelError` with the attach errno.
   */
  import(ctx: FixtureContext, buffer: ExportedBuffer): ImportedBuffer;
}

/** A buffer as its importer sees it. @public */
export interface ImportedBuffer {
  /** The importer's attachment, or null for an importer that reaches the buffer without one (KVM following a user mapping). */
  readonly attachment: DmaBufAttachment | null;
  /**
   * The errno this importer's `map()` fails with while the exporter is
   * revoked, when it is not the exporter's own (KVM: `KVM_RUN` says `EIO`).
   */
  readonly revokedErrno?: Errno;
  /** Obtains DMA addresses the importer's way (SGT map, PAL + IOMMU, IOV). Throws `KernelError`. */
  map(): void;
  /** Whether the importer currently holds a mapping. An invalidation must clear it. */
  readonly mapped: boolean;
  /** How the mapping reaches the memory, e.g. a P2P map type (`'BUS_ADDR'`), or undefined. */
  route(): string | undefined;
  /** The importer's device reads over its mapping (offset into the buffer). Throws `DmaFault`/`KernelError`. */
  dmaRead(offset: bigint, len: number): Uint8Array;
  /** The importer's device writes over its mapping, where the direction allows. */
  dmaWrite?(offset: bigint, data: Uint8Array): void;
  /**
   * DMA at the addresses of the mapping the importer had before the last
   * invalidation, without remapping: after a revoke this must fault.
   */
  staleDmaRead?(len: number): Uint8Array;
  /**
   * Hot-unplug of the importing device mid-lifecycle: its mappings go away
   * with it; `detach()` still works afterwards. Absent when the importer has
   * no device to remove.
   */
  unplug?(): void;
  /** Gives the mapping back (no-op when not mapped). */
  unmap(): void;
  /** Detaches (unmapping first if needed). */
  detach(): void;
}

/**
 * A self-contained conformance case (not a pair): it builds what it needs on
 * the fresh kernel it is given and reports an outcome the app compares with
 * its oracle. The app still checks the universal invariants afterwards
 * (leak report, lockdep, oopses).
 * @public
 */
export interface ConformanceScenario {
  /** Report name, starting with the package's short name: `'memcg-lsm/charge-other-allowed'`. */
  readonly name: string;
  readonly description: string;
  readonly modules: readonly KernelModule[];
  /** Topology to boot (its machine is all the scenario needs). */
  readonly topology: TopologyName;
  /**
   * Runs the case. Returns the outcome in the words the oracle uses
   * (`'ok'`, an errno name, …) and details for the report. Everything it
   * created must be released before it returns.
   */
  run(ctx: FixtureContext): { readonly outcome: string; readonly details?: Readonly<Record<string, string | number | bigint | boolean>> };
}
