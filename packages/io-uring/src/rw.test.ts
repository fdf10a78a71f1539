// Tests io_uring/rw.c: READ_FIXED/WRITE_FIXED on dma-buf registered buffers, plain READ/WRITE and registered files.
import { describe, expect, it } from "vitest";
import { O_CLOEXEC, O_RDWR, dmaBufFd, iommuDmaStats, type DmaBuf, O_DIRECT } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import { IORING_OP_READ, IORING_OP_READV_FIXED, IORING_OP_WRITE_FIXED, IORING_OP_READ_FIXED, IOSQE_FIXED_FILE } from "@dmabuf-sdk/io-uring";
import { IoUring, negErrno, userAlloc } from "@dmabuf-sdk/io-uring";
import { ioUringMachine, type IoUringMachine } from "@dmabuf-sdk/io-uring/testing";

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

function exportBuf(m: IoUringMachine, size: bigint): { dmabuf: DmaBuf; fd: number } {
  const dmabuf = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, size);
  const fd = m.kernel.runAs(m.task, () => dmaBufFd(dmabuf, O_CLOEXEC));
  return { dmabuf, fd };
}

function readBuf(m: IoUringMachine, dmabuf: DmaBuf, off: number, len: number): Uint8Array {
  const pfns = (dmabuf.priv as { pfns: number[] }).pfns;
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = m.kernel.platform.physmem.read((BigInt(pfns[(off + i) >> 12]!) << 12n) + BigInt((off + i) & 0xfff), 1)[0]!;
  return out;
}

/** Closes everything a case opened and checks nothing is left. */
function teardown(m: IoUringMachine, ring: IoUring, fds: number[]): void {
  ring.close();
  for (const fd of fds) m.task.sys.close(fd);
  m.kernel.clock.advance(100e6);
  m.kernel.exitTask(m.task, 0);
  expect(m.kernel.leakReport().text()).toBe(m.kernel.leakReport().empty ? m.kernel.leakReport().text() : "");
  expect(m.kernel.leakReport().empty).toBe(true);
}

