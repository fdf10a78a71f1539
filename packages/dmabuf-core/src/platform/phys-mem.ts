// Physical address space: system RAM, BARs and device memory regions and what backs their bytes.
import { KernelBug, KernelError } from "../kernel/kernel-error.js";
import type { KernelAllocator } from "../kernel/slab.js";
import type { LeakEntry, LeakSource } from "../kernel/leak.js";
import { PAGE_SHIFT, PAGE_SIZE, U64_LIMIT, hex, pfnPhys } from "./page.js";
import { SparseMemory } from "./sparse-memory.js";

/** Where the bytes of a physical region live. @public */
export interface PhysRegionBacking {
  /**
   * Page `index` (relative to the region start); `null` where nothing backs
   * it. A writer asks with `forWrite` so sparse backings can materialise.
   */
  page(index: number, forWrite: boolean): Uint8Array | null;
}

/** A range of the physical address space (`/proc/iomem` entry). @public */
export interface PhysRegion {
  readonly name: string;
  readonly kind: "ram" | "mmio";
  readonly startPfn: number;
  /** Exclusive. */
  readonly endPfn: number;
  readonly backing: PhysRegionBacking;
  /** Decodes accesses now (a BAR with `PCI_COMMAND_MEMORY` set, in D0). RAM always does. */
  decodes(): boolean;
  /** What owns it (a PCI BAR for MMIO). */
  readonly owner?: unknown;
}

/** `MAX_PAGE_ORDER`: the largest buddy allocation is 2^10 pages (4 MiB). @public */
export const MAX_PAGE_ORDER = 10;

/**
 * The physical address space: system RAM (sparse, with a page allocator) and
 * MMIO regions registered by PCI BAR assignment. CPU accesses use
 * `PhysMem.read`/`PhysMem.write`; the DMA engine uses
 * `PhysMem.regionAt` per page.
 * @public
 */
export class PhysMem implements LeakSource {
  readonly name = "pages";
  readonly #regions: PhysRegion[] = [];
  readonly #ram = new SparseMemory();
  readonly #ramRanges: { startPfn: number; endPfn: number }[] = [];
  readonly #alloc: KernelAllocator;
  #nextFree = { range: 0, pfn: 0 };
  readonly #freeLists = new Map<number, number[]>();
  readonly #allocated = new Map<number, { order: number; what: string }>();
  #last: PhysRegion | undefined;

  constructor(alloc: KernelAllocator) {
    this.#alloc = alloc;
  }

