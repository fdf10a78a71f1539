// Tests io_uring/register.c and rsrc.c registration checks in the kernel's order (ports of liburing test/io_uring_register.c).
import { describe, expect, it } from "vitest";
import { O_CLOEXEC, O_DIRECT, O_RDWR, UserStruct, dmaBufFd } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import {
  IORING_OP_READ_FIXED,
  IORING_REGISTER_BUFFERS,
  IORING_REGISTER_BUFFERS2,
  IORING_REGISTER_BUFFERS_UPDATE,
  IORING_REGISTER_FILES,
  IORING_REGISTER_LAST,
  IORING_REGISTER_USE_REGISTERED_RING,
  IORING_RSRC_REGISTER_SPARSE,
  IORING_RSRC_UPDATE_EXTENDED,
  IORING_SETUP_SINGLE_ISSUER,
  IO_URING_RSRC_REGISTER_SIZE,
  IO_URING_RSRC_UPDATE2_SIZE,
  IoUring,
  ioUringRegister,
  negErrno,
  userAlloc,
  userCopy,
} from "@dmabuf-sdk/io-uring";
import { ioUringMachine, type IoUringMachine } from "@dmabuf-sdk/io-uring/testing";

type ErrnoName = Parameters<typeof negErrno>[0];

function finish(m: IoUringMachine, ring: IoUring, fds: number[]): void {
  ring.close();
  for (const fd of fds) m.task.sys.close(fd);
  m.kernel.clock.advance(100e6);
  m.kernel.exitTask(m.task, 0);
  const r = m.kernel.leakReport();
  expect(r.empty ? "" : r.text()).toBe("");
}

/** `struct io_uring_rsrc_register`. */
function rsrcRegister(nr: number, flags: number, data = 0n, tags = 0n, resv2 = 0n): Uint8Array {
  return UserStruct.alloc(IO_URING_RSRC_REGISTER_SIZE).setU32(0, nr).setU32(4, flags).setU64(8, resv2).setU64(16, data).setU64(24, tags).bytes;
}

/** An array of `struct iovec`. */
function iovecs(v: readonly (readonly [bigint, bigint])[]): Uint8Array {
  const s = UserStruct.alloc(16 * Math.max(v.length, 1));
  v.forEach(([base, len], i) => s.setU64(16 * i, base).setU64(16 * i + 8, len));
  return s.bytes;
}

describe("io_uring_register(): the syscall's own checks, in the kernel's order", () => {
  it.each([
    { desc: "an opcode at IORING_REGISTER_LAST, on a bad fd (opcode first)", fd: 999, opcode: IORING_REGISTER_LAST, errno: "EINVAL" },
    { desc: "IORING_REGISTER_USE_REGISTERED_RING, an empty slot (the task has an io_uring context)", fd: 0, opcode: IORING_REGISTER_USE_REGISTERED_RING | IORING_REGISTER_BUFFERS2, errno: "EBADF" },
    { desc: "IORING_REGISTER_USE_REGISTERED_RING, an index of IO_RINGFD_REG_MAX", fd: 16, opcode: IORING_REGISTER_USE_REGISTERED_RING | IORING_REGISTER_BUFFERS2, errno: "EINVAL" },
    { desc: "fd -1 with an opcode that has no blind form", fd: -1, opcode: IORING_REGISTER_BUFFERS2, errno: "EINVAL" },
    { desc: "a bad fd", fd: 999, opcode: IORING_REGISTER_BUFFERS2, errno: "EBADF" },
    { desc: "a file that is not a ring", fd: "blk", opcode: IORING_REGISTER_BUFFERS2, errno: "EOPNOTSUPP" },
    { desc: "a known opcode the model does not implement (FILES_UPDATE)", fd: "ring", opcode: 6, errno: "EINVAL" },
  ] as const)("$desc → $errno", ({ fd, opcode, errno }) => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    const target = fd === "ring" ? ring.fd : fd === "blk" ? blkFd : fd;
    expect(ioUringRegister(m.task, target, opcode, rsrcRegister(1, IORING_RSRC_REGISTER_SPARSE), IO_URING_RSRC_REGISTER_SIZE)).toBe(negErrno(errno));
    finish(m, ring, [blkFd]);
  });

  it("a SINGLE_ISSUER ring refuses registration from another task with EEXIST; its own task registers", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task, 8, { flags: IORING_SETUP_SINGLE_ISSUER });
    const other = m.kernel.fork({ comm: "other", parent: m.task });
    const theirs = m.task.sys.sendFd(other, ring.fd);
    expect(ioUringRegister(other, theirs, IORING_REGISTER_BUFFERS2, rsrcRegister(1, IORING_RSRC_REGISTER_SPARSE), IO_URING_RSRC_REGISTER_SIZE)).toBe(negErrno("EEXIST"));
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_BUFFERS2, rsrcRegister(1, IORING_RSRC_REGISTER_SPARSE), IO_URING_RSRC_REGISTER_SIZE)).toBe(0);
    m.kernel.exitTask(other, 0);
    finish(m, ring, []);
  });
});

