// drivers/gpu/drm/xe/xe_bo.c: struct xe_bo, its TTM placement (VRAM, TT, system), pin, move and evict.
import {
  KernelBug,
  KernelError,
  Kref,
  PAGE_SIZE,
  SparseMemory,
  DmaResv,
  dmaBufInvalidateMappings,
  dmaResvAssertHeld,
  dmaResvFini,
  unmapMappingRange,
  dmaResvLock,
  dmaResvTrylock,
  dmaResvUnlock,
  isKernelError,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaDataDirection,
  type Errno,
  type Kernel,
} from "@dmabuf-sdk/dmabuf-core";
import type { DmaBufIovRanges } from "@dmabuf-sdk/map-iov";
import { dmaMapSgtable, dmaUnmapSgtable, sgAllocTable, sgFreeTable, sgSetPage, type SgTable } from "@dmabuf-sdk/map-sgt";
import { xeBoMoveDmabuf } from "./xe-bo-move-dmabuf.js";
import { xeDmaBufImportRelease } from "./xe-dma-buf.js";
import type { XeDevice } from "./xe-device.js";
import { xeMigrateClear, xeMigrateCopy } from "./xe-migrate.js";
import type { XeVma } from "./xe-pt.js";
import type { XeVramBlock } from "./xe-ttm-vram-mgr.js";

/**
 * Where a buffer object's pages are (`ttm_resource->mem_type`):
 * `XE_PL_SYSTEM` not populated (or swapped out; an imported BO: not
 * mapped), `XE_PL_TT` system pages the GPU reaches by DMA address (an
 * imported BO: mapped), `XE_PL_VRAM0` VRAM of tile 0.
 * @public
 */
export type XeMemType = "XE_PL_SYSTEM" | "XE_PL_TT" | "XE_PL_VRAM0";
/** `XE_PL_SYSTEM`. @public */
export const XE_PL_SYSTEM = "XE_PL_SYSTEM" satisfies XeMemType;
/** `XE_PL_TT`. @public */
export const XE_PL_TT = "XE_PL_TT" satisfies XeMemType;
/** `XE_PL_VRAM0`. @public */
export const XE_PL_VRAM0 = "XE_PL_VRAM0" satisfies XeMemType;

/** Placements a buffer object may be created with (`XE_BO_FLAG_SYSTEM`, `XE_BO_FLAG_VRAM0`), in preference order. @public */
export type XeBoPlacement = "XE_PL_VRAM0" | "XE_PL_TT";

/** Options of {@link xeBoCreate}. @public */
export interface XeBoCreateOptions {
  /** Allowed placements, preferred first; the BO starts in the first. */
  readonly placements: readonly XeBoPlacement[];
  /** `XE_BO_FLAG_PINNED`: created pinned (kernel BOs, VF LMEM). */
  readonly pinned?: boolean;
  /** `XE_BO_FLAG_NEEDS_2M`: VRAM in 2 MiB blocks. */
  readonly needs2M?: boolean;
  /** `XE_BO_FLAG_NEEDS_CONTIGUOUS`. */
  readonly contiguous?: boolean;
  /** For messages and leak reports. */
  readonly name?: string;
}

/**
 * `struct drm_pagemap_addr`: one device address of an imported buffer, as
 * the PF encodes a translated VF range (`drm_pagemap_addr_encode(dpa,
 * XE_INTERCONNECT_VRAM, order, dir)`). It covers `PAGE_SIZE << order` bytes.
 * @public
 */
export interface DrmPagemapAddr {
  /** Device physical address in VRAM. */
  readonly addr: bigint;
  /** `XE_INTERCONNECT_VRAM` (Xe's alias of `DRM_INTERCONNECT_DRIVER`). */
  readonly proto: "XE_INTERCONNECT_VRAM";
  /** The entry covers `PAGE_SIZE << order` bytes. */
  readonly order: number;
  /** DMA direction the PF may use the memory in. */
  readonly dir: DmaDataDirection;
}

/**
 * `struct xe_sriov_dma_data` (`bo->dma_data`): the translated addresses of a
 * BO imported over IOV and the reference on the VF's LMEM object they point
 * into. `dmaAddr !== null` is *the* marker of "VRAM imported via IOV".
 * @public
 */
