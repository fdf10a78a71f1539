// IO page tables (drivers/iommu/io-pgtable-arm.c, drivers/iommu/generic_pt): 4 KiB leaves plus 2 MiB and 1 GiB large IOPTEs.
import type { KernelAllocator } from "../kernel/slab.js";

/** `IOMMU_READ`. @public */
export const IOMMU_READ = 1;
/** `IOMMU_WRITE`. @public */
export const IOMMU_WRITE = 2;
/** `IOMMU_CACHE`. @public */
export const IOMMU_CACHE = 4;
/** `IOMMU_NOEXEC`. @public */
export const IOMMU_NOEXEC = 8;
/** `IOMMU_MMIO`: the target is MMIO (device memory attributes). @public */
export const IOMMU_MMIO = 16;

const LEAF_SHIFT = 9;
const LEAF_ENTRIES = 1 << LEAF_SHIFT;
/** Pages per 1 GiB IOPTE (2^18). */
const GIG_ENTRIES = 1 << 18;

interface Leaf {
  /** physPfn + 1; 0 = not present. Float64 holds 52-bit page numbers exactly. */
  readonly phys: Float64Array;
  readonly prot: Uint8Array;
  count: number;
}

/** A large IOPTE (2 MiB or 1 GiB): the physical page of its first 4 KiB and its protection. */
interface Block {
  readonly pfn: number;
  readonly prot: number;
}

/**
 * An IO page table (`io-pgtable`): 4 KiB leaf tables of 512 entries under a
 * sparse upper level, and large IOPTEs of 2 MiB (a level-1 entry, in place
 * of a leaf table) and 1 GiB (a level-2 entry). Page numbers are JS numbers
 * (a 64-bit address space has 52-bit page numbers, exact in a double).
 *
 * Large IOPTEs follow the generic page table (`generic_pt`, as VT-d and AMD
 * do): an unmap that starts at a large IOPTE removes all of it and reports
 * its whole size, one that starts inside it unmaps nothing.
 * @public
 */
export class IoPageTable {
  readonly #leaves = new Map<number, Leaf>();
  /** 2 MiB IOPTEs by `iovaPfn / 512`. */
  readonly #blocks2M = new Map<number, Block>();
  /** 1 GiB IOPTEs by `iovaPfn / 2^18`. */
  readonly #blocks1G = new Map<number, Block>();
  /** Leaf tables and 2 MiB IOPTEs under each 1 GiB slot (whether a 1 GiB IOPTE may go there). */
  readonly #under1G = new Map<number, number>();
  // The last leaf used: the DMA API maps page after page into the same leaf,
  // so most lookups skip the Map.
  #lastKey = -1;
  #lastLeaf: Leaf | undefined;
  #lastBlock: Block | undefined;
  #lastBlockIova = 0;
  #lastBlockPages = 0;
  #ptes = 0;
  readonly #alloc: KernelAllocator;
  readonly #what: string;

  constructor(alloc: KernelAllocator, what: string) {
    this.#alloc = alloc;
    this.#what = what;
  }

  /** Number of present IOPTEs (a large IOPTE counts once). */
  get ptes(): number {
    return this.#ptes;
  }

