// struct iopt_pages of a dma-buf and its PFN reader (drivers/iommu/iommufd/pages.c).
import {
  KernelLocal,
  IOMMU_MMIO,
  KernelBug,
  KernelError,
  Mutex,
  PAGE_SHIFT,
  PAGE_SIZE_N,
  U64_LIMIT,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufPut,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvUnlock,
  pageAligned,
  type DmaBuf,
  type DmaBufAttachOps,
  type DmaBufAttachment,
  type IommuDomain,
  type Kernel,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingPal, dmaBufPalUnmapPhys, type DmaBufPalMapPhys, type DmaBufPhysList } from "@dmabuf-sdk/map-pal";
import type { IoptArea } from "./io-pagetable.js";

/** `MAX_NPFNS`: the most pages one `iopt_pages` may hold. @public */
export const MAX_NPFNS = (1n << 64n) / 8n;

/**
 * `dma_buf_pal_map_phys` per kernel, as the loader handed it to the iommufd
 * module. Set by the module's `init` only; there is no getter.
 */
const PAL_MAP_PHYS = new KernelLocal<DmaBufPalMapPhys>("PAL_MAP_PHYS");

/** Module-private: the key without which the IoptPages constructor refuses. */
const PAGES_KEY = Symbol("iopt_pages");

/**
 * One-shot hand-over of this file's capabilities to the rest of iommufd,
 * claimed when the package is evaluated: a deep import of this file by
 * anyone else gets a `KernelBug`, or, if it came first, makes the
 * iommufd package fail to load (fail closed).
 */
function once<T>(what: string, value: T): () => T {
  let claimed = false;
  return () => {
    if (claimed) throw new KernelBug("iommufd", `${what} is already claimed`);
    claimed = true;
    return value;
  };
}

/** @internal Claimed by the iommufd module only: sets or clears the function per kernel. */
export const claimPalMapPhysSlot = once("the dma_buf_pal_map_phys slot", (kernel: Kernel, fn: DmaBufPalMapPhys | null): void => {
  if (fn) PAL_MAP_PHYS.set(kernel, fn);
  else PAL_MAP_PHYS.delete(kernel);
});

/**
 * @internal Claimed by `ioas.ts` only: `iopt_alloc_dmabuf_pages()` +
 * `iopt_map_dmabuf()`, the one path that runs `dma_buf_pal_map_phys()`.
 */
export const claimIoptPagesAlloc = once(
  "iopt_alloc_dmabuf_pages",
  (kernel: Kernel, dmabuf: DmaBuf, start: bigint, npages: number, writable: boolean): IoptPages => {
    const pages = new IoptPages(PAGES_KEY, kernel, dmabuf, start, npages, writable);
    ioptMapDmabuf(pages);
    return pages;
  },
);

/** One domain an area of the buffer is mapped into (`struct iopt_pages_dmabuf_track`). */
interface DmabufTrack {
  readonly domain: IommuDomain;
  readonly area: IoptArea;
}

/**
 * `struct iopt_pages` of type `IOPT_ADDRESS_DMABUF`: a dma-buf imported with
 * the PAL mapping type. `exp_phys` is the exporter's list while the import
 * is live and null once revoked; iommufd never maps again after a
 * revocation. `mutex` (its own lockdep class) nests inside the buffer's resv.
 * @public
 */
export class IoptPages {
  readonly kernel: Kernel;
  readonly dmabuf: DmaBuf;
  /** Byte offset in the buffer of page index 0 (`pages->dmabuf.start`). */
  readonly start: bigint;
  /** Number of pages. */
  readonly npages: number;
  readonly writable: boolean;
  readonly mutex: Mutex;
  /** The attachment, published once `map_phys` succeeded. */
  #attach: DmaBufAttachment | null = null;
  #expPhys: DmaBufPhysList | null = null;
  readonly #tracker: DmabufTrack[] = [];
  /** Areas using these pages (`iopt_put_pages()` releases at zero). */
  users = 0;

