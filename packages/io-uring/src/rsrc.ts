// io_uring/rsrc.c: registered buffer and file tables, the v3+ extended buffer update, dma-buf backed buffers and io_import_fixed().
import {
  KernelError,
  UserSignal,
  dmaBufGet,
  dmaBufPut,
  pinUserPages,
  unpinUserPages,
  type DmaBuf,
  type File,
  type Kernel,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufIoCreate, dmaBufIoGetMap, dmaBufIoRelease, type DmaBufIoCtx, type DmaBufIoMap } from "./dma-buf-io.js";
import type { IoRingCtx } from "./io-uring.js";
import {
  IO_DMABUF_MAX_SIZE_V3,
  IO_REGBUF_TYPE_DMABUF,
  IO_REGBUF_TYPE_EMPTY,
  IO_REGBUF_TYPE_UADDR,
  IO_URING_REGBUF_DESC_SIZE,
  IOVEC_SIZE,
  IORING_MAX_FIXED_FILES,
  IORING_MAX_REG_BUFFERS,
  IORING_RSRC_UPDATE_EXTENDED,
  MAX_RW_COUNT,
  __IO_REGBUF_TYPE_MAX,
} from "./io-uring-uapi.js";
import { queueWork, wouldBlock } from "./workqueue.js";
import { iovIterBvec, iovIterDmabufMap, type BioVec, type IovIter, type IterDir } from "./iov-iter.js";

/** `IO_REGBUF_F_DMABUF`: the imu is a dma-buf registration (no bvecs). @public */
export const IO_REGBUF_F_DMABUF = 2;

/** `struct io_regbuf_dma`: what a dma-buf registration keeps (v6: a pointer to the layer's context). @public */
export interface IoRegbufDma {
  readonly ctx: DmaBufIoCtx;
  readonly targetFile: File;
}

/** `struct io_mapped_ubuf`: a registered buffer. @public */
export class IoMappedUbuf {
  refs = 1;
  constructor(
    /** User address of byte 0 (0 for a dma-buf). */
    readonly ubuf: bigint,
    readonly len: bigint,
    readonly bvecs: readonly BioVec[],
    readonly flags: number,
    /** Pinned pages (UADDR), unpinned at release. */
    readonly pinned: readonly number[],
    readonly priv: IoRegbufDma | null,
  ) {}
}

/** `struct io_rsrc_node`: a table slot's content, referenced by the slot and by each request using it. @public */
export class IoRsrcNode {
  refs = 1;
  constructor(
    readonly kind: "buffer" | "file",
    readonly buf: IoMappedUbuf | null,
    readonly file: File | null,
  ) {}
}

/** A parsed `struct io_uring_regbuf_desc`. @public */
export interface IoUringRegbufDesc {
  type: number;
  flags: number;
  size: bigint;
  uaddr: bigint;
  dmabufFd: number;
  targetFd: number;
  resv: readonly bigint[];
}

/** Encodes a descriptor as the 80 user bytes of `struct io_uring_regbuf_desc`. @public */
export function ioUringRegbufDesc(d: Partial<IoUringRegbufDesc>): Uint8Array {
  const b = new Uint8Array(IO_URING_REGBUF_DESC_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, d.type ?? 0, true);
  v.setUint32(4, d.flags ?? 0, true);
  v.setBigUint64(8, d.size ?? 0n, true);
  v.setBigUint64(16, d.uaddr ?? 0n, true);
  v.setInt32(24, d.dmabufFd ?? 0, true);
  v.setInt32(28, d.targetFd ?? 0, true);
  (d.resv ?? []).forEach((r, i) => v.setBigUint64(32 + 8 * i, r, true));
  return b;
}

function parseDesc(bytes: Uint8Array): IoUringRegbufDesc {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    type: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    size: v.getBigUint64(8, true),
    uaddr: v.getBigUint64(16, true),
    dmabufFd: v.getInt32(24, true),
    targetFd: v.getInt32(28, true),
    resv: Array.from({ length: 6 }, (_, i) => v.getBigUint64(32 + 8 * i, true)),
  };
}

/** `copy_from_user()` from a user address of `task`: `EFAULT` for NULL, a hole or a fault. @internal */
export function copyFromUserPtr(task: Task, addr: bigint, len: number, op: string): Uint8Array {
  const mm = task.mm;
  if (addr === 0n || !mm) throw new KernelError("EFAULT", op, "NULL user pointer");
  try {
    return mm.read(addr, len);
  } catch (e) {
    if (e instanceof UserSignal) throw new KernelError("EFAULT", op, e.message);
    throw e;
  }
}

