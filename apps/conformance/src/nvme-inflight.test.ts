// Tests invalidation and revoke of dma-bufs registered with io_uring while NVMe READ_FIXEDs are in flight (v6 drain, v3 fence), across exporters.
import { describe, expect, it } from "vitest";
import { Kernel, O_CLOEXEC, O_RDWR, buildTopology, dmaBufFd, getDmaBuf, topologyKernelOptions, type ExporterFixture, type TopologyName, O_DIRECT } from "@dmabuf-sdk/dmabuf-core";
import { vfioPciExporterFixture } from "@dmabuf-sdk/driver-vfio-pci";
import { xeVramExporterFixture } from "@dmabuf-sdk/driver-xe";
import { IoUring, negErrno, type IoDmabufVersion } from "@dmabuf-sdk/io-uring";
import { nvmeHwAttach, nvmeModule, nvmeProbe, nvmeRemove } from "@dmabuf-sdk/driver-nvme";

// Cross-driver: an exporter invalidates (VFIO revoke, Xe eviction) while NVMe READ_FIXEDs into its buffer are in flight.
const N = 8;
const SIZE = 64n * 1024n;

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 29 + seed) & 0xff);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function run(exporter: ExporterFixture, topologyName: TopologyName, version: IoDmabufVersion) {
  const kernel = new Kernel({ ...topologyKernelOptions(topologyName), seed: 7 });
  const topology = buildTopology(kernel, topologyName);
  for (const m of [...exporter.modules, nvmeModule]) kernel.modprobe(m);
  const task = kernel.fork({ comm: "fio" });
  kernel.leaks.setBaseline();
  const ctx = { kernel, topology, task };
  const buf = exporter.export(ctx, SIZE);
  nvmeHwAttach(topology.importerSlot, { namespaces: [{ size: 16n << 20n }] });
  const dev = nvmeProbe(kernel, topology.importerSlot);
  const media = dev.hw.namespaces[0]!;
  const ring = new IoUring(task, 64, { flags: 0, dmabufVersion: version });
  const blk = task.sys.open(`/dev/nvme${dev.instance}n1`, O_RDWR | O_DIRECT);
  getDmaBuf(buf.dmabuf);
  const bufFd = kernel.runAs(task, () => dmaBufFd(buf.dmabuf, O_CLOEXEC));
  ring.registerBuffersSparse(1);
  expect(ring.registerDmabuf(0, bufFd, blk)).toBe(1);
  task.sys.close(bufFd);
  media.write(0n, pattern(Number(SIZE), 1));
  ring.queueFixed(false, blk, 0n, 4096, 0n, 0, 100n);
  expect(ring.run(1)[0]!.res).toBe(4096);

  for (let i = 0; i < N; i++) ring.queueFixed(false, blk, BigInt(i * 4096), 4096, BigInt(i * 4096), 0, BigInt(i));
  expect(ring.submit()).toBe(N);
  const busy = () => dev.ioq!.tags.filter((t) => t).length;
  expect(busy()).toBe(N);
  const outcome = buf.invalidate!();
  const inflightAtReturn = busy();
  const cqes = ring.waitCqes(N);

  // After the invalidation: the exporter's errno until restore, or a remap.
  ring.queueFixed(false, blk, 0n, 4096, 0n, 0, 200n);
  const next = ring.run(1)[0]!.res;
  if (outcome.remap !== "remap") buf.restore!();
  ring.queueFixed(false, blk, 0n, 32768, 0n, 0, 300n);
  const after = ring.run(1)[0]!.res;
  const data = buf.read(0n, 32768);

  ring.close();
  task.sys.close(blk);
  kernel.clock.advance(100e6);
  nvmeRemove(dev);
  buf.release();
  kernel.exitTask(task, 0);
  kernel.clock.advance(100e6);
  const leaks = kernel.leakReport();
  return { outcome, inflightAtReturn, cqes, next, after, data, leaks: leaks.empty ? "" : leaks.text(), warnings: kernel.warnings(), lockdep: kernel.lockdep.reports() };
}

describe("nvme importer: invalidation and revoke with I/O in flight (io-uring-nvme §3.5, §6)", () => {
  it.each([
    { exporter: vfioPciExporterFixture, topology: "same-switch" as const },
    { exporter: vfioPciExporterFixture, topology: "cross-root" as const },
    { exporter: xeVramExporterFixture, topology: "same-switch" as const },
  ])("v6, $exporter.name on $topology: the invalidation returns after the in-flight reads drained; they all succeeded; then errno or remap; nothing leaks", ({ exporter, topology }) => {
    const r = run(exporter, topology, "v6");
    expect(r.inflightAtReturn).toBe(0);
    expect(r.cqes.map((c) => c.res)).toEqual(Array(N).fill(4096));
    expect(r.next).toBe(r.outcome.remap === "remap" ? 4096 : negErrno(r.outcome.remap));
    expect(r.after).toBe(32768);
    expect(same(r.data, pattern(32768, 1))).toBe(true);
    expect(r.leaks).toBe("");
    expect(r.warnings).toEqual([]);
    expect(r.lockdep).toEqual([]);
  });

  it("v3, vfio-pci on same-switch: the map's KERNEL fence makes the revoke wait for the reads too; the next I/O gets ENODEV until restore", () => {
    const r = run(vfioPciExporterFixture, "same-switch", "v3");
    expect(r.cqes.map((c) => c.res)).toEqual(Array(N).fill(4096));
    expect(r.next).toBe(negErrno("ENODEV"));
    expect(r.after).toBe(32768);
    expect(r.leaks).toBe("");
    expect(r.warnings).toEqual([]);
  });
});