export interface XeSriovDmaData {
  /** `dma_addr`: the translated addresses, in buffer order. */
  dmaAddr: readonly DrmPagemapAddr[] | null;
  /** `lmem_obj`: the VF's LMEM object the addresses point into (a reference, put at unmap). */
  lmemObj: XeBo | null;
}

/** Why an imported BO stopped using IOV (the sticky fallback). @public */
export interface XeIovFallback {
  /** The errno of the failure. */
  readonly errno: Errno;
  /** The function that failed (`xe_bo_translate_io_addr_to_dpa`, the exporter's map, …). */
  readonly operation: string;
}

/** The import side of a `ttm_bo_type_sg` BO (`bo->ttm.base.import_attach`). @public */
export interface XeBoImport {
  /** The imported dma-buf (the BO holds a reference). */
  readonly dmabuf: DmaBuf;
  /** The current attachment; null between a failed re-attach and the next try. */
  attach: DmaBufAttachment | null;
  /** The last attachment (for reports once `attach` is gone). */
  lastAttach: DmaBufAttachment;
  /** `ttm_bo->sg`: the SGT mapping while mapped over SGT. */
  sg: SgTable | null;
  /** `xe_tt->ranges`: the IOV ranges while mapped over IOV. */
  ranges: DmaBufIovRanges | null;
  /** Set once the IOV path failed: the import offers only SGT from then on. */
  iovFallback: XeIovFallback | null;
}

/** System pages of a BO in `XE_PL_TT`, DMA-mapped for the GPU (`xe_tt_map_sg()`). @public */
export interface XeTt {
  /** Page frame numbers, one per BO page. */
  readonly pfns: number[];
  /** The pages mapped for the GPU's own DMA. */
  readonly sgt: SgTable;
}

/**
 * `struct xe_bo`: a GEM/TTM buffer object of one Xe device. A device BO
 * lives in VRAM or system memory and can move (eviction, migration); an
 * imported (`ttm_bo_type_sg`) BO shares the dma-buf's reservation object and
 * is "in TT" while mapped. A reference count (`xe_bo_get`/`xe_bo_put`)
 * keeps it alive; each VMA and an exported dma-buf hold one.
 * @public
 */
export class XeBo {
  /** Tracking id (traces, leak reports). */
  readonly id: number;
  readonly kernel: Kernel;
  /** Bytes (a page multiple). */
  readonly size: bigint;
  readonly npages: number;
  /** Allowed placements, preferred first (`bo->placement`). */
  readonly placements: readonly XeBoPlacement[];
  /** `ttm_bo_type_device` (own pages) or `ttm_bo_type_sg` (an imported dma-buf). */
  readonly type: "ttm_bo_type_device" | "ttm_bo_type_sg";
  /** `bo->ttm.base.resv`: the BO's own, or the imported dma-buf's. */
  readonly resv: DmaResv;
  /** For messages and leak reports. */
  readonly name: string;
  /** `XE_BO_FLAG_PINNED`. */
  readonly pinnedAtCreate: boolean;
  /** `XE_BO_FLAG_NEEDS_2M`. */
  readonly needs2M: boolean;
  /** `XE_BO_FLAG_NEEDS_CONTIGUOUS`. */
  readonly contiguous: boolean;
  /** Where the pages are now. */
  memType: XeMemType = XE_PL_SYSTEM;
  /** VRAM blocks while in `XE_PL_VRAM0`. */
  vram: readonly XeVramBlock[] | null = null;
  /** @internal prefix sums of `vram` page counts */
  _vramStarts: number[] = [];
  /** @internal the system pages while in `XE_PL_TT` */
  _tt: XeTt | null = null;
  /** Swap storage (shmem) while a populated BO is swapped out. */
  swap: SparseMemory | null = null;
  /** `ttm_bo_pin()` count. */
  pinCount = 0;
  /** `xe_bo_get()`/`xe_bo_put()`. */
  readonly kref: Kref;
  /** The dma-buf this BO is exported as (`obj->dma_buf`). */
  dmaBuf: DmaBuf<XeBo> | null = null;
  /** Import state of a `ttm_bo_type_sg` BO. */
  import: XeBoImport | null = null;
  /** `bo->dma_data` (PF mode, IOV imports). */
  readonly dmaData: XeSriovDmaData = { dmaAddr: null, lmemObj: null };
  /** VMAs mapping this BO (each holds a reference). */
  readonly vmas = new Set<XeVma>();

