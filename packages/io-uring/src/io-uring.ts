// io_uring/io_uring.c: the ring instance, io_uring_setup(), io_uring_enter(), request submission, completion and task work.
import {
  ERRNO,
  File,
  KernelError,
  isKernelError,
  O_CLOEXEC,
  O_RDWR,
  type Kernel,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufIoGetMapWouldBlock, dmaBufIoPutMap, IO_DMABUF_DEFAULT_VERSION, type DmaBufIoMap, type IoDmabufVersion } from "./dma-buf-io.js";
import { EIOCBQUEUED } from "./iov-iter.js";
import { queueWork } from "./workqueue.js";
import {
  IORING_ENTER_EXT_ARG,
  IORING_ENTER_EXT_ARG_REG,
  IORING_ENTER_FLAGS,
  IORING_ENTER_GETEVENTS,
  IORING_ENTER_REGISTERED_RING,
  IO_RINGFD_REG_MAX,
  IORING_MAX_CQ_ENTRIES,
  IORING_MAX_ENTRIES,
  IORING_OP_LAST,
  IORING_OP_NOP,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SUPPORTED,
  IOSQE_FIXED_FILE,
  SQE_VALID_FLAGS,
  type IoUringCqe,
  type IoUringSqe,
} from "./io-uring-uapi.js";
import { ioPutRsrcNode, ioSqeBuffersUnregister, ioSqeFilesUnregister, type IoRsrcNode } from "./rsrc.js";
import { ioRwIssue, ioRwPrep } from "./rw.js";

/** `struct io_uring_params`, the fields the model reads and fills. @public */
export interface IoUringParams {
  flags: number;
  /** In with `IORING_SETUP_CQSIZE`; out: the CQ size. */
  cqEntries?: number;
  /** Out: the SQ size. */
  sqEntries?: number;
  /** `resv[3]`: must be zero. */
  resv?: readonly number[];
  /** Model knob: which posted version of the dma-buf series this ring's registrations follow (default v6). */
  dmabufVersion?: IoDmabufVersion;
}

/** `struct io_kiocb`: one request from SQE to CQE. @public */
export class IoKiocb {
  file: File | null = null;
  /** The fixed buffer's node (held until the request is freed). */
  bufNode: IoRsrcNode | null = null;
  /** `req->dmabuf_map` with `REQ_F_DROP_DMABUF`. */
  dmabufMap: DmaBufIoMap | null = null;
  result = 0;
  /** The request went to io-wq (`REQ_F_FORCE_ASYNC` after an `EAGAIN`). */
  punted = false;
  completed = false;
  constructor(
    readonly ctx: IoRingCtx,
    /** The task that submitted it: its files and memory are the ones the request uses. */
    readonly task: Task,
    readonly sqe: Readonly<IoUringSqe>,
  ) {}
  get opcode(): number {
    return this.sqe.opcode;
  }
}

/** `struct io_ring_ctx`. @public */
export class IoRingCtx {
  /** Submission ring: SQEs the user queued and the kernel has not consumed. */
  readonly sq: IoUringSqe[] = [];
  /** Completion ring. */
  readonly cq: IoUringCqe[] = [];
  /** CQEs that did not fit (`IORING_SQ_CQ_OVERFLOW`); flushed as the user reaps. */
  readonly cqOverflow: IoUringCqe[] = [];
  bufTable: (IoRsrcNode | null)[] | null = null;
  fileTable: (IoRsrcNode | null)[] | null = null;
  /** Requests between submission and free. */
  readonly inflight = new Set<IoKiocb>();
  /** Task work waiting for the submitter (`DEFER_TASKRUN`) or queued on the clock. */
  readonly taskWork: (() => void)[] = [];
  file: File | null = null;
  dead = false;

  constructor(
    readonly kernel: Kernel,
    /** The submitter (`ctx->submitter_task`): its fd table and memory are the ones the ring uses. */
    readonly task: Task,
    readonly flags: number,
    readonly sqEntries: number,
    readonly cqEntries: number,
    readonly dmabufVersion: IoDmabufVersion,
  ) {}

