// drivers/dma-buf/dma-buf.c as Xu Yilun's RFC 01/12 (and the HACK of RFC 00/30 patch 01) changes it: dev-less attach and dma_buf_get_pfn_unlocked().
import {
  DmaBufAttachment,
  KernelError,
  dmaResvLock,
  dmaResvUnlock,
  type DmaBuf,
  type DmaBufAttachOps,
} from "@dmabuf-sdk/dmabuf-core";
import type { KvmPfnVersion } from "./kvm-version.js";

/** What `dma_buf_get_pfn_unlocked()` hands back. @public */
export interface DmaBufPfn {
  readonly pfn: bigint;
  /** `max_order`: the largest mapping the exporter allows at this page (VFIO: 0). */
  readonly maxOrder: number;
}

/**
 * `dma_buf_dynamic_attach(dmabuf, dev = NULL, importer_ops, priv)` as the RFC
 * allows it, or Simona Vetter's `dma_buf_pfn_attachment` (no device either).
 * No mapping type is negotiated (`attach.mapType` stays null). In order:
 * 1. `importer_ops` without `invalidate_mappings` (`move_notify`): WARN, `EINVAL`;
 * 2. v1: an exporter that can map (`map_dma_buf`; in the mapping-type core
 *    `match_mapping`/`single_exporter_match`) refuses a dev-less attach: WARN,
 *    `EINVAL`; v2 allows it; pfn-attachment: an exporter without `get_pfn`
 *    does not offer the access method: `EOPNOTSUPP`;
 * 3. allocation (`ENOMEM`); the exporter's `attach` (its errno);
 * 4. linked under the resv lock.
 * @public
 */
export function dmaBufPfnAttach(dmabuf: DmaBuf, importerOps: DmaBufAttachOps, importerPriv: unknown, version: KvmPfnVersion): DmaBufAttachment {
  const k = dmabuf.kernel;
  const op = version === "pfn-attachment" ? "dma_buf_pfn_attach" : "dma_buf_dynamic_attach";
  if (!importerOps.invalidateMappings) {
    k.warn(`${op}: dynamic importer without move_notify`);
    throw new KernelError("EINVAL", op, "importer_ops without invalidate_mappings");
  }
  const ops = dmabuf.ops;
  if (version === "yilun-v1" && (ops.mapDmaBuf || ops.matchMapping || ops.singleExporterMatch)) {
    k.warn(`${op}: attach without a device to an exporter with map_dma_buf`);
    throw new KernelError("EINVAL", op, "dev == NULL and the exporter can map");
  }
  if (version === "pfn-attachment" && !ops.getPfn) throw new KernelError("EOPNOTSUPP", op, `${dmabuf.expName} has no pfn access`);
  k.alloc.kzalloc("dma_buf_attachment");
  const attach = new DmaBufAttachment(k);
  attach.dmabuf = dmabuf;
  attach.importerOps = importerOps;
  attach.importerPriv = importerPriv;
  try {
    ops.attach?.(dmabuf, attach);
  } catch (e) {
    k.objects.untrack(attach);
    throw e;
  }
  dmaResvLock(dmabuf.resv);
  dmabuf.attachments.unshift(attach);
  dmaResvUnlock(dmabuf.resv);
  k.trace.emit("dma_buf_pfn_attach", { exp_name: dmabuf.expName, ino: dmabuf.ino, attach: attach.id, version });
  return attach;
}

/**
 * `dma_buf_get_pfn_unlocked(attach, pgoff, &pfn, &max_order)`: under the
 * buffer's resv lock (taken here: the caller holds nothing), the exporter's
 * `get_pfn`. `EINVAL` (WARN) for an attachment without a buffer or an
 * exporter without `get_pfn`; the exporter's errno (`ENODEV` revoked,
 * `EINVAL` out of range). The `CONFIG_DMABUF_MOVE_NOTIFY` step is gone in a
 * 7.x base (the option no longer exists). The pfn is unprotected once the
 * lock is dropped: KVM's invalidation sequence closes that window.
 * @public
 */
export function dmaBufGetPfnUnlocked(attach: DmaBufAttachment | null, pgoff: bigint): DmaBufPfn {
  const dmabuf = attach?.dmabuf;
  if (!attach || !dmabuf || !dmabuf.ops.getPfn) {
    attach?.kernel.warn("dma_buf_get_pfn_unlocked: no buffer or no get_pfn");
    throw new KernelError("EINVAL", "dma_buf_get_pfn_unlocked", "no get_pfn");
  }
  dmaResvLock(dmabuf.resv);
  try {
    return dmabuf.ops.getPfn(attach, pgoff);
  } finally {
    dmaResvUnlock(dmabuf.resv);
  }
}