describe("liburing test/io_uring_register.c", () => {
  // The test's "invalid fd" is -1, which kernels since 6.13 send to io_uring_register_blind() (EINVAL); a closed fd is EBADF.
  it.each([
    { desc: "invalid fd", fd: () => 999, opcode: 0, errno: "EBADF" },
    { desc: "valid fd that is not an io_uring fd", fd: (f: { devnull: number }) => f.devnull, opcode: 0, errno: "EOPNOTSUPP" },
    { desc: "invalid opcode (~0U)", fd: (f: { ring: number }) => f.ring, opcode: 0xffff_ffff, errno: "EINVAL" },
  ] as const)("expect_fail: $desc → $errno", ({ fd, opcode, errno }) => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task, 1);
    const devnull = m.openBlk();
    expect(ioUringRegister(m.task, fd({ devnull, ring: ring.fd }), opcode, null, 0)).toBe(negErrno(errno));
    finish(m, ring, [devnull]);
  });

  it("test_iovec_size: NULL base; valid base, 0 length; length past the mapping → EFAULT", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task, 1);
    // Two pages, the upper one unmapped again: nothing is mapped directly after `buf`.
    const above = userAlloc(m.task, 4096);
    const buf = userAlloc(m.task, 4096);
    expect(m.task.sys.munmap(above, 4096)).toBe(0);
    expect(() => m.task.sys.peek(buf + 4096n, 1)).toThrow();
    for (const [base, len] of [
      [0n, 4096n],
      [buf, 0n],
      [buf, 8192n],
    ] as const)
      expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_BUFFERS, iovecs([[base, len]]), 1)).toBe(negErrno("EFAULT"));
    // The test's file-backed case has no counterpart: the model has no page cache (and pin_user_pages refuses non-anonymous memory with EFAULT).
    m.task.sys.munmap(buf, 4096);
    finish(m, ring, []);
  });

  it("test_iovec_nr: 1000000 iovecs → EINVAL; UIO_MAXIOV (1024) of them registers", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task, 1);
    const buf = userAlloc(m.task, 4096);
    const many = iovecs(Array.from({ length: 1024 }, () => [buf, 4096n] as const));
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_BUFFERS, many, 1_000_000)).toBe(negErrno("EINVAL"));
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_BUFFERS, many, 1024)).toBe(0);
    expect(ring.unregisterBuffers()).toBe(0);
    m.task.sys.munmap(buf, 4096);
    finish(m, ring, []);
  });

  it("test_poll_ringfd: registering the ring fd itself → EBADF", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task, 1);
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_FILES, UserStruct.alloc(4).setS32(0, ring.fd).bytes, 1)).toBe(negErrno("EBADF"));
    finish(m, ring, []);
  });
});

