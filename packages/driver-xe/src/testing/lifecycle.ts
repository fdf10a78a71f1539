// Test-only (not built into dist): the conformance app's pair lifecycle, in
// small — attach → map → data both ways → invalidate/revoke → remap → unmap →
// detach → release → leak, lockdep, WARN checks — to pin the oracle rows the
// xe fixtures should get.
import {
  DmaFault,
  Kernel,
  KernelError,
  buildTopology,
  dmaBufAttachmentIsDynamic,
  topologyKernelOptions,
  type Errno,
  type ExporterFixture,
  type ImporterFixture,
  type TopologyName,
} from "@dmabuf-sdk/dmabuf-core";

export interface Outcome {
  mapType?: string;
  p2p?: string | null;
  errno?: Errno;
  step?: string;
  invalidated?: string;
  problems: string[];
}

const SIZE = 64n * 1024n;

export function lifecycle(topology: TopologyName, exporter: ExporterFixture, importer: ImporterFixture, seed = 7): Outcome {
  const kernel = new Kernel({ ...topologyKernelOptions(topology), seed });
  const t = buildTopology(kernel, topology);
  for (const m of [...exporter.modules, ...importer.modules]) kernel.modprobe(m);
  const task = kernel.fork({ comm: "case" });
  kernel.leaks.setBaseline();
  const ctx = { kernel, topology: t, task };
  const out: Outcome = { problems: [] };
  const stop = (step: string, e: unknown) => {
    if (!(e instanceof KernelError)) throw e;
    out.errno = e.errno;
    out.step = step;
  };
  const buf = exporter.export(ctx, SIZE);
  let imp;
  try {
    try {
      imp = importer.import(ctx, buf);
    } catch (e) {
      stop("attach", e);
      return out;
    }
    out.mapType = imp.attachment.mapType?.type.shortName;
    const data = (pass: number) => {
      const down = kernel.random.getRandomBytes(Number(SIZE));
      buf.write(0n, down);
      if (!equal(imp!.dmaRead(0n, Number(SIZE)), down)) out.problems.push(`pass ${pass}: importer read other bytes`);
      const up = kernel.random.getRandomBytes(4096);
      imp!.dmaWrite?.(SIZE - 8192n, up);
      if (imp!.dmaWrite && !equal(buf.read(SIZE - 8192n, 4096), up)) out.problems.push(`pass ${pass}: exporter read other bytes`);
    };
    try {
      imp.map();
    } catch (e) {
      stop("map", e);
      return out;
    }
    out.p2p = imp.route() ?? null;
    data(1);
    if (buf.invalidate && dmaBufAttachmentIsDynamic(imp.attachment)) {
      const o = buf.invalidate();
      out.invalidated = o.kind;
      if (imp.mapped) out.problems.push("still mapped after invalidation");
      if (o.remap !== "remap") {
        try {
          imp.staleDmaRead?.(64);
          out.problems.push("stale DMA reached memory");
        } catch (e) {
          if (!(e instanceof DmaFault)) throw e;
        }
        let err: unknown;
        try {
          imp.map();
        } catch (e) {
          err = e;
        }
        if (!(err instanceof KernelError) || err.errno !== o.remap) out.problems.push(`remap while revoked: ${String(err)}`);
        buf.restore!();
      }
      imp.map();
      data(2);
    }
    imp.unmap();
  } finally {
    imp?.detach();
    buf.release();
    kernel.exitTask(task, 0);
    kernel.clock.flush(); // quiescence: due kworker/IRQ work (free_job) runs before the leak check
    const leaks = kernel.leakReport();
    if (!leaks.empty) out.problems.push(leaks.text());
    out.problems.push(...kernel.warnings().map((w) => `WARN ${w}`), ...kernel.lockdep.reports().map((r) => r.message), ...kernel.oopses().map((o) => `oops ${o.syscall}`));
  }
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
