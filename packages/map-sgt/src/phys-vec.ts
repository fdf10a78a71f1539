// struct phys_vec arrays (include/linux/dma-buf-mapping.h) in columnar form: two u64 columns, 16 bytes a range.
import { KernelError } from "@dmabuf-sdk/dmabuf-core";

/** `struct phys_vec` (v1: `struct dma_buf_phys_vec`): a CPU physical range. @public */
export interface PhysVec {
  readonly paddr: bigint;
  readonly len: bigint;
}

/**
 * An array of `struct phys_vec` as two `u64` columns: range `i` is
 * `paddr[i]`, `len[i]` (16 bytes a range, as in C, against about 72 for an
 * object of two bigints). Both columns have one entry per range.
 * @public
 */
export interface PhysVecColumns {
  readonly paddr: BigUint64Array;
  readonly len: BigUint64Array;
}

/** `phys_vec[]` in either form: objects (a convenience) or columns. @public */
export type PhysVecInput = readonly PhysVec[] | PhysVecColumns;

/** Columns for `n` ranges (zeroed), or a copy of `ranges` in columnar form. @throws KernelError `EINVAL` for a negative or non-integer count, or a value outside u64. @public */
export function physVecColumns(ranges: number | readonly PhysVec[]): PhysVecColumns {
  const n = typeof ranges === "number" ? ranges : ranges.length;
  if (!Number.isSafeInteger(n) || n < 0) throw new KernelError("EINVAL", "phys_vec", `${n} ranges`);
  const cols = { paddr: new BigUint64Array(n), len: new BigUint64Array(n) };
  if (typeof ranges !== "number") {
    for (let i = 0; i < n; i++) {
      const r = ranges[i]!;
      if (r.paddr < 0n || r.paddr >= 1n << 64n || r.len < 0n || r.len >= 1n << 64n) throw new KernelError("EINVAL", "phys_vec", `range ${i} is not u64`);
      cols.paddr[i] = r.paddr;
      cols.len[i] = r.len;
    }
  }
  return cols;
}

/** True for the columnar form. @public */
export function isPhysVecColumns(v: PhysVecInput): v is PhysVecColumns {
  return !Array.isArray(v);
}

/**
 * Checks a columnar `phys_vec` handed to a helper: both columns are
 * `BigUint64Array`s of the same length. @throws KernelError `EINVAL`.
 */
export function physVecColumnsCheck(v: PhysVecColumns, op: string): void {
  if (!(v.paddr instanceof BigUint64Array) || !(v.len instanceof BigUint64Array)) throw new KernelError("EINVAL", op, "phys_vec columns are not u64 arrays");
  if (v.paddr.length !== v.len.length) throw new KernelError("EINVAL", op, `phys_vec columns of ${v.paddr.length} and ${v.len.length} entries`);
}

/** Number of ranges in either form. */
export function physVecLength(v: PhysVecInput): number {
  return isPhysVecColumns(v) ? v.paddr.length : v.length;
}

/** Range `i` as an object (for the slow paths). */
export function physVecAt(v: PhysVecInput, i: number): PhysVec {
  return isPhysVecColumns(v) ? { paddr: v.paddr[i]!, len: v.len[i]! } : v[i]!;
}
