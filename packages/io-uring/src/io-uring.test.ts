// Tests io_uring/io_uring.c's io_uring_setup() and io_uring_enter() checks in the kernel's order (ports of liburing test/io_uring_setup.c).
import { describe, expect, it } from "vitest";
import { O_CLOEXEC, O_DIRECT, O_RDWR, dmaBufFd } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import {
  IORING_ENTER_EXT_ARG,
  IORING_ENTER_GETEVENTS,
  IORING_ENTER_NO_IOWAIT,
  IORING_ENTER_REGISTERED_RING,
  IORING_ENTER_SQ_WAKEUP,
  IORING_OP_NOP,
  IORING_OP_READ,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_SINGLE_ISSUER,
  IoUring,
  ioUringEnter,
  ioUringRings,
  ioUringSetup,
  ioUringSqe,
  negErrno,
  userAlloc,
  type IoUringParams,
} from "@dmabuf-sdk/io-uring";
import { ioUringMachine } from "@dmabuf-sdk/io-uring/testing";

type ErrnoName = Parameters<typeof negErrno>[0];

describe("io_uring_setup(): copy-in, io_uring_sanitise_params(), io_uring_fill_params() in that order", () => {
  const cases: { desc: string; entries: number; p: IoUringParams | null; errno: ErrnoName }[] = [
    { desc: "NULL params, even with 0 entries (the copy comes first)", entries: 0, p: null, errno: "EFAULT" },
    { desc: "an unknown flag", entries: 8, p: { flags: 1 << 30 }, errno: "EINVAL" },
    { desc: "DEFER_TASKRUN without SINGLE_ISSUER", entries: 8, p: { flags: IORING_SETUP_DEFER_TASKRUN }, errno: "EINVAL" },
    { desc: "0 entries", entries: 0, p: { flags: 0 }, errno: "EINVAL" },
    { desc: "more than IORING_MAX_ENTRIES (no CLAMP)", entries: 32769, p: { flags: 0 }, errno: "EINVAL" },
    { desc: "entries that are not a u32", entries: 0.5, p: { flags: 0 }, errno: "EINVAL" },
    { desc: "CQSIZE with 0 CQ entries", entries: 8, p: { flags: IORING_SETUP_CQSIZE, cqEntries: 0 }, errno: "EINVAL" },
    { desc: "CQSIZE with a CQ size that is not a u32", entries: 1, p: { flags: IORING_SETUP_CQSIZE, cqEntries: Number.NaN }, errno: "EINVAL" },
    { desc: "CQSIZE above IORING_MAX_CQ_ENTRIES", entries: 8, p: { flags: IORING_SETUP_CQSIZE, cqEntries: 65537 }, errno: "EINVAL" },
    { desc: "CQSIZE smaller than the SQ", entries: 8, p: { flags: IORING_SETUP_CQSIZE, cqEntries: 4 }, errno: "EINVAL" },
  ];
  it.each(cases)("$desc → $errno, nothing left behind", ({ entries, p, errno }) => {
    const m = ioUringMachine();
    expect(ioUringSetup(m.task, entries, p)).toBe(negErrno(errno));
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("rounds the SQ up to a power of two, the CQ to twice that or the CQSIZE asked for", () => {
    const m = ioUringMachine();
    const p: IoUringParams = { flags: IORING_SETUP_CQSIZE, cqEntries: 100 };
    expect(ioUringSetup(m.task, 5, p)).toBeGreaterThanOrEqual(0);
    expect([p.sqEntries, p.cqEntries]).toEqual([8, 128]);
    const q: IoUringParams = { flags: 0 };
    expect(ioUringSetup(m.task, 3, q)).toBeGreaterThanOrEqual(0);
    expect([q.sqEntries, q.cqEntries]).toEqual([4, 8]);
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});

describe("liburing test/io_uring_setup.c", () => {
  it.each([
    { desc: "try_io_uring_setup(0, &p): 0 entries", entries: 0, p: { flags: 0 }, errno: "EINVAL" },
    { desc: "try_io_uring_setup(1, NULL)", entries: 1, p: null, errno: "EFAULT" },
    { desc: "resv array is non-zero", entries: 1, p: { flags: 0, resv: [1, 1, 1] }, errno: "EINVAL" },
    { desc: "invalid flags (~0U)", entries: 1, p: { flags: 0xffff_ffff }, errno: "EINVAL" },
    { desc: "IORING_SETUP_SQ_AFF set but not IORING_SETUP_SQPOLL", entries: 1, p: { flags: 1 << 2 }, errno: "EINVAL" },
    // SQPOLL is not modelled: the flag itself is EINVAL, which is also the errno for the invalid CPU.
    { desc: "attempt to bind to invalid cpu (SQPOLL | SQ_AFF)", entries: 1, p: { flags: (1 << 1) | (1 << 2) }, errno: "EINVAL" },
  ] as { desc: string; entries: number; p: IoUringParams | null; errno: ErrnoName }[])("$desc → $errno", ({ entries, p, errno }) => {
    const m = ioUringMachine();
    expect(ioUringSetup(m.task, entries, p)).toBe(negErrno(errno));
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("read/write on io_uring_fd fails", () => {
    const m = ioUringMachine();
    const fd = ioUringSetup(m.task, 1, { flags: 0 });
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(m.task.sys.read(fd, new Uint8Array(4096))).toBeLessThan(0);
    expect(m.task.sys.write(fd, new Uint8Array(8))).toBeLessThan(0);
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});

describe("io_uring_enter(): flags before the fd, then the ring's rules", () => {
  it.each([
    { desc: "an unknown flag on a bad fd (flags first)", fd: 999, flags: 1 << 8, errno: "EINVAL" },
    { desc: "IORING_ENTER_REGISTERED_RING, an empty slot of a task with an io_uring context", fd: 0, flags: IORING_ENTER_REGISTERED_RING, errno: "EBADF" },
    { desc: "IORING_ENTER_REGISTERED_RING, an index of IO_RINGFD_REG_MAX", fd: 16, flags: IORING_ENTER_REGISTERED_RING, errno: "EINVAL" },
    { desc: "a bad fd", fd: 999, flags: 0, errno: "EBADF" },
    { desc: "a file that is not a ring", fd: "blk", flags: 0, errno: "EOPNOTSUPP" },
    { desc: "waiting with IORING_ENTER_EXT_ARG and no argument (argsz 0)", fd: "ring", flags: IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, errno: "EINVAL" },
  ] as const)("$desc → $errno", ({ fd, flags, errno }) => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const blkFd = m.openBlk();
    const target = fd === "ring" ? ring.fd : fd === "blk" ? blkFd : fd;
    expect(ioUringEnter(m.task, target, 0, 0, flags)).toBe(negErrno(errno));
    ring.close();
    m.task.sys.close(blkFd);
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("IORING_ENTER_REGISTERED_RING from a task that never used io_uring (no task context) → EINVAL", () => {
    const m = ioUringMachine();
    expect(ioUringEnter(m.task, 0, 0, 0, IORING_ENTER_REGISTERED_RING)).toBe(negErrno("EINVAL"));
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("SQ_WAKEUP and NO_IOWAIT without SQPOLL are accepted and change nothing", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    ring.queue({ opcode: IORING_OP_NOP, userData: 3n });
    expect(ioUringEnter(m.task, ring.fd, 1, 1, IORING_ENTER_SQ_WAKEUP | IORING_ENTER_NO_IOWAIT | IORING_ENTER_GETEVENTS)).toBe(1);
    expect(ring.peekCqes().map((c) => [c.userData, c.res])).toEqual([[3n, 0]]);
    ring.close();
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("SINGLE_ISSUER: another task may enter without submitting, but EEXIST when it submits; DEFER_TASKRUN: EEXIST when it waits", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task, 8, { flags: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN });
    const other = m.kernel.fork({ comm: "other", parent: m.task });
    const fd = m.task.sys.sendFd(other, ring.fd);
    ring.queue({ opcode: IORING_OP_NOP });
    expect(ioUringEnter(other, fd, 0, 0, 0)).toBe(0);
    expect(ioUringEnter(other, fd, 1, 0, 0)).toBe(negErrno("EEXIST"));
    expect(ioUringEnter(other, fd, 0, 1, IORING_ENTER_GETEVENTS)).toBe(negErrno("EEXIST"));
    expect(ring.run(1).map((c) => c.res)).toEqual([0]);
    m.kernel.exitTask(other, 0);
    ring.close();
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("an SQE with a flag outside SQE_VALID_FLAGS completes with EINVAL", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    ring.queue({ opcode: IORING_OP_NOP, flags: 0x80 });
    expect(ring.run(1).map((c) => c.res)).toEqual([negErrno("EINVAL")]);
    ring.close();
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("a task that received the ring submits with its own fd table (current->files)", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const other = m.kernel.fork({ comm: "other", parent: m.task });
    const fd = m.task.sys.sendFd(other, ring.fd);
    const blkFd = other.sys.open(m.blk.path, O_RDWR | O_DIRECT);
    const ubuf = userAlloc(other, 4096);
    m.blk.data.fill(0x33, 0, 512);
    // The creator has no file at blkFd: the request must resolve it in `other`.
    expect(m.task.files.lookup(blkFd)).toBeUndefined();
    ioUringRings(other, fd)!.pushSqe(ioUringSqe({ opcode: IORING_OP_READ, fd: blkFd, addr: ubuf, len: 512 }));
    expect(ioUringEnter(other, fd, 1, 1, IORING_ENTER_GETEVENTS)).toBe(1);
    expect(ring.peekCqes().map((c) => c.res)).toEqual([512]);
    expect(other.sys.peek(ubuf, 2)).toEqual(Uint8Array.of(0x33, 0x33));
    m.kernel.exitTask(other, 0);
    ring.close();
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});

describe("READ into user memory on a file without read_iter (found by the uAPI fuzzer)", () => {
  it("completes with EINVAL and gives back the pages it pinned for the import", () => {
    const m = ioUringMachine();
    const ring = new IoUring(m.task);
    const dmabuf = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, 4096n);
    const bufFd = m.kernel.runAs(m.task, () => dmaBufFd(dmabuf, O_CLOEXEC));
    const ubuf = userAlloc(m.task, 4096);
    ring.queue({ opcode: IORING_OP_READ, fd: bufFd, addr: ubuf, len: 511 });
    expect(ring.run(1).map((c) => c.res)).toEqual([negErrno("EINVAL")]);
    m.task.sys.munmap(ubuf, 4096);
    ring.close();
    m.task.sys.close(bufFd);
    m.kernel.exitTask(m.task, 0);
    const r = m.kernel.leakReport();
    expect(r.empty ? "" : r.text()).toBe("");
  });
});
