// include/linux/fs.h: struct file, its f_op, O_* open flags and FMODE_* modes.
import { Kref } from "../kernel/kref.js";
import type { Kernel } from "../kernel/kernel.js";
import type { UserArg } from "./user-buffer.js";
import type { VmArea } from "./mm.js";

/** `O_*` open flags (x86-64 values). @public */
export const O_RDONLY = 0o0;
/** @public */
export const O_WRONLY = 0o1;
/** @public */
export const O_RDWR = 0o2;
/** @public */
export const O_ACCMODE = 0o3;
/** @public */
export const O_NONBLOCK = 0o4000;
/** @public */
export const O_CLOEXEC = 0o2000000;
/** @public */
export const O_APPEND = 0o2000;
/** @public */
export const O_DIRECT = 0o40000;
/** @public */
export const O_NOATIME = 0o1000000;
/** `SETFL_MASK`: the status flags `fcntl(F_SETFL)` may change. @internal */
export const SETFL_MASK = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;
/** `fcntl()` commands. @public */
export const F_GETFL = 3;
/** @public */
export const F_SETFL = 4;

/** `FMODE_*` bits. @public */
export const FMODE_READ = 0x1;
/** @public */
export const FMODE_WRITE = 0x2;
/** `FMODE_PREAD`/`FMODE_PWRITE`: set by `do_dentry_open()` and `anon_inode_getfile_fmode()`, not by `alloc_file_pseudo()`. @public */
export const FMODE_PREAD = 0x8;
/** @public */
export const FMODE_PWRITE = 0x10;

/**
 * `struct file_operations`. Each hook documents who calls it; all run in the
 * context of the calling task with no locks held.
 * @public
 */
export interface FileOperations {
  /** Name shown in `/proc/<pid>/fdinfo` and messages (`'dmabuf'`, `'pidfd'`, `'vfio-device'`). */
  readonly name: string;
  /** `unlocked_ioctl`: `sys_ioctl()` after the fd lookup. Returns a non-negative result or throws `KernelError`. */
  unlockedIoctl?(file: File, cmd: number, arg: UserArg): number;
  /** `mmap`: `sys_mmap()` after the VMA is set up; may set `vma.ops`, flags, page protection. Throws to refuse. */
  mmap?(file: File, vma: VmArea): void;
  /**
   * `read` at a position (`pread64()`): fills `buf` from byte `pos` and returns
   * the number of bytes read. Throws `KernelError` to fail.
   */
  read?(file: File, buf: Uint8Array, pos: bigint): number;
  /** `write` at a position (`pwrite64()`): returns the number of bytes written. Throws `KernelError` to fail. */
  write?(file: File, data: Uint8Array, pos: bigint): number;
  /**
   * `poll`: `sys_poll()` / `epoll` asking for the ready mask (`EPOLLIN`, ...);
   * `events` is what the poller asked for (`poll_requested_events()`).
   * Without it a file is always readable and writable (`DEFAULT_POLLMASK`).
   */
  poll?(file: File, events: number): number;
  /** `release`: the last `fput()`. */
  release?(file: File): void;
}

/**
 * `struct file`: an open file description with its reference count
 * (`f_count`). The last `File.put` calls `fops.release`.
 * @public
 */
export class File {
  readonly #ref: Kref;
  /** `f_flags` (the status bits in `SETFL_MASK` change with `fcntl(F_SETFL)`). */
  flags: number;
  /** `f_mode`. */
  readonly mode: number;
  /** Inode number (`file_inode(file)->i_ino`). */
  readonly ino: number;
  /** `f_pos`: where `read(2)`/`write(2)` continue (positional I/O leaves it alone). */
  pos = 0n;
  released = false;

  constructor(
    readonly kernel: Kernel,
    readonly fops: FileOperations,
    /** `file->private_data`. */
    public privateData: unknown,
    flags: number,
    /** Mode bits beyond read/write: positional I/O unless the file is a pseudo file (`alloc_file_pseudo()`). */
    fmode: number = FMODE_PREAD | FMODE_PWRITE,
  ) {
    this.flags = flags;
    const acc = flags & O_ACCMODE;
    this.mode = (acc === O_RDONLY || acc === O_RDWR ? FMODE_READ : 0) | (acc === O_WRONLY || acc === O_RDWR ? FMODE_WRITE : 0) | (fmode & (FMODE_PREAD | FMODE_PWRITE));
    this.ino = kernel.nextIno();
    this.#ref = new Kref(() => this.#release(), (m) => kernel.warn(m));
    kernel.objects.track("file", this, () => `${fops.name} file ino ${this.ino} f_count ${this.#ref.refcount}`);
  }

  /** `file_count()`. */
  get count(): number {
    return this.#ref.refcount;
  }

  /** `get_file()`. */
  get(): this {
    this.#ref.get();
    return this;
  }

  /** `get_file_active()`: a reference unless the count already reached zero. */
  getActive(): boolean {
    return this.#ref.getUnlessZero();
  }

  /** `fput()`. */
  put(): void {
    this.#ref.put();
  }

  #release(): void {
    this.released = true;
    try {
      this.fops.release?.(this);
    } finally {
      this.kernel.objects.untrack(this);
    }
  }
}