describe("IORING_REGISTER_BUFFERS / BUFFERS2 (io_sqe_buffers_register, io_register_rsrc)", () => {
  const cases: { desc: string; before?: "table"; opcode: number; arg: (ubuf: bigint) => Uint8Array | null; nr: number; errno: ErrnoName }[] = [
    { desc: "BUFFERS with a NULL arg", opcode: IORING_REGISTER_BUFFERS, arg: () => null, nr: 1, errno: "EFAULT" },
    { desc: "BUFFERS with a table already there, even with nr_args 0 (EBUSY first)", before: "table", opcode: IORING_REGISTER_BUFFERS, arg: (u) => iovecs([[u, 4096n]]), nr: 0, errno: "EBUSY" },
    { desc: "BUFFERS with nr_args 0", opcode: IORING_REGISTER_BUFFERS, arg: (u) => iovecs([[u, 4096n]]), nr: 0, errno: "EINVAL" },
    { desc: "BUFFERS with more than IORING_MAX_REG_BUFFERS", opcode: IORING_REGISTER_BUFFERS, arg: (u) => iovecs([[u, 4096n]]), nr: (1 << 14) + 1, errno: "EINVAL" },
    { desc: "BUFFERS with an iovec array shorter than nr_args", opcode: IORING_REGISTER_BUFFERS, arg: (u) => iovecs([[u, 4096n]]), nr: 2, errno: "EFAULT" },
    { desc: "BUFFERS with a base whose page-aligned end wraps", opcode: IORING_REGISTER_BUFFERS, arg: () => iovecs([[(1n << 64n) - 0x1000n, 0x2000n]]), nr: 1, errno: "EOVERFLOW" },
    { desc: "BUFFERS with a NULL base and a length", opcode: IORING_REGISTER_BUFFERS, arg: () => iovecs([[0n, 4096n]]), nr: 1, errno: "EFAULT" },
    { desc: "BUFFERS2 with nr_args not the struct's size", opcode: IORING_REGISTER_BUFFERS2, arg: () => rsrcRegister(1, IORING_RSRC_REGISTER_SPARSE), nr: 16, errno: "EINVAL" },
    { desc: "BUFFERS2 with nr 0", opcode: IORING_REGISTER_BUFFERS2, arg: () => rsrcRegister(0, IORING_RSRC_REGISTER_SPARSE), nr: IO_URING_RSRC_REGISTER_SIZE, errno: "EINVAL" },
    { desc: "BUFFERS2 with resv2 set", opcode: IORING_REGISTER_BUFFERS2, arg: () => rsrcRegister(1, IORING_RSRC_REGISTER_SPARSE, 0n, 0n, 1n), nr: IO_URING_RSRC_REGISTER_SIZE, errno: "EINVAL" },
    { desc: "BUFFERS2 with an unknown flag", opcode: IORING_REGISTER_BUFFERS2, arg: () => rsrcRegister(1, 2), nr: IO_URING_RSRC_REGISTER_SIZE, errno: "EINVAL" },
    { desc: "BUFFERS2 sparse with data", opcode: IORING_REGISTER_BUFFERS2, arg: (u) => rsrcRegister(1, IORING_RSRC_REGISTER_SPARSE, u), nr: IO_URING_RSRC_REGISTER_SIZE, errno: "EINVAL" },
    { desc: "BUFFERS2 with a tags pointer that faults", opcode: IORING_REGISTER_BUFFERS2, arg: () => rsrcRegister(1, 0, 0n, 0x10000n), nr: IO_URING_RSRC_REGISTER_SIZE, errno: "EFAULT" },
  ];
  it.each(cases)("$desc → $errno, nothing left behind", ({ before, opcode, arg, nr, errno }) => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const ubuf = userAlloc(m.task, 8192);
    if (before) expect(ring.registerBuffersSparse(1)).toBe(0);
    expect(ioUringRegister(m.task, ring.fd, opcode, arg(ubuf), nr)).toBe(negErrno(errno));
    m.task.sys.munmap(ubuf, 8192);
    finish(m, ring, []);
  });

  it("BUFFERS2 without the sparse flag and a NULL data makes empty slots, as the flag does; a tag on one is EINVAL", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    const tags = userCopy(m.task, UserStruct.alloc(16).setU64(8, 7n).bytes);
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_BUFFERS2, rsrcRegister(2, 0, 0n, tags), IO_URING_RSRC_REGISTER_SIZE)).toBe(negErrno("EINVAL"));
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_BUFFERS2, rsrcRegister(2, 0), IO_URING_RSRC_REGISTER_SIZE)).toBe(0);
    ring.queue({ opcode: IORING_OP_READ_FIXED, fd: blkFd, addr: 0n, len: 512, bufIndex: 1 });
    expect(ring.run(1)[0]!.res).toBe(negErrno("EFAULT"));
    finish(m, ring, [blkFd]);
  });
});