  /**
   * @internal use {@link xeBoCreate} or the import path
   * @param xe - the owning device
   */
  constructor(
    /** The owning device. */
    readonly xe: XeDevice,
    size: bigint,
    opts: XeBoCreateOptions & { type?: XeBo["type"]; resv?: DmaResv },
  ) {
    this.kernel = xe.kernel;
    this.size = size;
    this.npages = Number(size / BigInt(PAGE_SIZE));
    this.placements = opts.placements;
    this.type = opts.type ?? "ttm_bo_type_device";
    this.name = opts.name ?? "bo";
    this.pinnedAtCreate = opts.pinned ?? false;
    this.needs2M = opts.needs2M ?? false;
    this.contiguous = opts.contiguous ?? false;
    this.resv = opts.resv ?? new DmaResv(xe.kernel, "xe_bo_resv");
    this.kref = new Kref(() => xeBoRelease(this), (m) => xe.kernel.warn(m));
    this.id = xe.kernel.objects.track("xe_bo", this, () => `xe_bo ${this.name} of ${xe.pdev.name}: ${this.size} bytes in ${this.memType}, ${this.kref.refcount} ref(s)`);
  }

  /** `xe_bo_is_pinned()`. */
  get pinned(): boolean {
    return this.pinCount > 0;
  }

  /** The system pages while in `XE_PL_TT` (device BOs), as page frame numbers. */
  get ttPfns(): readonly number[] | null {
    return this._tt?.pfns ?? null;
  }

  /** The GPU's own DMA mapping of the system pages while in `XE_PL_TT`. */
  get ttSgt(): SgTable | null {
    return this._tt?.sgt ?? null;
  }
}

/**
 * `xe_bo_create()`: a device BO of `size` bytes (page multiple) placed in its
 * first placement (VRAM evicts unpinned BOs of the device when full; when it
 * stays full the BO goes to system memory if allowed). Returns it with one
 * reference. @throws KernelError `EINVAL` (size, placements), `ENOMEM`,
 * `ENOSPC` (VRAM-only and VRAM full of pinned BOs); nothing left behind.
 * @public
 */
export function xeBoCreate(xe: XeDevice, size: bigint, opts: XeBoCreateOptions): XeBo {
  if (size <= 0n || size % BigInt(PAGE_SIZE) !== 0n) throw new KernelError("EINVAL", "xe_bo_create", `size ${size}`);
  if (opts.placements.length === 0) throw new KernelError("EINVAL", "xe_bo_create", "no placement");
  xe.kernel.alloc.kzalloc("xe_bo");
  const bo = new XeBo(xe, size, opts);
  xe.bos.add(bo);
  try {
    let placed = false;
    if (opts.placements[0] === XE_PL_VRAM0) {
      try {
        const blocks = allocVram(bo);
        placeVram(bo, blocks);
        // xe_bo_move() of a new device BO into VRAM: no source, so the migration engine clears it.
        try {
          xeMigrateClear(bo);
        } catch (e) {
          xe.vram.free(blocks);
          bo.vram = null;
          throw e;
        }
        bo.memType = XE_PL_VRAM0;
        placed = true;
      } catch (e) {
        // VRAM full of pinned BOs: TTM takes the next placement.
        if (!(isKernelError(e, "ENOSPC") && opts.placements.includes(XE_PL_TT))) throw e;
      }
    }
    if (!placed) {
      bo._tt = ttPopulate(bo);
      bo.memType = XE_PL_TT;
    }
  } catch (e) {
    xe.bos.delete(bo);
    xe.kernel.objects.untrack(bo);
    throw e;
  }
  if (opts.pinned) bo.pinCount = 1;
  return bo;
}

/** `xe_bo_get()`. @public */
export function xeBoGet(bo: XeBo): XeBo {
  bo.kref.get();
  return bo;
}

