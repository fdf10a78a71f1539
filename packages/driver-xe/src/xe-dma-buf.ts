// drivers/gpu/drm/xe/xe_dma_buf.c: the Xe dma-buf exporter and importer (VRAM as BAR ranges, SGT, IOV).
import {
  KernelError,
  PAGE_SIZE,
  dmaBufDetach,
  dmaBufExport,
  dmaBufMappingAttach,
  dmaBufMatchMapping,
  dmaBufPut,
  dmaResvLock,
  dmaResvUnlock,
  getDmaBuf,
  pcimP2pdmaProvider,
  type DmaBuf,
  type DmaBufAttachOps,
  type DmaBufAttachment,
  type DmaBufMappingMatch,
  type DmaBufOps,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingIov } from "@dmabuf-sdk/map-iov";
import {
  dmaBufEmappingSgt,
  dmaBufEmappingSgtP2p,
  dmaBufFreeSgt,
  dmaBufImappingSgt,
  dmaBufPhysVecToSgt,
  dmaBufSgtDmaDevice,
  dmaBufSgtP2pAllowed,
  dmaBufSgtRoute,
  dmaMapSgtable,
  dmaUnmapSgtable,
  sgAllocTable,
  sgFreeTable,
  sgSetPage,
  type DmaBufMappingSgtExpOps,
  physVecColumns,
  type PhysVecColumns,
  type SgTable,
} from "@dmabuf-sdk/map-sgt";
import { XE_PL_SYSTEM, XE_PL_TT, XE_PL_VRAM0, XeBo, xeBoEvict, xeBoGet, xeBoMigrate, xeBoPin, xeBoPut, xeBoUnpin, xeBoValidate } from "./xe-bo.js";
import { XeIovFallbackNeeded, xeBoMoveDmabuf } from "./xe-bo-move-dmabuf.js";
import { LMEM_BAR, type XeDevice } from "./xe-device.js";
import { xeGemPrimeMmap } from "./xe-bo-vm.js";

// ---- exporter --------------------------------------------------------------------

function boOf(attach: DmaBufAttachment): XeBo {
  return attach.dmabuf!.priv as XeBo;
}

/** The BO's VRAM as CPU physical ranges of the LMEM BAR (adjacent blocks merged), in columns. */
function lmemPhysVec(bo: XeBo): PhysVecColumns {
  const base = bo.xe.lmemBar.start;
  const out: { paddr: bigint; len: bigint }[] = [];
  for (const b of bo.vram!) {
    const paddr = base + BigInt(b.start) * BigInt(PAGE_SIZE);
    const len = BigInt(b.pages) * BigInt(PAGE_SIZE);
    const last = out[out.length - 1];
    if (last && last.paddr + last.len === paddr) last.len += len;
    else out.push({ paddr, len });
  }
  return physVecColumns(out);
}

/**
 * `xe_dma_buf_map()` (resv held): an importer that may not do P2P gets the
 * BO migrated to system memory (`XE_PL_TT`) and a page-backed table mapped for
 * its device; one that may (the `SGT_P2P` entry matched) gets the BO
 * validated (back into VRAM if it was evicted) and, in VRAM, the LMEM BAR
 * ranges through `dma_buf_phys_vec_to_sgt()` (bus addresses or an IOVA).
 * A pinned BO is not moved; pinned in VRAM it cannot serve a non-P2P
 * importer (`EINVAL`, as the pin refuses it).
 */
function xeDmaBufMap(attach: DmaBufAttachment, dir: Parameters<DmaBufMappingSgtExpOps["mapDmaBuf"]>[1]): SgTable {
  const bo = boOf(attach);
  const p2p = dmaBufSgtP2pAllowed(attach);
  if (!bo.pinned) {
    if (!p2p) xeBoMigrate(bo, XE_PL_TT);
    else xeBoValidate(bo);
  }
  const dev = dmaBufSgtDmaDevice(attach)!;
  switch (bo.memType) {
    case XE_PL_TT: {
      const sgt = sgAllocTable(attach.kernel, bo.npages);
      bo.ttPfns!.forEach((pfn, i) => sgSetPage(sgt, i, pfn, PAGE_SIZE, 0));
      try {
        dmaMapSgtable(dev, sgt, dir, 0);
      } catch (e) {
        sgFreeTable(sgt);
        throw e;
      }
      return sgt;
    }
    case XE_PL_VRAM0: {
      if (!p2p) throw new KernelError("EINVAL", "xe_dma_buf_map", `${bo.name} is pinned in VRAM and ${dev.name} cannot do P2P`);
      const vec = lmemPhysVec(bo);
      return dmaBufPhysVecToSgt(attach, pcimP2pdmaProvider(bo.xe.pdev, LMEM_BAR), vec, vec.paddr.length, bo.size, dir);
    }
    default:
      throw new KernelError("EINVAL", "xe_dma_buf_map", `${bo.name} is not populated`);
  }
}