describe("IORING_REGISTER_BUFFERS_UPDATE: __io_register_rsrc_update()", () => {
  it("offset + nr wrapping a u32 → EOVERFLOW (before the table is looked at)", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const up = UserStruct.alloc(IO_URING_RSRC_UPDATE2_SIZE).setU32(0, 0xffff_ffff).setU32(4, IORING_RSRC_UPDATE_EXTENDED).setU32(24, 1).bytes;
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_BUFFERS_UPDATE, up, IO_URING_RSRC_UPDATE2_SIZE)).toBe(negErrno("EOVERFLOW"));
    finish(m, ring, []);
  });
});

describe("IORING_REGISTER_FILES (io_sqe_files_register)", () => {
  it.each([
    { desc: "a NULL arg", arg: () => null, nr: 1, errno: "EFAULT" },
    { desc: "nr_args 0", arg: () => new Uint8Array(4), nr: 0, errno: "EINVAL" },
    { desc: "more than RLIMIT_NOFILE", arg: () => new Uint8Array(4), nr: 1 << 20, errno: "EMFILE" },
    { desc: "more than IORING_MAX_FIXED_FILES", arg: () => new Uint8Array(4), nr: (1 << 20) + 1, errno: "EMFILE" },
    { desc: "an fd array shorter than nr_args", arg: () => Uint8Array.of(0xff, 0xff, 0xff, 0xff), nr: 2, errno: "EFAULT" },
    { desc: "a closed fd", arg: () => UserStruct.alloc(4).setS32(0, 999).bytes, nr: 1, errno: "EBADF" },
    { desc: "an io_uring fd", arg: (ringFd: number) => UserStruct.alloc(4).setS32(0, ringFd).bytes, nr: 1, errno: "EBADF" },
  ] as const)("$desc → $errno, nothing left behind", ({ arg, nr, errno }) => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    expect(ioUringRegister(m.task, ring.fd, IORING_REGISTER_FILES, arg(ring.fd), nr)).toBe(negErrno(errno));
    finish(m, ring, []);
  });

  it("a second table → EBUSY", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    expect(ring.registerFiles([blkFd])).toBe(0);
    expect(ring.registerFiles([blkFd])).toBe(negErrno("EBUSY"));
    finish(m, ring, [blkFd]);
  });
});

describe("registration runs in the calling task (current->files, current->mm)", () => {
  it("a task that received the ring fd registers its own dma-buf and target fds", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    expect(ring.registerBuffersSparse(1)).toBe(0);
    const other = m.kernel.fork({ comm: "other", parent: m.task });
    const ringFd = m.task.sys.sendFd(other, ring.fd);
    const blkFd = other.sys.open(m.blk.path, O_RDWR | O_DIRECT);
    const dmabuf = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, 8192n);
    const bufFd = m.kernel.runAs(other, () => dmaBufFd(dmabuf, O_CLOEXEC));
    const descs = userCopy(other, new Uint8Array(80));
    other.sys.poke(descs, UserStruct.alloc(80).setU32(0, 2).setS32(24, bufFd).setS32(28, blkFd).bytes);
    const up = UserStruct.alloc(IO_URING_RSRC_UPDATE2_SIZE).setU32(4, IORING_RSRC_UPDATE_EXTENDED).setU64(8, descs).setU32(24, 1).bytes;
    // Those fd numbers and that address mean nothing in the ring's creator.
    expect(ioUringRegister(other, ringFd, IORING_REGISTER_BUFFERS_UPDATE, up, IO_URING_RSRC_UPDATE2_SIZE)).toBe(1);
    expect(ring.clearBuffer(0)).toBe(1);
    m.kernel.exitTask(other, 0);
    finish(m, ring, []);
  });
});
