// fs/file.c: struct files_struct, the fd table of a process (alloc_fd, fd_install, close_fd).
import { KernelError } from "../kernel/kernel-error.js";
import type { LeakEntry } from "../kernel/leak.js";
import type { Kernel } from "../kernel/kernel.js";
import { O_CLOEXEC, type File } from "./file.js";

interface FdEntry {
  file: File | null; // null: reserved by get_unused_fd_flags, not installed yet
  cloexec: boolean;
}

/** `struct files_struct`: the fd table of one process. @public */
export class FdTable {
  readonly #fds = new Map<number, FdEntry>();
  /** `RLIMIT_NOFILE`. */
  nofile: number;

  constructor(
    private readonly kernel: Kernel,
    readonly ownerName: () => string,
  ) {
    this.nofile = kernel.options.nrOpen;
  }

  /**
   * `get_unused_fd_flags()`: reserves the lowest free fd.
   * @throws KernelError `EMFILE` at `RLIMIT_NOFILE`, or the injected errno of
   * the `get_unused_fd` allocation site.
   */
  getUnusedFdFlags(flags: number): number {
    this.kernel.alloc.attempt("get_unused_fd", `fd of ${this.ownerName()}`, "get_unused_fd_flags");
    let fd = 0;
    while (this.#fds.has(fd)) fd++;
    if (fd >= this.nofile) throw new KernelError("EMFILE", "get_unused_fd_flags", `RLIMIT_NOFILE ${this.nofile}`);
    this.#fds.set(fd, { file: null, cloexec: (flags & O_CLOEXEC) !== 0 });
    return fd;
  }

  /** `put_unused_fd()`: gives back a reserved fd that was never installed. */
  putUnusedFd(fd: number): void {
    const e = this.#fds.get(fd);
    if (e && e.file === null) this.#fds.delete(fd);
  }

  /** `fd_install()`: the table takes over the caller's file reference. */
  fdInstall(fd: number, file: File): void {
    const e = this.#fds.get(fd);
    if (!e || e.file !== null) {
      this.kernel.warn(`fd_install(${fd}) on a slot that was not reserved`);
      return;
    }
    e.file = file;
  }

  /** The file at `fd` without taking a reference, or undefined. */
  lookup(fd: number): File | undefined {
    return this.#fds.get(fd)?.file ?? undefined;
  }

  /** `fget()`: a new reference to the file at `fd`. @throws KernelError `EBADF`. */
  fget(fd: number): File {
    const f = this.lookup(fd);
    if (!f) throw new KernelError("EBADF", "fget", `fd ${fd}`);
    return f.get();
  }

  /** `close_fd()`: @throws KernelError `EBADF`. */
  closeFd(fd: number): void {
    const e = this.#fds.get(fd);
    if (!e || !e.file) throw new KernelError("EBADF", "close", `fd ${fd}`);
    this.#fds.delete(fd);
    e.file.put();
  }

  /** Installs a new reference to `file` at the lowest free fd (`receive_fd()`). */
  installNew(file: File, flags: number): number {
    const fd = this.getUnusedFdFlags(flags);
    this.fdInstall(fd, file.get());
    return fd;
  }

  /** Open fds, ascending. */
  fds(): number[] {
    return [...this.#fds.entries()].filter(([, e]) => e.file).map(([fd]) => fd).sort((a, b) => a - b);
  }

  /** `FD_CLOEXEC` of `fd`. */
  cloexec(fd: number): boolean {
    return this.#fds.get(fd)?.cloexec ?? false;
  }

  /** Copies every open fd into `other` (fork without `CLONE_FILES`). */
  copyTo(other: FdTable): void {
    for (const [fd, e] of this.#fds) if (e.file) other.#fds.set(fd, { file: e.file.get(), cloexec: e.cloexec });
  }

  /** `exit_files()`: closes everything. */
  closeAll(): void {
    for (const fd of [...this.#fds.keys()]) {
      const e = this.#fds.get(fd)!;
      this.#fds.delete(fd);
      e.file?.put();
    }
  }

  /** Open fds as leak entries. */
  collect(): LeakEntry[] {
    return this.fds().map((fd) => ({ kind: "fd", key: `${this.ownerName()}:${fd}`, count: 1, detail: `fd ${fd} of ${this.ownerName()} -> ${this.lookup(fd)!.fops.name}` }));
  }
}
