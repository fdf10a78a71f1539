// Tests io_uring/rsrc.c's extended buffer update and dma-buf registration (io_register_dmabuf) with their errnos.
import { describe, expect, it } from "vitest";
import { O_CLOEXEC, UserStruct, dmaBufFd } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import {
  IO_REGBUF_TYPE_DMABUF,
  IO_REGBUF_TYPE_EMPTY,
  IO_REGBUF_TYPE_UADDR,
  IORING_REGISTER_BUFFERS_UPDATE,
  IORING_OP_READ_FIXED,
  IORING_RSRC_UPDATE_EXTENDED,
  IO_URING_RSRC_UPDATE2_SIZE,
  ioUringRegister,
  type IoUringRegbufDesc,
} from "@dmabuf-sdk/io-uring";
import { IoUring, negErrno, userAlloc } from "@dmabuf-sdk/io-uring";
import { ioUringMachine, type IoUringMachine } from "@dmabuf-sdk/io-uring/testing";

function setup() {
  const m = ioUringMachine();
  const ring = new IoUring(m.task);
  const blkFd = m.openBlk();
  const dmabuf = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, 8192n);
  const bufFd = m.kernel.runAs(m.task, () => dmaBufFd(dmabuf, O_CLOEXEC));
  return { m, ring, blkFd, bufFd };
}

function finish(m: IoUringMachine, ring: IoUring, fds: number[]): void {
  ring.close();
  for (const fd of fds) m.task.sys.close(fd);
  m.kernel.clock.advance(100e6);
  m.kernel.exitTask(m.task, 0);
  expect(m.kernel.leakReport().empty).toBe(true);
}