/** `xe_bo_put()`: the last reference frees the BO (an imported BO is unmapped and detached first). @public */
export function xeBoPut(bo: XeBo | null): void {
  bo?.kref.put();
}

function xeBoRelease(bo: XeBo): void {
  const k = bo.kernel;
  if (bo.type === "ttm_bo_type_sg") {
    xeDmaBufImportRelease(bo);
  } else {
    if (bo.vram) bo.xe.vram.free(bo.vram);
    if (bo._tt) ttUnpopulate(bo, bo._tt);
    bo.vram = null;
    bo._tt = null;
    bo.swap = null;
    // ttm_bo_release(): a device BO's own reservation object goes with it (dma_resv_fini drops its fences).
    dmaResvFini(bo.resv);
  }
  bo.xe.bos.delete(bo);
  k.objects.untrack(bo);
  k.trace.emit("xe_bo_free", { bo: bo.id, name: bo.name });
}

// ---- storage -------------------------------------------------------------------

function vramOpts(bo: XeBo) {
  return { contiguous: bo.contiguous, alignPages: bo.needs2M ? 512 : 1 };
}

/**
 * VRAM for `bo`; when full, evicts the least recently placed unpinned BO of
 * the device whose lock it can take (`ttm_mem_evict_first()` with a
 * trylock) and tries again. @throws KernelError `ENOSPC`, `ENOMEM`.
 */
function allocVram(bo: XeBo): XeVramBlock[] {
  // After removal the VRAM is gone with the device: nothing can be placed there again.
  if (bo.xe.vramGone) throw new KernelError("ENOSPC", "xe_bo_move", `${bo.xe.pdev.name} was removed: no VRAM`);
  const xe = bo.xe;
  for (;;) {
    try {
      return xe.vram.alloc(bo.npages, vramOpts(bo));
    } catch (e) {
      if (!isKernelError(e, "ENOSPC")) throw e;
      const victim = [...xe.bos].find((v) => v !== bo && v.type === "ttm_bo_type_device" && v.memType === XE_PL_VRAM0 && !v.pinned && v.resv !== bo.resv && dmaResvTrylock(v.resv));
      if (!victim) throw e;
      try {
        xe.kernel.trace.emit("xe_bo_evict", { bo: victim.id, for: bo.id });
        xeBoMove(victim, XE_PL_TT);
      } finally {
        dmaResvUnlock(victim.resv);
      }
    }
  }
}

function placeVram(bo: XeBo, blocks: XeVramBlock[]): void {
  bo.vram = blocks;
  const starts: number[] = [];
  let n = 0;
  for (const b of blocks) {
    starts.push(n);
    n += b.pages;
  }
  bo._vramStarts = starts;
  // Most recently placed last: the eviction LRU.
  bo.xe.bos.delete(bo);
  bo.xe.bos.add(bo);
}

/** The VRAM page backing page `i` of a BO in VRAM. @public */
export function xeBoVramPage(bo: XeBo, i: number): number {
  const blocks = bo.vram;
  if (!blocks || i < 0 || i >= bo.npages) throw new KernelBug("xe", `${bo.name}: page ${i} not in VRAM`);
  const starts = bo._vramStarts;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= i) lo = mid;
    else hi = mid - 1;
  }
  return blocks[lo]!.start + (i - starts[lo]!);
}

/**
 * `xe_bo_addr(bo, offset, page_size)`: the device physical address of byte
 * `offset` of a BO in VRAM (WARN and `EINVAL` when it is not).
 * @public
 */
export function xeBoAddr(bo: XeBo, offset: bigint, pageSize: number): bigint {
  if (bo.memType !== XE_PL_VRAM0 || offset < 0n || offset >= bo.size) {
    bo.kernel.warn(`xe_bo_addr: ${bo.name} offset ${offset} not in VRAM`);
    throw new KernelError("EINVAL", "xe_bo_addr", `${bo.name} is in ${bo.memType}`);
  }
  const ps = BigInt(pageSize);
  const page = Number(offset / ps);
  return bo.xe.vram.dpaBase + BigInt(xeBoVramPage(bo, page)) * ps + (offset % ps);
}