/** `xe_dma_buf_unmap()` (resv held). */
function xeDmaBufUnmap(attach: DmaBufAttachment, sgt: SgTable, dir: Parameters<DmaBufMappingSgtExpOps["unmapDmaBuf"]>[2]): void {
  if (dmaBufSgtRoute(sgt) !== undefined) {
    dmaBufFreeSgt(attach, sgt, dir);
    return;
  }
  dmaUnmapSgtable(dmaBufSgtDmaDevice(attach)!, sgt, dir, 0);
  sgFreeTable(sgt);
}

const xeDmaBufSgtOps: DmaBufMappingSgtExpOps = { mapDmaBuf: xeDmaBufMap, unmapDmaBuf: xeDmaBufUnmap };

/**
 * `xe_dmabuf_ops`. `match_mapping` (mapping types 10-11/26) offers, in
 * priority order, `SGT_P2P(pdev)` when the BO may live in VRAM, then plain
 * `SGT` when it may live in system memory (`xe_bo_can_migrate(bo, XE_PL_TT)`).
 * `pin` (`xe_dma_buf_pin()` with "Allow pinning of p2p dma-buf"): when the
 * P2P entry matched the BO is validated and pinned where it lands (VRAM);
 * otherwise it is migrated to system memory and pinned in place; a BO
 * already pinned elsewhere than TT (or than VRAM for a P2P importer) is
 * refused with `EINVAL`.
 * @public
 */
export const xeDmabufOps: DmaBufOps<XeBo> = {
  mmap: xeGemPrimeMmap,
  matchMapping(args) {
    const bo = args.dmabuf.priv as XeBo;
    const offers: DmaBufMappingMatch[] = [];
    if (bo.placements.includes(XE_PL_VRAM0)) offers.push(dmaBufEmappingSgtP2p(xeDmaBufSgtOps, bo.xe.pdev));
    if (bo.placements.includes(XE_PL_TT)) offers.push(dmaBufEmappingSgt(xeDmaBufSgtOps));
    dmaBufMatchMapping(args, offers);
  },
  pin(attach) {
    const bo = boOf(attach);
    const allowVram = dmaBufSgtP2pAllowed(attach);
    if (bo.pinned && bo.memType !== XE_PL_TT && !(bo.memType === XE_PL_VRAM0 && allowVram)) {
      throw new KernelError("EINVAL", "xe_dma_buf_pin", `can't migrate pinned ${bo.name} for dma-buf pin`);
    }
    if (!allowVram) xeBoMigrate(bo, XE_PL_TT);
    xeBoPin(bo, !allowVram);
  },
  unpin(attach) {
    xeBoUnpin(boOf(attach));
  },
  release(dmabuf) {
    const bo = dmabuf.priv;
    bo.dmaBuf = null;
    xeBoPut(bo);
  },
};

/**
 * `xe_gem_prime_export()`: the BO as a dma-buf sharing the BO's reservation
 * object (the dma-buf holds a BO reference). A BO already exported returns
 * the same dma-buf with a new reference, as `obj->dma_buf` does; an imported
 * BO re-exports the dma-buf it came from. `exp_name` is `"drm"`: Xe exports
 * through `drm_gem_prime_export()`, whose `KBUILD_MODNAME` is drm's; the
 * owner is the xe module.
 * @public
 */
export function xeGemPrimeExport(bo: XeBo, flags: number): DmaBuf {
  if (bo.import) {
    getDmaBuf(bo.import.dmabuf);
    return bo.import.dmabuf;
  }
  if (bo.dmaBuf) {
    getDmaBuf(bo.dmaBuf);
    return bo.dmaBuf;
  }
  xeBoGet(bo);
  let dmabuf: DmaBuf<XeBo>;
  try {
    dmabuf = dmaBufExport(bo.kernel, { owner: bo.xe.module, expName: "drm", ops: xeDmabufOps, size: bo.size, flags, resv: bo.resv, priv: bo });
  } catch (e) {
    xeBoPut(bo);
    throw e;
  }
  bo.dmaBuf = dmabuf;
  return dmabuf;
}

// ---- importer --------------------------------------------------------------------

/**
 * `xe_dma_buf_move_notify()`, the importer's `invalidate_mappings` (resv held
 * by the exporter): evicts the imported BO, which zaps its GPU bindings and
 * gives back its SGT or its IOV ranges, translated addresses and LMEM
 * reference. The next use maps again.
 */
function xeDmaBufMoveNotify(attach: DmaBufAttachment): void {
  xeBoEvict(attach.importerPriv as XeBo);
}

/** `xe_dma_buf_attach_ops`: a dynamic importer that accepts P2P. @public */
export const xeDmaBufAttachOps: DmaBufAttachOps = {
  allowPeer2peer: true,
  invalidateMappings: xeDmaBufMoveNotify,
};

/**
 * What Xe offers as an importer: `[IOV(pf, LMEM_BAR), SGT(dev, ACCEPTS_P2P)]`,
 * or SGT alone once the IOV path failed for this import.
 * @public
 */
