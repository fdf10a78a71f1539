import { ERRNO } from "../kernel/errno.js";
import { KernelBug, KernelError, isKernelError } from "../kernel/kernel-error.js";
import { MAX_SCHEDULE_TIMEOUT } from "../kernel/time.js";
import { eventfdFile } from "./eventfd.js";
import type { Kernel } from "../kernel/kernel.js";
import { File, F_GETFL, F_SETFL, FMODE_READ, FMODE_WRITE, O_CLOEXEC, SETFL_MASK } from "./file.js";
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, vmaSetAnonymous, PROT_READ, PROT_WRITE, UserSignal, VM_MAYSHARE, VM_READ, VM_SHARED, VM_WRITE } from "./mm.js";
import { PIDFD_NONBLOCK, pidfdCreate, pidfdPid } from "./pidfd.js";
import type { Task } from "./task.js";
import type { UserArg } from "./user-buffer.js";

/** `POLLIN`, `POLLOUT`, `POLLERR`, `POLLHUP`, `POLLNVAL`. */
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

/** `PIDFD_THREAD` (= O_EXCL). */
export const PIDFD_THREAD = 0o200;

/**
 * The syscall surface of one task. Every method returns what the syscall
 * returns (a non-negative result or `-errno`) and never throws for bad input;
 * a model bug inside a syscall is recorded as an oops and reported as
 * `-EFAULT`. CPU loads and stores (`peek`/`poke`) deliver
 * signals as {@link UserSignal}.
 */
export class UserSyscalls {
  constructor(
    private readonly kernel: Kernel,
    private readonly task: Task,
  ) {}