/** `xe_tt_populate()` + `xe_tt_map_sg()`: system pages, DMA-mapped for the GPU. */
function ttPopulate(bo: XeBo): XeTt {
  const k = bo.kernel;
  const pfns: number[] = [];
  let sgt: SgTable | null = null;
  try {
    for (let i = 0; i < bo.npages; i++) pfns.push(k.platform.physmem.allocPages(0, "xe_tt"));
    sgt = sgAllocTable(k, bo.npages);
    pfns.forEach((p, i) => sgSetPage(sgt!, i, p, PAGE_SIZE, 0));
    dmaMapSgtable(bo.xe.pdev, sgt, "DMA_BIDIRECTIONAL", 0);
    return { pfns, sgt };
  } catch (e) {
    if (sgt) sgFreeTable(sgt);
    for (const p of pfns) k.platform.physmem.freePages(p, 0);
    throw e;
  }
}

function ttUnpopulate(bo: XeBo, tt: XeTt): void {
  dmaUnmapSgtable(bo.xe.pdev, tt.sgt, "DMA_BIDIRECTIONAL", 0);
  sgFreeTable(tt.sgt);
  for (const p of tt.pfns) bo.kernel.platform.physmem.freePages(p, 0);
}

// ---- moves ---------------------------------------------------------------------

/**
 * `xe_bo_trigger_rebind()` + `xe_bo_move_notify()`: before a BO's pages
 * move, every GPU binding of it is zapped (the VM rebinds before the next
 * use), and the importers of its dma-buf are told to drop their mappings
 * (`dma_buf_invalidate_mappings()`, resv held).
 * @public
 */
export function xeBoMoveNotify(bo: XeBo): void {
  dmaResvAssertHeld(bo.resv, "xe_bo_move_notify");
  for (const vma of bo.vmas) vma.zap();
  if (bo.dmaBuf) {
    dmaBufInvalidateMappings(bo.dmaBuf);
    // ttm_bo_unmap_virtual(): CPU mappings fault again and see the new placement.
    unmapMappingRange(bo.kernel, bo.dmaBuf.file, 0n, bo.size);
  }
}

/**
 * `xe_bo_move()` of a device BO to `to` (resv held, asserted): importers and
 * bindings are invalidated first, then the destination is allocated, the
 * contents copied (VRAM↔TT by the GPU copy engine, TT↔SYSTEM by the CPU,
 * SYSTEM↔VRAM through TT as TTM's multihop does) and the source freed. On
 * failure the BO stays where it was.
 * @public
 */
export function xeBoMove(bo: XeBo, to: XeMemType): void {
  dmaResvAssertHeld(bo.resv, "xe_bo_move");
  if (bo.type !== "ttm_bo_type_device") throw new KernelBug("xe", "xe_bo_move of an imported BO");
  const from = bo.memType;
  if (from === to) return;
  if ((from === XE_PL_SYSTEM && to === XE_PL_VRAM0) || (from === XE_PL_VRAM0 && to === XE_PL_SYSTEM)) {
    xeBoMove(bo, XE_PL_TT);
    xeBoMove(bo, to);
    return;
  }
  xeBoMoveNotify(bo);
  const k = bo.kernel;
  if (from === XE_PL_VRAM0 && to === XE_PL_TT) {
    const tt = ttPopulate(bo);
    try {
      xeMigrateCopy(bo, { vram: bo }, { tt: tt.sgt });
    } catch (e) {
      ttUnpopulate(bo, tt);
      throw e;
    }
    bo.xe.vram.free(bo.vram!);
    bo.vram = null;
    bo._tt = tt;
  } else if (from === XE_PL_TT && to === XE_PL_VRAM0) {
    const blocks = allocVram(bo);
    placeVram(bo, blocks);
    try {
      xeMigrateCopy(bo, { tt: bo._tt!.sgt }, { vram: bo });
    } catch (e) {
      bo.xe.vram.free(blocks);
      bo.vram = null;
      throw e;
    }
    ttUnpopulate(bo, bo._tt!);
    bo._tt = null;
  } else if (from === XE_PL_TT && to === XE_PL_SYSTEM) {
    // ttm_bo_swapout(): the CPU copies the pages to shmem.
    const swap = new SparseMemory();
    const mem = k.platform.physmem;
    bo._tt!.pfns.forEach((p, i) => swap.write(i * PAGE_SIZE, mem.read(BigInt(p) << 12n, PAGE_SIZE)));
    ttUnpopulate(bo, bo._tt!);
    bo._tt = null;
    bo.swap = swap;
  } else if (from === XE_PL_SYSTEM && to === XE_PL_TT) {
    const tt = ttPopulate(bo);
    const swap = bo.swap;
    const page = new Uint8Array(PAGE_SIZE);
    if (swap) tt.pfns.forEach((p, i) => (swap.read(i * PAGE_SIZE, page), k.platform.physmem.write(BigInt(p) << 12n, page)));
    bo._tt = tt;
    bo.swap = null;
  }
  bo.memType = to;
  k.trace.emit("xe_bo_move", { bo: bo.id, from, to });
}