describe("READ_FIXED / WRITE_FIXED on a dma-buf registered buffer (series v6 10/10)", () => {
  it("READ_FIXED puts the device's bytes into the dma-buf; WRITE_FIXED takes them back out", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    const { dmabuf, fd } = exportBuf(m, 16384n);
    m.blk.data.set(pattern(8192, 3), 4096);
    expect(ring.registerBuffersSparse(4)).toBe(0);
    expect(ring.registerDmabuf(1, fd, blkFd)).toBe(1);
    expect(m.blk.log).toEqual([]);
    ring.queueFixed(false, blkFd, 4096n, 8192, 4096n, 1, 7n);
    const [cqe] = ring.run(1);
    expect(cqe).toEqual({ userData: 7n, res: 8192, flags: 0 });
    expect(readBuf(m, dmabuf, 4096, 8192)).toEqual(pattern(8192, 3));
    const src = pattern(4096, 9);
    const pfns = (dmabuf.priv as { pfns: number[] }).pfns;
    m.kernel.platform.physmem.write(BigInt(pfns[0]!) << 12n, src);
    ring.queueFixed(true, blkFd, 0n, 4096, 65536n, 1, 8n);
    expect(ring.run(1)[0]!.res).toBe(4096);
    expect(m.blk.data.subarray(65536, 65536 + 4096)).toEqual(src);
    expect(m.blk.log).toEqual(["map"]);
    teardown(m, ring, [fd, blkFd]);
    expect(m.blk.log).toEqual(["map", "unmap", "release"]);
  });

  it("the long-term map removes the per-I/O IOMMU work a registered user buffer pays (strict mode)", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    const { fd } = exportBuf(m, 65536n);
    const ubuf = userAlloc(m.task, 65536);
    expect(ring.registerBuffers([[ubuf, 65536n]])).toBe(0);
    expect(ring.updateBuffers(0, [])).toBeLessThan(0);
    const dev = m.blk.dev;
    const before = { ...iommuDmaStats(dev) };
    // An ordinary registered buffer is addressed by user address.
    for (let i = 0; i < 8; i++) ring.queueFixed(false, blkFd, ubuf + BigInt(i * 4096), 4096, BigInt(i * 4096), 0, BigInt(i));
    expect(ring.run(8).map((c) => c.res)).toEqual(Array(8).fill(4096));
    const mid = { ...iommuDmaStats(dev) };
    expect(mid.map - before.map).toBe(8);
    expect(mid.iotlbSync - before.iotlbSync).toBe(8);
    ring.unregisterBuffers();
    ring.registerBuffersSparse(1);
    ring.registerDmabuf(0, fd, blkFd);
    ring.queueFixed(false, blkFd, 0n, 4096, 0n, 0, 0n);
    ring.run(1);
    const warm = { ...iommuDmaStats(dev) };
    for (let i = 0; i < 8; i++) ring.queueFixed(false, blkFd, BigInt(i * 4096), 4096, BigInt(i * 4096), 0, BigInt(i));
    expect(ring.run(8).every((c) => c.res === 4096)).toBe(true);
    const after = { ...iommuDmaStats(dev) };
    expect({ map: after.map - warm.map, unmap: after.unmap - warm.unmap, iotlbSync: after.iotlbSync - warm.iotlbSync }).toEqual({ map: 0, unmap: 0, iotlbSync: 0 });
    m.task.sys.munmap(ubuf, 65536);
    teardown(m, ring, [fd, blkFd]);
  });

  it("a plain READ into user memory pins and maps per I/O and fills the memory", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    m.blk.data.set(pattern(4096, 5), 0);
    const ubuf = userAlloc(m.task, 4096);
    ring.queue({ opcode: IORING_OP_READ, fd: blkFd, addr: ubuf, len: 4096, off: 0n });
    expect(ring.run(1)[0]!.res).toBe(4096);
    expect(m.task.sys.peek(ubuf, 4096)).toEqual(pattern(4096, 5));
    m.task.sys.munmap(ubuf, 4096);
    teardown(m, ring, [blkFd]);
  });

  it("registered files: IOSQE_FIXED_FILE finds the file the registration targets", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    const { fd } = exportBuf(m, 4096n);
    expect(ring.registerFiles([-1, blkFd])).toBe(0);
    ring.registerBuffersSparse(1);
    ring.registerDmabuf(0, fd, blkFd);
    ring.queue({ opcode: IORING_OP_READ_FIXED, fd: 1, flags: IOSQE_FIXED_FILE, addr: 0n, len: 4096, bufIndex: 0 });
    ring.queue({ opcode: IORING_OP_READ_FIXED, fd: 0, flags: IOSQE_FIXED_FILE, addr: 0n, len: 4096, bufIndex: 0, userData: 1n });
    const cqes = ring.run(2).sort((a, b) => Number(a.userData - b.userData));
    expect(cqes.map((c) => c.res)).toEqual([4096, negErrno("EBADF")]);
    teardown(m, ring, [fd, blkFd]);
  });

  describe("io_import_fixed() → io_import_dmabuf() errnos, in the kernel's order", () => {
    it.each([
      { desc: "no buffer in the slot", sqe: { bufIndex: 3 }, errno: "EFAULT" as const },
      { desc: "range past the dma-buf", sqe: { addr: 8192n, len: 4096 }, errno: "EFAULT" as const },
      { desc: "offset+len overflows", sqe: { addr: (1n << 64n) - 4096n, len: 8192 }, errno: "EFAULT" as const },
      { desc: "zero length", sqe: { len: 0 }, errno: "EFAULT" as const },
      { desc: "vectored fixed I/O", sqe: { opcode: IORING_OP_READV_FIXED }, errno: "EOPNOTSUPP" as const },
      { desc: "another file than the registration's target", sqe: { other: true }, errno: "EBADF" as const },
      { desc: "unaligned I/O (device rule)", sqe: { addr: 100n, len: 1000 }, errno: "EINVAL" as const },
    ])("$desc → $errno, nothing left behind", ({ sqe, errno }) => {
      const m = ioUringMachine();
      const ring = new IoUring(m.task);
      const blkFd = m.openBlk();
      const other = m.openBlk();
      const { fd } = exportBuf(m, 8192n);
      ring.registerBuffersSparse(4);
      ring.registerDmabuf(0, fd, blkFd);
      const s = sqe as { bufIndex?: number; addr?: bigint; len?: number; opcode?: number; other?: boolean };
      ring.queue({ opcode: s.opcode ?? IORING_OP_READ_FIXED, fd: s.other ? other : blkFd, addr: s.addr ?? 0n, len: s.len ?? 4096, bufIndex: s.bufIndex ?? 0, off: 0n });
      expect(ring.run(1)[0]!.res).toBe(negErrno(errno));
      teardown(m, ring, [fd, blkFd, other]);
    });

    it("a buffered (non-O_DIRECT) file refuses the dma-buf iterator with EFAULT (v6 hardening)", () => {
      const m = ioUringMachine();
      const ring = new IoUring(m.task);
      const direct = m.openBlk();
      const buffered = m.openBlk(O_RDWR);
      const { fd } = exportBuf(m, 4096n);
      ring.registerBuffersSparse(1);
      // Registration needs the target's op only; the mock does not check O_DIRECT there, NVMe does.
      expect(ring.registerDmabuf(0, fd, buffered)).toBe(1);
      ring.queueFixed(true, buffered, 0n, 4096, 0n, 0);
      expect(ring.run(1)[0]!.res).toBe(negErrno("EFAULT"));
      teardown(m, ring, [fd, direct, buffered]);
    });
  });

  it("two first requests at once make exactly one driver map; both complete", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    const { fd } = exportBuf(m, 8192n);
    ring.registerBuffersSparse(1);
    ring.registerDmabuf(0, fd, blkFd);
    ring.queueFixed(false, blkFd, 0n, 4096, 0n, 0, 1n);
    ring.queueFixed(true, blkFd, 4096n, 4096, 4096n, 0, 2n);
    expect(ring.run(2).map((c) => c.res)).toEqual([4096, 4096]);
    expect(m.blk.log).toEqual(["map"]);
    teardown(m, ring, [fd, blkFd]);
  });

  it("WRITE_FIXED from the dma-buf reaches the device bytes it names (opcode WRITE_FIXED)", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    const { dmabuf, fd } = exportBuf(m, 4096n);
    const pfns = (dmabuf.priv as { pfns: number[] }).pfns;
    m.kernel.platform.physmem.write(BigInt(pfns[0]!) << 12n, pattern(512, 1));
    ring.registerBuffersSparse(1);
    ring.registerDmabuf(0, fd, blkFd);
    ring.queue({ opcode: IORING_OP_WRITE_FIXED, fd: blkFd, addr: 0n, len: 512, off: 1024n, bufIndex: 0 });
    expect(ring.run(1)[0]!.res).toBe(512);
    expect(m.blk.data.subarray(1024, 1536)).toEqual(pattern(512, 1));
    teardown(m, ring, [fd, blkFd]);
  });

  it("the mock block device itself is unaffected by O_DIRECT being absent for user memory: EINVAL", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const buffered = m.openBlk(O_RDWR);
    const ubuf = userAlloc(m.task, 4096);
    ring.queue({ opcode: IORING_OP_READ, fd: buffered, addr: ubuf, len: 4096 });
    expect(ring.run(1)[0]!.res).toBe(negErrno("EINVAL"));
    expect(O_DIRECT).toBe(0o40000);
    m.task.sys.munmap(ubuf, 4096);
    teardown(m, ring, [buffered]);
  });
});
