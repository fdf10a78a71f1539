// lib/scatterlist.c: struct sg_table, sg_alloc_table and sg_free_table.
import { KernelLocal, KernelBug, KernelError, UINT_MAX, type Kernel } from "@dmabuf-sdk/dmabuf-core";

/**
 * `struct sg_table`: a DMA list (`nents` entries of a 64-bit DMA address and
 * a 32-bit DMA length) and an optional CPU list (`orig_nents` entries of a
 * page, an offset and a length). Page-less tables — the MMIO tables of
 * `dma_buf_phys_vec_to_sgt()` — have no CPU list: `orig_nents` is 0 and every
 * page is null.
 *
 * Storage is columnar (`BigUint64Array` + `Uint32Array`): 12 bytes per
 * page-less entry, 28 with a CPU list, so tables of millions of entries stay
 * compact.
 * @public
 */
export class SgTable {
  /** Entries allocated by `sg_alloc_table()`. */
  readonly capacity: number;
  /** Entries of the DMA list (`sgt->nents`). */
  nents: number;
  /** Entries of the CPU list (`sgt->orig_nents`); 0 for a page-less table. */
  origNents: number;
  /** `sg_dma_address()` of each entry. */
  readonly dmaAddress: BigUint64Array;
  /** `sg_dma_len()` of each entry (32 bits, as in the kernel). */
  readonly dmaLength: Uint32Array;
  /** CPU list: page frame number (`sg_page()`), -1 for a NULL page. Absent when page-less. */
  readonly pagePfn: Float64Array | null;
  /** CPU list: offset into the first page. */
  readonly offset: Uint32Array | null;
  /** CPU list: byte length (`sg->length`). */
  readonly length: Uint32Array | null;
  #freed = false;

  /** @internal use {@link sgAllocTable} */
  constructor(
    readonly kernel: Kernel,
    nents: number,
    withCpuList: boolean,
    zero = true,
  ) {
    this.capacity = nents;
    this.nents = nents;
    this.origNents = nents;
    const reused = withCpuList ? undefined : takeFreedDmaList(kernel, nents, zero);
    this.dmaAddress = reused?.dmaAddress ?? new BigUint64Array(nents);
    this.dmaLength = reused?.dmaLength ?? new Uint32Array(nents);
    this.pagePfn = withCpuList ? new Float64Array(nents).fill(-1) : null;
    this.offset = withCpuList ? new Uint32Array(nents) : null;
    this.length = withCpuList ? new Uint32Array(nents) : null;
  }

  /** True once {@link sgFreeTable} ran. */
  get freed(): boolean {
    return this.#freed;
  }