/**
 * Purge (`ttm_bo_pipeline_gutting()` as the removal path uses it, resv
 * held): bindings and importers are invalidated, the pages are freed and
 * the contents are gone; the BO is left empty in system memory.
 * @public
 */
export function xeBoPurge(bo: XeBo): void {
  dmaResvAssertHeld(bo.resv, "xe_bo_purge");
  if (bo.type !== "ttm_bo_type_device") throw new KernelBug("xe", "xe_bo_purge of an imported BO");
  xeBoMoveNotify(bo);
  if (bo.vram) {
    bo.xe.vram.free(bo.vram);
    bo.vram = null;
  }
  if (bo._tt) {
    ttUnpopulate(bo, bo._tt);
    bo._tt = null;
  }
  bo.swap = null;
  const from = bo.memType;
  bo.memType = XE_PL_SYSTEM;
  bo.kernel.trace.emit("xe_bo_purge", { bo: bo.id, from });
}

/**
 * `xe_bo_migrate(bo, mem_type)` (resv held): moves to `memType`. `EBUSY` for
 * a pinned BO elsewhere, `EINVAL` when the BO may not be placed there.
 * @public
 */
export function xeBoMigrate(bo: XeBo, memType: XeBoPlacement): void {
  dmaResvAssertHeld(bo.resv, "xe_bo_migrate");
  if (bo.memType === memType) return;
  if (bo.pinned) throw new KernelError("EBUSY", "xe_bo_migrate", `${bo.name} is pinned in ${bo.memType}`);
  if (!bo.placements.includes(memType)) throw new KernelError("EINVAL", "xe_bo_migrate", `${bo.name} cannot be placed in ${memType}`);
  xeBoMove(bo, memType);
}

/**
 * `xe_bo_evict()` (resv held): a device BO leaves where it is (VRAM → TT,
 * TT → swapped out); an imported BO drops its mapping. Returns what happened.
 * @throws KernelError `EBUSY` for a pinned BO.
 * @public
 */
export function xeBoEvict(bo: XeBo): "evict" | "swapout" | "unmap" | "none" {
  dmaResvAssertHeld(bo.resv, "xe_bo_evict");
  if (bo.type === "ttm_bo_type_sg") {
    if (bo.memType === XE_PL_SYSTEM) return "none";
    xeBoMoveDmabuf(bo, XE_PL_SYSTEM);
    return "unmap";
  }
  if (bo.pinned) throw new KernelError("EBUSY", "xe_bo_evict", `${bo.name} is pinned`);
  switch (bo.memType) {
    case XE_PL_VRAM0:
      xeBoMove(bo, XE_PL_TT);
      return "evict";
    case XE_PL_TT:
      xeBoMove(bo, XE_PL_SYSTEM);
      return "swapout";
    default:
      return "none";
  }
}

/**
 * `xe_bo_validate()` (resv held): puts the BO where the GPU can use it. A
 * device BO goes to its preferred placement (VRAM full: its fallback TT, as
 * TTM's fallback placements do); a pinned BO stays. An imported BO is
 * mapped (`xe_bo_move_dmabuf()` to TT).
 * @public
 */
