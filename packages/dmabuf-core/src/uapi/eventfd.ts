// eventfd: a counter file that kernel code signals (fs/eventfd.c, include/linux/eventfd.h).
import { KernelBug, KernelError } from "../kernel/kernel-error.js";
import { MAX_SCHEDULE_TIMEOUT } from "../kernel/time.js";
import type { Kernel } from "../kernel/kernel.js";
import { Kref } from "../kernel/kref.js";
import { File, O_CLOEXEC, O_NONBLOCK, O_RDWR, type FileOperations } from "./file.js";

/** `EFD_SEMAPHORE`, `EFD_CLOEXEC`, `EFD_NONBLOCK`. @public */
export const EFD_SEMAPHORE = 1;
/** @public */
export const EFD_CLOEXEC = O_CLOEXEC;
/** @public */
export const EFD_NONBLOCK = O_NONBLOCK;
const ULLONG_MAX = (1n << 64n) - 1n;

/**
 * `struct eventfd_ctx`: the counter. Refcounted separately from the file:
 * kernel users (`eventfd_ctx_fdget`) keep it alive after the fd closes.
 * @public
 */
export class EventfdCtx {
  readonly #ref: Kref;
  count: bigint;

  constructor(
    readonly kernel: Kernel,
    initval: bigint,
    readonly flags: number,
  ) {
    this.count = initval;
    this.#ref = new Kref(() => kernel.objects.untrack(this), (m) => kernel.warn(m));
    kernel.objects.track("eventfd_ctx", this, () => `eventfd_ctx count ${this.count}`);
  }

  /** @internal */
  get _ref(): Kref {
    return this.#ref;
  }
}

/** `eventfd_signal(ctx)`: adds 1 (saturating at ULLONG_MAX, as the kernel's WARN path). @public */
export function eventfdSignal(ctx: EventfdCtx): void {
  if (ctx.count === ULLONG_MAX) {
    ctx.kernel.warn("eventfd_signal: counter overflow");
    return;
  }
  ctx.count += 1n;
}

/** `eventfd_ctx_put()`. @public */
export function eventfdCtxPut(ctx: EventfdCtx): void {
  ctx._ref.put();
}

/** `eventfd_fops`: read takes the counter (or 1 in semaphore mode), write adds. */
export const EVENTFD_FOPS: FileOperations = {
  name: "[eventfd]",
  read(file, buf) {
    const ctx = file.privateData as EventfdCtx;
    if (buf.length < 8) throw new KernelError("EINVAL", "eventfd_read", "buffer shorter than 8 bytes");
    if (ctx.count === 0n) {
      if (file.flags & O_NONBLOCK) throw new KernelError("EAGAIN", "eventfd_read");
      const k = ctx.kernel;
      if (!k.clock.waitUntil(() => ctx.count !== 0n, MAX_SCHEDULE_TIMEOUT)) throw new KernelBug("hung_task", `task ${k.current.comm}:${k.current.pid} blocked forever in eventfd read`);
    }
    const v = ctx.flags & EFD_SEMAPHORE ? 1n : ctx.count;
    ctx.count -= v;
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, v, true);
    return 8;
  },
  write(file, data) {
    const ctx = file.privateData as EventfdCtx;
    if (data.length < 8) throw new KernelError("EINVAL", "eventfd_write", "buffer shorter than 8 bytes");
    const v = new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
    if (v === ULLONG_MAX) throw new KernelError("EINVAL", "eventfd_write", "ULLONG_MAX");
    if (ULLONG_MAX - ctx.count <= v) throw new KernelError("EAGAIN", "eventfd_write", "would overflow");
    ctx.count += v;
    return 8;
  },
  poll(file) {
    const ctx = file.privateData as EventfdCtx;
    return (ctx.count > 0n ? 0x1 : 0) | (ULLONG_MAX - 1n > ctx.count ? 0x4 : 0);
  },
  release(file) {
    eventfdCtxPut(file.privateData as EventfdCtx);
  },
};

/** Creates the eventfd file (`do_eventfd` without the fd). @throws KernelError `EINVAL` for bad flags. */
export function eventfdFile(kernel: Kernel, initval: number | bigint, flags: number): File {
  if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) throw new KernelError("EINVAL", "eventfd2", "flags");
  kernel.alloc.kzalloc("eventfd_ctx");
  const ctx = new EventfdCtx(kernel, BigInt(initval), flags);
  // anon_inode_getfile_fmode(..., FMODE_NOWAIT): no FMODE_PREAD/PWRITE, so pread/pwrite are ESPIPE; read(2)/write(2) it.
  return new File(kernel, EVENTFD_FOPS, ctx, O_RDWR | (flags & (O_NONBLOCK | O_CLOEXEC)), 0);
}

/**
 * `eventfd_ctx_fdget(fd)`: a reference on the eventfd context of the current
 * task's `fd`. @throws KernelError `EBADF` (no such fd), `EINVAL` (not an eventfd).
 * @public
 */
export function eventfdCtxFdget(kernel: Kernel, fd: number): EventfdCtx {
  const f = kernel.current.files.lookup(fd);
  if (!f) throw new KernelError("EBADF", "eventfd_ctx_fdget", `fd ${fd}`);
  if (f.fops !== EVENTFD_FOPS) throw new KernelError("EINVAL", "eventfd_ctx_fdget", `${f.fops.name} is not an eventfd`);
  const ctx = f.privateData as EventfdCtx;
  ctx._ref.get();
  return ctx;
}
