// drivers/iommu/iova.c: the IOVA allocator of a DMA domain (struct iova_domain).
import type { KernelAllocator } from "../kernel/slab.js";

/** `struct iova`: an allocated IOVA range in pages, inclusive. @public */
export interface Iova {
  readonly pfnLo: number;
  readonly pfnHi: number;
}

/** `roundup_pow_of_two()`. */
function roundupPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** `IOVA_RANGE_CACHE_MAX_SIZE`: allocations below 2^(6-1) pages are rounded to a power of two. */
const IOVA_RANGE_CACHE_MAX_SIZE = 6;

/**
 * `struct iova_domain` (drivers/iommu/iova.c): a top-down allocator of page
 * ranges. Allocations are size-aligned, as `alloc_iova_fast(…, true)` makes
 * them; reserved ranges (PCI windows, the MSI window) are never handed out.
 * @public
 */
export class IovaDomain {
  /** Allocated and reserved ranges, ascending by `pfnLo`. */
  readonly #ranges: { lo: number; hi: number; reserved: boolean; what: string }[] = [];
  readonly #alloc: KernelAllocator;
  readonly startPfn: number;
  readonly name: string;

  constructor(alloc: KernelAllocator, name: string, startPfn = 1) {
    this.#alloc = alloc;
    this.name = name;
    this.startPfn = startPfn;
  }

  #indexAbove(pfn: number): number {
    // First index whose lo > pfn.
    let lo = 0;
    let hi = this.#ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#ranges[mid]!.lo <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `reserve_iova()`: keeps [pfnLo, pfnHi] out of every allocation. */
  reserve(pfnLo: number, pfnHi: number, what = "reserved"): void {
    const i = this.#indexAbove(pfnLo);
    this.#ranges.splice(i, 0, { lo: pfnLo, hi: pfnHi, reserved: true, what });
  }

  /**
   * `alloc_iova_fast(iovad, size, limit_pfn, true)`: the highest free,
   * size-aligned range of `size` pages ending at or below `limitPfn`.
   * Returns undefined when the space is exhausted.
   * @throws KernelError `ENOMEM` when the `struct iova` allocation fails (injectable).
   */
  allocIova(size: number, limitPfn: number, what = "iova"): Iova | undefined {
    this.#alloc.attempt("alloc_iova", what);
    if (size < 1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1)) size = roundupPow2(size);
    const align = roundupPow2(size);
    let high = limitPfn + 1; // exclusive
    let i = this.#indexAbove(limitPfn) - 1;
    for (;;) {
      const below = i >= 0 ? this.#ranges[i]! : undefined;
      // Skip ranges that end above `high` (they overlap the top).
      if (below && below.hi >= high) {
        high = Math.min(high, below.lo);
        i--;
        continue;
      }
      const floor = below ? below.hi + 1 : this.startPfn;
      const newLo = Math.floor((high - size) / align) * align;
      if (high - size >= floor && newLo >= floor) {
        const r = { lo: newLo, hi: newLo + size - 1, reserved: false, what };
        this.#ranges.splice(i + 1, 0, r);
        return { pfnLo: r.lo, pfnHi: r.hi };
      }
      if (!below) return undefined;
      high = below.lo;
      i--;
    }
  }

  /** `free_iova()` of the range starting at `pfnLo`; false if none is allocated there. */
  freeIova(pfnLo: number): boolean {
    const i = this.#indexAbove(pfnLo) - 1;
    const r = this.#ranges[i];
    if (!r || r.lo !== pfnLo || r.reserved) return false;
    this.#ranges.splice(i, 1);
    return true;
  }

  /** `find_iova()`: the allocated range containing `pfn`. */
  findIova(pfn: number): Iova | undefined {
    const r = this.#ranges[this.#indexAbove(pfn) - 1];
    return r && !r.reserved && pfn <= r.hi ? { pfnLo: r.lo, pfnHi: r.hi } : undefined;
  }

  /** Allocated (not reserved) ranges. */
  allocated(): { pfnLo: number; pfnHi: number; what: string }[] {
    return this.#ranges.filter((r) => !r.reserved).map((r) => ({ pfnLo: r.lo, pfnHi: r.hi, what: r.what }));
  }
}