export function xeBoValidate(bo: XeBo): void {
  dmaResvAssertHeld(bo.resv, "xe_bo_validate");
  if (bo.type === "ttm_bo_type_sg") {
    if (bo.memType !== XE_PL_TT) xeBoMoveDmabuf(bo, XE_PL_TT);
    return;
  }
  if (bo.pinned && bo.memType !== XE_PL_SYSTEM) return;
  const preferred = bo.placements[0]!;
  if (bo.memType === preferred) return;
  try {
    xeBoMove(bo, preferred);
  } catch (e) {
    if (!(isKernelError(e, "ENOSPC") && bo.placements.includes(XE_PL_TT))) throw e;
    xeBoMove(bo, XE_PL_TT);
  }
}

/**
 * `xe_bo_pin_external(bo, in_place)` (resv held): pins the BO. Unless
 * `inPlace` (or already pinned), it is validated first, which may move it
 * back to its preferred placement.
 * @public
 */
export function xeBoPin(bo: XeBo, inPlace = false): void {
  dmaResvAssertHeld(bo.resv, "xe_bo_pin");
  if (!bo.pinned && (!inPlace || bo.memType === XE_PL_SYSTEM)) xeBoValidate(bo);
  bo.pinCount++;
}

/** `xe_bo_unpin()` (resv held). @public */
export function xeBoUnpin(bo: XeBo): void {
  dmaResvAssertHeld(bo.resv, "xe_bo_unpin");
  if (bo.kernel.warnOn(bo.pinCount === 0, `xe_bo_unpin: ${bo.name} is not pinned`)) return;
  bo.pinCount--;
}

// ---- CPU access ----------------------------------------------------------------

function cpuAccess(bo: XeBo, offset: bigint, len: number, fn: (page: number, off: number, n: number, pos: number) => void): void {
  if (bo.type !== "ttm_bo_type_device") throw new KernelError("EINVAL", "xe_bo_access", "imported BOs have no CPU mapping here");
  if (offset < 0n || offset + BigInt(len) > bo.size) throw new KernelError("EINVAL", "xe_bo_access", `${offset}+${len} beyond ${bo.size}`);
  let pos = 0;
  while (pos < len) {
    const o = offset + BigInt(pos);
    const page = Number(o / BigInt(PAGE_SIZE));
    const off = Number(o % BigInt(PAGE_SIZE));
    const n = Math.min(PAGE_SIZE - off, len - pos);
    fn(page, off, n, pos);
    pos += n;
  }
}

/**
 * `xe_bo_read()` (`ttm_bo_access()`): the CPU reads `len` bytes at `offset`
 * wherever the BO is now. Takes the resv lock itself.
 * @public
 */
export function xeBoRead(bo: XeBo, offset: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  dmaResvLock(bo.resv);
  try {
    const mem = bo.kernel.platform.physmem;
    cpuAccess(bo, offset, len, (page, off, n, pos) => {
      const dst = out.subarray(pos, pos + n);
      if (bo.memType === XE_PL_VRAM0) bo.xe.vram.read(xeBoVramPage(bo, page) * PAGE_SIZE + off, dst);
      else if (bo.memType === XE_PL_TT) dst.set(mem.read((BigInt(bo._tt!.pfns[page]!) << 12n) + BigInt(off), n));
      else bo.swap?.read(page * PAGE_SIZE + off, dst);
    });
  } finally {
    dmaResvUnlock(bo.resv);
  }
  return out;
}

/** `xe_bo_write()`: the CPU writes `data` at `offset` wherever the BO is now. Takes the resv lock itself. @public */
export function xeBoWrite(bo: XeBo, offset: bigint, data: Uint8Array): void {
  dmaResvLock(bo.resv);
  try {
    const mem = bo.kernel.platform.physmem;
    cpuAccess(bo, offset, data.length, (page, off, n, pos) => {
      const src = data.subarray(pos, pos + n);
      if (bo.memType === XE_PL_VRAM0) bo.xe.vram.write(xeBoVramPage(bo, page) * PAGE_SIZE + off, src);
      else if (bo.memType === XE_PL_TT) mem.write((BigInt(bo._tt!.pfns[page]!) << 12n) + BigInt(off), src);
      else (bo.swap ??= new SparseMemory()).write(page * PAGE_SIZE + off, src);
    });
  } finally {
    dmaResvUnlock(bo.resv);
  }
}
