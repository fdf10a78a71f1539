// drivers/gpu/drm/xe/xe_bo.c xe_bo_move_dmabuf(): an imported BO's map through the IOV or SGT path.
import {
  KernelError,
  PAGE_SIZE,
  hex,
  isKernelError,
  pciIovVfId,
  pciPhysfn,
  pfnDown,
  dmaResvAssertHeld,
  type Errno,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufAttachmentIsIov, dmaBufIovMapRanges, dmaBufIovMatchData, dmaBufIovUnmapRanges, rangeLen, type DmaBufIovRanges } from "@dmabuf-sdk/map-iov";
import { dmaBufSgtMapAttachment, dmaBufSgtUnmapAttachment } from "@dmabuf-sdk/map-sgt";
import { XE_PL_SYSTEM, XE_PL_TT, xeBoPut, xeBoVramPage, type DrmPagemapAddr, type XeBo, type XeMemType } from "./xe-bo.js";
import { LMEM_BAR, XE_PAGE_SIZE } from "./xe-device.js";
import { xeDeviceIsSriovPf, xeGtSriovPfConfigGetLmemObj } from "./xe-gt-sriov-pf-config.js";

/**
 * Thrown (errno `EAGAIN`) by the locked map path when the IOV path failed
 * and the import must be re-attached offering SGT only, which cannot be done
 * under the resv lock; the unlocked caller re-attaches and retries.
 * @public
 */
export class XeIovFallbackNeeded extends KernelError {
  constructor(
    /** What failed on the IOV path. */
    readonly iovError: KernelError,
  ) {
    super("EAGAIN", "xe_bo_move_dmabuf", `IOV unusable (${iovError.message}): re-attach with SGT`, { cause: iovError });
  }
}

/**
 * `xe_bo_find_vf_dev()` (patch 5/8): the first VF on the PF's bus whose
 * `LMEM_BAR` contains `addr`. The posted bound `start < bar_start + bar_len
 * - PAGE_SIZE` left the BAR's last page out; the whole BAR counts here.
 * @public
 */
export function xeFindVfDev(pf: PciDev, addr: bigint): PciDev | null {
  for (const d of pf.bus.devices) {
    if (!d.isVirtfn) continue;
    const bar = d.bars[LMEM_BAR];
    if (bar && bar.type === "mem" && addr >= bar.start && addr < bar.start + bar.size) return d;
  }
  return null;
}

/** Largest power-of-two number of pages that is at most `pages`. */
function orderOf(pages: number): number {
  return 31 - Math.clz32(pages);
}

/** The PF's same-VF check of one address: the VF whose LMEM BAR holds it, or the errno. */
function checkAddr(bo: XeBo, exporting: PciDev, addr: bigint): { vf: PciDev } | { errno: Errno; why: string } {
  const xe = bo.xe;
  if (bo.kernel.platform.physmem.pageIsRam(pfnDown(addr))) return { errno: "EINVAL", why: `${hex(addr)} is system RAM` };
  const vf = xeFindVfDev(xe.pdev, addr);
  if (!vf) return { errno: "EINVAL", why: `${hex(addr)} is in no VF's LMEM BAR` };
  const vfid = pciIovVfId(vf);
  // The posted check compares VF indexes only; the VF of another PF on the same bus with the same index would pass.
  if (vfid < 0 || pciPhysfn(vf) !== xe.pdev || vfid !== pciIovVfId(exporting)) {
    return { errno: "EPERM", why: `${hex(addr)} is in the LMEM BAR of ${vf.name}, not of the exporting ${exporting.name}` };
  }
  return { vf };
}

/**
 * `xe_bo_translate_io_addr_to_dpa(ranges, bo)` (patch 7/8): the PF turns the
 * VF's BAR ranges into device physical addresses inside that VF's own LMEM
 * quota, and stores them in `bo->dma_data` with the reference on the LMEM
 * object. In order:
 * 1. not in SR-IOV PF mode: `EINVAL`;
 * 2. the address array (`kvmalloc`): `ENOMEM`;
 * 3. for each range, in order: its first and last byte must not be system
 *    RAM (`EINVAL`), must lie in some VF's LMEM BAR (`EINVAL`), and that VF
 *    must be the one that exported the buffer (`EPERM`: a VF cannot point the
 *    PF at another VF's memory); on the first range the VF's LMEM object is
 *    taken (`xe_gt_sriov_pf_config_get_lmem_obj(vfid + 1)`, none: `EINVAL`);
 *    the range must be page aligned and lie inside the quota (`EINVAL`); its
 *    bytes become entries of `PAGE_SIZE << order` bytes, each contiguous in
 *    VRAM;
 * 4. the ranges must add up to the buffer's size (`EINVAL`).
 * On failure the array is freed and the LMEM reference dropped.
 * @public
 */