  /** Present large IOPTEs: `[2 MiB, 1 GiB]`. */
  get largePtes(): readonly [number, number] {
    return [this.#blocks2M.size, this.#blocks1G.size];
  }

  /** Why the last {@link IoPageTable.map} stopped short. */
  lastError: "EEXIST" | "ENOMEM" | undefined;

  /**
   * Installs `npages` consecutive 4 KiB entries. Returns how many were
   * installed: fewer than asked when an entry was already present (or a
   * large IOPTE covers the slot; `lastError` `EEXIST`) or a table page could
   * not be allocated (`ENOMEM`); the caller unwinds.
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
      const protArr = leaf.prot;
      const base = physPfn + done + 1 - idx;
      for (; idx < end; idx++) {
        if (phys[idx] !== 0) {
          const n = idx - (pfn - key * LEAF_ENTRIES);
          leaf.count += n;
          this.#ptes += n;
          this.lastError = "EEXIST";
          return done + n;
        }
        phys[idx] = base + idx;
        protArr[idx] = prot;
      }
      const n = end - (pfn - key * LEAF_ENTRIES);
      leaf.count += n;
      this.#ptes += n;
      done += n;
    }
    return done;
  }

  /**
   * Installs `count` large IOPTEs of 2^`shift` pages (9: 2 MiB, 18: 1 GiB);
   * `iovaPfn` and `physPfn` are aligned to that size (the caller,
   * `iommu_pgsize()`, guarantees it). Returns the pages installed; stops
   * with `lastError` `EEXIST` where anything is mapped in a slot. Empty
   * table levels would be freed and replaced (`clear_contig()`); the model
   * frees empty leaf tables at unmap, so none is left to replace.
   */
  mapLarge(iovaPfn: number, physPfn: number, shift: 9 | 18, count: number, prot: number): number {
    this.lastError = undefined;
    const pages = shift === 9 ? LEAF_ENTRIES : GIG_ENTRIES;
    for (let i = 0; i < count; i++) {
      const pfn = iovaPfn + i * pages;
      const g = Math.floor(pfn / GIG_ENTRIES);
      if (this.#blocks1G.has(g)) {
        this.lastError = "EEXIST";
        return i * pages;
      }
      const block: Block = { pfn: physPfn + i * pages, prot };
      if (shift === 9) {
        const key = pfn / LEAF_ENTRIES;
        if (this.#leaves.has(key) || this.#blocks2M.has(key)) {
          this.lastError = "EEXIST";
          return i * pages;
        }
        this.#blocks2M.set(key, block);
        this.#under1G.set(g, (this.#under1G.get(g) ?? 0) + 1);
      } else {
        if (this.#under1G.has(g)) {
          this.lastError = "EEXIST";
          return i * pages;
        }
        this.#blocks1G.set(g, block);
      }
      this.#ptes++;
    }
    return count * pages;
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

  /** Allocates the leaf for `key`; undefined (and `lastError` EEXIST under a large IOPTE, ENOMEM when the allocation fails). */
  #newLeaf(key: number): Leaf | undefined {
    const g = Math.floor(key / LEAF_ENTRIES);
    if (this.#blocks2M.has(key) || this.#blocks1G.has(g)) {
      this.lastError = "EEXIST";
      return undefined;
    }
    try {
      this.#alloc.attempt("iommu_map", this.#what);
    } catch {
      this.lastError = "ENOMEM";
      return undefined;
    }
    const leaf: Leaf = { phys: new Float64Array(LEAF_ENTRIES), prot: new Uint8Array(LEAF_ENTRIES), count: 0 };
    this.#leaves.set(key, leaf);
    this.#under1G.set(g, (this.#under1G.get(g) ?? 0) + 1);
    return leaf;
  }

  #dropUnder1G(key: number): void {
    const g = Math.floor(key / LEAF_ENTRIES);
    const n = this.#under1G.get(g)! - 1;
    if (n === 0) this.#under1G.delete(g);
    else this.#under1G.set(g, n);
  }

  /**
   * Clears entries from `iovaPfn` for `npages`, stopping at the first hole;
   * returns how many pages were cleared. A large IOPTE at the start of a
   * step is removed whole, so the result may exceed `npages`; one that the
   * range starts inside stops the unmap there (`__unmap_range()` returns
   * -EINVAL: large IOPTEs are never split).
   */
  unmap(iovaPfn: number, npages: number): number {
    let done = 0;
    const large = this.#blocks2M.size + this.#blocks1G.size !== 0;
    while (done < npages) {
      const pfn = iovaPfn + done;
      const key = Math.floor(pfn / LEAF_ENTRIES);
      if (large) {
        const g = Math.floor(pfn / GIG_ENTRIES);
        if (this.#blocks1G.has(g)) {
          if (pfn !== g * GIG_ENTRIES) return done;
          this.#blocks1G.delete(g);
          this.#lastBlock = undefined;
          this.#ptes--;
          done += GIG_ENTRIES;
          continue;
        }
        if (this.#blocks2M.has(key)) {
          if (pfn !== key * LEAF_ENTRIES) return done;
          this.#blocks2M.delete(key);
          this.#lastBlock = undefined;
          this.#dropUnder1G(key);
          this.#ptes--;
          done += LEAF_ENTRIES;
          continue;
        }
      }
      const leaf = this.#leaves.get(key);
      if (!leaf) return done;
      let idx = pfn - key * LEAF_ENTRIES;
      const end = Math.min(LEAF_ENTRIES, idx + (npages - done));
      for (; idx < end; idx++) {
        if (leaf.phys[idx] === 0) break;
        leaf.phys[idx] = 0;
        leaf.prot[idx] = 0;
        leaf.count--;
        this.#ptes--;
        done++;
      }
      if (leaf.count === 0) {
        this.#leaves.delete(key);
        this.#dropUnder1G(key);
        if (key === this.#lastKey) {
          this.#lastKey = -1;
          this.#lastLeaf = undefined;
        }
      }
      if (idx < end) return done;
    }
    return done;
  }