  /** @internal Built by iommufd's `IOMMU_IOAS_MAP_FILE` only: any other caller gets a `KernelBug`. */
  constructor(key: unknown, kernel: Kernel, dmabuf: DmaBuf, start: bigint, npages: number, writable: boolean) {
    if (key !== PAGES_KEY) throw new KernelBug("iommufd", "iopt_pages are built by IOMMU_IOAS_MAP_FILE only");
    this.kernel = kernel;
    this.dmabuf = dmabuf;
    this.start = start;
    this.npages = npages;
    this.writable = writable;
    this.mutex = new Mutex({ lockdep: kernel.lockdep, current: () => kernel.current }, "iopt_pages dmabuf mutex", "&pages->mutex/dmabuf");
  }

  /** The attachment, published once `map_phys` succeeded; null before and after release. */
  get attach(): DmaBufAttachment | null {
    return this.#attach;
  }

  /** @internal `iopt_map_dmabuf()` publishes the import, once. */
  static _publish(pages: IoptPages, attach: DmaBufAttachment, list: DmaBufPhysList): void {
    if (pages.#attach || pages.#published) throw new KernelBug("iommufd", "iopt_map_dmabuf twice on the same pages");
    pages.#published = true;
    pages.#expPhys = list;
    pages.#attach = attach;
  }
  #published = false;

  /** `iopt_dmabuf_revoked()`: the exporter took the memory back. */
  get revoked(): boolean {
    return this.#expPhys === null;
  }

  /** Domains the buffer's areas are mapped into. */
  get trackedDomains(): readonly IommuDomain[] {
    return this.#tracker.map((t) => t.domain);
  }

  /**
   * The checks patch 24's walker does not do, done once at import: a
   * non-empty list of non-empty, page-aligned ranges that do not wrap 2^64
   * and cover at least the pages imported. A list that fails them is an
   * exporter bug: WARN and `EINVAL`.
   * @internal
   */
  static _checkList(pages: IoptPages, list: DmaBufPhysList): void {
    const bad = (why: string): never => {
      pages.kernel.warn(`iommufd: dma-buf ino ${pages.dmabuf.ino}: bad physical address list: ${why}`);
      throw new KernelError("EINVAL", "iopt_map_dmabuf", why);
    };
    if (!list.length || list.phys.length < list.length) bad(`length ${list.length} with ${list.phys.length} entries`);
    let total = 0n;
    for (let i = 0; i < list.length; i++) {
      const v = list.phys[i]!;
      if (v.len === 0n) bad(`entry ${i} is empty`);
      if (!pageAligned(v.paddr) || !pageAligned(v.len)) bad(`entry ${i} is not page aligned`);
      if (v.paddr + v.len > U64_LIMIT) bad(`entry ${i} wraps 2^64`);
      total += v.len;
    }
    const need = pages.start + BigInt(pages.npages) * PAGE_SIZE_N;
    if (total < need) bad(`covers ${total} bytes, the import needs ${need}`);
  }

  /** @internal The list, for the PFN reader and the revoke path. */
  _expPhys(): DmaBufPhysList | null {
    return this.#expPhys;
  }

  /** @internal `iopt_revoke_notify()`: under `mutex`, with the resv lock held. */
  _revoke(attach: DmaBufAttachment): void {
    const list = this.#expPhys;
    if (!list) return;
    for (const t of this.#tracker) unmapAreaDomain(t.area, t.domain);
    dmaBufPalUnmapPhys(attach, list);
    this.#expPhys = null;
    this.kernel.trace.emit("iommufd_dmabuf_revoke", { ino: this.dmabuf.ino, domains: this.#tracker.length });
  }

  /**
   * `iopt_area_fill_domain()` for these pages: tracks the domain and, unless
   * revoked, installs the area's IOPTEs (`IOMMU_MMIO`) from the PFN reader.
   * On failure nothing stays mapped or tracked.
   */
  fillDomain(area: IoptArea, domain: IommuDomain): void {
    this.mutex.lock();
    try {
      if (this.#tracker.some((t) => t.domain === domain && t.area === area)) {
        this.kernel.warn("iopt_dmabuf_track_domain: domain already tracked");
        throw new KernelError("EINVAL", "iopt_dmabuf_track_domain");
      }
      this.kernel.alloc.kzalloc("iopt_pages_dmabuf_track");
      if (!this.revoked) {
        const iommu = this.kernel.platform.iommu!;
        const reader = new PfnReaderDmabuf(this);
        let iova = area.iova;
        try {
          reader.fill(area.pageFirst, area.pageLast, (pfn, n) => {
            iommu.map(domain, iova, BigInt(pfn) << BigInt(PAGE_SHIFT), BigInt(n) << BigInt(PAGE_SHIFT), area.prot | IOMMU_MMIO);
            iova += BigInt(n) << BigInt(PAGE_SHIFT);
          });
        } catch (e) {
          if (iova > area.iova) iommu.unmap(domain, area.iova, iova - area.iova);
          throw e;
        }
      }
      this.#tracker.push({ domain, area });
    } finally {
      this.mutex.unlock();
    }
  }

  /** `iopt_area_unfill_domain()`: removes the area's IOPTEs (none once revoked) and the tracking. */
  unfillDomain(area: IoptArea, domain: IommuDomain): void {
    this.mutex.lock();
    try {
      const i = this.#tracker.findIndex((t) => t.domain === domain && t.area === area);
      if (i < 0) return;
      if (!this.revoked) unmapAreaDomain(area, domain);
      this.#tracker.splice(i, 1);
    } finally {
      this.mutex.unlock();
    }
  }

  /**
   * `iopt_release_pages()` of dma-buf pages: under the resv lock give the
   * list back (unless revoked), then detach and drop the buffer. WARNs if a
   * domain is still tracked.
   */
  release(): void {
    const dmabuf = this.dmabuf;
    const attach = this.#attach;
    if (attach) {
      dmaResvLock(dmabuf.resv);
      const list = this.#expPhys;
      if (list) dmaBufPalUnmapPhys(attach, list);
      this.#expPhys = null;
      dmaResvUnlock(dmabuf.resv);
      dmaBufDetach(dmabuf, attach);
      this.#attach = null;
    }
    dmaBufPut(dmabuf);
    if (this.#tracker.length) this.kernel.warn(`iopt_release_pages: ${this.#tracker.length} domain(s) still tracked`);
  }
}

/**
 * `iopt_map_dmabuf()`: attach with `[PAL]` as a dynamic, P2P-capable
 * importer whose invalidation is `iopt_revoke_notify()`; then under the
 * resv lock (recording that `pages->mutex` nests inside it) take the
 * exporter's list with `dma_buf_pal_map_phys()`, check it (the checks the
 * posted PFN walker lacks), and publish the attachment.
 * @throws KernelError the attach's errno (`EINVAL` when the exporter has
 * no PAL, `ENODEV` when it is revoked), `map_phys`'s errno, `EINVAL` for a
 * list that cannot cover the pages.
 */
function ioptMapDmabuf(pages: IoptPages): void {
  const mapPhys = PAL_MAP_PHYS.get(pages.kernel);
  if (!mapPhys) throw new KernelError("ENODEV", "iopt_map_dmabuf", "iommufd is not loaded");
  const dmabuf = pages.dmabuf;
  const attach = dmaBufMappingAttach(dmabuf, [dmaBufImappingPal()], ioptDmabufAttachRevokeOps, pages);
  dmaResvLock(dmabuf.resv);
  let list: DmaBufPhysList;
  try {
    pages.mutex.lock();
    pages.mutex.unlock();
    list = mapPhys(attach);
    try {
      IoptPages._checkList(pages, list);
    } catch (e) {
      dmaBufPalUnmapPhys(attach, list);
      throw e;
    }
  } catch (e) {
    dmaResvUnlock(dmabuf.resv);
    dmaBufDetach(dmabuf, attach);
    throw e;
  }
  IoptPages._publish(pages, attach, list);
  dmaResvUnlock(dmabuf.resv);
}

Object.freeze(IoptPages.prototype);
Object.freeze(IoptPages);

function unmapAreaDomain(area: IoptArea, domain: IommuDomain): void {
  area.ioas.kernel.platform.iommu!.unmap(domain, area.iova, BigInt(area.pageLast - area.pageFirst + 1) << BigInt(PAGE_SHIFT));
}

/**
 * `iopt_revoke_notify()`, iommufd's `invalidate_mappings`: the exporter holds
 * the resv lock (asserted). Under `pages->mutex`, unless already revoked, zap
 * every IOPTE of every tracked (area, domain), give the list back with
 * `dma_buf_pal_unmap_phys()` and forget it. iommufd takes an invalidation as
 * a permanent revocation: nothing maps the buffer again; user space unmaps
 * the area and maps the fd anew.
 */
function ioptRevokeNotify(attach: DmaBufAttachment): void {
  const pages = attach.importerPriv as IoptPages;
  dmaResvAssertHeld(attach.dmabuf!.resv, "iopt_revoke_notify");
  pages.mutex.lock();
  try {
    pages._revoke(attach);
  } finally {
    pages.mutex.unlock();
  }
}

/** `iopt_dmabuf_attach_revoke_ops`: iommufd is a dynamic importer that can take peer MMIO. */
const ioptDmabufAttachRevokeOps: DmaBufAttachOps = { allowPeer2peer: true, invalidateMappings: ioptRevokeNotify };

/**
 * `struct pfn_reader_dmabuf` (patch 24): walks the physical address list
 * forward, one fill after another. `init` refuses a revoked import (WARN,
 * `EINVAL`); unlike the posted walker, the seek and the fill check the entry
 * index against the list's length (WARN, `EINVAL`), so a list shorter than
 * the request cannot run off its end.
 * @public
 */
export class PfnReaderDmabuf {
  readonly #list: DmaBufPhysList;
  readonly #startOffset: bigint;
  readonly #kernel: Kernel;
  #curIndex = 0;
  #curBase = 0n;

  constructor(pages: IoptPages) {
    const list = pages._expPhys();
    this.#kernel = pages.kernel;
    if (!list) {
      pages.kernel.warn("pfn_reader_dmabuf_init on a revoked dma-buf");
      throw new KernelError("EINVAL", "pfn_reader_dmabuf_init", "revoked");
    }
    this.#list = list;
    this.#startOffset = pages.start;
  }

  #overrun(where: string): never {
    this.#kernel.warn(`pfn_reader_dmabuf: ${where} past entry ${this.#list.length} of the list`);
    throw new KernelError("EINVAL", "pfn_reader_fill_dmabuf", where);
  }

  /**
   * `pfn_reader_fill_dmabuf()`: emits `(pfn, npages)` runs for page indices
   * `[startIndex, lastIndex]`, each within one entry of the list.
   */
  fill(startIndex: number, lastIndex: number, emit: (pfn: number, npages: number) => void): void {
    const list = this.#list;
    let start = this.#startOffset + BigInt(startIndex) * PAGE_SIZE_N;
    let npages = BigInt(lastIndex - startIndex + 1);
    while (this.#curIndex < list.length && this.#curBase + list.phys[this.#curIndex]!.len <= start) {
      this.#curBase += list.phys[this.#curIndex]!.len;
      this.#curIndex++;
    }
    while (npages > 0n) {
      if (this.#curIndex >= list.length) this.#overrun("fill");
      const vec = list.phys[this.#curIndex]!;
      const off = start - this.#curBase;
      const avail = (vec.len - off) >> BigInt(PAGE_SHIFT);
      const nr = npages < avail ? npages : avail;
      emit(Number((vec.paddr + off) >> BigInt(PAGE_SHIFT)), Number(nr));
      start += nr * PAGE_SIZE_N;
      npages -= nr;
      if (nr === avail) {
        this.#curBase += vec.len;
        this.#curIndex++;
      }
    }
  }
}
