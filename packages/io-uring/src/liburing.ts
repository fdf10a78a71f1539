// liburing (src/queue.c, src/register.c): what a program calls, on top of the model's io_uring syscalls.
import { ERRNO, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, UserStruct, type Task } from "@dmabuf-sdk/dmabuf-core";
import { ioUringEnter, ioUringRings, ioUringSetup, type IoUringParams } from "./io-uring.js";
import {
  IO_REGBUF_TYPE_DMABUF,
  IO_REGBUF_TYPE_EMPTY,
  IO_URING_REGBUF_DESC_SIZE,
  IO_URING_RSRC_REGISTER_SIZE,
  IO_URING_RSRC_UPDATE2_SIZE,
  IORING_ENTER_GETEVENTS,
  IORING_REGISTER_BUFFERS,
  IORING_REGISTER_BUFFERS2,
  IORING_REGISTER_BUFFERS_UPDATE,
  IORING_REGISTER_FILES,
  IORING_RSRC_REGISTER_SPARSE,
  IORING_RSRC_UPDATE_EXTENDED,
  IORING_UNREGISTER_BUFFERS,
  IORING_OP_READ_FIXED,
  IORING_OP_WRITE_FIXED,
  ioUringSqe,
  type IoUringCqe,
  type IoUringSqe,
} from "./io-uring-uapi.js";
import { ioUringRegister } from "./register.js";
import { ioUringRegbufDesc, type IoUringRegbufDesc } from "./rsrc.js";

/** Anonymous user memory of `task` (`mmap(MAP_ANONYMOUS)`), faulted in. Returns its address. @public */
export function userAlloc(task: Task, size: number): bigint {
  const addr = task.sys.mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  if (addr < 0n) throw new Error(`mmap failed: ${addr}`);
  for (let off = 0; off < size; off += 4096) task.sys.peek(addr + BigInt(off), 1);
  return addr;
}

/** Copies `bytes` into fresh user memory of `task`; returns the address. @public */
export function userCopy(task: Task, bytes: Uint8Array): bigint {
  const addr = userAlloc(task, Math.max(bytes.length, 1));
  task.sys.poke(addr, bytes);
  return addr;
}

/** A ring as liburing's `struct io_uring` wraps it. @public */
export class IoUring {
  readonly fd: number;
  readonly params: IoUringParams;
  readonly #rings: NonNullable<ReturnType<typeof ioUringRings>>;
  readonly #scratch: [bigint, number][] = [];
  /** One page of user memory for update structs, allocated up front (liburing passes its stack). */
  readonly #page: bigint;

  /** `io_uring_queue_init_params()`; throws on a negative return. */
  constructor(
    readonly task: Task,
    entries = 64,
    params: IoUringParams = { flags: 0 },
  ) {
    this.params = { ...params };
    const fd = ioUringSetup(task, entries, this.params);
    if (fd < 0) throw new Error(`io_uring_setup: ${fd}`);
    this.fd = fd;
    this.#rings = ioUringRings(task, fd)!;
    this.#page = userAlloc(task, 4096);
    this.#scratch.push([this.#page, 4096]);
  }

  /** Queues an SQE (`io_uring_get_sqe()` + prep); false when the SQ is full. */
  queue(sqe: Partial<IoUringSqe>): boolean {
    return this.#rings.pushSqe(ioUringSqe(sqe));
  }

  /** `io_uring_prep_read_fixed()` / `io_uring_prep_write_fixed()`: `addr` is the byte offset into the registered buffer. */
  queueFixed(write: boolean, fd: number, addr: bigint, len: number, fileOff: bigint, bufIndex: number, userData = 0n): boolean {
    return this.queue({ opcode: write ? IORING_OP_WRITE_FIXED : IORING_OP_READ_FIXED, fd, addr, len, off: fileOff, bufIndex, userData });
  }

  /** `io_uring_submit()`: the number submitted or -errno. */
  submit(): number {
    return ioUringEnter(this.task, this.fd, 1 << 30, 0, 0);
  }

  /** `io_uring_submit_and_wait(n)`. */
  submitAndWait(n: number): number {
    return ioUringEnter(this.task, this.fd, 1 << 30, n, IORING_ENTER_GETEVENTS);
  }

  /** Waits for `n` CQEs (`io_uring_wait_cqe_nr()`), then reaps every CQE ready. */
  waitCqes(n: number): IoUringCqe[] {
    const r = ioUringEnter(this.task, this.fd, 0, n, IORING_ENTER_GETEVENTS);
    if (r < 0) throw new Error(`io_uring_enter: ${r}`);
    return this.#rings.reapCqes();
  }

  /** Reaps the CQEs ready now without entering the kernel. */
  peekCqes(): IoUringCqe[] {
    return this.#rings.reapCqes();
  }

