// Tests of the syscall layer: C argument types, pread64/pwrite64, read/write and mmap (fs/read_write.c, mm/mmap.c).
import { beforeEach, describe, expect, it } from "vitest";
import {
  ERRNO,
  Kernel,
  KernelError,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_SYNC,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PROT_READ,
  PROT_WRITE,
  TASK_SIZE,
  dmaBufExport,
  type DmaBuf,
  type FileOperations,
} from "@dmabuf-sdk/dmabuf-core";

const E = (n: keyof typeof ERRNO): number => -ERRNO[n];
const EB = (n: keyof typeof ERRNO): bigint => BigInt(-ERRNO[n]);

/** Values no C register holds, for any numeric argument. */
const NOT_REGISTERS: unknown[] = [0.5, 1.5, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, -(2 ** 53), 1n << 64n, -(1n << 63n) - 1n, "1", null, {}, undefined];
const NOT_INTS: unknown[] = [0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32, -(2 ** 31) - 1, 1n, "0", null];
const NOT_FDS: unknown[] = [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, 2 ** 53, 3n, "3", null, undefined];

/** A char device with every file operation, counting calls, and a dma-buf without read/write. */
function boot() {
  const k = new Kernel();
  const calls: string[] = [];
  const fops: FileOperations = {
    name: "testdev",
    unlockedIoctl(_f, cmd) {
      calls.push(`ioctl ${cmd}`);
      if (cmd === 7) return 7;
      throw new KernelError("ENOTTY", "testdev_ioctl");
    },
    read(_f, buf, pos) {
      calls.push(`read ${buf.length}@${pos}`);
      return buf.length;
    },
    write(_f, data, pos) {
      calls.push(`write ${data.length}@${pos}`);
      return data.length;
    },
    mmap(_f, vma) {
      calls.push(`mmap ${vma.end - vma.start}`);
      if (vma.pgoff === 0x10n) throw new KernelError("ENXIO", "testdev_mmap");
    },
  };
  k.devfs.register("testdev", { fops });
  const sys = k.init.sys;
  const dev = sys.open("/dev/testdev", O_RDWR);
  const ro = sys.open("/dev/testdev", O_RDONLY);
  const wo = sys.open("/dev/testdev", O_WRONLY);
  const dmabuf: DmaBuf = dmaBufExport(k, { owner: k.modules.vmlinux, expName: "t", ops: { release: () => undefined, mapDmaBuf: () => { throw new KernelError("ENOMEM", "t"); }, unmapDmaBuf: () => undefined }, size: 0x2000n, flags: O_RDWR, priv: {} });
  const bufFd = k.init.files.installNew(dmabuf.file!, O_RDWR);
  return { k, sys, dev, ro, wo, bufFd, calls, dmabuf };
}

/** Everything a failed call must leave as it was. */
function state(k: Kernel) {
  return { fds: k.init.files.fds(), vmas: k.init.mm!.vmas.map((v) => [v.start, v.end]), oopses: k.oopses().length, warnings: k.warnings().length };
}

