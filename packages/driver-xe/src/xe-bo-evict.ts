// xe_bo_pci_dev_remove_all(): what a removed Xe device does with its buffer objects (drivers/gpu/drm/xe/xe_bo_evict.c).
import { MAX_SCHEDULE_TIMEOUT, dmaBufInvalidateMappings, unmapMappingRange, dmaResvLock, dmaResvUnlock, dmaResvWaitTimeout } from "@dmabuf-sdk/dmabuf-core";
import { XE_PL_SYSTEM, XE_PL_TT, XE_PL_VRAM0, xeBoEvict, xeBoMove, xeBoMoveNotify, xeBoPurge, type XeBo } from "./xe-bo.js";
import type { XeDevice } from "./xe-device.js";

/** What happened to one BO at removal. @public */
export type XeBoRemoveOutcome = "moved-to-system" | "mappings-removed" | "purged" | "unmapped" | "untouched";

/**
 * `xe_bo_pci_dev_remove_all()`: before the device's memory goes away, DMA
 * other devices already have in flight into a BO (the fences in its
 * reservation object) is waited for; then exported BOs move to system
 * memory (their importers are invalidated and map the new pages on next
 * use: "as long as the exporter's buffer exists"), pinned exported BOs have
 * their importers' mappings removed, imported BOs drop their mappings (the
 * exporter keeps its buffer), and every other device BO is purged. Returns
 * what happened to each BO.
 * @public
 */
export function xeBoPciDevRemoveAll(xe: XeDevice): Map<XeBo, XeBoRemoveOutcome> {
  const out = new Map<XeBo, XeBoRemoveOutcome>();
  xe.vramGone = true;
  for (const bo of [...xe.bos]) {
    dmaResvLock(bo.resv);
    try {
      if (bo.type === "ttm_bo_type_sg") {
        out.set(bo, xeBoEvict(bo) === "unmap" ? "unmapped" : "untouched");
        continue;
      }
      if (bo.memType === XE_PL_SYSTEM && !bo.dmaBuf) {
        out.set(bo, "untouched");
        continue;
      }
      dmaResvWaitTimeout(bo.resv, "DMA_RESV_USAGE_BOOKKEEP", false, MAX_SCHEDULE_TIMEOUT);
      if (bo.dmaBuf) {
        if (bo.pinned) {
          dmaBufInvalidateMappings(bo.dmaBuf);
          unmapMappingRange(bo.kernel, bo.dmaBuf.file, 0n, bo.size);
          out.set(bo, "mappings-removed");
        } else {
          // Out of VRAM into system pages; pages already in system memory lose this device's DMA
          // mapping of them either way, so the importers hear about it too.
          if (bo.memType === XE_PL_VRAM0) xeBoMove(bo, XE_PL_TT);
          else xeBoMoveNotify(bo);
          out.set(bo, "moved-to-system");
        }
      } else if (!bo.pinned) {
        xeBoPurge(bo);
        out.set(bo, "purged");
      } else {
        out.set(bo, "untouched");
      }
    } finally {
      dmaResvUnlock(bo.resv);
    }
  }
  return out;
}