  #call(name: string, fn: () => number): number {
    const k = this.kernel;
    try {
      return k.runAs(this.task, fn);
    } catch (e) {
      if (isKernelError(e)) return -ERRNO[e.errno];
      k.oops(name, e);
      return -ERRNO.EFAULT;
    } finally {
      k.lockdep.checkNoLocksHeld(this.task, `${name}()`);
    }
  }

  /** `openat(AT_FDCWD, "/dev/<path>", flags)`. */
  open(path: string, flags: number): number {
    return this.#call("open", () => {
      const node = this.kernel.devfs.lookup(path.replace(/^\/dev\//, ""));
      if (!node) throw new KernelError("ENOENT", "open", path);
      const fd = this.task.files.getUnusedFdFlags(flags);
      const file = new File(this.kernel, node.fops, undefined, flags);
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

  /** `close(fd)`. */
  close(fd: number): number {
    return this.#call("close", () => {
      this.task.files.closeFd(fd);
      return 0;
    });
  }

  /** `dup(fd)`. */
  dup(fd: number): number {
    return this.#call("dup", () => {
      const f = this.task.files.fget(fd);
      try {
        return this.task.files.installNew(f, 0);
      } finally {
        f.put();
      }
    });
  }

  /**
   * `fcntl(fd, F_GETFL)` / `fcntl(fd, F_SETFL, flags)`: the status flags;
   * F_SETFL changes only `SETFL_MASK` bits. `EBADF`, `EINVAL` for other commands.
   */
  fcntl(fd: number, cmd: number, arg = 0): number {
    return this.#call("fcntl", () => {
      const f = this.task.files.fget(fd);
      try {
        if (cmd === F_GETFL) return f.flags;
        if (cmd !== F_SETFL) throw new KernelError("EINVAL", "fcntl", `cmd ${cmd}`);
        f.flags = (f.flags & ~SETFL_MASK) | (arg & SETFL_MASK);
        return 0;
      } finally {
        f.put();
      }
    });
  }

  /** `ioctl(fd, cmd, arg)`: `EBADF`, `ENOTTY` when the file has no ioctl, else the driver's result. */
  ioctl(fd: number, cmd: number, arg: UserArg = null): number {
    return this.#call("ioctl", () => {
      const f = this.task.files.fget(fd);
      try {
        if (!f.fops.unlockedIoctl) throw new KernelError("ENOTTY", "ioctl", f.fops.name);
        return f.fops.unlockedIoctl(f, cmd >>> 0, arg);
      } finally {
        f.put();
      }
    });
  }

  /**
   * `pread64(fd, buf, buf.length, offset)`: the bytes read into `buf`, or
   * `-errno`: `EBADF` (no such fd, or not open for reading), `EINVAL`
   * (negative offset, or the file has no `read`), else the driver's result.
   */
  pread(fd: number, buf: Uint8Array, offset: bigint | number): number {
    return this.#call("pread64", () => {
      const pos = BigInt(offset);
      const f = this.task.files.fget(fd);
      try {
        if (!(f.mode & FMODE_READ)) throw new KernelError("EBADF", "pread64", "not open for reading");
        if (pos < 0n) throw new KernelError("EINVAL", "pread64", "negative offset");
        if (!f.fops.read) throw new KernelError("EINVAL", "pread64", `${f.fops.name} has no read`);
        return f.fops.read(f, buf, pos);
      } finally {
        f.put();
      }
    });
  }

  /**
   * `pwrite64(fd, data, data.length, offset)`: the bytes written, or
   * `-errno`: `EBADF` (no such fd, or not open for writing), `EINVAL`
   * (negative offset, or the file has no `write`), else the driver's result.
   */
  pwrite(fd: number, data: Uint8Array, offset: bigint | number): number {
    return this.#call("pwrite64", () => {
      const pos = BigInt(offset);
      const f = this.task.files.fget(fd);
      try {
        if (!(f.mode & FMODE_WRITE)) throw new KernelError("EBADF", "pwrite64", "not open for writing");
        if (pos < 0n) throw new KernelError("EINVAL", "pwrite64", "negative offset");
        if (!f.fops.write) throw new KernelError("EINVAL", "pwrite64", `${f.fops.name} has no write`);
        return f.fops.write(f, data, pos);
      } finally {
        f.put();
      }
    });
  }

  /**
   * `mmap(NULL, len, prot, flags, fd, offset)`: the mapped address, or a
   * negative errno as a bigint.
   */
  mmap(len: bigint | number, prot: number, flags: number, fd: number, offset: bigint | number = 0n): bigint {
    let addr = 0n;
    const r = this.#call("mmap", () => {
      const size = BigInt(len);
      const off = BigInt(offset);
      if (size === 0n || (off & 0xfffn) !== 0n) throw new KernelError("EINVAL", "mmap", "zero length or unaligned offset");
      const type = flags & (MAP_SHARED | MAP_PRIVATE);
      if (type !== MAP_SHARED && type !== MAP_PRIVATE) throw new KernelError("EINVAL", "mmap", "need MAP_SHARED or MAP_PRIVATE");
      const mm = this.task.mm;
      if (!mm) throw new KernelError("EINVAL", "mmap", "no mm");
      if (flags & MAP_ANONYMOUS) {
        let vmFlags = (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0);
        if (type === MAP_SHARED) vmFlags |= VM_SHARED | VM_MAYSHARE;
        const vma = mm.createVma(size, vmFlags, 0n, null);
        vmaSetAnonymous(vma);
        mm.insertVma(vma);
        addr = vma.start;
        return 0;
      }
      const file = this.task.files.fget(fd);
      try {
        if ((prot & PROT_READ) && !(file.mode & FMODE_READ)) throw new KernelError("EACCES", "mmap", "file not open for reading");
        if (type === MAP_SHARED && (prot & PROT_WRITE) && !(file.mode & FMODE_WRITE)) throw new KernelError("EACCES", "mmap", "file not open for writing");
        if (!file.fops.mmap) throw new KernelError("ENODEV", "mmap", file.fops.name);
        let vmFlags = (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0);
        if (type === MAP_SHARED) vmFlags |= VM_SHARED | VM_MAYSHARE;
        const vma = mm.createVma(size, vmFlags, off >> 12n, file.get());
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

  /** `munmap(addr, len)`. */
  munmap(addr: bigint, len: bigint | number): number {
    return this.#call("munmap", () => {
      this.task.mm?.munmap(addr, BigInt(len));
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
      if (flags & ~(PIDFD_NONBLOCK | PIDFD_THREAD)) throw new KernelError("EINVAL", "pidfd_open", "flags");
      if (pid <= 0) throw new KernelError("EINVAL", "pidfd_open", "pid");
      const p = this.kernel.findPid(pid);
      if (!p || !p.task || p.task.state === "dead") throw new KernelError("ESRCH", "pidfd_open", `pid ${pid}`);
      const fd = this.task.files.getUnusedFdFlags(O_CLOEXEC);
      this.task.files.fdInstall(fd, pidfdCreate(this.kernel, p, flags));
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
      if (flags !== 0) throw new KernelError("EINVAL", "pidfd_getfd", "flags");
      const f = this.task.files.lookup(pidfd);
      if (!f) throw new KernelError("EBADF", "pidfd_getfd", `fd ${pidfd}`);
      const pid = pidfdPid(f);
      const target = pid.task;
      if (!target || target.state !== "running") throw new KernelError("ESRCH", "pidfd_getfd", `pid ${pid.nr}`);
      if (this.task.cred.euid !== 0 && this.task.cred.uid !== target.cred.uid) throw new KernelError("EPERM", "pidfd_getfd", "ptrace access denied");
      const file = target.files.fget(targetfd);
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
      const file = this.task.files.fget(fd);
      try {
        return to.files.installNew(file, O_CLOEXEC);
      } finally {
        file.put();
      }
    });
  }

  /**
   * `poll(fds, nfds, timeout_ms)`: fills each entry's `revents` and returns
   * how many are ready, 0 on timeout. A negative timeout waits forever;
   * closed fds report `POLLNVAL`.
   */
  poll(fds: { fd: number; events: number; revents?: number }[], timeoutMs: number): number {
    return this.#call("poll", () => {
      const scan = (): number => {
        let n = 0;
        for (const p of fds) {
          const f = this.task.files.lookup(p.fd);
          const mask = !f ? POLLNVAL : (f.fops.poll ? f.fops.poll(f) : POLLIN | POLLOUT) & (p.events | POLLERR | POLLHUP);
          p.revents = mask;
          if (mask) n++;
        }
        return n;
      };
      let ready = scan();
      if (ready || timeoutMs === 0) return ready;
      const ns = timeoutMs < 0 ? MAX_SCHEDULE_TIMEOUT : timeoutMs * 1e6;
      this.kernel.clock.waitUntil(() => (ready = scan()) > 0, ns);
      if (!ready && timeoutMs < 0) throw new KernelBug("hung_task", `task ${this.task.comm}:${this.task.pid} polls forever`);
      return ready;
    });
  }

  /** `eventfd2(initval, flags)`: a new eventfd, or `-EINVAL` for bad flags. */
  eventfd(initval: number | bigint, flags = 0): number {
    return this.#call("eventfd2", () => {
      const file = eventfdFile(this.kernel, initval, flags);
      try {
        return this.task.files.installNew(file, flags);
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