// ---- node lifetime -----------------------------------------------------------

/** `io_put_rsrc_node()`: the last reference frees the node and its buffer or file reference. @internal */
export function ioPutRsrcNode(ctx: IoRingCtx, node: IoRsrcNode): void {
  if (node.refs <= 0) throw new KernelError("EINVAL", "io_put_rsrc_node", "refcount underflow");
  if (--node.refs) return;
  ctx.kernel.objects.untrack(node);
  if (node.file) node.file.put();
  if (node.buf) ioBufferUnmap(ctx.kernel, node.buf);
}

function trackNode(ctx: IoRingCtx, node: IoRsrcNode): IoRsrcNode {
  ctx.kernel.objects.track("io_rsrc_node", node, () => `io_uring ${node.kind} node refs ${node.refs}${node.buf?.priv ? " (dma-buf)" : ""}`);
  return node;
}

/**
 * `io_buffer_unmap()`: drops an imu reference; the last one releases it:
 * UADDR unpins its pages; a dma-buf registration (`io_release_reg_dmabuf()`)
 * puts the target file and releases the layer context from a worker, so an
 * update or unregister returns before the attachment is gone.
 */
function ioBufferUnmap(kernel: Kernel, imu: IoMappedUbuf): void {
  if (--imu.refs) return;
  const rd = imu.priv;
  if (!rd) {
    unpinUserPages(kernel, imu.pinned);
    return;
  }
  queueWork(kernel, "io_release_reg_dmabuf", () => {
    if (wouldBlock(kernel, rd.ctx.dmabuf.resv.lock)) return false;
    rd.targetFile.put();
    dmaBufIoRelease(rd.ctx);
    return true;
  });
}

// ---- registration ------------------------------------------------------------

/** `io_sqe_buffer_register()` for an iovec (`io_uring_register_buffers`): UADDR, or EMPTY for a NULL base. @internal */
export function ioDescFromIovec(base: bigint, len: bigint): IoUringRegbufDesc {
  return base === 0n ? { type: IO_REGBUF_TYPE_EMPTY, flags: 0, size: len, uaddr: 0n, dmabufFd: 0, targetFd: 0, resv: [] } : { type: IO_REGBUF_TYPE_UADDR, flags: 0, size: len, uaddr: base, dmabufFd: 0, targetFd: 0, resv: [] };
}

/**
 * `io_sqe_buffer_register()` (v3): validates a descriptor and builds the
 * node, or null for EMPTY (the slot is cleared). Order: type range, reserved
 * words, DMABUF, fds for other types, EMPTY's fields (`EFAULT`), then UADDR.
 * @internal
 */
export function ioSqeBufferRegister(ctx: IoRingCtx, desc: IoUringRegbufDesc): IoRsrcNode | null {
  if (desc.type >= __IO_REGBUF_TYPE_MAX) throw new KernelError("EINVAL", "io_sqe_buffer_register", `type ${desc.type}`);
  if (desc.resv.some((r) => r !== 0n)) throw new KernelError("EINVAL", "io_sqe_buffer_register", "reserved words");
  if (desc.type === IO_REGBUF_TYPE_DMABUF) return ioRegisterDmabuf(ctx, desc);
  if (desc.dmabufFd !== 0 || desc.targetFd !== 0) throw new KernelError("EINVAL", "io_sqe_buffer_register", "fds on a non-dma-buf descriptor");
  if (desc.type === IO_REGBUF_TYPE_EMPTY) {
    if (desc.uaddr !== 0n || desc.size !== 0n) throw new KernelError("EFAULT", "io_sqe_buffer_register", "EMPTY with an address or size");
    return null;
  }
  return registerUaddr(ctx, desc.uaddr, desc.size);
}