export function xeDmaBufImporterMatches(xe: XeDevice, iov: boolean): DmaBufMappingMatch[] {
  return [...(iov ? [dmaBufImappingIov(xe.pdev, LMEM_BAR)] : []), dmaBufImappingSgt(xe.pdev, true)];
}

/**
 * `xe_gem_prime_import()`: a buffer of this very device comes back as the
 * same BO (a new reference). Anything else becomes a `ttm_bo_type_sg` BO
 * sharing the dma-buf's reservation object, dynamically attached with
 * {@link xeDmaBufImporterMatches}; it holds a dma-buf reference. Nothing is
 * mapped until the BO is validated (bound, or `xeBoLockAndValidate()`).
 * @throws KernelError the attach errno (`EINVAL`: nothing in common), `ENOMEM`.
 * @public
 */
export function xeGemPrimeImport(xe: XeDevice, dmabuf: DmaBuf): XeBo {
  if (dmabuf.ops === (xeDmabufOps as DmaBufOps)) {
    const own = dmabuf.priv as XeBo;
    if (own.xe === xe) return xeBoGet(own);
  }
  const k = xe.kernel;
  if (dmabuf.size % BigInt(PAGE_SIZE) !== 0n) throw new KernelError("EINVAL", "xe_gem_prime_import", `size ${dmabuf.size} is not page aligned`);
  k.alloc.kzalloc("xe_bo");
  const bo = new XeBo(xe, dmabuf.size, { placements: [XE_PL_TT], type: "ttm_bo_type_sg", resv: dmabuf.resv, name: `import-ino${dmabuf.ino}` });
  xe.bos.add(bo);
  let attach: DmaBufAttachment;
  try {
    attach = dmaBufMappingAttach(dmabuf, xeDmaBufImporterMatches(xe, true), xeDmaBufAttachOps, bo);
  } catch (e) {
    xe.bos.delete(bo);
    k.objects.untrack(bo);
    throw e;
  }
  getDmaBuf(dmabuf);
  bo.import = { dmabuf, attach, lastAttach: attach, sg: null, ranges: null, iovFallback: null };
  bo.memType = XE_PL_SYSTEM;
  return bo;
}

/**
 * The sticky fallback's second half, unlocked: the IOV attachment (if any)
 * is detached and the import attaches again offering only
 * `SGT(dev, ACCEPTS_P2P)` (under mapping types an attachment has one
 * negotiated type, and `dma_buf_mapping_attach()` must not run under the
 * resv lock). @throws KernelError the attach errno; the import then has no
 * attachment until the next try.
 * @public
 */
export function xeDmaBufReattach(bo: XeBo): void {
  const imp = bo.import!;
  const old = imp.attach;
  imp.attach = null;
  if (old) dmaBufDetach(imp.dmabuf, old);
  const attach = dmaBufMappingAttach(imp.dmabuf, xeDmaBufImporterMatches(bo.xe, imp.iovFallback === null), xeDmaBufAttachOps, bo);
  imp.attach = attach;
  imp.lastAttach = attach;
}

/**
 * Takes the BO's resv lock and validates it (`drm_exec` lock + `xe_bo_validate()`),
 * returning with the lock held. For an import whose IOV path just failed it
 * drops the lock, re-attaches with SGT only ({@link xeDmaBufReattach}) and
 * tries once more. @throws KernelError the validate errno (lock released).
 * @public
 */
export function xeBoLockAndValidate(bo: XeBo): void {
  for (let attempt = 0; ; attempt++) {
    if (bo.import && !bo.import.attach) xeDmaBufReattach(bo);
    dmaResvLock(bo.resv);
    try {
      xeBoValidate(bo);
      return;
    } catch (e) {
      dmaResvUnlock(bo.resv);
      if (!(e instanceof XeIovFallbackNeeded) || attempt > 0) throw e;
    }
    xeDmaBufReattach(bo);
  }
}

/** {@link xeBoLockAndValidate}, then unlocks: maps an imported BO (or places a device BO) now. @public */
export function xeBoValidateUnlocked(bo: XeBo): void {
  xeBoLockAndValidate(bo);
  dmaResvUnlock(bo.resv);
}

/** Whether an imported BO holds a mapping (SGT, or IOV ranges with translated addresses). @public */
export function xeDmaBufImportMapped(bo: XeBo): boolean {
  return !!bo.import && (bo.import.sg !== null || bo.dmaData.dmaAddr !== null);
}

/** @internal Last put of an imported BO: unmap under resv, detach, drop the dma-buf reference. */
export function xeDmaBufImportRelease(bo: XeBo): void {
  const imp = bo.import!;
  dmaResvLock(bo.resv);
  try {
    xeBoMoveDmabuf(bo, XE_PL_SYSTEM);
  } finally {
    dmaResvUnlock(bo.resv);
  }
  try {
    if (imp.attach) dmaBufDetach(imp.dmabuf, imp.attach);
    imp.attach = null;
  } finally {
    dmaBufPut(imp.dmabuf);
  }
}
