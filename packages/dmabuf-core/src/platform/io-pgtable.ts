import type { KernelAllocator } from "../kernel/slab.js";

/** `IOMMU_READ`. */
export const IOMMU_READ = 1;
/** `IOMMU_WRITE`. */
export const IOMMU_WRITE = 2;
/** `IOMMU_CACHE`. */
export const IOMMU_CACHE = 4;
/** `IOMMU_NOEXEC`. */
export const IOMMU_NOEXEC = 8;
/** `IOMMU_MMIO`: the target is MMIO (device memory attributes). */
export const IOMMU_MMIO = 16;

const LEAF_SHIFT = 9;
const LEAF_ENTRIES = 1 << LEAF_SHIFT;

interface Leaf {
  /** physPfn + 1; 0 = not present. Float64 holds 52-bit page numbers exactly. */
  readonly phys: Float64Array;
  readonly prot: Uint8Array;
  count: number;
}

/**
 * An IO page table (`io-pgtable`): 4 KiB leaf pages of 512 entries under a
 * sparse upper level. Page numbers are JS numbers (a 64-bit address space
 * has 52-bit page numbers, exact in a double).
 */
export class IoPageTable {
  readonly #leaves = new Map<number, Leaf>();
  // The last leaf used: the DMA API maps page after page into the same leaf,
  // so most lookups skip the Map.
  #lastKey = -1;
  #lastLeaf: Leaf | undefined;
  #ptes = 0;
  readonly #alloc: KernelAllocator;
  readonly #what: string;

  constructor(alloc: KernelAllocator, what: string) {
    this.#alloc = alloc;
    this.#what = what;
  }

  /** Number of present leaf entries. */
  get ptes(): number {
    return this.#ptes;
  }

  /** Why the last {@link IoPageTable.map} stopped short. */
  lastError: "EEXIST" | "ENOMEM" | undefined;

  /**
   * Installs `npages` consecutive entries. Returns how many were installed:
   * fewer than asked when an entry was already present (`lastError`
   * `EEXIST`) or a table page could not be allocated (`ENOMEM`); the caller
   * unwinds.
   */
  map(iovaPfn: number, physPfn: number, npages: number, prot: number): number {
    this.lastError = undefined;
    if (npages === 1) {
      // One page (the DMA API's common case): no loop bookkeeping.
      const key = Math.floor(iovaPfn / LEAF_ENTRIES);
      const leaf = key === this.#lastKey ? this.#lastLeaf! : this.#leaf(key);
      if (!leaf) return 0;
      const idx = iovaPfn - key * LEAF_ENTRIES;
      if (leaf.phys[idx] !== 0) {
        this.lastError = "EEXIST";
        return 0;
      }
      leaf.phys[idx] = physPfn + 1;
      leaf.prot[idx] = prot;
      leaf.count++;
      this.#ptes++;
      return 1;
    }
    let done = 0;
    while (done < npages) {
      const pfn = iovaPfn + done;
      const key = Math.floor(pfn / LEAF_ENTRIES);
      const leaf = key === this.#lastKey ? this.#lastLeaf! : this.#leaf(key);
      if (!leaf) return done;
      let idx = pfn - key * LEAF_ENTRIES;
      const end = Math.min(LEAF_ENTRIES, idx + (npages - done));
      const phys = leaf.phys;
      for (; idx < end; idx++) {
        if (phys[idx] !== 0) {
          this.lastError = "EEXIST";
          return done;
        }
        phys[idx] = physPfn + done + 1;
        leaf.prot[idx] = prot;
        leaf.count++;
        this.#ptes++;
        done++;
      }
    }
    return done;
  }

  /** The leaf for `key`, allocated if absent (then cached as the last one used). */
  #leaf(key: number): Leaf | undefined {
    const leaf = this.#leaves.get(key) ?? this.#newLeaf(key);
    if (leaf) {
      this.#lastKey = key;
      this.#lastLeaf = leaf;
    }
    return leaf;
  }

  /** Allocates the leaf for `key`; undefined (and `lastError` ENOMEM) when the allocation fails. */
  #newLeaf(key: number): Leaf | undefined {
    try {
      this.#alloc.attempt("iommu_map", this.#what);
    } catch {
      this.lastError = "ENOMEM";
      return undefined;
    }
    const leaf: Leaf = { phys: new Float64Array(LEAF_ENTRIES), prot: new Uint8Array(LEAF_ENTRIES), count: 0 };
    this.#leaves.set(key, leaf);
    return leaf;
  }

  /** Clears up to `npages` entries, stopping at the first hole; returns how many were cleared. */
  unmap(iovaPfn: number, npages: number): number {
    let done = 0;
    while (done < npages) {
      const pfn = iovaPfn + done;
      const key = Math.floor(pfn / LEAF_ENTRIES);
      const leaf = this.#leaves.get(key);
      if (!leaf) return done;
      let idx = pfn - key * LEAF_ENTRIES;
      const end = Math.min(LEAF_ENTRIES, idx + (npages - done));
      for (; idx < end; idx++) {
        if (leaf.phys[idx] === 0) return done;
        leaf.phys[idx] = 0;
        leaf.prot[idx] = 0;
        leaf.count--;
        this.#ptes--;
        done++;
      }
      if (leaf.count === 0) {
        this.#leaves.delete(key);
        if (key === this.#lastKey) {
          this.#lastKey = -1;
          this.#lastLeaf = undefined;
        }
      }
    }
    return done;
  }

  /** Physical page behind `iovaPfn`, or -1 when not present. */
  lookup(iovaPfn: number): number {
    const key = Math.floor(iovaPfn / LEAF_ENTRIES);
    const leaf = this.#leaves.get(key);
    if (!leaf) return -1;
    const v = leaf.phys[iovaPfn - key * LEAF_ENTRIES]!;
    return v === 0 ? -1 : v - 1;
  }

  /** Protection bits of `iovaPfn` (0 when not present). */
  prot(iovaPfn: number): number {
    const key = Math.floor(iovaPfn / LEAF_ENTRIES);
    const leaf = this.#leaves.get(key);
    return leaf ? leaf.prot[iovaPfn - key * LEAF_ENTRIES]! : 0;
  }

  /** Present entries in ascending IOVA order, as `[iovaPfn, physPfn, prot]` runs of one page. */
  *entries(): Generator<[number, number, number]> {
    for (const key of [...this.#leaves.keys()].sort((a, b) => a - b)) {
      const leaf = this.#leaves.get(key)!;
      for (let i = 0; i < LEAF_ENTRIES; i++) if (leaf.phys[i] !== 0) yield [key * LEAF_ENTRIES + i, leaf.phys[i]! - 1, leaf.prot[i]!];
    }
  }
}