describe("IORING_REGISTER_BUFFERS_UPDATE with IORING_RSRC_UPDATE_EXTENDED (__io_sqe_buffers_update, v3+)", () => {
  it("ENXIO without a buffer table", () => {
    const { m, ring, blkFd, bufFd } = setup();
    expect(ring.registerDmabuf(0, bufFd, blkFd)).toBe(negErrno("ENXIO"));
    finish(m, ring, [blkFd, bufFd]);
  });

  it.each([
    { desc: "offset + nr past the table", offset: 3, descs: 2, opts: {}, errno: "EINVAL" as const },
    { desc: "unknown update flag", offset: 0, descs: 1, opts: { flags: IORING_RSRC_UPDATE_EXTENDED | 4 }, errno: "EINVAL" as const },
    { desc: "nr == 0", offset: 0, descs: 0, opts: {}, errno: "EINVAL" as const },
    { desc: "resv2 != 0", offset: 0, descs: 1, opts: { resv2: 1 }, errno: "EINVAL" as const },
  ])("$desc → $errno", ({ offset, descs, opts, errno }) => {
    const { m, ring, blkFd, bufFd } = setup();
    ring.registerBuffersSparse(4);
    const d = Array.from({ length: descs }, () => ({ type: IO_REGBUF_TYPE_DMABUF, dmabufFd: bufFd, targetFd: blkFd }));
    expect(ring.updateBuffers(offset, d, opts)).toBe(negErrno(errno));
    finish(m, ring, [blkFd, bufFd]);
  });

  it("nr_args other than sizeof(io_uring_rsrc_update2) → EINVAL; a NULL arg → EFAULT", () => {
    const { m, ring, blkFd, bufFd } = setup();
    ring.registerBuffersSparse(1);
    const up = UserStruct.alloc(IO_URING_RSRC_UPDATE2_SIZE).setU32(24, 1);
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_BUFFERS_UPDATE, up.bytes, 16)).toBe(negErrno("EINVAL"));
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_BUFFERS_UPDATE, null, IO_URING_RSRC_UPDATE2_SIZE)).toBe(negErrno("EFAULT"));
    finish(m, ring, [blkFd, bufFd]);
  });

  it("partial success returns the count: with the 2nd of 3 invalid, slot 0 is set and 1, 2 are unchanged", () => {
    const { m, ring, blkFd, bufFd } = setup();
    ring.registerBuffersSparse(4);
    const good = { type: IO_REGBUF_TYPE_DMABUF, dmabufFd: bufFd, targetFd: blkFd };
    expect(ring.updateBuffers(0, [good, { type: 7 }, good])).toBe(1);
    for (const [slot, res] of [
      [0, 4096],
      [1, negErrno("EFAULT")],
      [2, negErrno("EFAULT")],
    ] as const) {
      ring.queue({ opcode: IORING_OP_READ_FIXED, fd: blkFd, addr: 0n, len: 4096, bufIndex: slot });
      expect(ring.run(1)[0]!.res).toBe(res);
    }
    finish(m, ring, [blkFd, bufFd]);
  });

  describe("descriptor validation (io_sqe_buffer_register) and io_register_dmabuf()", () => {
    const cases: { desc: string; d: (f: { bufFd: number; blkFd: number; ringFd: number; ubuf: bigint }) => Partial<IoUringRegbufDesc>; errno: Parameters<typeof negErrno>[0] }[] = [
      { desc: "type >= __IO_REGBUF_TYPE_MAX", d: () => ({ type: 3 }), errno: "EINVAL" },
      { desc: "a reserved word set", d: (f) => ({ type: IO_REGBUF_TYPE_DMABUF, dmabufFd: f.bufFd, targetFd: f.blkFd, resv: [0n, 0n, 1n] }), errno: "EINVAL" },
      { desc: "fds on an EMPTY descriptor", d: (f) => ({ type: IO_REGBUF_TYPE_EMPTY, dmabufFd: f.bufFd }), errno: "EINVAL" },
      { desc: "EMPTY with a size", d: () => ({ type: IO_REGBUF_TYPE_EMPTY, size: 4096n }), errno: "EFAULT" },
      { desc: "UADDR with a target fd", d: (f) => ({ type: IO_REGBUF_TYPE_UADDR, uaddr: f.ubuf, size: 4096n, targetFd: f.blkFd }), errno: "EINVAL" },
      { desc: "DMABUF with uaddr", d: (f) => ({ type: IO_REGBUF_TYPE_DMABUF, dmabufFd: f.bufFd, targetFd: f.blkFd, uaddr: 4096n }), errno: "EINVAL" },
      { desc: "DMABUF with size", d: (f) => ({ type: IO_REGBUF_TYPE_DMABUF, dmabufFd: f.bufFd, targetFd: f.blkFd, size: 4096n }), errno: "EINVAL" },
      { desc: "a bad target fd", d: (f) => ({ type: IO_REGBUF_TYPE_DMABUF, dmabufFd: f.bufFd, targetFd: 999 }), errno: "EBADF" },
      { desc: "a bad dma-buf fd", d: (f) => ({ type: IO_REGBUF_TYPE_DMABUF, dmabufFd: 998, targetFd: f.blkFd }), errno: "EBADF" },
      { desc: "a non-dma-buf fd (the ring) as the dma-buf", d: (f) => ({ type: IO_REGBUF_TYPE_DMABUF, dmabufFd: f.ringFd, targetFd: f.blkFd }), errno: "EINVAL" },
      { desc: "a target without dma-buf I/O support (the ring fd)", d: (f) => ({ type: IO_REGBUF_TYPE_DMABUF, dmabufFd: f.bufFd, targetFd: f.ringFd }), errno: "EOPNOTSUPP" },
      { desc: "a target without dma-buf I/O support (a dma-buf fd)", d: (f) => ({ type: IO_REGBUF_TYPE_DMABUF, dmabufFd: f.bufFd, targetFd: f.bufFd }), errno: "EOPNOTSUPP" },
      { desc: "UADDR over a hole", d: () => ({ type: IO_REGBUF_TYPE_UADDR, uaddr: 0x10000n, size: 4096n }), errno: "EFAULT" },
    ];
    it.each(cases)("$desc → $errno, nothing left behind", ({ d, errno }) => {
      const { m, ring, blkFd, bufFd } = setup();
      const ubuf = userAlloc(m.task, 4096);
      ring.registerBuffersSparse(2);
      expect(ring.updateBuffers(0, [d({ bufFd, blkFd, ringFd: ring.fd, ubuf })])).toBe(negErrno(errno));
      expect(m.blk.log).toEqual([]);
      m.task.sys.munmap(ubuf, 4096);
      finish(m, ring, [blkFd, bufFd]);
    });

    it("a tag on an EMPTY descriptor → EINVAL; a UADDR descriptor registers and reads", () => {
      const { m, ring, blkFd, bufFd } = setup();
      const ubuf = userAlloc(m.task, 8192);
      ring.registerBuffersSparse(2);
      expect(ring.updateBuffers(0, [{ type: IO_REGBUF_TYPE_EMPTY }], { tags: [5n] })).toBe(negErrno("EINVAL"));
      expect(ring.updateBuffers(1, [{ type: IO_REGBUF_TYPE_UADDR, uaddr: ubuf, size: 8192n }])).toBe(1);
      m.blk.data.fill(0x5a, 0, 4096);
      ring.queueFixed(false, blkFd, ubuf + 4096n, 4096, 0n, 1);
      expect(ring.run(1)[0]!.res).toBe(4096);
      expect(m.task.sys.peek(ubuf + 4096n, 2)).toEqual(Uint8Array.of(0x5a, 0x5a));
      m.task.sys.munmap(ubuf, 8192);
      finish(m, ring, [blkFd, bufFd]);
    });

    it("registration makes no map and holds the dma-buf, the target file and an attachment until the slot is cleared", () => {
      const { m, ring, blkFd, bufFd } = setup();
      ring.registerBuffersSparse(1);
      expect(ring.registerDmabuf(0, bufFd, blkFd)).toBe(1);
      m.task.sys.close(bufFd);
      m.task.sys.close(blkFd);
      expect(m.blk.log).toEqual([]);
      const kinds = m.kernel.leakReport().entries.map((e) => e.kind);
      expect(kinds).toContain("dma_buf_io_ctx");
      expect(ring.clearBuffer(0)).toBe(1);
      // The release runs from a worker: the update returns first.
      expect(m.blk.log).toEqual([]);
      m.kernel.clock.flush();
      expect(m.blk.log).toEqual(["release"]);
      finish(m, ring, []);
    });
  });
});
