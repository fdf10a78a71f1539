// Tests the dma-buf I/O context/map layer: lazy map, request counting, invalidation against in-flight requests, v3 vs v6.
import { describe, expect, it } from "vitest";
import { KernelBug, O_CLOEXEC, dmaBufFd, dmaBufInvalidateMappings, dmaResvFences, dmaResvLock, dmaResvUnlock, dmaResvWaitTimeout, MAX_SCHEDULE_TIMEOUT, type DmaBuf } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import { IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER, dmaBufIoDetach, type IoDmabufVersion } from "@dmabuf-sdk/io-uring";
import { IoUring, negErrno } from "@dmabuf-sdk/io-uring";
import { ioUringMachine, type IoUringMachine } from "@dmabuf-sdk/io-uring/testing";

const N = 4;

function setup(version: IoDmabufVersion, flags = 0) {
  const m = ioUringMachine();
  const ring = new IoUring(m.task, 64, { flags, dmabufVersion: version });
  const blkFd = m.openBlk();
  const dmabuf = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, 65536n);
  const bufFd = m.kernel.runAs(m.task, () => dmaBufFd(dmabuf, O_CLOEXEC));
  ring.registerBuffersSparse(1);
  expect(ring.registerDmabuf(0, bufFd, blkFd)).toBe(1);
  // The first I/O maps (punted to io-wq, as the inline issue may not block).
  ring.queueFixed(false, blkFd, 0n, 4096, 0n, 0, 99n);
  expect(ring.run(1)[0]!.res).toBe(4096);
  return { m, ring, blkFd, bufFd, dmabuf };
}

function submitInflight(ring: IoUring, blkFd: number): void {
  for (let i = 0; i < N; i++) ring.queueFixed(false, blkFd, BigInt(i * 4096), 4096, BigInt(i * 4096), 0, BigInt(i));
  expect(ring.submit()).toBe(N);
}

/** The exporter's side of a move: resv locked, invalidate, (v3-style exporters then wait BOOKKEEP), unlock. */
function exporterMove(m: IoUringMachine, dmabuf: DmaBuf, waitBookkeep: boolean): { inflightAtReturn: number } {
  dmaResvLock(dmabuf.resv);
  let inflightAtReturn: number;
  try {
    dmaBufInvalidateMappings(dmabuf);
    inflightAtReturn = m.blk.inflight;
    if (waitBookkeep) dmaResvWaitTimeout(dmabuf.resv, "DMA_RESV_USAGE_BOOKKEEP", false, MAX_SCHEDULE_TIMEOUT);
  } finally {
    dmaResvUnlock(dmabuf.resv);
  }
  return { inflightAtReturn };
}

function finish(m: IoUringMachine, ring: IoUring, fds: number[]): void {
  ring.close();
  for (const fd of fds) m.task.sys.close(fd);
  m.kernel.clock.advance(100e6);
  m.kernel.exitTask(m.task, 0);
  expect(m.kernel.leakReport().empty).toBe(true);
}