export function xeBoTranslateIoAddrToDpa(ranges: DmaBufIovRanges, bo: XeBo): void {
  const op = "xe_bo_translate_io_addr_to_dpa";
  const xe = bo.xe;
  const k = bo.kernel;
  const attach = bo.import?.attach ?? null;
  const exporting = dmaBufIovMatchData(attach)?.dev;
  if (!xeDeviceIsSriovPf(xe)) throw new KernelError("EINVAL", op, `${xe.pdev.name} is not in SR-IOV PF mode`);
  if (!exporting) throw new KernelError("EINVAL", op, "not an IOV attachment");
  k.alloc.kvmalloc("drm_pagemap_addr");
  const dmaAddr: DrmPagemapAddr[] = [];
  let lmemObj: XeBo | null = null;
  try {
    for (const r of ranges.ranges) {
      const first = checkAddr(bo, exporting, r.start);
      if ("errno" in first) throw new KernelError(first.errno, op, first.why);
      const last = checkAddr(bo, exporting, r.end);
      if ("errno" in last) throw new KernelError(last.errno, op, `range end: ${last.why}`);
      const vf = first.vf;
      if (!lmemObj) {
        lmemObj = xeGtSriovPfConfigGetLmemObj(xe, pciIovVfId(vf) + 1);
        if (!lmemObj) throw new KernelError("EINVAL", op, `VF${pciIovVfId(vf) + 1} has no LMEM provisioned`);
      }
      const bar = vf.bars[LMEM_BAR]!;
      const offset = r.start - bar.start;
      const len = rangeLen(r);
      const page = BigInt(XE_PAGE_SIZE);
      if (offset % page !== 0n || len % page !== 0n) throw new KernelError("EINVAL", op, `range ${hex(r.start)}-${hex(r.end)} is not page aligned`);
      if (offset + len > lmemObj.size) throw new KernelError("EINVAL", op, `range ${hex(r.start)}-${hex(r.end)} beyond the VF's ${lmemObj.size >> 20n} MiB LMEM`);
      // Entries of 2^order pages, each contiguous in VRAM.
      let p = Number(offset / page);
      let left = Number(len / page);
      while (left > 0) {
        const vramPage = xeBoVramPage(lmemObj, p);
        let run = 1;
        while (run < left && xeBoVramPage(lmemObj, p + run) === vramPage + run) run++;
        const order = orderOf(run);
        dmaAddr.push({ addr: xe.vram.dpaBase + BigInt(vramPage) * BigInt(PAGE_SIZE), proto: "XE_INTERCONNECT_VRAM", order, dir: "DMA_BIDIRECTIONAL" });
        p += 1 << order;
        left -= 1 << order;
      }
    }
    // Not in the posted code: the ranges must cover the buffer, or a bind would walk off the array.
    const total = ranges.ranges.reduce((a, r) => a + rangeLen(r), 0n);
    if (total !== bo.size) throw new KernelError("EINVAL", op, `ranges cover ${total} bytes of a ${bo.size}-byte buffer`);
  } catch (e) {
    xeBoPut(lmemObj);
    throw e;
  }
  bo.dmaData.dmaAddr = dmaAddr;
  bo.dmaData.lmemObj = lmemObj;
  k.objects.track("drm_pagemap_addr", dmaAddr, () => `${dmaAddr.length} translated DPA entries of xe_bo ${bo.name}`);
}

/** Drops `bo->dma_data`: the DPA array and the LMEM object reference. */
function releaseDmaData(bo: XeBo): void {
  const { dmaAddr, lmemObj } = bo.dmaData;
  if (dmaAddr) bo.kernel.objects.untrack(dmaAddr);
  bo.dmaData.dmaAddr = null;
  bo.dmaData.lmemObj = null;
  xeBoPut(lmemObj);
}

/**
 * `xe_bo_move_dmabuf()` (resv held, asserted): moves an imported BO to
 * `newMem`. First whatever is mapped is given back (the SGT, or the IOV
 * ranges with the translated addresses and the LMEM reference). To
 * `XE_PL_SYSTEM` that is all. To `XE_PL_TT`:
 * - over IOV: map the ranges and translate them; a failure of either gives
 *   back what was taken, records the sticky fallback and throws
 *   {@link XeIovFallbackNeeded} (`EAGAIN`) for the unlocked caller to
 *   re-attach with SGT only;
 * - over SGT: `dma_buf_sgt_map_attachment()`; its error is the move's.
 * @public
 */
export function xeBoMoveDmabuf(bo: XeBo, newMem: XeMemType): void {
  dmaResvAssertHeld(bo.resv, "xe_bo_move_dmabuf");
  const imp = bo.import!;
  for (const vma of bo.vmas) vma.zap();
  if (imp.sg) {
    dmaBufSgtUnmapAttachment(imp.attach!, imp.sg, "DMA_BIDIRECTIONAL");
    imp.sg = null;
  }
  if (imp.ranges) {
    dmaBufIovUnmapRanges(imp.attach!, imp.ranges);
    imp.ranges = null;
  }
  releaseDmaData(bo);
  bo.memType = XE_PL_SYSTEM;
  if (newMem === XE_PL_SYSTEM) return;

  const attach = imp.attach;
  if (!attach) throw new KernelError("EAGAIN", "xe_bo_move_dmabuf", "no attachment: re-attach first");
  if (dmaBufAttachmentIsIov(attach)) {
    let ranges: DmaBufIovRanges;
    try {
      ranges = dmaBufIovMapRanges(attach);
    } catch (e) {
      throw fallback(bo, e);
    }
    try {
      xeBoTranslateIoAddrToDpa(ranges, bo);
    } catch (e) {
      dmaBufIovUnmapRanges(attach, ranges);
      throw fallback(bo, e);
    }
    imp.ranges = ranges;
  } else {
    imp.sg = dmaBufSgtMapAttachment(attach, "DMA_BIDIRECTIONAL");
  }
  bo.memType = XE_PL_TT;
}

function fallback(bo: XeBo, e: unknown): unknown {
  if (!isKernelError(e)) return e;
  bo.import!.iovFallback = { errno: e.errno, operation: e.operation };
  bo.kernel.printk.info(`xe ${bo.xe.pdev.name}: [drm] dma-buf import ${bo.name}: IOV failed (${e.message}), falling back to SGT`);
  bo.kernel.trace.emit("xe_iov_fallback", { bo: bo.id, errno: e.errno, op: e.operation });
  return new XeIovFallbackNeeded(e);
}