/** `io_buffer_validate()` + `io_pin_pages()`: a UADDR buffer (`EFAULT` for NULL/zero/too large/unpinnable). */
function registerUaddr(ctx: IoRingCtx, uaddr: bigint, size: bigint): IoRsrcNode {
  if (size === 0n || uaddr === 0n) throw new KernelError("EFAULT", "io_buffer_validate", "NULL or empty");
  if (size > 1n << 30n) throw new KernelError("EFAULT", "io_validate_user_buf_range", "larger than 1 GiB");
  // check_add_overflow(base, PAGE_ALIGN(len)) on an unsigned long.
  if (uaddr + ((size + 0xfffn) & ~0xfffn) > 0xffff_ffff_ffff_ffffn) throw new KernelError("EOVERFLOW", "io_validate_user_buf_range", "wraps");
  const start = uaddr & ~0xfffn;
  const end = (uaddr + size + 0xfffn) & ~0xfffn;
  const nr = Number((end - start) >> 12n);
  ctx.kernel.alloc.kzalloc("io_mapped_ubuf");
  const mm = ctx.kernel.current.mm;
  if (!mm) throw new KernelError("EFAULT", "io_pin_pages", "no mm");
  const pfns = pinUserPages(mm, start, nr);
  const bvecs: BioVec[] = [];
  let off = Number(uaddr - start);
  let left = Number(size);
  for (const pfn of pfns) {
    const n = Math.min(4096 - off, left);
    bvecs.push({ pfn, offset: off, len: n });
    left -= n;
    off = 0;
  }
  return trackNode(ctx, new IoRsrcNode("buffer", new IoMappedUbuf(uaddr, size, bvecs, 0, pfns, null), null));
}

/**
 * `io_register_dmabuf()`: the dma-buf is registered for one target file.
 * Order and errnos as the series (v3 10/10): `uaddr`/`size` set → `EINVAL`;
 * allocations (`ENOMEM`); `fget(target_fd)` → `EBADF`; `dma_buf_get()` →
 * `EBADF`/`EINVAL`; v3: larger than 1 GiB → `EINVAL`; the layer context
 * (`EOPNOTSUPP` for a file without the op, the driver's errno). No map is
 * made here: mapping is lazy, on the first I/O.
 */
function ioRegisterDmabuf(ctx: IoRingCtx, desc: IoUringRegbufDesc): IoRsrcNode {
  const k = ctx.kernel;
  if (desc.uaddr !== 0n || desc.size !== 0n) throw new KernelError("EINVAL", "io_register_dmabuf", "uaddr/size must be 0");
  k.alloc.kzalloc("io_rsrc_node");
  k.alloc.kzalloc("io_regbuf_dma");
  const target = k.current.files.fget(desc.targetFd);
  let dmabuf: DmaBuf | undefined;
  try {
    dmabuf = dmaBufGet(k, desc.dmabufFd);
    if (ctx.dmabufVersion === "v3" && dmabuf.size > IO_DMABUF_MAX_SIZE_V3) throw new KernelError("EINVAL", "io_register_dmabuf", "larger than 1 GiB (v3)");
    const dctx = dmaBufIoCreate(target, dmabuf, "DMA_BIDIRECTIONAL", ctx.dmabufVersion);
    const imu = new IoMappedUbuf(0n, dmabuf.size, [], IO_REGBUF_F_DMABUF, [], { ctx: dctx, targetFile: target });
    return trackNode(ctx, new IoRsrcNode("buffer", imu, null));
  } catch (e) {
    target.put();
    throw e;
  } finally {
    // The context holds its own reference.
    if (dmabuf) dmaBufPut(dmabuf);
  }
}

/**
 * `io_sqe_buffers_register()` (`IORING_REGISTER_BUFFERS[2]`): a new table of
 * `nr` slots; `descAt(i)` copies in slot `i`'s iovec (null: every slot empty),
 * `tags` is a user array of u64 tags or 0. `EBUSY` when a table exists,
 * `EINVAL` for 0 or more than `IORING_MAX_REG_BUFFERS` slots; then entry by
 * entry: the iovec, the tag (`EFAULT`), the registration, a tag on an empty
 * slot (`EINVAL`). Unwinds fully on error.
 * @internal
 */
export function ioSqeBuffersRegister(ctx: IoRingCtx, nr: number, descAt: ((i: number) => IoUringRegbufDesc) | null, tags: bigint): void {
  if (ctx.bufTable) throw new KernelError("EBUSY", "io_sqe_buffers_register", "table exists");
  if (nr <= 0 || nr > IORING_MAX_REG_BUFFERS) throw new KernelError("EINVAL", "io_sqe_buffers_register", `nr ${nr}`);
  ctx.kernel.alloc.kzalloc("io_rsrc_data");
  const table: (IoRsrcNode | null)[] = new Array<IoRsrcNode | null>(nr).fill(null);
  try {
    for (let i = 0; i < nr; i++) {
      const desc = descAt ? descAt(i) : ioDescFromIovec(0n, 0n);
      const tag = tags ? new DataView(copyFromUserPtr(ctx.kernel.current, tags + BigInt(i * 8), 8, "io_sqe_buffers_register").buffer).getBigUint64(0, true) : 0n;
      const node = ioSqeBufferRegister(ctx, desc);
      if (tag && !node) throw new KernelError("EINVAL", "io_sqe_buffers_register", "tag on an empty slot");
      table[i] = node;
    }
  } catch (e) {
    for (const n of table) if (n) ioPutRsrcNode(ctx, n);
    throw e;
  }
  ctx.bufTable = table;
}

