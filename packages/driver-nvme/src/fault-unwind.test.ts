// Tests the unwind of dma-buf registration and the first map on NVMe with the fault injector (every allocation failed in turn).
import { describe, expect, it } from "vitest";
import { O_CLOEXEC, dmaBufFd } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import { IoUring, negErrno } from "@dmabuf-sdk/io-uring";
import { nvmeRemove } from "@dmabuf-sdk/driver-nvme";
import { nvmeMachine } from "@dmabuf-sdk/driver-nvme/testing";

/**
 * Fails the nth allocation of a registration + first fixed I/O, for every n
 * until the sequence succeeds: each failure is ENOMEM at the step it hit, a
 * retry afterwards works, and nothing is left behind.
 */
function attempt(nth: number): { failedAt: "register" | "io" | null; ok: boolean; leaks: string } {
  const m = nvmeMachine();
  const ring = new IoUring(m.task);
  const blk = m.open();
  const dmabuf = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, 16384n);
  const fd = m.kernel.runAs(m.task, () => dmaBufFd(dmabuf, O_CLOEXEC));
  expect(ring.registerBuffersSparse(1)).toBe(0);
  const undo = m.kernel.faults.failNth(nth);
  let failedAt: "register" | "io" | null = null;
  const r = ring.registerDmabuf(0, fd, blk);
  if (r < 0) {
    expect(r).toBe(negErrno("ENOMEM"));
    failedAt = "register";
  } else {
    ring.queueFixed(false, blk, 0n, 4096, 0n, 0);
    const res = ring.run(1)[0]!.res;
    if (res < 0) {
      expect(res).toBe(negErrno("ENOMEM"));
      failedAt = "io";
    }
  }
  undo();
  // After the failure, the same sequence works.
  if (failedAt === "register") expect(ring.registerDmabuf(0, fd, blk)).toBe(1);
  ring.queueFixed(false, blk, 0n, 4096, 0n, 0);
  const ok = ring.run(1)[0]!.res === 4096;
  ring.close();
  m.task.sys.close(fd);
  m.task.sys.close(blk);
  m.kernel.clock.advance(100e6);
  nvmeRemove(m.dev);
  m.kernel.exitTask(m.task, 0);
  m.kernel.clock.advance(100e6);
  const rep = m.kernel.leakReport();
  return { failedAt, ok, leaks: rep.empty ? "" : rep.text() };
}

describe("fault injection: dma-buf registration and the first map unwind", () => {
  it("every allocation of register + first I/O, failed in turn, gives ENOMEM at its step and leaves nothing", () => {
    const seen = new Set<string>();
    let n = 1;
    for (; n < 60; n++) {
      const r = attempt(n);
      expect(r.leaks).toBe("");
      expect(r.ok).toBe(true);
      if (r.failedAt === null) break;
      seen.add(r.failedAt);
    }
    expect(n).toBeLessThan(60);
    expect([...seen].sort()).toEqual(["io", "register"]);
  });
});