  /** `io_post_aux_cqe()` / `io_fill_cqe_req()`. */
  postCqe(cqe: IoUringCqe): void {
    if (this.cq.length < this.cqEntries) this.cq.push(cqe);
    else this.cqOverflow.push(cqe);
  }

  /** `io_run_task_work()` / `io_run_local_work()`: completions waiting for the submitter. */
  runTaskWork(): number {
    let n = 0;
    while (this.taskWork.length) {
      this.taskWork.shift()!();
      n++;
    }
    return n;
  }

  /** The user's view of the CQ ring: reads and consumes every CQE (head advanced), refilling from overflow. */
  reapCqes(): IoUringCqe[] {
    const out = this.cq.splice(0);
    while (this.cqOverflow.length && this.cq.length < this.cqEntries) this.cq.push(this.cqOverflow.shift()!);
    return out;
  }
}

/** The io_uring file's fops (`io_uring_fops`). @public */
export const ioUringFops = {
  name: "[io_uring]",
  release(file: File): void {
    ioRingCtxFree(file.privateData as IoRingCtx);
  },
};

/** True for an io_uring file. @public */
export function ioIsUringFops(file: File): boolean {
  return file.fops === ioUringFops;
}

function roundupPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * `io_uring_setup(entries, params)` in `task`: the ring fd, or -errno, in the
 * kernel's order: `EFAULT` for a NULL `params` (the copy-in); `EINVAL` for
 * a non-zero `resv` word, unknown flags, then `DEFER_TASKRUN` without `SINGLE_ISSUER`
 * (`io_uring_sanitise_params()`), then 0 entries or more than
 * `IORING_MAX_ENTRIES` (no `IORING_SETUP_CLAMP`), then with
 * `IORING_SETUP_CQSIZE` a CQ size of 0, above `IORING_MAX_CQ_ENTRIES` or
 * smaller than the SQ (`io_uring_fill_params()`); then `ENOMEM`, `EMFILE`.
 * @public
 */
export function ioUringSetup(task: Task, entries: number, p: IoUringParams | null): number {
  return sysCall(task, "io_uring_setup", () => {
    const k = task.kernel;
    if (!p) throw new KernelError("EFAULT", "io_uring_setup", "params is NULL");
    if ((p.resv ?? []).some((r) => r !== 0)) throw new KernelError("EINVAL", "io_uring_setup", "resv");
    const flags = asU32(p.flags);
    if (flags === null || flags & ~IORING_SETUP_SUPPORTED) throw new KernelError("EINVAL", "io_uring_setup", `flags ${p.flags}`);
    if (flags & IORING_SETUP_DEFER_TASKRUN && !(flags & IORING_SETUP_SINGLE_ISSUER)) throw new KernelError("EINVAL", "io_uring_sanitise_params", "DEFER_TASKRUN needs SINGLE_ISSUER");
    if (!isU32(entries) || entries === 0 || entries > IORING_MAX_ENTRIES) throw new KernelError("EINVAL", "io_uring_fill_params", `entries ${entries}`);
    const sq = roundupPow2(entries);
    let cq = 2 * sq;
    if (flags & IORING_SETUP_CQSIZE) {
      const want = p.cqEntries ?? 0;
      if (!isU32(want) || want === 0 || want > IORING_MAX_CQ_ENTRIES) throw new KernelError("EINVAL", "io_uring_fill_params", `cq_entries ${want}`);
      cq = roundupPow2(want);
      if (cq < sq) throw new KernelError("EINVAL", "io_uring_fill_params", "cq_entries < sq_entries");
    }
    k.alloc.kzalloc("io_ring_ctx");
    const fd = task.files.getUnusedFdFlags(O_CLOEXEC);
    const ctx = new IoRingCtx(k, task, flags, sq, cq, p.dmabufVersion ?? IO_DMABUF_DEFAULT_VERSION);
    const file = new File(k, ioUringFops, ctx, O_RDWR);
    ctx.file = file;
    k.objects.track("io_ring_ctx", ctx, () => `io_uring ctx of ${task.comm} inflight ${ctx.inflight.size}`);
    task.files.fdInstall(fd, file);
    TCTX.add(task);
    p.sqEntries = sq;
    p.cqEntries = cq;
    return fd;
  });
}

