// The syscall entry points of one task (fs/open.c, fs/read_write.c, fs/ioctl.c, mm/mmap.c, kernel/pid.c, fs/file.c).
import { ERRNO } from "../kernel/errno.js";
import { KernelBug, KernelError, isKernelError } from "../kernel/kernel-error.js";
import { MAX_SCHEDULE_TIMEOUT } from "../kernel/time.js";
import { eventfdFile } from "./eventfd.js";
import type { Kernel } from "../kernel/kernel.js";
import { File, F_GETFL, F_SETFL, FMODE_PREAD, FMODE_PWRITE, FMODE_READ, FMODE_WRITE, O_CLOEXEC, SETFL_MASK } from "./file.js";
import {
  LEGACY_MAP_MASK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  MAX_MAP_COUNT,
  PROT_READ,
  PROT_WRITE,
  TASK_SIZE,
  UserSignal,
  VM_MAYSHARE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  vmaSetAnonymous,
} from "./mm.js";
import { PIDFD_NONBLOCK, pidfdCreate, pidfdPid } from "./pidfd.js";
import { argFd, argInt32, argLoff, argUlong, argUserBuf } from "./syscall-args.js";
import type { Task } from "./task.js";
import type { UserArg } from "./user-buffer.js";

/** `POLLIN`, `POLLOUT`, `POLLERR`, `POLLHUP`, `POLLNVAL`. @public */
export const POLLIN = 0x1;
/** @public */
export const POLLOUT = 0x4;
/** @public */
export const POLLERR = 0x8;
/** @public */
export const POLLHUP = 0x10;
/** @public */
export const POLLNVAL = 0x20;

/** `PIDFD_THREAD` (= O_EXCL). @public */
export const PIDFD_THREAD = 0o200;

/** `MAX_RW_COUNT`: `INT_MAX & PAGE_MASK`, the most one read or write transfers. */
const MAX_RW_COUNT = 0x7fff_f000;
const ULONG_MAX = (1n << 64n) - 1n;
const LOFF_MAX = (1n << 63n) - 1n;

/**
 * The syscall surface of one task. Every method returns what the syscall
 * returns — an fd, 0, a size, an address (mmap) or `-errno` — and never
 * throws. Each argument is first taken as its C type (`size_t`, `loff_t`,
 * `int`, `unsigned int`, a user pointer): a JS value no register can hold
 * (NaN, ±Infinity, a fraction, a number beyond 2^53, a wrong type) is
 * `EBADF` for an fd, `EFAULT` for a pointer and `EINVAL` otherwise; then the
 * kernel's own checks run in the kernel's order. A failed call changes no
 * state. A model bug inside a syscall is recorded as an oops and reported as
 * `-EFAULT`, as is a driver result that is not a non-negative integer. CPU
 * loads and stores (`peek`/`poke`) deliver signals as {@link UserSignal}.
 * @public
 */
export class UserSyscalls {
  constructor(
    private readonly kernel: Kernel,
    private readonly task: Task,
  ) {}