describe("syscall arguments are taken as their C types, with the kernel's errno", () => {
  let s: ReturnType<typeof boot>;
  beforeEach(() => {
    s = boot();
  });

  describe("pread64/pwrite64 (fs/read_write.c)", () => {
    it.each(NOT_REGISTERS.map((pos) => ({ pos })))("pos $pos is not a loff_t: EINVAL, the driver is not called", ({ pos }) => {
      const before = state(s.k);
      expect(s.sys.pread(s.dev, new Uint8Array(4), pos as number)).toBe(E("EINVAL"));
      expect(s.sys.pwrite(s.dev, new Uint8Array(4), pos as number)).toBe(E("EINVAL"));
      expect(s.calls).toEqual([]);
      expect(state(s.k)).toEqual(before);
    });

    it.each([
      { desc: "negative pos, even on a bad fd (checked before fdget)", fd: 99, pos: -1n, ret: "EINVAL" },
      { desc: "negative pos as a number", fd: -1, pos: -4096, ret: "EINVAL" },
      { desc: "-2^63", fd: 99, pos: -(1n << 63n), ret: "EINVAL" },
      { desc: "2^64 - 1 is -1 as a loff_t", fd: 99, pos: (1n << 64n) - 1n, ret: "EINVAL" },
      { desc: "bad fd", fd: 99, pos: 0n, ret: "EBADF" },
      { desc: "pos + count overflows loff_t (rw_verify_area)", fd: "dev", pos: (1n << 63n) - 2n, ret: "EINVAL" },
      { desc: "a dma-buf has no positional I/O (alloc_file_pseudo)", fd: "bufFd", pos: 0n, ret: "ESPIPE" },
    ])("$desc: $ret", ({ fd, pos, ret }) => {
      const f = typeof fd === "string" ? (s as unknown as Record<string, number>)[fd]! : fd;
      expect(s.sys.pread(f, new Uint8Array(4), pos)).toBe(E(ret as keyof typeof ERRNO));
      expect(s.sys.pwrite(f, new Uint8Array(4), pos)).toBe(E(ret as keyof typeof ERRNO));
      expect(s.calls).toEqual([]);
    });

    it.each(NOT_FDS.map((fd) => ({ fd })))("fd $fd names no file: EBADF", ({ fd }) => {
      expect(s.sys.pread(fd as number, new Uint8Array(4), 0)).toBe(E("EBADF"));
      expect(s.sys.pwrite(fd as number, new Uint8Array(4), 0)).toBe(E("EBADF"));
    });

    it("mode checks of vfs_read/vfs_write: EBADF for the wrong access mode", () => {
      expect(s.sys.pread(s.wo, new Uint8Array(4), 0)).toBe(E("EBADF"));
      expect(s.sys.pwrite(s.ro, new Uint8Array(4), 0)).toBe(E("EBADF"));
    });

    it.each([null, "buf", 4, [1, 2]])("a buffer that is not user memory (%s): EFAULT", (b) => {
      expect(s.sys.pread(s.dev, b as unknown as Uint8Array, 0)).toBe(E("EFAULT"));
      expect(s.sys.pwrite(s.dev, b as unknown as Uint8Array, 0)).toBe(E("EFAULT"));
      expect(s.calls).toEqual([]);
    });

    it("valid calls reach the driver with pos as a bigint", () => {
      expect(s.sys.pread(s.dev, new Uint8Array(4), 8)).toBe(4);
      expect(s.sys.pwrite(s.dev, new Uint8Array(2), 0x10n)).toBe(2);
      expect(s.calls).toEqual(["read 4@8", "write 2@16"]);
    });
  });

  describe("read/write (fs/read_write.c ksys_read, vfs_read, ksys_write, vfs_write)", () => {
    it.each([
      { desc: "bad fd", fd: 99, ret: "EBADF" },
      { desc: "a dma-buf has no read/write (no FMODE_CAN_READ/WRITE)", fd: "bufFd", ret: "EINVAL" },
    ])("$desc: $ret, the driver is not called", ({ fd, ret }) => {
      const f = typeof fd === "string" ? (s as unknown as Record<string, number>)[fd]! : fd;
      const before = state(s.k);
      expect(s.sys.read(f, new Uint8Array(4))).toBe(E(ret as keyof typeof ERRNO));
      expect(s.sys.write(f, new Uint8Array(4))).toBe(E(ret as keyof typeof ERRNO));
      expect(s.calls).toEqual([]);
      expect(state(s.k)).toEqual(before);
    });

    it.each(NOT_FDS.map((fd) => ({ fd })))("fd $fd names no file: EBADF", ({ fd }) => {
      expect(s.sys.read(fd as number, new Uint8Array(4))).toBe(E("EBADF"));
      expect(s.sys.write(fd as number, new Uint8Array(4))).toBe(E("EBADF"));
    });

    it("mode checks come before the missing-operation check: EBADF for the wrong access mode", () => {
      expect(s.sys.read(s.wo, new Uint8Array(4))).toBe(E("EBADF"));
      expect(s.sys.write(s.ro, new Uint8Array(4))).toBe(E("EBADF"));
      expect(s.calls).toEqual([]);
    });

    it.each([null, "buf", 4, [1, 2]])("a buffer that is not user memory (%s): EFAULT", (b) => {
      expect(s.sys.read(s.dev, b as unknown as Uint8Array)).toBe(E("EFAULT"));
      expect(s.sys.write(s.dev, b as unknown as Uint8Array)).toBe(E("EFAULT"));
      expect(s.calls).toEqual([]);
    });

    it("read and write continue at f_pos, which pread/pwrite leave alone", () => {
      expect(s.sys.read(s.dev, new Uint8Array(4))).toBe(4);
      expect(s.sys.pread(s.dev, new Uint8Array(8), 0x100)).toBe(8);
      expect(s.sys.write(s.dev, new Uint8Array(2))).toBe(2);
      expect(s.sys.read(s.dev, new Uint8Array(1))).toBe(1);
      expect(s.calls).toEqual(["read 4@0", "read 8@256", "write 2@4", "read 1@6"]);
    });
  });

  describe("mmap (mm/mmap.c do_mmap, arch/x86 sys_mmap)", () => {
    const ok = PROT_READ | PROT_WRITE;
    // An offset left undefined is the default 0.
    it.each(NOT_REGISTERS.filter((v) => v !== undefined).map((v) => ({ v })))("len or offset $v is not an unsigned long: EINVAL, no state change", ({ v }) => {
      const before = state(s.k);
      expect(s.sys.mmap(v as bigint, ok, MAP_SHARED, s.dev)).toBe(EB("EINVAL"));
      expect(s.sys.mmap(0x1000n, ok, MAP_SHARED, s.dev, v as bigint)).toBe(EB("EINVAL"));
      expect(s.calls).toEqual([]);
      expect(state(s.k)).toEqual(before);
    });

    it.each(NOT_INTS.map((v) => ({ v })))("prot or flags $v is not an int: EINVAL", ({ v }) => {
      expect(s.sys.mmap(0x1000n, v as number, MAP_SHARED, s.dev)).toBe(EB("EINVAL"));
      expect(s.sys.mmap(0x1000n, ok, v as number, s.dev)).toBe(EB("EINVAL"));
    });

    it.each([
      { desc: "len -1 is ULONG_MAX: PAGE_ALIGN wraps to 0", len: -1, ret: "ENOMEM" },
      { desc: "len 2^63 exceeds TASK_SIZE", len: 1n << 63n, ret: "ENOMEM" },
      { desc: "len TASK_SIZE + 1 page", len: TASK_SIZE + 0x1000n, ret: "ENOMEM" },
      { desc: "len 0", len: 0, ret: "EINVAL" },
      { desc: "unaligned offset", len: 0x1000, off: 1n, ret: "EINVAL" },
      { desc: "offset -1 is unaligned", len: 0x1000, off: -1, ret: "EINVAL" },
      { desc: "offset -4096: pgoff + pages wraps", len: 0x2000, off: -4096, ret: "EOVERFLOW" },
      { desc: "bad fd", len: 0x1000, fd: 99, ret: "EBADF" },
      { desc: "fd -1", len: 0x1000, fd: -1, ret: "EBADF" },
      { desc: "unknown mapping type 0", len: 0x1000, flags: 0, ret: "EINVAL" },
      { desc: "unknown mapping type 0xf", len: 0x1000, flags: 0xf, ret: "EINVAL" },
      { desc: "MAP_SHARED_VALIDATE with MAP_SYNC (not a DAX file)", len: 0x1000, flags: MAP_SHARED_VALIDATE | MAP_SYNC, ret: "EOPNOTSUPP" },
      { desc: "MAP_SHARED_VALIDATE with an unknown bit", len: 0x1000, flags: MAP_SHARED_VALIDATE | 0x4000_0000, ret: "EOPNOTSUPP" },
      { desc: "MAP_HUGETLB on a file that is not hugetlbfs", len: 0x1000, flags: MAP_SHARED | MAP_HUGETLB, ret: "EINVAL" },
      { desc: "MAP_GROWSDOWN on a file", len: 0x1000, flags: MAP_PRIVATE | MAP_GROWSDOWN, ret: "EINVAL" },
      { desc: "MAP_ANONYMOUS with no mapping type", len: 0x1000, flags: MAP_ANONYMOUS, ret: "EINVAL" },
      { desc: "MAP_ANONYMOUS of length 0", len: 0, flags: MAP_PRIVATE | MAP_ANONYMOUS, ret: "EINVAL" },
      { desc: "MAP_FIXED (the model picks addresses)", len: 0x1000, flags: MAP_SHARED | MAP_FIXED, ret: "EINVAL" },
      { desc: "shared writable map of a read-only file", len: 0x1000, fd: "ro", ret: "EACCES" },
      { desc: "any map of a write-only file", len: 0x1000, fd: "wo", flags: MAP_PRIVATE, prot: PROT_WRITE, ret: "EACCES" },
      { desc: "the driver refuses", len: 0x1000, off: 0x10000n, ret: "ENXIO" },
    ])("$desc: $ret, no state change", ({ len, off = 0n, fd = "dev", flags = MAP_SHARED, prot = ok, ret }) => {
      const f = typeof fd === "string" ? (s as unknown as Record<string, number>)[fd]! : fd;
      const before = state(s.k);
      const fileRefs = s.k.leakReport().text();
      expect(s.sys.mmap(len as bigint, prot, flags, f, off as bigint)).toBe(EB(ret as keyof typeof ERRNO));
      expect(state(s.k)).toEqual(before);
      expect(s.k.leakReport().text()).toBe(fileRefs);
    });

    it("a failed mmap does not move the address cursor: the next map gets the address it would have had", () => {
      const fresh = boot();
      const want = fresh.sys.mmap(0x1000n, ok, MAP_SHARED, fresh.dev);
      expect(s.sys.mmap(1n << 63n, ok, MAP_SHARED, s.dev)).toBe(EB("ENOMEM"));
      expect(s.sys.mmap(0x1000n, ok, MAP_SHARED, s.dev, 0x10000n)).toBe(EB("ENXIO"));
      expect(s.sys.mmap(-1, ok, MAP_SHARED, s.dev)).toBe(EB("ENOMEM"));
      const got = s.sys.mmap(0x1000n, ok, MAP_SHARED, s.dev);
      expect(got).toBe(want);
      expect(got).toBeGreaterThan(0n);
    });

    it("unknown flags are ignored with MAP_SHARED and MAP_PRIVATE (legacy), as the kernel does", () => {
      expect(s.sys.mmap(0x1000n, ok, MAP_SHARED | MAP_POPULATE | MAP_SYNC, s.dev)).toBeGreaterThan(0n);
      expect(s.sys.mmap(0x1000n, PROT_READ, MAP_PRIVATE | 0x4000_0000, s.ro)).toBeGreaterThan(0n);
    });

    it("the address space is bounded: when no gap is left mmap is ENOMEM, and munmap makes room again", () => {
      const big = 0x5000_0000_0000n;
      const a = s.sys.mmap(big, ok, MAP_SHARED, s.dev);
      expect(a).toBeGreaterThan(0n);
      const b = s.sys.mmap(big, ok, MAP_SHARED, s.dev);
      expect(b).toBe(EB("ENOMEM"));
      expect(s.sys.munmap(a, big)).toBe(0);
      expect(s.sys.mmap(big, ok, MAP_SHARED, s.dev)).toBe(a);
    });

    it("every address returned is page aligned, inside [mmap_min_addr, TASK_SIZE) and does not overlap", () => {
      const got: bigint[] = [];
      for (let i = 1; i <= 20; i++) got.push(s.sys.mmap(BigInt(i) * 0x1000n, ok, MAP_SHARED, s.dev));
      s.sys.munmap(got[4]!, 5n * 0x1000n);
      got.push(s.sys.mmap(0x1000n, ok, MAP_SHARED, s.dev));
      const vmas = s.k.init.mm!.vmas.map((v) => [v.start, v.end] as const).sort((x, y) => (x[0] < y[0] ? -1 : 1));
      for (const [st, en] of vmas) {
        expect(st & 0xfffn).toBe(0n);
        expect(st >= 0x10000n && en <= TASK_SIZE).toBe(true);
      }
      for (let i = 1; i < vmas.length; i++) expect(vmas[i]![0] >= vmas[i - 1]![1]).toBe(true);
    });
  });

  describe("munmap (mm/vma.c do_vmi_munmap)", () => {
    it.each([
      { desc: "unaligned address", addr: 0x1001n, len: 0x1000n, ret: "EINVAL" },
      { desc: "length 0", addr: 0x10000n, len: 0n, ret: "EINVAL" },
      { desc: "length -1 (wraps when page aligned)", addr: 0x10000n, len: -1, ret: "EINVAL" },
      { desc: "address beyond TASK_SIZE", addr: TASK_SIZE + 0x1000n, len: 0x1000n, ret: "EINVAL" },
      { desc: "end beyond TASK_SIZE", addr: TASK_SIZE - 0x1000n, len: 0x2000n, ret: "EINVAL" },
      { desc: "NaN length", addr: 0x10000n, len: Number.NaN, ret: "EINVAL" },
      { desc: "fractional length", addr: 0x10000n, len: 1.5, ret: "EINVAL" },
      { desc: "a number address", addr: 4096.5, len: 0x1000n, ret: "EINVAL" },
    ])("$desc: $ret", ({ addr, len, ret }) => {
      expect(s.sys.munmap(addr as bigint, len as bigint)).toBe(E(ret as keyof typeof ERRNO));
    });

    it("an unmapped range is 0", () => {
      expect(s.sys.munmap(0x10000n, 0x1000n)).toBe(0);
    });

    it("a range that cuts a VMA is refused before any VMA of the range is removed", () => {
      const a = s.sys.mmap(0x1000n, PROT_READ, MAP_SHARED, s.dev);
      const b = s.sys.mmap(0x3000n, PROT_READ, MAP_SHARED, s.dev);
      const before = state(s.k);
      // b is below a; [b + 0x1000, a + 0x1000) cuts b and covers a.
      expect(s.sys.munmap(b + 0x1000n, a + 0x1000n - (b + 0x1000n))).toBe(E("EINVAL"));
      expect(state(s.k)).toEqual(before);
    });
  });

  describe("fd, int and pointer arguments of the other syscalls", () => {
    it.each(NOT_FDS.map((fd) => ({ fd })))("fd $fd: EBADF from close, dup, ioctl, pidfd_getfd, sendmsg", ({ fd }) => {
      const before = state(s.k);
      expect(s.sys.close(fd as number)).toBe(E("EBADF"));
      expect(s.sys.dup(fd as number)).toBe(E("EBADF"));
      expect(s.sys.ioctl(fd as number, 7)).toBe(E("EBADF"));
      expect(s.sys.pidfdGetfd(fd as number, 0)).toBe(E("EBADF"));
      expect(s.sys.sendFd(s.k.init, fd as number)).toBe(E("EBADF"));
      expect(state(s.k)).toEqual(before);
    });

    it.each(NOT_INTS.map((v) => ({ v })))("ioctl cmd $v is not an unsigned int: EINVAL, the driver is not called", ({ v }) => {
      expect(s.sys.ioctl(s.dev, v as number)).toBe(E("EINVAL"));
      expect(s.calls).toEqual([]);
    });

    it.each([
      { arg: Number.NaN, ret: "EINVAL" },
      { arg: 0.5, ret: "EINVAL" },
      { arg: 1n << 64n, ret: "EINVAL" },
      { arg: "ptr", ret: "EFAULT" },
      { arg: {}, ret: "EFAULT" },
      { arg: [1], ret: "EFAULT" },
    ])("ioctl arg $arg: $ret", ({ arg, ret }) => {
      expect(s.sys.ioctl(s.dev, 7, arg as never)).toBe(E(ret as keyof typeof ERRNO));
      expect(s.calls).toEqual([]);
    });

    it("ioctl: ENOTTY on a file without ioctl (a dma-buf here); cmd -1 is 0xffffffff", () => {
      expect(s.sys.ioctl(s.bufFd, 7)).toBe(E("ENOTTY"));
      expect(s.sys.ioctl(s.dev, -1)).toBe(E("ENOTTY"));
      expect(s.calls).toEqual([`ioctl ${0xffffffff}`]);
    });

    it.each([
      { desc: "non-string path", path: 42, flags: O_RDWR, ret: "EFAULT" },
      { desc: "empty path", path: "", flags: O_RDWR, ret: "ENOENT" },
      { desc: "NaN flags", path: "/dev/testdev", flags: Number.NaN, ret: "EINVAL" },
      { desc: "fractional flags", path: "/dev/testdev", flags: 2.5, ret: "EINVAL" },
    ])("open: $desc is $ret, no fd consumed", ({ path, flags, ret }) => {
      const before = state(s.k);
      expect(s.sys.open(path as string, flags)).toBe(E(ret as keyof typeof ERRNO));
      expect(state(s.k)).toEqual(before);
    });

    it.each([
      { desc: "pid 0", pid: 0, flags: 0, ret: "EINVAL" },
      { desc: "pid -1", pid: -1, flags: 0, ret: "EINVAL" },
      { desc: "pid NaN", pid: Number.NaN, flags: 0, ret: "EINVAL" },
      { desc: "pid 1.5", pid: 1.5, flags: 0, ret: "EINVAL" },
      { desc: "pid 2^40", pid: 2 ** 40, flags: 0, ret: "EINVAL" },
      { desc: "unknown flags", pid: 1, flags: 1, ret: "EINVAL" },
      { desc: "NaN flags", pid: 1, flags: Number.NaN, ret: "EINVAL" },
      { desc: "no such pid", pid: 4242, flags: 0, ret: "ESRCH" },
    ])("pidfd_open: $desc is $ret", ({ pid, flags, ret }) => {
      expect(s.sys.pidfdOpen(pid, flags)).toBe(E(ret as keyof typeof ERRNO));
    });

    it.each([
      { desc: "flags 1", flags: 1, ret: "EINVAL" },
      { desc: "flags NaN", flags: Number.NaN, ret: "EINVAL" },
      { desc: "a pidfd-less fd (not a pidfd)", flags: 0, pidfd: "dev", ret: "EBADF" },
      { desc: "target fd NaN", flags: 0, target: Number.NaN, ret: "EBADF" },
    ])("pidfd_getfd: $desc is $ret", ({ flags, pidfd, target, ret }) => {
      const p = pidfd ? s.dev : s.sys.pidfdOpen(1, 0);
      expect(s.sys.pidfdGetfd(p, (target ?? s.dev) as number, flags)).toBe(E(ret as keyof typeof ERRNO));
    });

    it.each([
      { desc: "fds not an array", fds: 3, timeout: 0, ret: "EFAULT" },
      { desc: "an entry that is not an object", fds: [null], timeout: 0, ret: "EFAULT" },
      { desc: "a NaN fd field", fds: [{ fd: Number.NaN, events: 1 }], timeout: 0, ret: "EINVAL" },
      { desc: "a fractional events field", fds: [{ fd: 0, events: 0.5 }], timeout: 0, ret: "EINVAL" },
      { desc: "a NaN timeout", fds: [], timeout: Number.NaN, ret: "EINVAL" },
      { desc: "more entries than RLIMIT_NOFILE", fds: "many", timeout: 0, ret: "EINVAL" },
    ])("poll: $desc is $ret", ({ fds, timeout, ret }) => {
      const list = fds === "many" ? Array.from({ length: s.k.init.files.nofile + 1 }, () => ({ fd: -1, events: 1 })) : fds;
      expect(s.sys.poll(list as never, timeout)).toBe(E(ret as keyof typeof ERRNO));
    });

    it("poll: a negative fd is skipped with revents 0, a closed one is POLLNVAL", () => {
      const fds = [
        { fd: -1, events: 1, revents: 99 },
        { fd: 77, events: 1 },
      ];
      expect(s.sys.poll(fds, 0)).toBe(1);
      expect(fds.map((f) => f.revents)).toEqual([0, 0x20]);
    });

    it.each([
      { desc: "NaN initval", init: Number.NaN, flags: 0, ret: "EINVAL" },
      { desc: "initval 2^32", init: 2 ** 32, flags: 0, ret: "EINVAL" },
      { desc: "bigint initval 2^32", init: 1n << 32n, flags: 0, ret: "EINVAL" },
      { desc: "fractional flags", init: 0, flags: 0.5, ret: "EINVAL" },
      { desc: "unknown flags", init: 0, flags: 0x4, ret: "EINVAL" },
    ])("eventfd2: $desc is $ret, no fd consumed", ({ init, flags, ret }) => {
      const before = state(s.k);
      expect(s.sys.eventfd(init as number, flags)).toBe(E(ret as keyof typeof ERRNO));
      expect(state(s.k)).toEqual(before);
    });

    it("sendmsg to a task that is not a live process of this kernel: EPIPE", () => {
      const other = new Kernel();
      expect(s.sys.sendFd(other.init, s.dev)).toBe(E("EPIPE"));
      expect(s.sys.sendFd({} as never, s.dev)).toBe(E("EPIPE"));
    });

    it("a driver that returns something that is not a non-negative integer is an oops reported as EFAULT", () => {
      s.k.devfs.register("liar", { fops: { name: "liar", unlockedIoctl: (_f, cmd) => (cmd === 1 ? 1.5 : cmd === 2 ? -3 : (Number.NaN as number)) } });
      const fd = s.sys.open("/dev/liar", O_RDWR);
      for (const cmd of [1, 2, 3]) expect(s.sys.ioctl(fd, cmd)).toBe(E("EFAULT"));
      expect(s.k.oopses()).toHaveLength(3);
    });
  });
});