  /** Submits everything queued and waits for `n` completions; their CQEs. */
  run(n: number): IoUringCqe[] {
    const r = this.submitAndWait(n);
    if (r < 0) throw new Error(`io_uring_enter: ${r}`);
    return this.#rings.reapCqes();
  }

  #user(bytes: Uint8Array, at = 0): bigint {
    if (at + bytes.length <= 4096) {
      this.task.sys.poke(this.#page + BigInt(at), bytes);
      return this.#page + BigInt(at);
    }
    const a = userCopy(this.task, bytes);
    this.#scratch.push([a, Math.max(bytes.length, 1)]);
    return a;
  }

  /** `io_uring_register_buffers_sparse(ring, nr)`. */
  registerBuffersSparse(nr: number): number {
    const r = UserStruct.alloc(IO_URING_RSRC_REGISTER_SIZE).setU32(0, nr).setU32(4, IORING_RSRC_REGISTER_SPARSE);
    return ioUringRegister(this.task, this.fd, IORING_REGISTER_BUFFERS2, r.bytes, IO_URING_RSRC_REGISTER_SIZE);
  }

  /** `io_uring_register_buffers(ring, iovecs)` with `[addr, len]` pairs. */
  registerBuffers(iovecs: readonly (readonly [bigint, bigint])[]): number {
    const s = UserStruct.alloc(16 * iovecs.length);
    iovecs.forEach(([a, l], i) => s.setU64(16 * i, a).setU64(16 * i + 8, l));
    return ioUringRegister(this.task, this.fd, IORING_REGISTER_BUFFERS, s.bytes, iovecs.length);
  }

  /** `io_uring_unregister_buffers()`. */
  unregisterBuffers(): number {
    return ioUringRegister(this.task, this.fd, IORING_UNREGISTER_BUFFERS, null, 0);
  }

  /** `io_uring_register_files()`. */
  registerFiles(fds: readonly number[]): number {
    const s = UserStruct.alloc(4 * fds.length);
    fds.forEach((fd, i) => s.setS32(4 * i, fd));
    return ioUringRegister(this.task, this.fd, IORING_REGISTER_FILES, s.bytes, fds.length);
  }

  /**
   * `IORING_REGISTER_BUFFERS_UPDATE` with `IORING_RSRC_UPDATE_EXTENDED` and
   * these descriptors at `offset`: the entries updated, or -errno.
   */
  updateBuffers(offset: number, descs: readonly Partial<IoUringRegbufDesc>[], opts: { flags?: number; tags?: readonly bigint[]; resv2?: number } = {}): number {
    const bytes = new Uint8Array(IO_URING_REGBUF_DESC_SIZE * descs.length);
    descs.forEach((d, i) => bytes.set(ioUringRegbufDesc(d), i * IO_URING_REGBUF_DESC_SIZE));
    const data = descs.length ? this.#user(bytes) : 0n;
    let tags = 0n;
    if (opts.tags) {
      const t = UserStruct.alloc(8 * opts.tags.length);
      opts.tags.forEach((v, i) => t.setU64(8 * i, v));
      tags = this.#user(t.bytes, 4096 - t.bytes.length);
    }
    const up = UserStruct.alloc(IO_URING_RSRC_UPDATE2_SIZE)
      .setU32(0, offset)
      .setU32(4, opts.flags ?? IORING_RSRC_UPDATE_EXTENDED)
      .setU64(8, data)
      .setU64(16, tags)
      .setU32(24, descs.length)
      .setU32(28, opts.resv2 ?? 0);
    return ioUringRegister(this.task, this.fd, IORING_REGISTER_BUFFERS_UPDATE, up.bytes, IO_URING_RSRC_UPDATE2_SIZE);
  }

  /** liburing's `io_uring_register_dmabuf()`-style helper: slot `index` ← (dma-buf fd, target fd). */
  registerDmabuf(index: number, dmabufFd: number, targetFd: number): number {
    return this.updateBuffers(index, [{ type: IO_REGBUF_TYPE_DMABUF, dmabufFd, targetFd }]);
  }

  /** Clears slot `index` (an EMPTY descriptor). */
  clearBuffer(index: number): number {
    return this.updateBuffers(index, [{ type: IO_REGBUF_TYPE_EMPTY }]);
  }

  /** `io_uring_queue_exit()`: closes the ring and frees the scratch memory. */
  close(): void {
    this.task.sys.close(this.fd);
    for (const [a, n] of this.#scratch.splice(0)) this.task.sys.munmap(a, n);
  }
}

/** `-errno` number of an errno name, for expectations. @public */
export function negErrno(name: keyof typeof ERRNO): number {
  return -ERRNO[name];
}