  /** Adds a System RAM range (page aligned). */
  addRam(start: bigint, size: bigint): void {
    const startPfn = Number(start >> BigInt(PAGE_SHIFT));
    const endPfn = Number((start + size) >> BigInt(PAGE_SHIFT));
    this.#ramRanges.push({ startPfn, endPfn });
    this.#ramRanges.sort((a, b) => a.startPfn - b.startPfn);
    const ram = this.#ram;
    this.#insert({
      name: "System RAM",
      kind: "ram",
      startPfn,
      endPfn,
      backing: { page: (i, w) => ram.page(startPfn + i, w) ?? (w ? null : ZERO_PAGE) },
      decodes: () => true,
    });
    if (this.#nextFree.pfn === 0) this.#nextFree = { range: 0, pfn: this.#ramRanges[0]!.startPfn };
  }

  /** Registers an MMIO region (a BAR). */
  addMmio(region: PhysRegion): void {
    this.#insert(region);
  }

  /** Removes a region registered with `addMmio`. */
  removeMmio(region: PhysRegion): void {
    const i = this.#regions.indexOf(region);
    if (i >= 0) this.#regions.splice(i, 1);
    if (this.#last === region) this.#last = undefined;
  }

  #insert(r: PhysRegion): void {
    for (const o of this.#regions) {
      if (r.startPfn < o.endPfn && o.startPfn < r.endPfn) {
        throw new KernelBug("iomem", `${r.name} [${hex(pfnPhys(r.startPfn))}] overlaps ${o.name} [${hex(pfnPhys(o.startPfn))}]`);
      }
    }
    this.#regions.push(r);
    this.#regions.sort((a, b) => a.startPfn - b.startPfn);
  }

  /** All regions, ascending (`/proc/iomem`). */
  regions(): readonly PhysRegion[] {
    return this.#regions;
  }

  /** The region containing page `pfn`, if any. */
  regionAt(pfn: number): PhysRegion | undefined {
    const last = this.#last;
    if (last && pfn >= last.startPfn && pfn < last.endPfn) return last;
    let lo = 0;
    let hi = this.#regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.#regions[mid]!;
      if (pfn < r.startPfn) hi = mid - 1;
      else if (pfn >= r.endPfn) lo = mid + 1;
      else {
        this.#last = r;
        return r;
      }
    }
    return undefined;
  }

  /** `page_is_ram(pfn)`. */
  pageIsRam(pfn: number): boolean {
    return this.regionAt(pfn)?.kind === "ram";
  }

  /**
   * CPU read of physical memory. MMIO that does not decode (memory space
   * disabled, D3) reads as all-ones, as a master abort does.
   * @throws KernelError `EFAULT` for an address with nothing behind it, or a range past 2^64.
   */
  read(paddr: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.#access(paddr, len, (page, off, n, pos) => {
      if (page) out.set(page.subarray(off, off + n), pos);
      else out.fill(0xff, pos, pos + n);
    }, false);
    return out;
  }

  /** CPU write of physical memory; writes to non-decoding MMIO are dropped. */
  write(paddr: bigint, data: Uint8Array): void {
    this.#access(paddr, data.length, (page, off, n, pos) => {
      if (page) page.set(data.subarray(pos, pos + n), off);
    }, true);
  }

  #access(paddr: bigint, len: number, fn: (page: Uint8Array | null, off: number, n: number, pos: number) => void, write: boolean): void {
    if (paddr < 0n || paddr + BigInt(len) > U64_LIMIT) throw new KernelError("EFAULT", write ? "phys_write" : "phys_read", `${hex(paddr)}+${len} wraps 2^64`);
    let pfn = Number(paddr >> 12n);
    let off = Number(paddr & 0xfffn);
    let pos = 0;
    while (pos < len) {
      const n = Math.min(PAGE_SIZE - off, len - pos);
      const r = this.regionAt(pfn);
      if (!r) throw new KernelError("EFAULT", write ? "phys_write" : "phys_read", `no memory at ${hex(pfnPhys(pfn) + BigInt(off))}`);
      fn(r.decodes() ? r.backing.page(pfn - r.startPfn, write) : null, off, n, pos);
      pos += n;
      off = 0;
      pfn++;
    }
  }

  /**
   * `alloc_pages(GFP_KERNEL, order)`: 2^order physically contiguous RAM pages,
   * naturally aligned. Contents start zeroed.
   * @throws KernelError `ENOMEM` (injected, or RAM exhausted).
   */
  allocPages(order: number, what = "page"): number {
    if (order < 0 || order > MAX_PAGE_ORDER) throw new KernelBug("WARN", `alloc_pages order ${order} > MAX_PAGE_ORDER`);
    this.#alloc.attempt("alloc_pages", what);
    const free = this.#freeLists.get(order);
    let pfn = free?.pop();
    if (pfn === undefined) pfn = this.#bump(1 << order);
    this.#allocated.set(pfn, { order, what });
    return pfn;
  }

  #bump(n: number): number {
    for (;;) {
      const range = this.#ramRanges[this.#nextFree.range];
      if (!range) throw new KernelError("ENOMEM", "alloc_pages", "out of RAM");
      const pfn = Math.ceil(this.#nextFree.pfn / n) * n;
      if (pfn + n <= range.endPfn) {
        this.#nextFree.pfn = pfn + n;
        return pfn;
      }
      const next = this.#ramRanges[this.#nextFree.range + 1];
      this.#nextFree = { range: this.#nextFree.range + 1, pfn: next?.startPfn ?? 0 };
    }
  }

  /** `__free_pages(page, order)`; the contents are dropped. */
  freePages(pfn: number, order: number): void {
    const a = this.#allocated.get(pfn);
    if (!a || a.order !== order) throw new KernelBug("BUG", `Bad page state: freeing pfn ${hex(pfn)} order ${order}`);
    this.#allocated.delete(pfn);
    this.#ram.discardRange(pfn, 1 << order);
    let list = this.#freeLists.get(order);
    if (!list) this.#freeLists.set(order, (list = []));
    list.push(pfn);
  }

  /** Pages currently allocated, in pages. */
  get allocatedPages(): number {
    let n = 0;
    for (const a of this.#allocated.values()) n += 1 << a.order;
    return n;
  }

  collect(): LeakEntry[] {
    const byWhat = new Map<string, number>();
    for (const a of this.#allocated.values()) byWhat.set(a.what, (byWhat.get(a.what) ?? 0) + (1 << a.order));
    return [...byWhat].map(([what, count]) => ({ kind: "page", key: what, count, detail: `${count} page(s) allocated for ${what}` }));
  }
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);
