// Tests nvme-pci's dma-buf token support with I/O in flight: invalidation (v6 drain, v3 fence), orderly and surprise removal, PRP requeue.
import { describe, expect, it } from "vitest";
import { O_CLOEXEC, dmaBufFd, dmaBufInvalidateMappings, dmaResvLock, dmaResvUnlock, type DmaBuf } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import { IoUring, negErrno, type IoDmabufVersion } from "@dmabuf-sdk/io-uring";
import { nvmeRemove } from "@dmabuf-sdk/driver-nvme";
import { nvmeMachine, type NvmeMachine } from "@dmabuf-sdk/driver-nvme/testing";

const N = 8;

function setup(version: IoDmabufVersion = "v6") {
  const m = nvmeMachine();
  const ring = new IoUring(m.task, 64, { flags: 0, dmabufVersion: version });
  const blk = m.open();
  const dmabuf = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, 65536n);
  const fd = m.kernel.runAs(m.task, () => dmaBufFd(dmabuf, O_CLOEXEC));
  ring.registerBuffersSparse(1);
  expect(ring.registerDmabuf(0, fd, blk)).toBe(1);
  ring.queueFixed(false, blk, 0n, 4096, 0n, 0, 100n);
  expect(ring.run(1)[0]!.res).toBe(4096);
  return { m, ring, blk, fd, dmabuf };
}

function inflight(m: NvmeMachine, ring: IoUring, blk: number): void {
  for (let i = 0; i < N; i++) ring.queueFixed(i % 2 === 1, blk, BigInt(i * 4096), 4096, BigInt(i * 4096), 0, BigInt(i));
  expect(ring.submit()).toBe(N);
  expect(m.dev.ioq!.tags.filter((t) => t).length).toBe(N);
}

function finish(m: NvmeMachine, ring: IoUring, fds: number[], removed = false): void {
  ring.close();
  for (const fd of fds) m.task.sys.close(fd);
  m.kernel.clock.advance(100e6);
  if (!removed) nvmeRemove(m.dev);
  m.kernel.clock.advance(100e6);
  m.kernel.exitTask(m.task, 0);
  const r = m.kernel.leakReport();
  expect(r.empty ? "" : r.text()).toBe("");
}

function move(dmabuf: DmaBuf): void {
  dmaResvLock(dmabuf.resv);
  try {
    dmaBufInvalidateMappings(dmabuf);
  } finally {
    dmaResvUnlock(dmabuf.resv);
  }
}

describe("nvme-pci dma-buf token support with I/O in flight", () => {
  it("v6: invalidate_mappings drains the controller's in-flight commands before it returns; the next I/O remaps", () => {
    const { m, ring, blk, fd, dmabuf } = setup();
    inflight(m, ring, blk);
    move(dmabuf);
    expect(m.dev.ioq!.tags.filter((t) => t).length).toBe(0);
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(4096));
    ring.queueFixed(false, blk, 0n, 4096, 0n, 0);
    expect(ring.run(1)[0]!.res).toBe(4096);
    const ctx = [...m.dev.ioCtxs][0]!;
    expect(ctx.mapCalls).toBe(2);
    finish(m, ring, [fd, blk]);
  });

  it("v3: invalidate_mappings returns with the commands still in flight; they complete on the killed map", () => {
    const { m, ring, blk, fd, dmabuf } = setup("v3");
    inflight(m, ring, blk);
    move(dmabuf);
    expect(m.dev.ioq!.tags.filter((t) => t).length).toBe(N);
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(4096));
    finish(m, ring, [fd, blk]);
  });

  it("orderly removal with a registration and I/O in flight: the I/O drains, the context is detached (dma_buf_io_detach), later I/O fails ENOENT", () => {
    const { m, ring, blk, fd } = setup();
    inflight(m, ring, blk);
    nvmeRemove(m.dev);
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(4096));
    ring.queueFixed(false, blk, 0n, 4096, 0n, 0);
    // The import (create-map after the final kill) fails before the block layer sees the request.
    expect(ring.run(1)[0]!.res).toBe(negErrno("ENOENT"));
    finish(m, ring, [fd, blk], true);
  });

  it("surprise removal: in-flight commands fail ENODEV (host aborted), nothing leaks", () => {
    const { m, ring, blk, fd } = setup();
    inflight(m, ring, blk);
    nvmeRemove(m.dev, true);
    expect(ring.waitCqes(N).map((c) => c.res)).toEqual(Array(N).fill(negErrno("ENODEV")));
    finish(m, ring, [fd, blk], true);
  });

  it("a PRP list page allocation failure requeues the command (BLK_STS_RESOURCE) instead of failing it", () => {
    const { m, ring, blk, fd } = setup();
    m.kernel.faults.failNth(1, "dma_pool_alloc");
    ring.queueFixed(false, blk, 0n, 65536, 0n, 0);
    expect(ring.submit()).toBe(1);
    expect(m.dev.stats.requeues).toBe(1);
    // A completion frees resources and dispatches the requeued command.
    ring.queueFixed(false, blk, 0n, 4096, 0n, 0, 1n);
    expect(ring.run(2).map((c) => c.res).sort()).toEqual([4096, 65536]);
    finish(m, ring, [fd, blk]);
  });
});
