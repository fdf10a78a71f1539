// io_uring/rw.c: READ/WRITE and READ_FIXED/WRITE_FIXED (io_prep_rw, io_init_rw_fixed, __io_read/io_write, io_complete_rw).
import { KernelWeakMap, ERRNO, FMODE_READ, FMODE_WRITE, KernelError, pinUserPages, unpinUserPages, O_DIRECT } from "@dmabuf-sdk/dmabuf-core";
import { ioCompleteRw, type IoKiocb } from "./io-uring.js";
import { IORING_OP_READ, IORING_OP_READ_FIXED, IORING_OP_READV_FIXED, IORING_OP_WRITE, IORING_OP_WRITE_FIXED, IORING_OP_WRITEV_FIXED, MAX_RW_COUNT } from "./io-uring-uapi.js";
import { EIOCBQUEUED, iovIterBvec, iovIterDmabufMap, type BioVec, type IoUringFileOperations, type IovIter, type Kiocb } from "./iov-iter.js";
import { ioFindBufNode, ioImportFixed } from "./rsrc.js";

const READS = new Set([IORING_OP_READ, IORING_OP_READ_FIXED, IORING_OP_READV_FIXED]);
const WRITES = new Set([IORING_OP_WRITE, IORING_OP_WRITE_FIXED, IORING_OP_WRITEV_FIXED]);
const FIXED = new Set([IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED, IORING_OP_READV_FIXED, IORING_OP_WRITEV_FIXED]);

/** Per-request state of a read/write (`struct io_async_rw`). */
interface IoRwState {
  iter: IovIter | null;
  /** Pages pinned for a non-fixed direct I/O, unpinned at completion. */
  pinned: number[];
}
const RW = new KernelWeakMap<IoKiocb, IoRwState>("RW", (req) => req.ctx.kernel);

/** `io_prep_rw()`: `EINVAL` for an opcode the model does not implement or a length past `MAX_RW_COUNT`. @internal */
export function ioRwPrep(req: IoKiocb): void {
  const op = req.opcode;
  if (!READS.has(op) && !WRITES.has(op)) throw new KernelError("EINVAL", "io_init_req", `opcode ${op} is not modelled`);
  if (req.sqe.len < 0 || req.sqe.len > MAX_RW_COUNT) throw new KernelError("EINVAL", "io_prep_rw", `len ${req.sqe.len}`);
  RW.set(req, { iter: null, pinned: [] });
}

/**
 * `io_read()` / `io_write()`: imports the buffer (fixed: the registered
 * buffer, holding its node and, for a dma-buf, a map reference; otherwise
 * the user pages, pinned for the I/O as direct I/O does) and calls the
 * file's `read_iter`/`write_iter`. Returns bytes, -errno, or `EIOCBQUEUED`.
 * @internal
 */
export function ioRwIssue(req: IoKiocb, inline: boolean): number {
  const ctx = req.ctx;
  const sqe = req.sqe;
  const write = WRITES.has(req.opcode);
  const file = req.file!;
  const fops = file.fops as IoUringFileOperations;
  if (!(file.mode & (write ? FMODE_WRITE : FMODE_READ))) throw new KernelError("EBADF", write ? "io_write" : "io_read", "file mode");
  const st = RW.get(req)!;
  const dir = write ? "ITER_SOURCE" : "ITER_DEST";
  if (!st.iter) {
    if (FIXED.has(req.opcode)) {
      if (!req.bufNode) req.bufNode = ioFindBufNode(ctx, sqe.bufIndex);
      if (req.dmabufMap) {
        // A reissue keeps the map reference it holds ("goto init_iter").
        st.iter = iovIterDmabufMap(dir, req.dmabufMap, sqe.addr, sqe.len);
      } else {
        const vectored = req.opcode === IORING_OP_READV_FIXED || req.opcode === IORING_OP_WRITEV_FIXED;
        const imp = ioImportFixed(req, req.bufNode, dir, sqe.addr, sqe.len, { allowDmabuf: !vectored, vectored, nowait: inline });
        req.dmabufMap = imp.map;
        st.iter = imp.iter;
      }
    } else st.iter = importUbuf(req, st, dir);
  }
  const handler = write ? fops.writeIter : fops.readIter;
  if (!handler) {
    // The pages pinned for the import go back with the error (found by the uAPI fuzzer: a READ on a dma-buf fd leaked them).
    releasePinned(req, st);
    throw new KernelError("EINVAL", write ? "io_write" : "io_read", `${fops.name} has no ${write ? "write_iter" : "read_iter"}`);
  }
  const kiocb: Kiocb = {
    file,
    pos: sqe.off,
    direct: (file.flags & O_DIRECT) !== 0,
    nowait: inline,
    complete: (res) => {
      releasePinned(req, st);
      ioCompleteRw(req, res);
    },
  };
  const res = handler.call(fops, kiocb, st.iter);
  if (res === -ERRNO.EAGAIN && inline) return res;
  if (res !== EIOCBQUEUED) releasePinned(req, st);
  return res;
}

/** `io_import_ubuf()` + the direct-I/O page pinning of a plain READ/WRITE: `EFAULT` when the memory is not there. */
function importUbuf(req: IoKiocb, st: IoRwState, dir: "ITER_DEST" | "ITER_SOURCE"): IovIter {
  const { addr, len } = req.sqe;
  if (len === 0) return iovIterBvec(dir, [], 0, 0);
  const start = addr & ~0xfffn;
  const nr = Number((addr + BigInt(len) + 0xfffn - start) >> 12n);
  const mm = req.task.mm;
  if (!mm) throw new KernelError("EFAULT", "io_import_ubuf", "no mm");
  st.pinned = pinUserPages(mm, start, nr);
  const bvecs: BioVec[] = [];
  let off = Number(addr - start);
  let left = len;
  for (const pfn of st.pinned) {
    const n = Math.min(4096 - off, left);
    bvecs.push({ pfn, offset: off, len: n });
    left -= n;
    off = 0;
  }
  return iovIterBvec(dir, bvecs, 0, len);
}

function releasePinned(req: IoKiocb, st: IoRwState): void {
  if (!st.pinned.length) return;
  unpinUserPages(req.ctx.kernel, st.pinned);
  st.pinned = [];
}
