// Which exporters each KVM design can bind: the slot creation of every (version, exporter) on a fresh kernel, with the errno and step when refused.
import { Kernel, KernelError, buildTopology, topologyKernelOptions, type Errno, type ExporterFixture, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import { kvmImporterFixtures } from "./fixture.js";

/** One cell of the report. @public */
export interface KvmBindRow {
  /** The kvm importer fixture (`kvm`, `kvm-yilun-v1`, …). */
  readonly importer: string;
  readonly exporter: string;
  readonly topology: TopologyName;
  /** The guest read the buffer's first page through stage-2. */
  readonly bound: boolean;
  /** Where it stopped: `load` (a module the loader refused), `export`, `attach` (mmap or slot), `map` (guest access). */
  readonly step?: string;
  readonly errno?: Errno;
}

/**
 * For every kvm importer column and every placeable exporter: boot
 * `topology`, load both sides' modules (a load failure is the `setup` step),
 * export 64 KiB, create the slot, touch the first page from the vCPU, and
 * release everything. Nothing of one case reaches the next.
 * @public
 */
export function kvmBindReport(exporters: readonly ExporterFixture[], topology: TopologyName = "same-switch", seed = 1): KvmBindRow[] {
  const rows: KvmBindRow[] = [];
  for (const imp of kvmImporterFixtures) {
    for (const exp of exporters) {
      const k = new Kernel({ ...topologyKernelOptions(topology), seed });
      const topo = buildTopology(k, topology);
      if (!exp.placeable(topo)) continue;
      const row = { importer: imp.name, exporter: exp.name, topology };
      let step = "load";
      try {
        for (const m of [...imp.modules, ...exp.modules]) k.modprobe(m);
        const task = k.fork({ comm: "kvm-bind-report" });
        const ctx = { kernel: k, topology: topo, task };
        step = "export";
        const buf = exp.export(ctx, 64n * 1024n);
        try {
          step = "attach";
          const b = imp.import(ctx, buf);
          try {
            step = "map";
            b.dmaRead(0n, 16);
          } finally {
            b.detach();
          }
        } finally {
          buf.release();
          k.exitTask(task, 0);
        }
        rows.push({ ...row, bound: true });
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        rows.push({ ...row, bound: false, step, errno: e.errno });
      }
    }
  }
  return rows;
}
