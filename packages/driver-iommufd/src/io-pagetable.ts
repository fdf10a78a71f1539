// drivers/iommu/iommufd/io_pagetable.c: the areas of an IOAS and the IOVA space they occupy.
import { IOMMU_READ, IOMMU_WRITE, KernelError, PAGE_SIZE_N, RwSemaphore, hex, type IommuDomain, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import type { IoptPages } from "./pages.js";

/** `ULONG_MAX`. @public */
export const ULONG_MAX = (1n << 64n) - 1n;
/** `HPAGE_SIZE`: the largest IOVA alignment iommufd asks for (2 MiB, THP). @public */
export const HPAGE_SIZE = 2n << 20n;
/** The x86 MSI window every device reserves (`IOMMU_RESV_MSI`). @public */
export const MSI_RESV = { start: 0xfee0_0000n, last: 0xfeef_ffffn } as const;

/** `struct iopt_area`: [iova, last] of an IOAS mapping pages `pageFirst..pageLast` of `pages`. @public */
export class IoptArea {
  constructor(
    readonly ioas: IoPagetable,
    readonly pages: IoptPages,
    /** First IOVA. */
    readonly iova: bigint,
    /** Last IOVA (inclusive): `iova + length - 1`. */
    readonly last: bigint,
    readonly pageFirst: number,
    readonly pageLast: number,
    /** `IOMMU_READ` / `IOMMU_WRITE`. */
    readonly prot: number,
  ) {}

  /** The bytes the user mapped. */
  get length(): bigint {
    return this.last - this.iova + 1n;
  }
}

/** A reserved IOVA range and who reserved it (`struct iopt_reserved`). @public */
export interface IoptReserved {
  /** First IOVA. */
  readonly start: bigint;
  /** Last IOVA (inclusive). */
  readonly last: bigint;
  /** The device (or IOAS) that reserved it. */
  readonly owner: unknown;
}

/**
 * `struct io_pagetable`: the areas of an IOAS (IOVA → pages), the domains
 * they are mirrored into, and the reserved ranges. Locks:
 * `domains_rwsem` → `iova_rwsem` → `pages->mutex`.
 * @public
 */
export class IoPagetable {
  /** The areas, in insertion order. */
  readonly areas: IoptArea[] = [];
  /** The domains every area is mirrored into (`iopt->domains`). */
  readonly domains: IommuDomain[] = [];
  /** Reserved IOVA ranges (the attached devices' MSI windows). */
  readonly reserved: IoptReserved[] = [];
  /** `iopt->iova_alignment`: the largest minimum page size of the domains. */
  readonly iovaAlignment = PAGE_SIZE_N;
  readonly domainsRwsem: RwSemaphore;
  readonly iovaRwsem: RwSemaphore;

  constructor(readonly kernel: Kernel) {
    const env = { lockdep: kernel.lockdep, current: () => kernel.current };
    this.domainsRwsem = new RwSemaphore(env, "iopt domains_rwsem", "&iopt->domains_rwsem");
    this.iovaRwsem = new RwSemaphore(env, "iopt iova_rwsem", "&iopt->iova_rwsem");
  }

  #intersects(list: readonly { start?: bigint; iova?: bigint; last: bigint }[], start: bigint, last: bigint): boolean {
    return list.some((r) => (r.start ?? r.iova!) <= last && start <= r.last);
  }

  /**
   * `iopt_check_iova()` for a fixed IOVA: aligned to `iova_alignment`
   * (`EINVAL`), not wrapping (`EOVERFLOW`), clear of reserved ranges
   * (`EINVAL`) and of areas (`EEXIST`).
   */
  checkIova(iova: bigint, length: bigint): void {
    if (iova & (this.iovaAlignment - 1n)) throw new KernelError("EINVAL", "iopt_check_iova", `iova ${hex(iova)} unaligned`);
    const last = iova + length - 1n;
    if (last > ULONG_MAX) throw new KernelError("EOVERFLOW", "iopt_check_iova");
    if (this.#intersects(this.reserved, iova, last)) throw new KernelError("EINVAL", "iopt_check_iova", `iova ${hex(iova)} is reserved`);
    if (this.#intersects(this.areas, iova, last)) throw new KernelError("EEXIST", "iopt_check_iova", `iova ${hex(iova)} is mapped`);
  }

  /**
   * `iopt_alloc_iova()`: the lowest free IOVA aligned to
   * `min(roundup_pow_of_two(length), 2 MiB)` (the alignment of `addr` when it
   * has a sub-page part), clear of reserved ranges and areas, below the
   * domains' aperture. `EOVERFLOW` for a length that cannot be rounded,
   * `ENOSPC` when nothing fits.
   */
  allocIova(addr: bigint, length: bigint): bigint {
    if (length === 0n || length >= ULONG_MAX / 2n) throw new KernelError("EOVERFLOW", "iopt_alloc_iova");
    let align = 1n;
    while (align < length) align <<= 1n;
    if (addr) {
      const low = addr & -addr;
      if (low < align) align = low;
    }
    if (align > HPAGE_SIZE) align = HPAGE_SIZE;
    if (align < this.iovaAlignment) throw new KernelError("EINVAL", "iopt_alloc_iova", "alignment below iova_alignment");
    const end = this.#apertureLast();
    const busy = [...this.reserved.map((r) => [r.start, r.last] as const), ...this.areas.map((a) => [a.iova, a.last] as const)].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    let cand = 0n;
    for (const [s, l] of busy) {
      if (cand + length - 1n < s) break;
      if (l >= cand) cand = (l + 1n + align - 1n) & ~(align - 1n);
    }
    if (cand + length - 1n > end) throw new KernelError("ENOSPC", "iopt_alloc_iova", `no ${length}-byte hole`);
    return cand;
  }

  #apertureLast(): bigint {
    let last = ULONG_MAX;
    for (const d of this.domains) if (d.geometry.apertureEnd < last) last = d.geometry.apertureEnd;
    return last;
  }

  /** The area containing `iova`. */
  areaAt(iova: bigint): IoptArea | undefined {
    return this.areas.find((a) => a.iova <= iova && iova <= a.last);
  }

  /**
   * `iopt_map_pages()` for one pages object: allocate (or check) the IOVA,
   * insert the area (`startByte`: the offset in the first page, which must
   * be 0 with 4 KiB IOVA granules) and fill every domain. On failure nothing
   * remains.
   */
  mapPages(pages: IoptPages, length: bigint, prot: number, fixedIova: bigint | null, startByte: bigint): IoptArea {
    if (prot & IOMMU_WRITE && !pages.writable) throw new KernelError("EPERM", "iopt_insert_area", "pages not writable");
    this.domainsRwsem.downWrite();
    try {
      this.iovaRwsem.downWrite();
      let area: IoptArea;
      try {
        let iova: bigint;
        if (fixedIova === null) iova = this.allocIova(startByte, length);
        else {
          this.checkIova(fixedIova, length);
          iova = fixedIova;
        }
        // iopt_insert_area(): the page offset must be aligned to iova_alignment.
        if (startByte % PAGE_SIZE_N & (this.iovaAlignment - 1n)) throw new KernelError("EINVAL", "iopt_insert_area", "sub-page start");
        const lastByte = startByte + length - 1n;
        if (lastByte >> 12n >= BigInt(pages.npages)) {
          this.kernel.warn("iopt_insert_area: area past the end of its pages");
          throw new KernelError("EOVERFLOW", "iopt_insert_area");
        }
        this.kernel.alloc.kzalloc("iopt_area");
        area = new IoptArea(this, pages, iova, iova + length - 1n, Number(startByte >> 12n), Number(lastByte >> 12n), prot);
        this.areas.push(area);
        pages.users++;
      } finally {
        this.iovaRwsem.upWrite();
      }
      const filled: IommuDomain[] = [];
      try {
        for (const d of this.domains) {
          pages.fillDomain(area, d);
          filled.push(d);
        }
      } catch (e) {
        for (const d of filled) pages.unfillDomain(area, d);
        this.iovaRwsem.downWrite();
        this.areas.splice(this.areas.indexOf(area), 1);
        this.iovaRwsem.upWrite();
        pages.users--;
        throw e;
      }
      return area;
    } finally {
      this.domainsRwsem.upWrite();
    }
  }

  /**
   * `iopt_unmap_iova()`: removes the areas inside `[iova, iova + length)`. An
   * area only partly inside is `ENOENT`, as is a range with no area;
   * `EINVAL` for length 0, `EOVERFLOW` for a wrapping range. Returns the bytes
   * unmapped. Pages no area uses any more are released (for a dma-buf: give
   * the list back, detach, put).
   */
  unmapIova(iova: bigint, length: bigint): bigint {
    if (length === 0n) throw new KernelError("EINVAL", "iopt_unmap_iova");
    const last = iova + length - 1n;
    if (last > ULONG_MAX) throw new KernelError("EOVERFLOW", "iopt_unmap_iova");
    const hit = this.areas.filter((a) => a.iova <= last && iova <= a.last);
    if (hit.some((a) => a.iova < iova || a.last > last)) throw new KernelError("ENOENT", "iopt_unmap_iova", "would split an area");
    if (!hit.length) throw new KernelError("ENOENT", "iopt_unmap_iova", "nothing mapped there");
    return this.#remove(hit);
  }

  /** `iopt_unmap_all()`: every area; an empty IOAS is not an error. */
  unmapAll(): bigint {
    return this.areas.length ? this.#remove([...this.areas]) : 0n;
  }

  #remove(list: readonly IoptArea[]): bigint {
    let unmapped = 0n;
    const released: IoptPages[] = [];
    this.domainsRwsem.downRead();
    try {
      for (const area of list) {
        this.iovaRwsem.downWrite();
        this.areas.splice(this.areas.indexOf(area), 1);
        this.iovaRwsem.upWrite();
        for (const d of this.domains) area.pages.unfillDomain(area, d);
        unmapped += area.length;
        if (--area.pages.users === 0) released.push(area.pages);
      }
    } finally {
      this.domainsRwsem.upRead();
    }
    for (const p of released) p.release();
    return unmapped;
  }

  /**
   * `iopt_table_add_domain()`: mirrors every area into a new domain; on
   * failure the areas filled so far are unfilled.
   */
  addDomain(domain: IommuDomain): void {
    this.domainsRwsem.downWrite();
    try {
      const filled: IoptArea[] = [];
      try {
        for (const a of this.areas) {
          a.pages.fillDomain(a, domain);
          filled.push(a);
        }
      } catch (e) {
        for (const a of filled) a.pages.unfillDomain(a, domain);
        throw e;
      }
      this.domains.push(domain);
    } finally {
      this.domainsRwsem.upWrite();
    }
  }

  /** `iopt_table_remove_domain()`: unfills every area from the domain. */
  removeDomain(domain: IommuDomain): void {
    this.domainsRwsem.downWrite();
    try {
      for (const a of this.areas) a.pages.unfillDomain(a, domain);
      this.domains.splice(this.domains.indexOf(domain), 1);
    } finally {
      this.domainsRwsem.upWrite();
    }
  }

  /**
   * `iopt_table_enforce_dev_resv_regions()`: reserves a device's reserved
   * regions (the MSI window); `EADDRINUSE` when an area is already there.
   */
  reserve(owner: unknown, start: bigint, last: bigint): void {
    this.iovaRwsem.downWrite();
    try {
      if (this.#intersects(this.areas, start, last)) throw new KernelError("EADDRINUSE", "iopt_reserve_iova", `${hex(start)}-${hex(last)} is mapped`);
      this.reserved.push({ start, last, owner });
    } finally {
      this.iovaRwsem.upWrite();
    }
  }

  /** `iopt_remove_reserved_iova()`: drops what `owner` reserved. */
  unreserve(owner: unknown): void {
    for (let i = this.reserved.length - 1; i >= 0; i--) if (this.reserved[i]!.owner === owner) this.reserved.splice(i, 1);
  }
}

/** `conv_iommu_prot()`: `IOMMU_IOAS_MAP_*` flags to IOMMU protection. @public */
export function convIommuProt(flags: number): number {
  return (flags & (1 << 2) ? IOMMU_READ : 0) | (flags & (1 << 1) ? IOMMU_WRITE : 0);
}