  #call(name: string, fn: () => number): number {
    const k = this.kernel;
    try {
      const r = k.runAs(this.task, fn);
      if (typeof r !== "number" || !Number.isSafeInteger(r) || r < 0) {
        k.oops(name, new TypeError(`${name} returned ${String(r)}, not an fd, 0 or a size`));
        return -ERRNO.EFAULT;
      }
      return r;
    } catch (e) {
      if (isKernelError(e)) return -ERRNO[e.errno];
      k.oops(name, e);
      return -ERRNO.EFAULT;
    } finally {
      k.lockdep.checkNoLocksHeld(this.task, `${name}()`);
    }
  }

  /** `openat(AT_FDCWD, "/dev/<path>", flags)`: `EFAULT` for a path that is not a string, `ENOENT`, `EMFILE`, the driver's `open` errno. */
  open(path: string, flags: number): number {
    return this.#call("open", () => {
      if (typeof path !== "string") throw new KernelError("EFAULT", "open", "path is not user memory");
      const oflags = argInt32(flags, "open", "flags", true);
      if (path.length === 0) throw new KernelError("ENOENT", "open", "empty path");
      const node = this.kernel.devfs.lookup(path.replace(/^\/dev\//, ""));
      if (!node) throw new KernelError("ENOENT", "open", path);
      const fd = this.task.files.getUnusedFdFlags(oflags);
      let file: File;
      try {
        file = new File(this.kernel, node.fops, undefined, oflags);
      } catch (e) {
        this.task.files.putUnusedFd(fd);
        throw e;
      }
      try {
        node.open?.(file);
      } catch (e) {
        this.task.files.putUnusedFd(fd);
        file.put();
        throw e;
      }
      this.task.files.fdInstall(fd, file);
      return fd;
    });
  }

  /** `close(unsigned int fd)`: `EBADF`. */
  close(fd: number): number {
    return this.#call("close", () => {
      this.task.files.closeFd(argFd(fd));
      return 0;
    });
  }

  /** `dup(unsigned int fildes)`: `EBADF`, `EMFILE`. */
  dup(fd: number): number {
    return this.#call("dup", () => {
      const f = this.task.files.fget(argFd(fd));
      try {
        return this.task.files.installNew(f, 0);
      } finally {
        f.put();
      }
    });
  }

  /**
   * `fcntl(fd, F_GETFL)` / `fcntl(fd, F_SETFL, flags)`: the status flags;
   * F_SETFL changes only `SETFL_MASK` bits. `EBADF`, `EINVAL` for other
   * commands or a cmd/arg that is not an int.
   */
  fcntl(fd: number, cmd: number, arg = 0): number {
    return this.#call("fcntl", () => {
      const f = this.task.files.fget(argFd(fd));
      try {
        const c = argInt32(cmd, "fcntl", "cmd", false);
        if (c === F_GETFL) return f.flags;
        if (c !== F_SETFL) throw new KernelError("EINVAL", "fcntl", `cmd ${c}`);
        const a = argInt32(arg, "fcntl", "arg", false);
        f.flags = (f.flags & ~SETFL_MASK) | (a & SETFL_MASK);
        return 0;
      } finally {
        f.put();
      }
    });
  }

  /**
   * `ioctl(unsigned int fd, unsigned int cmd, unsigned long arg)`: `EBADF`,
   * `EINVAL` for a cmd or integer arg that is not one, `EFAULT` for an arg
   * that is neither an integer nor user memory, `ENOTTY` when the file has
   * no ioctl, else the driver's result.
   */
  ioctl(fd: number, cmd: number, arg: UserArg = null): number {
    return this.#call("ioctl", () => {
      const f = this.task.files.fget(argFd(fd));
      try {
        const c = argInt32(cmd, "ioctl", "cmd", false);
        if (arg !== null && !(arg instanceof Uint8Array)) {
          if (typeof arg !== "number" && typeof arg !== "bigint") throw new KernelError("EFAULT", "ioctl", "arg is neither an integer nor user memory");
          argUlong(arg, "ioctl", "arg");
        }
        if (!f.fops.unlockedIoctl) throw new KernelError("ENOTTY", "ioctl", f.fops.name);
        return f.fops.unlockedIoctl(f, c, arg);
      } finally {
        f.put();
      }
    });
  }

  /**
   * `read(fd, buf, buf.length)` (`ksys_read()`, `vfs_read()`): the bytes read
   * at the file position, which then moves on by that many; or `-errno`:
   * `EBADF` (no such fd, or not open for reading), `EINVAL` when the file
   * has no `read` (no `FMODE_CAN_READ`: a dma-buf, a sync_file), `EFAULT`
   * for a buffer that is not user memory, `EINVAL` when position + count
   * overflows loff_t (`rw_verify_area()`), else the driver's result.
   */
  read(fd: number, buf: Uint8Array): number {
    return this.#call("read", () => this.#rw("read", fd, buf, false));
  }

  /** `write(fd, data, data.length)`: the bytes written, or `-errno`, with the checks of {@link UserSyscalls.read} for writing. */
  write(fd: number, data: Uint8Array): number {
    return this.#call("write", () => this.#rw("write", fd, data, true));
  }

  #rw(op: string, fd: number, buf: Uint8Array, write: boolean): number {
    const f = this.task.files.fget(argFd(fd));
    try {
      if (!(f.mode & (write ? FMODE_WRITE : FMODE_READ))) throw new KernelError("EBADF", op, `not open for ${write ? "writing" : "reading"}`);
      const rw = write ? f.fops.write : f.fops.read;
      if (!rw) throw new KernelError("EINVAL", op, `${f.fops.name} has no ${write ? "write" : "read"}`);
      const user = argUserBuf(buf, op, "buf");
      if (f.pos + BigInt(user.length) > LOFF_MAX) throw new KernelError("EINVAL", op, "pos + count overflows loff_t");
      const view = user.length > MAX_RW_COUNT ? user.subarray(0, MAX_RW_COUNT) : user;
      const n = rw.call(f.fops, f, view, f.pos);
      if (Number.isSafeInteger(n) && n > 0) f.pos += BigInt(n);
      return n;
    } finally {
      f.put();
    }
  }

  /**
   * `pread64(fd, buf, buf.length, pos)` (`ksys_pread64()`, `vfs_read()`,
   * `rw_verify_area()`): the bytes read into `buf`, or `-errno`: `EINVAL`
   * for a negative or non-loff_t pos (checked first), `EBADF` (no such fd,
   * or not open for reading), `ESPIPE` for a file without positional reads
   * (a dma-buf), `EINVAL` when the file has no `read`, `EFAULT` for a buffer
   * that is not user memory, `EINVAL` when pos + count overflows loff_t,
   * else the driver's result.
   */
  pread(fd: number, buf: Uint8Array, offset: bigint | number): number {
    return this.#call("pread64", () => this.#prw("pread64", fd, buf, offset, false));
  }

  /**
   * `pwrite64(fd, data, data.length, pos)`: the bytes written, or `-errno`,
   * with the checks of {@link UserSyscalls.pread} for writing (`FMODE_WRITE`,
   * `FMODE_PWRITE`, `write`).
   */
  pwrite(fd: number, data: Uint8Array, offset: bigint | number): number {
    return this.#call("pwrite64", () => this.#prw("pwrite64", fd, data, offset, true));
  }

  #prw(op: string, fd: number, buf: Uint8Array, offset: unknown, write: boolean): number {
    const pos = argLoff(offset, op, "pos");
    if (pos < 0n) throw new KernelError("EINVAL", op, "negative offset");
    const f = this.task.files.fget(argFd(fd));
    try {
      if (!(f.mode & (write ? FMODE_PWRITE : FMODE_PREAD))) throw new KernelError("ESPIPE", op, `${f.fops.name} has no positional I/O`);
      // vfs_read()/vfs_write()
      if (!(f.mode & (write ? FMODE_WRITE : FMODE_READ))) throw new KernelError("EBADF", op, `not open for ${write ? "writing" : "reading"}`);
      const rw = write ? f.fops.write : f.fops.read;
      if (!rw) throw new KernelError("EINVAL", op, `${f.fops.name} has no ${write ? "write" : "read"}`);
      const user = argUserBuf(buf, op, "buf");
      // rw_verify_area(): count fits ssize_t by construction; pos + count must not overflow loff_t.
      if (pos + BigInt(user.length) > LOFF_MAX) throw new KernelError("EINVAL", op, "pos + count overflows loff_t");
      const view = user.length > MAX_RW_COUNT ? user.subarray(0, MAX_RW_COUNT) : user;
      return rw.call(f.fops, f, view, pos);
    } finally {
      f.put();
    }
  }

  /**
   * `mmap(NULL, len, prot, flags, fd, offset)` (x86-64 `sys_mmap()`,
   * `ksys_mmap_pgoff()`, `do_mmap()`): the mapped address, or a negative
   * errno as a bigint. In the kernel's order: `EINVAL` for an unaligned
   * offset; `EBADF`; `EINVAL` for `MAP_HUGETLB` on a file that is not
   * hugetlbfs; `EINVAL` for length 0; `ENOMEM` when the page-aligned length
   * wraps; `EOVERFLOW` when offset + length wraps the page offset;
   * `ENOMEM` past `max_map_count`; `ENOMEM` when the length exceeds
   * `TASK_SIZE` or no gap is left; then by mapping type: `EOPNOTSUPP` for
   * unknown flags with `MAP_SHARED_VALIDATE`, `EACCES` for a shared
   * writable mapping of a file not open for writing or any mapping of a file
   * not open for reading, `ENODEV` without `mmap`, `EINVAL` for
   * `MAP_GROWSDOWN` or an unknown mapping type; then the driver's `mmap`.
   * `MAP_ANONYMOUS` ignores the fd and maps zeroed memory; the model picks
   * every address, so `MAP_FIXED` and `MAP_FIXED_NOREPLACE` are `EINVAL`.
   */
  mmap(len: bigint | number, prot: number, flags: number, fd: number, offset: bigint | number = 0n): bigint {
    let addr = 0n;
    const r = this.#call("mmap", () => {
      const size = argUlong(len, "mmap", "len");
      const p = argInt32(prot, "mmap", "prot", false);
      let fl = argInt32(flags, "mmap", "flags", false);
      const off = argUlong(offset, "mmap", "offset");
      if (off & 0xfffn) throw new KernelError("EINVAL", "mmap", "unaligned offset");
      const mm = this.task.mm;
      if (!mm) throw new KernelError("EINVAL", "mmap", "no mm");
      if (fl & MAP_ANONYMOUS) {
        // do_mmap() without a file: the fd is ignored.
        if (size === 0n) throw new KernelError("EINVAL", "mmap", "zero length");
        const aligned = (size + 0xfffn) & ULONG_MAX & ~0xfffn;
        if (aligned === 0n) throw new KernelError("ENOMEM", "mmap", "length wraps when page aligned");
        if (mm.vmas.length > MAX_MAP_COUNT) throw new KernelError("ENOMEM", "mmap", "max_map_count");
        if (fl & (MAP_FIXED | MAP_FIXED_NOREPLACE)) throw new KernelError("EINVAL", "mmap", "fixed mappings are not modelled");
        mm.getUnmappedArea(aligned);
        const type = fl & MAP_TYPE;
        if (type !== MAP_SHARED && type !== MAP_SHARED_VALIDATE && type !== MAP_PRIVATE) throw new KernelError("EINVAL", "mmap", "unknown mapping type");
        if (type !== MAP_PRIVATE && fl & MAP_GROWSDOWN) throw new KernelError("EINVAL", "mmap", "MAP_GROWSDOWN shared");
        let vmFlags = (p & PROT_READ ? VM_READ : 0) | (p & PROT_WRITE ? VM_WRITE : 0);
        if (type !== MAP_PRIVATE) vmFlags |= VM_SHARED | VM_MAYSHARE;
        const vma = mm.createVma(aligned, vmFlags, 0n, null);
        vmaSetAnonymous(vma);
        mm.insertVma(vma);
        addr = vma.start;
        return 0;
      }
      const file = this.task.files.fget(argFd(fd));
      try {
        if (fl & MAP_HUGETLB) throw new KernelError("EINVAL", "mmap", "MAP_HUGETLB on a file that is not hugetlbfs");
        // do_mmap()
        if (size === 0n) throw new KernelError("EINVAL", "mmap", "zero length");
        const aligned = (size + 0xfffn) & ULONG_MAX & ~0xfffn;
        if (aligned === 0n) throw new KernelError("ENOMEM", "mmap", "length wraps when page aligned");
        const pgoff = off >> 12n;
        if (pgoff + (aligned >> 12n) > ULONG_MAX) throw new KernelError("EOVERFLOW", "mmap", "offset + length wraps");
        if (mm.vmas.length > MAX_MAP_COUNT) throw new KernelError("ENOMEM", "mmap", "max_map_count");
        if (fl & (MAP_FIXED | MAP_FIXED_NOREPLACE)) throw new KernelError("EINVAL", "mmap", "fixed mappings are not modelled");
        mm.getUnmappedArea(aligned);
        // file_mmap_ok(): a non-regular file's size limit is ULONG_MAX.
        if (pgoff > (ULONG_MAX - aligned) >> 12n) throw new KernelError("EOVERFLOW", "mmap", "offset beyond the file's limit");
        let vmFlags = (p & PROT_READ ? VM_READ : 0) | (p & PROT_WRITE ? VM_WRITE : 0);
        const type = fl & MAP_TYPE;
        if (type !== MAP_SHARED && type !== MAP_SHARED_VALIDATE && type !== MAP_PRIVATE) throw new KernelError("EINVAL", "mmap", "unknown mapping type");
        if (type === MAP_SHARED) fl &= LEGACY_MAP_MASK;
        if (type !== MAP_PRIVATE) {
          if (fl & ~LEGACY_MAP_MASK) throw new KernelError("EOPNOTSUPP", "mmap", "unknown flags with MAP_SHARED_VALIDATE");
          if (p & PROT_WRITE && !(file.mode & FMODE_WRITE)) throw new KernelError("EACCES", "mmap", "file not open for writing");
          vmFlags |= VM_SHARED | VM_MAYSHARE;
        }
        if (!(file.mode & FMODE_READ)) throw new KernelError("EACCES", "mmap", "file not open for reading");
        if (!file.fops.mmap) throw new KernelError("ENODEV", "mmap", file.fops.name);
        if (fl & MAP_GROWSDOWN) throw new KernelError("EINVAL", "mmap", "MAP_GROWSDOWN on a file");
        const vma = mm.createVma(aligned, vmFlags, pgoff, file);
        file.get(); // the VMA's reference
        try {
          file.fops.mmap(file, vma);
        } catch (e) {
          file.put();
          throw e;
        }
        mm.insertVma(vma);
        addr = vma.start;
        return 0;
      } finally {
        file.put();
      }
    });
    return r < 0 ? BigInt(r) : addr;
  }

  /**
   * `munmap(unsigned long addr, size_t len)` (`do_vmi_munmap()`): `EINVAL`
   * for an unaligned address, an address or end beyond `TASK_SIZE`, or a
   * length that is 0 once page aligned; else 0 (also when nothing is mapped).
   */
  munmap(addr: bigint, len: bigint | number): number {
    return this.#call("munmap", () => {
      const start = argUlong(addr, "munmap", "addr");
      const length = argUlong(len, "munmap", "len");
      if (start & 0xfffn || start > TASK_SIZE || length > TASK_SIZE - start) throw new KernelError("EINVAL", "munmap", "range outside the address space");
      const aligned = (length + 0xfffn) & ~0xfffn;
      if (aligned === 0n) throw new KernelError("EINVAL", "munmap", "zero length");
      this.task.mm?.munmap(start, aligned);
      return 0;
    });
  }
  /** A CPU load from user memory. @throws UserSignal (SIGSEGV, SIGBUS). */
  peek(addr: bigint, len: number): Uint8Array {
    const mm = this.task.mm;
    if (!mm) throw new UserSignal("SIGSEGV", addr);
    return this.kernel.runAs(this.task, () => mm.read(addr, len));
  }

  /** A CPU store to user memory. @throws UserSignal (SIGSEGV, SIGBUS). */
  poke(addr: bigint, data: Uint8Array): void {
    const mm = this.task.mm;
    if (!mm) throw new UserSignal("SIGSEGV", addr);
    this.kernel.runAs(this.task, () => mm.write(addr, data));
  }

  /** `pidfd_open(pid, flags)`: `EINVAL` for bad flags or pid, `ESRCH` for no such process. */
  pidfdOpen(pid: number, flags = 0): number {
    return this.#call("pidfd_open", () => {
      const fl = argInt32(flags, "pidfd_open", "flags", false);
      if (fl & ~(PIDFD_NONBLOCK | PIDFD_THREAD)) throw new KernelError("EINVAL", "pidfd_open", "flags");
      const nr = argInt32(pid, "pidfd_open", "pid", true);
      if (nr <= 0) throw new KernelError("EINVAL", "pidfd_open", "pid");
      const p = this.kernel.findPid(nr);
      if (!p || !p.task || p.task.state === "dead") throw new KernelError("ESRCH", "pidfd_open", `pid ${pid}`);
      const fd = this.task.files.getUnusedFdFlags(O_CLOEXEC);
      this.task.files.fdInstall(fd, pidfdCreate(this.kernel, p, fl));
      return fd;
    });
  }

  /**
   * `pidfd_getfd(pidfd, targetfd, flags)`: duplicates another process's fd
   * (`EINVAL` for flags, `EBADF` for a non-pidfd or a bad target fd, `ESRCH`,
   * `EPERM` without ptrace rights: another uid and not root).
   */
  pidfdGetfd(pidfd: number, targetfd: number, flags = 0): number {
    return this.#call("pidfd_getfd", () => {
      if (argInt32(flags, "pidfd_getfd", "flags", false) !== 0) throw new KernelError("EINVAL", "pidfd_getfd", "flags");
      const f = this.task.files.lookup(argFd(pidfd));
      if (!f) throw new KernelError("EBADF", "pidfd_getfd", `fd ${pidfd}`);
      const pid = pidfdPid(f);
      const target = pid.task;
      if (!target || target.state !== "running") throw new KernelError("ESRCH", "pidfd_getfd", `pid ${pid.nr}`);
      if (this.task.cred.euid !== 0 && this.task.cred.uid !== target.cred.uid) throw new KernelError("EPERM", "pidfd_getfd", "ptrace access denied");
      const file = target.files.fget(argFd(targetfd));
      try {
        return this.task.files.installNew(file, O_CLOEXEC);
      } finally {
        file.put();
      }
    });
  }

  /**
   * Passes `fd` to `to` over a unix socket (`SCM_RIGHTS`): the receiver gets
   * a new fd for the same file. Returns the receiver's fd or `-errno`.
   */
  sendFd(to: Task, fd: number): number {
    return this.#call("sendmsg", () => {
      const file = this.task.files.fget(argFd(fd));
      try {
        // A peer that is not a live process of this kernel has no socket to receive on.
        if (!this.kernel.tasks().includes(to) || to.state !== "running") throw new KernelError("EPIPE", "sendmsg", "the peer is gone");
        return to.files.installNew(file, O_CLOEXEC);
      } finally {
        file.put();
      }
    });
  }

  /**
   * `poll(fds, nfds, timeout_ms)` (`do_sys_poll()`): fills each entry's
   * `revents` and returns how many are ready, 0 on timeout. `EFAULT` for an
   * array or entry that is not user memory, `EINVAL` for more entries than
   * `RLIMIT_NOFILE` or a field or timeout that is not an int. A negative fd is
   * skipped (`revents` 0), a closed one reports `POLLNVAL`; `events` is a
   * `short`. A negative timeout waits forever.
   */
  poll(fds: { fd: number; events: number; revents?: number }[], timeoutMs: number): number {
    return this.#call("poll", () => {
      if (!Array.isArray(fds)) throw new KernelError("EFAULT", "poll", "fds is not user memory");
      if (fds.length > this.task.files.nofile) throw new KernelError("EINVAL", "poll", "nfds above RLIMIT_NOFILE");
      const timeout = argInt32(timeoutMs, "poll", "timeout", true);
      const entries = fds.map((p) => {
        if (typeof p !== "object" || p === null) throw new KernelError("EFAULT", "poll", "entry is not user memory");
        return { fd: argInt32(p.fd, "poll", "fd", true), events: argInt32(p.events, "poll", "events", true) & 0xffff };
      });
      const scan = (): number => {
        let n = 0;
        entries.forEach((e, i) => {
          let mask = 0;
          if (e.fd >= 0) {
            const f = this.task.files.lookup(e.fd);
            mask = !f ? POLLNVAL : (f.fops.poll ? f.fops.poll(f, e.events | POLLERR | POLLHUP) : POLLIN | POLLOUT) & (e.events | POLLERR | POLLHUP);
          }
          fds[i]!.revents = mask;
          if (mask) n++;
        });
        return n;
      };
      let ready = scan();
      if (ready || timeout === 0) return ready;
      const ns = timeout < 0 ? MAX_SCHEDULE_TIMEOUT : timeout * 1e6;
      this.kernel.clock.waitUntil(() => (ready = scan()) > 0, ns);
      if (!ready && timeout < 0) throw new KernelBug("hung_task", `task ${this.task.comm}:${this.task.pid} polls forever`);
      return ready;
    });
  }

  /** `eventfd2(unsigned int initval, int flags)`: a new eventfd, or `-EINVAL` for bad flags or values that are not those types. */
  eventfd(initval: number | bigint, flags = 0): number {
    return this.#call("eventfd2", () => {
      const count = typeof initval === "bigint" && initval >= 0n && initval <= 0xffff_ffffn ? Number(initval) : argInt32(initval, "eventfd2", "initval", false);
      const fl = argInt32(flags, "eventfd2", "flags", true);
      const file = eventfdFile(this.kernel, count, fl);
      try {
        return this.task.files.installNew(file, fl);
      } finally {
        file.put();
      }
    });
  }

  /** `exit(code)`: closes fds, drops the address space; the task becomes a zombie. */
  exit(code = 0): void {
    this.kernel.exitTask(this.task, code);
  }
}