/** `io_sqe_buffers_unregister()`: every slot's node is put; in-flight requests keep theirs. @internal */
export function ioSqeBuffersUnregister(ctx: IoRingCtx): void {
  const t = ctx.bufTable;
  if (!t) throw new KernelError("ENXIO", "io_sqe_buffers_unregister", "no buffer table");
  ctx.bufTable = null;
  for (const n of t) if (n) ioPutRsrcNode(ctx, n);
}

/**
 * `__io_sqe_buffers_update()` (v3+): `ENXIO` without a table, `EINVAL` for a
 * range past it or unknown flags; then entry by entry: tag, descriptor
 * (80 bytes extended, else an iovec), register, a tag on EMPTY → `EINVAL`,
 * replace the slot. Returns the entries done, or the first error when none.
 * @internal
 */
export function ioSqeBuffersUpdate(ctx: IoRingCtx, up: { offset: number; flags: number; data: bigint; tags: bigint; nr: number }): number {
  const t = ctx.bufTable;
  if (!t) throw new KernelError("ENXIO", "__io_sqe_buffers_update", "no buffer table");
  if (up.offset + up.nr > t.length) throw new KernelError("EINVAL", "__io_sqe_buffers_update", "range past the table");
  if (up.flags & ~IORING_RSRC_UPDATE_EXTENDED) throw new KernelError("EINVAL", "__io_sqe_buffers_update", `flags ${up.flags}`);
  const extended = (up.flags & IORING_RSRC_UPDATE_EXTENDED) !== 0;
  let done = 0;
  let err: unknown;
  for (; done < up.nr; done++) {
    try {
      let tag = 0n;
      if (up.tags) tag = new DataView(copyFromUserPtr(ctx.kernel.current, up.tags + BigInt(done * 8), 8, "io_sqe_buffers_update").buffer).getBigUint64(0, true);
      let desc: IoUringRegbufDesc;
      if (extended) desc = parseDesc(copyFromUserPtr(ctx.kernel.current, up.data + BigInt(done * IO_URING_REGBUF_DESC_SIZE), IO_URING_REGBUF_DESC_SIZE, "io_sqe_buffers_update"));
      else {
        const iov = new DataView(copyFromUserPtr(ctx.kernel.current, up.data + BigInt(done * IOVEC_SIZE), IOVEC_SIZE, "io_sqe_buffers_update").buffer);
        desc = ioDescFromIovec(iov.getBigUint64(0, true), iov.getBigUint64(8, true));
      }
      const node = ioSqeBufferRegister(ctx, desc);
      if (tag && !node) throw new KernelError("EINVAL", "__io_sqe_buffers_update", "tag on an empty slot");
      const i = up.offset + done;
      const old = t[i];
      t[i] = node;
      if (old) ioPutRsrcNode(ctx, old);
    } catch (e) {
      err = e;
      break;
    }
  }
  if (done > 0) return done;
  throw err;
}

// ---- files ---------------------------------------------------------------------

/**
 * `io_sqe_files_register()` (`IORING_REGISTER_FILES`): a table of `nr` file
 * references, `fdAt(i)` copying in slot `i`'s fd (-1 leaves it empty).
 * `EBUSY` when a table exists, `EINVAL` for 0 slots, `EMFILE` above
 * `IORING_MAX_FIXED_FILES` or `RLIMIT_NOFILE`; then per fd `EFAULT`,
 * `EBADF` (no such file, or an io_uring). Unwinds fully on error.
 * @internal
 */