  /** The large IOPTE covering `iovaPfn` and its size in pages, if any. */
  #block(iovaPfn: number): Block | undefined {
    return this.#blocks2M.get(Math.floor(iovaPfn / LEAF_ENTRIES)) ?? this.#blocks1G.get(Math.floor(iovaPfn / GIG_ENTRIES));
  }

  /** Physical page behind `iovaPfn`, or -1 when not present. */
  lookup(iovaPfn: number): number {
    const key = Math.floor(iovaPfn / LEAF_ENTRIES);
    const leaf = key === this.#lastKey ? this.#lastLeaf! : this.#leaves.get(key);
    if (leaf) {
      const v = leaf.phys[iovaPfn - key * LEAF_ENTRIES]!;
      return v === 0 ? -1 : v - 1;
    }
    if (this.#blocks2M.size + this.#blocks1G.size === 0) return -1;
    const b2 = this.#blocks2M.get(key);
    if (b2) return b2.pfn + (iovaPfn - key * LEAF_ENTRIES);
    const g = Math.floor(iovaPfn / GIG_ENTRIES);
    const b1 = this.#blocks1G.get(g);
    return b1 ? b1.pfn + (iovaPfn - g * GIG_ENTRIES) : -1;
  }

  /** Protection bits of `iovaPfn` (0 when not present). */
  prot(iovaPfn: number): number {
    const key = Math.floor(iovaPfn / LEAF_ENTRIES);
    const leaf = key === this.#lastKey ? this.#lastLeaf! : this.#leaves.get(key);
    if (leaf) return leaf.prot[iovaPfn - key * LEAF_ENTRIES]!;
    return this.#block(iovaPfn)?.prot ?? 0;
  }

  /**
   * One walk for a DMA: the physical page behind `iovaPfn` when present
   * with every bit of `need` in its protection; -1 when not present, -2
   * when present without the permission.
   */
  translate(iovaPfn: number, need: number): number {
    const lb = this.#lastBlock;
    if (lb && iovaPfn >= this.#lastBlockIova && iovaPfn < this.#lastBlockIova + this.#lastBlockPages) {
      return (lb.prot & need) !== need ? -2 : lb.pfn + (iovaPfn - this.#lastBlockIova);
    }
    const key = Math.floor(iovaPfn / LEAF_ENTRIES);
    let leaf = this.#lastLeaf;
    if (key !== this.#lastKey) {
      leaf = this.#leaves.get(key);
      if (leaf) {
        this.#lastKey = key;
        this.#lastLeaf = leaf;
      }
    }
    if (leaf) {
      const idx = iovaPfn - key * LEAF_ENTRIES;
      const v = leaf.phys[idx]!;
      if (v === 0) return -1;
      return (leaf.prot[idx]! & need) === need ? v - 1 : -2;
    }
    if (this.#blocks2M.size + this.#blocks1G.size === 0) return -1;
    // The last large IOPTE used (consecutive pages of a DMA stay in it).
    let first = this.#lastBlockIova;
    let b = this.#lastBlock;
    if (!b || iovaPfn < first || iovaPfn >= first + this.#lastBlockPages) {
      const b2 = this.#blocks2M.get(key);
      if (b2) {
        b = b2;
        first = key * LEAF_ENTRIES;
        this.#lastBlockPages = LEAF_ENTRIES;
      } else {
        const g = Math.floor(iovaPfn / GIG_ENTRIES);
        b = this.#blocks1G.get(g);
        if (!b) return -1;
        first = g * GIG_ENTRIES;
        this.#lastBlockPages = GIG_ENTRIES;
      }
      this.#lastBlock = b;
      this.#lastBlockIova = first;
    }
    if ((b.prot & need) !== need) return -2;
    return b.pfn + (iovaPfn - first);
  }

  /** Present entries in ascending IOVA order, as `[iovaPfn, physPfn, prot]` runs of one page. */
  *entries(): Generator<[number, number, number]> {
    const out: [number, number, number, number][] = [];
    for (const [key, leaf] of this.#leaves) {
      for (let i = 0; i < LEAF_ENTRIES; i++) if (leaf.phys[i] !== 0) out.push([key * LEAF_ENTRIES + i, leaf.phys[i]! - 1, leaf.prot[i]!, 1]);
    }
    for (const [key, b] of this.#blocks2M) out.push([key * LEAF_ENTRIES, b.pfn, b.prot, LEAF_ENTRIES]);
    for (const [g, b] of this.#blocks1G) out.push([g * GIG_ENTRIES, b.pfn, b.prot, GIG_ENTRIES]);
    out.sort((a, b) => a[0] - b[0]);
    for (const [iova, phys, prot, n] of out) for (let i = 0; i < n; i++) yield [iova + i, phys + i, prot];
  }
}
