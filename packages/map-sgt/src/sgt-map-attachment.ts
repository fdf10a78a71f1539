// dma_buf_sgt_map_attachment() and its unlocked and legacy dma_buf_map_attachment() names.
import {
  KernelBug,
  KernelError,
  MAX_SCHEDULE_TIMEOUT,
  dmaBufAttachmentIsDynamic,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  type DmaBufAttachment,
  type DmaDataDirection,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufGetSgtOps } from "./sgt-mapping-type.js";
import type { SgTable } from "./scatterlist.js";

/** Static importers of an exporter that can pin are pinned for each mapping. */
function pinOnMap(attach: DmaBufAttachment): boolean {
  return !!attach.dmabuf!.ops.pin && !dmaBufAttachmentIsDynamic(attach);
}

/**
 * `dma_buf_sgt_map_attachment(attach, dir)` (before patch 17:
 * `dma_buf_map_attachment`). The caller holds the resv lock. In order:
 * 1. `EINVAL` (WARN) when the attachment is not an SGT attachment;
 * 2. the resv lock is asserted;
 * 3. a static importer of a pinnable exporter is pinned (its errno);
 * 4. the exporter's `map_dma_buf` (`ENOMEM` for NULL; its errno otherwise,
 *    unpinning first);
 * 5. a static importer waits for the KERNEL fences (unmapping and unpinning
 *    if the wait fails).
 * Every call reaches the exporter: there is no attachment-level cache.
 * @public
 */
export function dmaBufSgtMapAttachment(attach: DmaBufAttachment, dir: DmaDataDirection): SgTable {
  if (!attach) throw new KernelBug("oops", "BUG: kernel NULL pointer dereference in dma_buf_sgt_map_attachment");
  const sgtOps = dmaBufGetSgtOps(attach);
  const k = attach.kernel;
  k.lockdep.mightSleep("dma_buf_sgt_map_attachment");
  if (!attach.dmabuf || !sgtOps) {
    k.warn("dma_buf_sgt_map_attachment on a non-SGT attachment");
    throw new KernelError("EINVAL", "dma_buf_sgt_map_attachment", "not an SGT attachment");
  }
  const dmabuf = attach.dmabuf;
  dmaResvAssertHeld(dmabuf.resv, "dma_buf_sgt_map_attachment");
  const pin = pinOnMap(attach);
  if (pin) {
    try {
      dmabuf.ops.pin!(attach);
    } catch (e) {
      if (e instanceof KernelError && e.errno === "EBUSY") k.warnOnce("dma_buf_sgt_map_attachment:ebusy", "exporter refused a pin with -EBUSY");
      throw e;
    }
  }
  let sgt: SgTable | null;
  try {
    sgt = sgtOps.mapDmaBuf(attach, dir);
    if (!sgt) throw new KernelError("ENOMEM", "dma_buf_sgt_map_attachment", "map_dma_buf returned NULL");
  } catch (e) {
    if (pin) dmabuf.ops.unpin!(attach);
    throw e;
  }
  if (!dmaBufAttachmentIsDynamic(attach)) {
    const r = dmaResvWaitTimeout(dmabuf.resv, "DMA_RESV_USAGE_KERNEL", true, MAX_SCHEDULE_TIMEOUT);
    if (r < 0) {
      sgtOps.unmapDmaBuf(attach, sgt, dir);
      if (pin) dmabuf.ops.unpin!(attach);
      throw new KernelError("ERESTARTSYS", "dma_buf_sgt_map_attachment");
    }
  }
  k.trace.emit("dma_buf_map_attachment", { exp_name: dmabuf.expName, ino: dmabuf.ino, nents: sgt.nents, dynamic: !pin && dmaBufAttachmentIsDynamic(attach) });
  return sgt;
}

/**
 * `dma_buf_sgt_unmap_attachment(attach, sgt, dir)`: resv held (asserted);
 * gives the table back to the exporter and unpins a static importer.
 * NULL or non-SGT arguments WARN and return.
 * @public
 */
export function dmaBufSgtUnmapAttachment(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): void {
  const sgtOps = dmaBufGetSgtOps(attach);
  if (!attach || !attach.dmabuf || !sgt || !sgtOps) {
    attach?.kernel.warn("dma_buf_sgt_unmap_attachment: NULL or non-SGT argument");
    return;
  }
  dmaResvAssertHeld(attach.dmabuf.resv, "dma_buf_sgt_unmap_attachment");
  sgtOps.unmapDmaBuf(attach, sgt, dir);
  if (pinOnMap(attach)) attach.dmabuf.ops.unpin!(attach);
  attach.kernel.trace.emit("dma_buf_unmap_attachment", { exp_name: attach.dmabuf.expName, ino: attach.dmabuf.ino });
}

/** `dma_buf_sgt_map_attachment_unlocked()`: takes and releases the resv lock around the map. @public */
export function dmaBufSgtMapAttachmentUnlocked(attach: DmaBufAttachment, dir: DmaDataDirection): SgTable {
  if (!attach?.dmabuf) throw new KernelError("EINVAL", "dma_buf_sgt_map_attachment_unlocked");
  dmaResvLock(attach.dmabuf.resv);
  try {
    return dmaBufSgtMapAttachment(attach, dir);
  } finally {
    dmaResvUnlock(attach.dmabuf.resv);
  }
}

/** `dma_buf_sgt_unmap_attachment_unlocked()`. @public */
export function dmaBufSgtUnmapAttachmentUnlocked(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): void {
  if (!attach?.dmabuf) return;
  dmaResvLock(attach.dmabuf.resv);
  try {
    dmaBufSgtUnmapAttachment(attach, sgt, dir);
  } finally {
    dmaResvUnlock(attach.dmabuf.resv);
  }
}

/** `dma_buf_map_attachment()`: the name unconverted importers still call (patch 17 renamed it). @public */
export const dmaBufMapAttachment = dmaBufSgtMapAttachment;
/** `dma_buf_unmap_attachment()`: the pre-patch-18 name. @public */
export const dmaBufUnmapAttachment = dmaBufSgtUnmapAttachment;
/** `dma_buf_map_attachment_unlocked()`: the pre-patch-17 name. @public */
export const dmaBufMapAttachmentUnlocked = dmaBufSgtMapAttachmentUnlocked;
/** `dma_buf_unmap_attachment_unlocked()`: the pre-patch-18 name. @public */
export const dmaBufUnmapAttachmentUnlocked = dmaBufSgtUnmapAttachmentUnlocked;