/** Tasks with an io_uring task context (`current->io_uring`): set by creating a ring or submitting to one. */
const TCTX = new WeakSet<Task>();

/**
 * A ring named by a registered-ring index (`IORING_ENTER_REGISTERED_RING`,
 * `IORING_REGISTER_USE_REGISTERED_RING`). The model has no
 * `IORING_REGISTER_RING_FDS`, so every slot is empty: `EINVAL` for a task
 * without an io_uring context or an index of `IO_RINGFD_REG_MAX` or more,
 * else `EBADF`.
 * @internal
 */
export function ioRegisteredRing(task: Task, fd: number, op: string): never {
  if (!TCTX.has(task) || !isU32(fd) || fd >= IO_RINGFD_REG_MAX) throw new KernelError("EINVAL", op, `registered ring ${fd}`);
  throw new KernelError("EBADF", op, `no ring registered at ${fd}`);
}

/** @internal */
export function isU32(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

/**
 * An `unsigned int` argument as the model ABI takes it (docs/bad-input.md):
 * an integer in [-2^31, 2^32) is its low 32 bits (so `A | B` of flags with
 * bit 31 set, negative in JavaScript, is the flags it names); anything else
 * is null (the caller's `EINVAL`).
 * @internal
 */
export function asU32(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 32 ? v >>> 0 : null;
}

/**
 * `io_ring_ctx_free()` after `io_ring_exit_work()`: waits for in-flight
 * requests (their completions run), then drops the tables.
 */
function ioRingCtxFree(ctx: IoRingCtx): void {
  ctx.dead = true;
  ctx.kernel.clock.waitUntil(() => {
    ctx.runTaskWork();
    return ctx.inflight.size === 0;
  }, Number.MAX_SAFE_INTEGER);
  ctx.runTaskWork();
  if (ctx.bufTable) ioSqeBuffersUnregister(ctx);
  if (ctx.fileTable) ioSqeFilesUnregister(ctx);
  ctx.kernel.objects.untrack(ctx);
}

/** The ring behind `fd` of `task` (`EBADF`, or `EOPNOTSUPP` for another file). Returns a held file. @internal */
export function ioRingFromFd(task: Task, fd: number): { ctx: IoRingCtx; file: File } {
  const file = task.files.fget(fd);
  if (!ioIsUringFops(file)) {
    file.put();
    throw new KernelError("EOPNOTSUPP", "io_uring", `fd ${fd} is not an io_uring`);
  }
  return { ctx: file.privateData as IoRingCtx, file };
}

/**
 * The user's `mmap` of the SQ and CQ rings of ring `fd`: `pushSqe` writes
 * at the SQ tail (false when full), `reapCqes` reads every CQE and moves the
 * CQ head. Returns null when `fd` is not a ring of `task`.
 * @public
 */
export function ioUringRings(task: Task, fd: number): { pushSqe(sqe: IoUringSqe): boolean; reapCqes(): IoUringCqe[]; readonly sqSpace: number } | null {
  let r: { ctx: IoRingCtx; file: File };
  try {
    r = ioRingFromFd(task, fd);
  } catch {
    return null;
  }
  r.file.put();
  return new IoUringRingsView(r.ctx);
}

// A class, not an object literal with a `sqSpace` getter: under V8 11 (Node 20) what such a
// literal reaches (here the ring and its kernel) survives every scavenge until the next full GC.
class IoUringRingsView {
  readonly #ctx: IoRingCtx;

  constructor(ctx: IoRingCtx) {
    this.#ctx = ctx;
  }

  pushSqe(sqe: IoUringSqe): boolean {
    if (this.#ctx.sq.length >= this.#ctx.sqEntries) return false;
    this.#ctx.sq.push({ ...sqe });
    return true;
  }

  reapCqes(): IoUringCqe[] {
    return this.#ctx.reapCqes();
  }

  get sqSpace(): number {
    return this.#ctx.sqEntries - this.#ctx.sq.length;
  }
}

/**
 * `io_uring_enter(fd, to_submit, min_complete, flags)` with no extended
 * argument (`argp` NULL, `argsz` 0): submits up to `toSubmit` SQEs and, with
 * `IORING_ENTER_GETEVENTS`, runs task work and waits (virtual time: device
 * completions and workers run) until `minComplete` CQEs are ready or nothing
 * is in flight. Returns the number submitted or -errno, in the kernel's
 * order: `EINVAL` for unknown flags; `IORING_ENTER_REGISTERED_RING` as
 * `ioRegisteredRing()` (no ring fd is ever registered); `EBADF`; `EOPNOTSUPP` for a file that is not a ring;
 * `EEXIST` when a task other than the single issuer submits, or waits on a
 * `DEFER_TASKRUN` ring; `EINVAL` when waiting with `IORING_ENTER_EXT_ARG`
 * (its `argsz` of 0 is not the struct's size). SQ_WAKEUP/SQ_WAIT only act
 * with SQPOLL and NO_IOWAIT is a hint: all three are accepted and ignored.
 * @public
 */
export function ioUringEnter(task: Task, fd: number, toSubmit: number, minComplete: number, enterFlags: number): number {
  return sysCall(task, "io_uring_enter", () => {
    const flags = asU32(enterFlags);
    if (flags === null || flags & ~IORING_ENTER_FLAGS) throw new KernelError("EINVAL", "io_uring_enter", `flags ${flags}`);
    if (flags & IORING_ENTER_REGISTERED_RING) ioRegisteredRing(task, fd, "io_uring_enter");
    const { ctx, file } = ioRingFromFd(task, fd);
    try {
      let submitted = 0;
      if (isU32(toSubmit) && toSubmit > 0) {
        if (ctx.flags & IORING_SETUP_SINGLE_ISSUER && task !== ctx.task) throw new KernelError("EEXIST", "io_uring_add_tctx_node", "not the single issuer");
        TCTX.add(task);
        while (submitted < toSubmit && ctx.sq.length) {
          ioSubmitSqe(ctx, task, ctx.sq.shift()!);
          submitted++;
        }
      }
      if (flags & IORING_ENTER_GETEVENTS) {
        let err = 0;
        if (flags & (IORING_ENTER_EXT_ARG | IORING_ENTER_EXT_ARG_REG)) err = -ERRNO.EINVAL;
        else if (ctx.flags & IORING_SETUP_DEFER_TASKRUN && task !== ctx.task) err = -ERRNO.EEXIST;
        else {
          const want = Math.min(isU32(minComplete) ? minComplete : 0, ctx.cqEntries);
          ctx.kernel.clock.waitUntil(() => {
            ctx.runTaskWork();
            return ctx.cq.length >= want || ctx.inflight.size === 0;
          }, Number.MAX_SAFE_INTEGER);
          ctx.runTaskWork();
        }
        // The submitted count wins over the wait's error.
        if (!submitted && err) return err;
      }
      return submitted;
    } finally {
      file.put();
    }
  });
}

/** `io_submit_sqe()`: init, prep and the inline (non-blocking) issue; a failure completes with -errno. */
function ioSubmitSqe(ctx: IoRingCtx, task: Task, sqe: IoUringSqe): void {
  const req = new IoKiocb(ctx, task, sqe);
  ctx.inflight.add(req);
  try {
    if (!isU32(sqe.opcode) || sqe.opcode >= IORING_OP_LAST) throw new KernelError("EINVAL", "io_init_req", `opcode ${sqe.opcode}`);
    if (!isU32(sqe.flags) || sqe.flags & ~SQE_VALID_FLAGS) throw new KernelError("EINVAL", "io_init_req", `sqe flags ${sqe.flags}`);
    if (sqe.opcode === IORING_OP_NOP) {
      ioReqComplete(req, 0);
      return;
    }
    req.file = ioFileGet(ctx, task, sqe);
    ioRwPrep(req);
    ioIssue(req, true);
  } catch (e) {
    ioReqComplete(req, errnoOf(e));
  }
}

/** `io_file_get_fixed()` / `io_file_get_normal()`: `EBADF` when there is no such file. */
function ioFileGet(ctx: IoRingCtx, task: Task, sqe: IoUringSqe): File {
  if (sqe.flags & IOSQE_FIXED_FILE) {
    const node = ctx.fileTable?.[sqe.fd];
    if (!node) throw new KernelError("EBADF", "io_file_get_fixed", `slot ${sqe.fd}`);
    return node.file!.get();
  }
  return task.files.fget(sqe.fd);
}

/**
 * `io_issue_sqe()`: inline issue is non-blocking; `EAGAIN` there punts the
 * request to io-wq (`io_queue_iowq()`), where it is issued again and may
 * block. A request already marked for a dma-buf map reuses it.
 * @internal
 */
export function ioIssue(req: IoKiocb, inline: boolean): void {
  let res: number;
  try {
    res = ioRwIssue(req, inline);
  } catch (e) {
    res = errnoOf(e);
  }
  if (res === -ERRNO.EAGAIN && inline) {
    ioQueueIowq(req);
    return;
  }
  if (res !== EIOCBQUEUED) ioReqComplete(req, res);
}

/** `io_queue_iowq()`: an io-wq worker issues the request again, blocking allowed. */
function ioQueueIowq(req: IoKiocb): void {
  req.punted = true;
  req.ctx.kernel.trace.emit("io_uring_queue_async_work", { opcode: req.opcode, user_data: req.sqe.userData });
  queueIowq(req);
}

function queueIowq(req: IoKiocb): void {
  queueWork(req.ctx.kernel, "io_wq_submit_work", () => {
    // A worker that would sleep on the map layer's locks now waits for them.
    const rd = req.bufNode?.buf?.priv;
    if (rd && !req.dmabufMap && dmaBufIoGetMapWouldBlock(rd.ctx)) return false;
    ioIssue(req, false);
    return true;
  });
}

/**
 * `io_complete_rw()` → task work → `io_req_task_complete()`: v6 (and v4's
 * fix) drop the dma-buf map reference here, before the task work; v3 keeps
 * it until the request is freed. Runs from the device's completion path.
 * @public
 */
export function ioCompleteRw(req: IoKiocb, res: number): void {
  if (req.ctx.dmabufVersion !== "v3" && req.dmabufMap) {
    dmaBufIoPutMap(req.dmabufMap);
    req.dmabufMap = null;
  }
  ioReqComplete(req, res);
}

/** Completes a request: the CQE is posted by task work, which then frees the request. @internal */
export function ioReqComplete(req: IoKiocb, res: number): void {
  if (req.completed) throw new KernelError("EINVAL", "io_req_complete", "completed twice");
  req.completed = true;
  req.result = res;
  const ctx = req.ctx;
  const tw = (): void => {
    ctx.postCqe({ userData: req.sqe.userData, res, flags: 0 });
    ioFreeReq(req);
  };
  ctx.taskWork.push(tw);
  // Without DEFER_TASKRUN the task is notified (TWA_SIGNAL) and runs it at once.
  if (!(ctx.flags & IORING_SETUP_DEFER_TASKRUN)) ctx.kernel.clock.schedule(0, () => ctx.runTaskWork());
}

/** `io_free_batch_list()`: drops the map (v3), the buffer node and the file. */
function ioFreeReq(req: IoKiocb): void {
  const ctx = req.ctx;
  if (req.dmabufMap) {
    dmaBufIoPutMap(req.dmabufMap);
    req.dmabufMap = null;
  }
  if (req.bufNode) ioPutRsrcNode(ctx, req.bufNode);
  req.bufNode = null;
  req.file?.put();
  req.file = null;
  ctx.inflight.delete(req);
}

function errnoOf(e: unknown): number {
  if (isKernelError(e)) return -ERRNO[e.errno];
  throw e;
}

/** A syscall entry of the io_uring uAPI: kernel errors become -errno, model bugs an oops and -EFAULT. @internal */
export function sysCall(task: Task, name: string, fn: () => number): number {
  const k = task.kernel;
  try {
    return k.runAs(task, fn);
  } catch (e) {
    if (isKernelError(e)) return -ERRNO[e.errno];
    k.oops(name, e);
    return -ERRNO.EFAULT;
  } finally {
    k.lockdep.checkNoLocksHeld(task, `${name}()`);
  }
}
