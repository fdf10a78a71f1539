// include/linux/uio.h + lib/iov_iter.c: the iterators a direct read/write carries (ITER_BVEC, and the series' ITER_DMABUF_MAP).
import type { File, Kernel } from "@dmabuf-sdk/dmabuf-core";
import type { DmaBufIoFileOperations, DmaBufIoMap } from "./dma-buf-io.js";

/** `ITER_DEST` (a read fills it) or `ITER_SOURCE` (a write drains it). @public */
export type IterDir = "ITER_DEST" | "ITER_SOURCE";

/** One `struct bio_vec`: `len` bytes at `offset` of page `pfn`. @public */
export interface BioVec {
  readonly pfn: number;
  readonly offset: number;
  readonly len: number;
}

/** `ITER_BVEC`: pinned pages of an ordinary registered buffer. @public */
export interface IovIterBvec {
  readonly type: "ITER_BVEC";
  readonly dir: IterDir;
  readonly bvecs: readonly BioVec[];
  /** Bytes to skip in the first bvec, then the byte count. */
  readonly iovOffset: number;
  readonly count: number;
}

/** `ITER_DMABUF_MAP` (series patch 2): a long-term dma-buf map, a byte offset into the buffer and a count. No pages. @public */
export interface IovIterDmabufMap {
  readonly type: "ITER_DMABUF_MAP";
  readonly dir: IterDir;
  readonly map: DmaBufIoMap;
  readonly offset: bigint;
  readonly count: number;
}

/** @public */
export type IovIter = IovIterBvec | IovIterDmabufMap;

/** `iov_iter_bvec()` from `offset` bytes into the buffer, `count` bytes long. @public */
export function iovIterBvec(dir: IterDir, bvecs: readonly BioVec[], offset: number, count: number): IovIterBvec {
  return { type: "ITER_BVEC", dir, bvecs, iovOffset: offset, count };
}

/** `iov_iter_dmabuf_map()`. @public */
export function iovIterDmabufMap(dir: IterDir, map: DmaBufIoMap, offset: bigint, count: number): IovIterDmabufMap {
  return { type: "ITER_DMABUF_MAP", dir, map, offset, count };
}

/**
 * `struct kiocb` as io_uring hands it to `->read_iter`/`->write_iter`. A
 * driver that queues the I/O returns `-EIOCBQUEUED` and calls `complete`
 * later (from its completion interrupt).
 * @public
 */
export interface Kiocb {
  readonly file: File;
  readonly pos: bigint;
  /** `IOCB_DIRECT` (the file is open with O_DIRECT). */
  readonly direct: boolean;
  /** `IOCB_NOWAIT`: must not block (the inline issue). */
  readonly nowait: boolean;
  /** `ki_complete`: the result (bytes or -errno). */
  complete(res: number): void;
}

/** `-EIOCBQUEUED`: the I/O was queued; `ki_complete` follows. @public */
export const EIOCBQUEUED = -529;

/**
 * The `->read_iter` / `->write_iter` of a file io_uring can do fixed I/O on.
 * They return bytes, `-errno`, or {@link EIOCBQUEUED}.
 * @public
 */
export interface IoUringFileOperations extends DmaBufIoFileOperations {
  readIter?(kiocb: Kiocb, iter: IovIter): number;
  writeIter?(kiocb: Kiocb, iter: IovIter): number;
}

/** CPU copy of the bytes a `ITER_BVEC` covers (the page-cache path), for files that do buffered I/O. @public */
export function copyFromIterBvec(kernel: Kernel, iter: IovIterBvec): Uint8Array {
  const out = new Uint8Array(iter.count);
  walkBvec(iter, (phys, pos, n) => out.set(kernel.platform.physmem.read(phys, n), pos));
  return out;
}

/** CPU copy into the pages of a `ITER_BVEC`. @public */
export function copyToIterBvec(kernel: Kernel, iter: IovIterBvec, data: Uint8Array): void {
  walkBvec(iter, (phys, pos, n) => kernel.platform.physmem.write(phys, data.subarray(pos, pos + n)));
}

/** Visits the physical ranges of a `ITER_BVEC`: `fn(phys, posInIter, len)`. @public */
export function walkBvec(iter: IovIterBvec, fn: (phys: bigint, pos: number, len: number) => void): void {
  let skip = iter.iovOffset;
  let pos = 0;
  for (const bv of iter.bvecs) {
    if (pos >= iter.count) break;
    if (skip >= bv.len) {
      skip -= bv.len;
      continue;
    }
    const n = Math.min(bv.len - skip, iter.count - pos);
    fn((BigInt(bv.pfn) << 12n) + BigInt(bv.offset + skip), pos, n);
    pos += n;
    skip = 0;
  }
}