describe("dma-buf I/O context and maps (drivers/dma-buf/dma-buf-io.c)", () => {
  it("v6: invalidate_mappings returns only after every in-flight request completed; no fence is added; the next I/O remaps", () => {
    const { m, ring, blkFd, bufFd, dmabuf } = setup("v6");
    submitInflight(ring, blkFd);
    expect(m.blk.inflight).toBe(N);
    const { inflightAtReturn } = exporterMove(m, dmabuf, false);
    expect(inflightAtReturn).toBe(0);
    expect(dmaResvFences(dmabuf.resv, "DMA_RESV_USAGE_BOOKKEEP")).toEqual([]);
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(4096));
    m.kernel.clock.advance(1e6);
    expect(m.blk.log).toEqual(["map", "unmap"]);
    ring.queueFixed(false, blkFd, 0n, 4096, 0n, 0);
    expect(ring.run(1)[0]!.res).toBe(4096);
    expect(m.blk.log).toEqual(["map", "unmap", "map"]);
    finish(m, ring, [blkFd, bufFd]);
  });

  it("v3: invalidate_mappings adds the map's KERNEL fence and returns at once; the exporter's BOOKKEEP wait covers the I/O; the next I/O remaps", () => {
    const { m, ring, blkFd, bufFd, dmabuf } = setup("v3");
    submitInflight(ring, blkFd);
    dmaResvLock(dmabuf.resv);
    dmaBufInvalidateMappings(dmabuf);
    expect(m.blk.inflight).toBe(N);
    const fences = dmaResvFences(dmabuf.resv, "DMA_RESV_USAGE_KERNEL");
    expect(fences).toHaveLength(1);
    dmaResvWaitTimeout(dmabuf.resv, "DMA_RESV_USAGE_BOOKKEEP", false, MAX_SCHEDULE_TIMEOUT);
    expect(m.blk.inflight).toBe(0);
    // The unmap needs resv: it runs only after the exporter unlocks.
    expect(m.blk.log).toEqual(["map"]);
    dmaResvUnlock(dmabuf.resv);
    m.kernel.clock.advance(1e6);
    expect(m.blk.log).toEqual(["map", "unmap"]);
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(4096));
    ring.queueFixed(false, blkFd, 0n, 4096, 0n, 0);
    expect(ring.run(1)[0]!.res).toBe(4096);
    expect(m.blk.log).toEqual(["map", "unmap", "map"]);
    finish(m, ring, [blkFd, bufFd]);
  });

  it("v3 with DEFER_TASKRUN: the map reference held until request free makes the exporter's fence wait hang (the v4 hang class)", () => {
    const { m, ring, blkFd, bufFd, dmabuf } = setup("v3", IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER);
    submitInflight(ring, blkFd);
    expect(() => exporterMove(m, dmabuf, true)).toThrow(KernelBug);
    // Once the task reaps, the references go and everything unwinds.
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(4096));
    finish(m, ring, [blkFd, bufFd]);
  });

  it("v6 with DEFER_TASKRUN: the reference is dropped at completion, so invalidation drains without the task", () => {
    const { m, ring, blkFd, bufFd, dmabuf } = setup("v6", IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER);
    submitInflight(ring, blkFd);
    expect(exporterMove(m, dmabuf, true).inflightAtReturn).toBe(0);
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(4096));
    finish(m, ring, [blkFd, bufFd]);
  });

  it.each(["v3", "v6"] as const)("%s: unregister with I/O in flight returns 0; the requests complete on the old registration, then it is released", (version) => {
    const { m, ring, blkFd, bufFd } = setup(version);
    submitInflight(ring, blkFd);
    expect(ring.unregisterBuffers()).toBe(0);
    expect(m.blk.log).toEqual(["map"]);
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(4096));
    m.kernel.clock.advance(1e6);
    expect(m.blk.log).toEqual(["map", "unmap", "release"]);
    ring.queueFixed(false, blkFd, 0n, 4096, 0n, 0);
    expect(ring.run(1)[0]!.res).toBe(negErrno("EFAULT"));
    finish(m, ring, [blkFd, bufFd]);
  });

  it("replacing the slot with I/O in flight: old requests finish on the old buffer, new SQEs see the new one", () => {
    const { m, ring, blkFd, bufFd } = setup("v6");
    const other = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, 4096n);
    const otherFd = m.kernel.runAs(m.task, () => dmaBufFd(other, O_CLOEXEC));
    submitInflight(ring, blkFd);
    expect(ring.registerDmabuf(0, otherFd, blkFd)).toBe(1);
    ring.queueFixed(false, blkFd, 8192n, 4096, 0n, 0, 50n);
    const cqes = ring.run(N + 1);
    expect(cqes.find((c) => c.userData === 50n)!.res).toBe(negErrno("EFAULT"));
    expect(cqes.filter((c) => c.userData < 50n).map((c) => c.res)).toEqual(Array(N).fill(4096));
    finish(m, ring, [blkFd, bufFd, otherFd]);
  });

  it("v6: after dma_buf_io_detach() new maps fail ENOENT; the in-flight requests still completed", () => {
    const { m, ring, blkFd, bufFd } = setup("v6");
    submitInflight(ring, blkFd);
    dmaBufIoDetach(m.blk.ctxs[0]!);
    expect(m.blk.inflight).toBe(0);
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(4096));
    ring.queueFixed(false, blkFd, 0n, 4096, 0n, 0);
    expect(ring.run(1)[0]!.res).toBe(negErrno("ENOENT"));
    finish(m, ring, [blkFd, bufFd]);
  });

  it("closing the ring with I/O in flight waits for it and releases everything", () => {
    const { m, ring, blkFd, bufFd } = setup("v6");
    submitInflight(ring, blkFd);
    finish(m, ring, [blkFd, bufFd]);
    expect(m.blk.log).toEqual(["map", "unmap", "release"]);
  });
});
