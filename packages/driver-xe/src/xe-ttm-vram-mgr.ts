// drivers/gpu/drm/xe/xe_ttm_vram_mgr.c: the VRAM manager handing out drm_buddy blocks.
import { KernelBug, KernelError, PAGE_SIZE, SparseMemory, type Kernel } from "@dmabuf-sdk/dmabuf-core";

/** A run of VRAM pages owned by one buffer object (a `drm_buddy_block`). @public */
export interface XeVramBlock {
  /** First VRAM page (DPA = `dpaBase + start * PAGE_SIZE`). */
  readonly start: number;
  /** Number of pages. */
  readonly pages: number;
}

/** Options of {@link XeVram.alloc}. @public */
export interface XeVramAllocOptions {
  /** One block (`TTM_PL_FLAG_CONTIGUOUS`). */
  readonly contiguous?: boolean;
  /** Block alignment and size granule in pages (`XE_BO_FLAG_NEEDS_2M`: 512). */
  readonly alignPages?: number;
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/**
 * Device-local memory of one Xe tile and its manager (`xe_ttm_vram_mgr` over
 * `drm_buddy`): contents as sparse pages (gigabytes cost nothing until
 * written), and a first-fit allocator over free extents that hands out
 * possibly non-contiguous blocks, lowest address first. Freed pages read as
 * zeros again (Xe clears VRAM before reuse).
 * @public
 */
export class XeVram {
  /** Bytes of VRAM. */
  readonly size: bigint;
  /** Device physical address of VRAM byte 0 (`vram.dpa_base`). */
  readonly dpaBase: bigint;
  /** Pages of VRAM. */
  readonly npages: number;
  readonly #mem = new SparseMemory();
  /** Free extents, sorted by start, never adjacent. */
  readonly #free: { start: number; pages: number }[];
  #used = 0;

  constructor(
    /** The machine (its allocator fails injected allocations). */
    readonly kernel: Kernel,
    size: bigint,
    dpaBase = 0n,
  ) {
    this.size = size;
    this.dpaBase = dpaBase;
    this.npages = Number(size / BigInt(PAGE_SIZE));
    this.#free = [{ start: 0, pages: this.npages }];
  }

  /** Pages in use. */
  get usedPages(): number {
    return this.#used;
  }

  /** Pages free. */
  get freePages(): number {
    return this.npages - this.#used;
  }

  /** Free extents, for tests and debugfs (`vram_mm`). */
  freeExtents(): readonly XeVramBlock[] {
    return this.#free.map((e) => ({ ...e }));
  }

  /**
   * Page `index` of VRAM: materialised when written, a shared zero page when
   * read before any write.
   */
  page(index: number, forWrite: boolean): Uint8Array {
    if (index < 0 || index >= this.npages) throw new KernelBug("xe", `VRAM page ${index} beyond ${this.npages}`);
    return this.#mem.page(index, forWrite) ?? ZERO_PAGE;
  }

  /** Copies VRAM bytes at byte `offset` into `dst`. */
  read(offset: number, dst: Uint8Array): void {
    this.#mem.read(offset, dst);
  }

  /** Copies `src` to VRAM byte `offset`. */
  write(offset: number, src: Uint8Array): void {
    this.#mem.write(offset, src);
  }

  /**
   * `xe_ttm_vram_mgr_new()`: `npages` pages in blocks of `alignPages`
   * granules, first fit from the lowest address. The bookkeeping allocation
   * can fail (`kzalloc`, `ENOMEM`); not enough free VRAM is `ENOSPC` (TTM
   * then evicts and retries). Nothing is taken on failure.
   */
  alloc(npages: number, opts: XeVramAllocOptions = {}): XeVramBlock[] {
    const align = opts.alignPages ?? 1;
    if (npages <= 0 || !Number.isInteger(npages)) throw new KernelBug("xe", `VRAM allocation of ${npages} pages`);
    const want = Math.ceil(npages / align) * align;
    this.kernel.alloc.kzalloc("xe_ttm_vram_mgr_resource");
    const taken: XeVramBlock[] = [];
    let left = want;
    for (const e of this.#free) {
      if (left === 0) break;
      const start = Math.ceil(e.start / align) * align;
      const avail = e.start + e.pages - start;
      if (avail < align) continue;
      if (opts.contiguous) {
        if (avail >= want) {
          taken.push({ start, pages: want });
          left = 0;
        }
        continue;
      }
      const n = Math.min(left, Math.floor(avail / align) * align);
      taken.push({ start, pages: n });
      left -= n;
    }
    if (left > 0) throw new KernelError("ENOSPC", "xe_ttm_vram_mgr_new", `${want} pages wanted, ${this.freePages} free${opts.contiguous ? " (contiguous)" : ""}`);
    for (const b of taken) this.#take(b);
    return taken;
  }

  #take(b: XeVramBlock): void {
    const i = this.#free.findIndex((e) => b.start >= e.start && b.start + b.pages <= e.start + e.pages);
    const e = this.#free[i]!;
    const parts: { start: number; pages: number }[] = [];
    if (b.start > e.start) parts.push({ start: e.start, pages: b.start - e.start });
    if (b.start + b.pages < e.start + e.pages) parts.push({ start: b.start + b.pages, pages: e.start + e.pages - b.start - b.pages });
    this.#free.splice(i, 1, ...parts);
    this.#used += b.pages;
  }

  /** The copy engine's solid fill of zeros over `blocks` (what `xe_migrate_clear()` writes). */
  clear(blocks: readonly XeVramBlock[]): void {
    for (const b of blocks) this.#mem.discardRange(b.start, b.pages);
  }

  /** `xe_ttm_vram_mgr_del()`: gives the blocks back; their contents are dropped. */
  free(blocks: readonly XeVramBlock[]): void {
    for (const b of blocks) {
      this.#mem.discardRange(b.start, b.pages);
      let i = this.#free.findIndex((e) => e.start > b.start);
      if (i < 0) i = this.#free.length;
      const prev = this.#free[i - 1];
      const next = this.#free[i];
      if ((prev && prev.start + prev.pages > b.start) || (next && b.start + b.pages > next.start)) {
        throw new KernelBug("xe", `double free of VRAM pages ${b.start}+${b.pages}`);
      }
      if (prev && prev.start + prev.pages === b.start) {
        prev.pages += b.pages;
        if (next && prev.start + prev.pages === next.start) {
          prev.pages += next.pages;
          this.#free.splice(i, 1);
        }
      } else if (next && b.start + b.pages === next.start) {
        next.start = b.start;
        next.pages += b.pages;
      } else this.#free.splice(i, 0, { start: b.start, pages: b.pages });
      this.#used -= b.pages;
    }
  }
}