export function ioSqeFilesRegister(ctx: IoRingCtx, nr: number, fdAt: (i: number) => number): void {
  if (ctx.fileTable) throw new KernelError("EBUSY", "io_sqe_files_register", "table exists");
  if (nr === 0 || nr < 0) throw new KernelError("EINVAL", "io_sqe_files_register", `nr ${nr}`);
  const task = ctx.kernel.current;
  if (nr > IORING_MAX_FIXED_FILES || nr > task.files.nofile) throw new KernelError("EMFILE", "io_sqe_files_register", `nr ${nr}`);
  const table: (IoRsrcNode | null)[] = [];
  try {
    for (let i = 0; i < nr; i++) {
      const fd = fdAt(i);
      if (fd === -1) {
        table.push(null);
        continue;
      }
      const f = task.files.fget(fd);
      if (f.fops === ctx.file?.fops) {
        f.put();
        throw new KernelError("EBADF", "io_sqe_files_register", "an io_uring fd");
      }
      table.push(trackNode(ctx, new IoRsrcNode("file", null, f)));
    }
  } catch (e) {
    for (const n of table) if (n) ioPutRsrcNode(ctx, n);
    throw e;
  }
  ctx.fileTable = table;
}

/** `io_sqe_files_unregister()`. @internal */
export function ioSqeFilesUnregister(ctx: IoRingCtx): void {
  const t = ctx.fileTable;
  if (!t) throw new KernelError("ENXIO", "io_sqe_files_unregister", "no file table");
  ctx.fileTable = null;
  for (const n of t) if (n) ioPutRsrcNode(ctx, n);
}

// ---- import at issue time --------------------------------------------------------

/** What a fixed read/write imported: the iterator and the references it holds. @public */
export interface IoImported {
  readonly iter: IovIter;
  /** The map reference (`REQ_F_DROP_DMABUF`), for dma-buf buffers. */
  readonly map: DmaBufIoMap | null;
}

/**
 * `io_find_buf_node()`: the slot's node with a reference for the request.
 * `EFAULT` for an empty or out-of-range slot.
 * @public
 */
export function ioFindBufNode(ctx: IoRingCtx, index: number): IoRsrcNode {
  const node = ctx.bufTable?.[index];
  if (!node) throw new KernelError("EFAULT", "io_find_buf_node", `no buffer in slot ${index}`);
  node.refs++;
  return node;
}

/**
 * `io_import_fixed()` → `io_import_dmabuf()`: range, direction, dma-buf
 * rules, then the iterator. For a dma-buf: `EFAULT` for a range past the
 * buffer, a zero length, or an opcode that does not allow dma-buf;
 * `EOPNOTSUPP` for vectored fixed I/O; `EBADF` when the request's file is
 * not the registration's target; then the map (`EAGAIN` when `nowait` and
 * none is published; the layer's or exporter's errno otherwise).
 * @public
 */
export function ioImportFixed(
  req: { readonly file: File | null; readonly opcode: number },
  node: IoRsrcNode,
  dir: IterDir,
  addr: bigint,
  len: number,
  opts: { allowDmabuf: boolean; vectored: boolean; nowait: boolean },
): IoImported {
  const imu = node.buf!;
  // validate_fixed_range()
  if (addr + BigInt(len) < addr || addr < imu.ubuf || addr + BigInt(len) > imu.ubuf + imu.len || len > MAX_RW_COUNT) {
    throw new KernelError("EFAULT", "validate_fixed_range", `[${addr}, +${len}) outside the buffer`);
  }
  if (!(imu.flags & IO_REGBUF_F_DMABUF)) {
    if (opts.vectored) throw new KernelError("EOPNOTSUPP", "io_import_reg_vec", "vectored fixed I/O is not modelled");
    return { iter: iovIterBvec(dir, imu.bvecs, Number(addr - imu.ubuf), len), map: null };
  }
  // Vectored fixed I/O imports through io_import_reg_vec(), which refuses dma-buf buffers outright.
  if (opts.vectored) throw new KernelError("EOPNOTSUPP", "io_import_reg_vec", "dma-buf buffer in vectored fixed I/O");
  if (!opts.allowDmabuf) throw new KernelError("EFAULT", "io_import_fixed", "dma-buf buffer for an opcode that does not allow it");
  if (len === 0) throw new KernelError("EFAULT", "io_import_dmabuf", "zero length");
  const rd = imu.priv!;
  if (req.file !== rd.targetFile) throw new KernelError("EBADF", "io_import_dmabuf", "not the registration's target file");
  const map = dmaBufIoGetMap(rd.ctx, opts.nowait);
  return { iter: iovIterDmabufMap(dir, map, addr, len), map };
}