  /** @internal */
  _markFreed(): boolean {
    if (this.#freed) return false;
    this.#freed = true;
    return true;
  }

  /** Bytes of memory the table's storage takes. */
  get storageBytes(): number {
    return this.dmaAddress.byteLength + this.dmaLength.byteLength + (this.pagePfn?.byteLength ?? 0) + (this.offset?.byteLength ?? 0) + (this.length?.byteLength ?? 0);
  }
}

/** Page-less tables of at least this many entries hand their storage back on free. */
const REUSE_MIN_ENTRIES = 4096;
/** Freed DMA lists a kernel keeps for reuse (the most recent first). */
const REUSE_MAX = 4;
const freedDmaLists = new KernelLocal<{ dmaAddress: BigUint64Array; dmaLength: Uint32Array }[]>("freedDmaLists");

/**
 * A freed DMA list of exactly `nents` entries, zeroed as `sg_init_table()`
 * zeroes a new one. The kernel's allocator hands back memory that is already
 * mapped; a fresh typed array of megabytes costs JavaScript a page fault per
 * 4 KiB on its first write, as much as filling it (docs/benchmarks.md).
 */
function takeFreedDmaList(kernel: Kernel, nents: number, zero: boolean): { dmaAddress: BigUint64Array; dmaLength: Uint32Array } | undefined {
  if (nents < REUSE_MIN_ENTRIES) return undefined;
  const list = freedDmaLists.get(kernel);
  const i = list ? list.findIndex((s) => s.dmaLength.length === nents) : -1;
  if (i < 0) return undefined;
  const [s] = list!.splice(i, 1);
  if (zero) {
    new Uint8Array(s!.dmaAddress.buffer).fill(0);
    s!.dmaLength.fill(0);
  }
  return s;
}

/**
 * `sg_alloc_table(table, nents, GFP_KERNEL)`: a zeroed table of `nents`
 * entries; `withCpuList: false` makes a page-less (DMA-only) table.
 * @throws KernelError `EINVAL` for 0 entries; `ENOMEM` (injectable site `sg_alloc_table`).
 * @public
 */
export function sgAllocTable(kernel: Kernel, nents: number, opts: { withCpuList?: boolean } = {}): SgTable {
  return allocTable(kernel, nents, opts.withCpuList ?? true, true);
}

/**
 * {@link sgAllocTable} of a page-less table whose caller writes every one of
 * its `nents` DMA entries before anyone reads it (`dma_buf_phys_vec_to_sgt()`
 * counts them exactly): reused storage is not zeroed first, which no reader
 * can tell. Not exported from the package.
 */
export function sgAllocTableFullyWritten(kernel: Kernel, nents: number): SgTable {
  return allocTable(kernel, nents, false, false);
}

function allocTable(kernel: Kernel, nents: number, withCpuList: boolean, zero: boolean): SgTable {
  if (nents === 0) throw new KernelError("EINVAL", "sg_alloc_table", "0 entries");
  if (!Number.isInteger(nents) || nents < 0 || nents > 0xffff_ffff) throw new KernelError("EINVAL", "sg_alloc_table", `${nents} entries`);
  kernel.alloc.attempt("sg_alloc_table", `sg_table[${nents}]`);
  const t = new SgTable(kernel, nents, withCpuList, zero);
  kernel.objects.track("sg_table", t, () => `sg_table of ${t.capacity} entries (nents ${t.nents}, orig_nents ${t.origNents})`);
  return t;
}

/**
 * `sg_free_table()`. Frees the whole allocation whatever `orig_nents` says:
 * the kernel walks `orig_nents` entries, so a page-less table (orig_nents 0)
 * would leak its chained chunks; the model frees what was allocated.
 * @public
 */
export function sgFreeTable(sgt: SgTable): void {
  if (!sgt._markFreed()) {
    sgt.kernel.warn("sg_free_table: table already freed");
    return;
  }
  sgt.kernel.objects.untrack(sgt);
  if (!sgt.pagePfn && sgt.capacity >= REUSE_MIN_ENTRIES) {
    let list = freedDmaLists.get(sgt.kernel);
    if (!list) freedDmaLists.set(sgt.kernel, (list = []));
    list.unshift({ dmaAddress: sgt.dmaAddress, dmaLength: sgt.dmaLength });
    list.length = Math.min(list.length, REUSE_MAX);
  }
}

/** `sg_set_page(sg, page, len, offset)` on entry `i` of the CPU list (`pfn` -1 for NULL). @public */
export function sgSetPage(sgt: SgTable, i: number, pfn: number, len: number, offset: number): void {
  if (!sgt.pagePfn || !sgt.offset || !sgt.length) throw new KernelBug("BUG", "sg_set_page on a page-less table");
  if (i < 0 || i >= sgt.capacity) throw new KernelBug("BUG", `sg_set_page: entry ${i} of ${sgt.capacity}`);
  sgt.pagePfn[i] = pfn;
  sgt.length[i] = len;
  sgt.offset[i] = offset;
}

/** `sg_page()` of entry `i`: its page frame number, or null (page-less tables, NULL pages). @public */
export function sgPage(sgt: SgTable, i: number): number | null {
  const p = sgt.pagePfn?.[i];
  return p === undefined || p < 0 ? null : p;
}

/** `sg_phys()` of entry `i` of the CPU list. @public */
export function sgPhys(sgt: SgTable, i: number): bigint | null {
  const pfn = sgPage(sgt, i);
  return pfn === null ? null : (BigInt(pfn) << 12n) + BigInt(sgt.offset![i]!);
}

/**
 * Sets the DMA address and length of entry `i`. A DMA length must fit the
 * 32-bit `dma_length` field; anything longer is a bug in the caller.
 * @public
 */
export function sgSetDma(sgt: SgTable, i: number, addr: bigint, len: number): void {
  if (len > UINT_MAX || len < 0) throw new KernelBug("BUG", `sg_dma_len ${len} does not fit 32 bits`);
  sgt.dmaAddress[i] = addr;
  sgt.dmaLength[i] = len;
}

/** `sg_dma_address()` of entry `i`. @public */
export function sgDmaAddress(sgt: SgTable, i: number): bigint {
  return sgt.dmaAddress[i]!;
}

/** `sg_dma_len()` of entry `i`. @public */
export function sgDmaLen(sgt: SgTable, i: number): number {
  return sgt.dmaLength[i]!;
}

/** `for_each_sgtable_dma_sg()`: `[address, length]` of each DMA entry. @public */
export function* forEachSgtableDmaSg(sgt: SgTable): Generator<[bigint, number]> {
  for (let i = 0; i < sgt.nents; i++) yield [sgt.dmaAddress[i]!, sgt.dmaLength[i]!];
}

/** Total DMA length of the table. @public */
export function sgtableDmaSize(sgt: SgTable): bigint {
  let n = 0n;
  for (let i = 0; i < sgt.nents; i++) n += BigInt(sgt.dmaLength[i]!);
  return n;
}

/**
 * The DMA address of byte `offset` of the buffer a DMA list describes, and
 * how many bytes stay contiguous from there (walks the entries in order).
 * @throws KernelError `ERANGE` past the end of the list.
 * @public
 */
export function sgtableDmaAddressAt(sgt: SgTable, offset: bigint): { addr: bigint; contiguous: number } {
  let base = 0n;
  for (let i = 0; i < sgt.nents; i++) {
    const len = BigInt(sgt.dmaLength[i]!);
    if (offset < base + len) return { addr: sgt.dmaAddress[i]! + (offset - base), contiguous: Number(base + len - offset) };
    base += len;
  }
  throw new KernelError("ERANGE", "sgtable_dma_address_at", `offset ${offset} past ${base} bytes`);
}
