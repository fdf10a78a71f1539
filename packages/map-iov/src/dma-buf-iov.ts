// dma_buf_iov_map_ranges(): the exporter's BAR ranges of an IOV attachment, mapped and unmapped.
import { KernelError, dmaBufAttachmentIsDynamic, dmaResvAssertHeld, type DmaBufAttachment } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufAttachmentIsIov, dmaBufGetIovOps, dmaBufIovMatchData, type DmaBufIovRanges } from "./dma-buf-mapping-iov.js";

/**
 * `dma_buf_iov_map_ranges(attach)`: the exporter's BAR ranges of an IOV
 * attachment, the typed successor of RFC v2's `dma_buf_map_interconnect()`.
 * Checks, in RFC v2's order with the mapping-type rules:
 * 1. no attachment or no dma-buf: WARN, `EINVAL` (checked before use; the
 *    posted code dereferenced `attach->dmabuf` first);
 * 2. the attachment did not negotiate IOV: WARN, `EINVAL` (RFC v2 answered
 *    `-EOPNOTSUPP` from `allow_ic`; under mapping types calling one type's
 *    map on another type's attachment is a driver bug, as for SGT and PAL);
 *    an exporter whose IOV ops lack `mapRanges` or `unmapRanges`: WARN, `EINVAL`;
 * 3. the resv lock is held (asserted);
 * 4. the attachment is not dynamic: `EINVAL` (mapping types other than SGT
 *    require the dynamic importer flow);
 * 5. the exporter's `mapRanges` (its errno; `null` is `ENOMEM`);
 * 6. a list for another BAR than the one matched: WARN, the list is given
 *    back, `EINVAL`.
 * The importer gives the list back with {@link dmaBufIovUnmapRanges}.
 * @public
 */
export function dmaBufIovMapRanges(attach: DmaBufAttachment): DmaBufIovRanges {
  if (!attach?.dmabuf) {
    attach?.kernel.warn("dma_buf_iov_map_ranges: NULL attachment or dma-buf");
    throw new KernelError("EINVAL", "dma_buf_iov_map_ranges", "no attachment");
  }
  const k = attach.kernel;
  const ops = dmaBufGetIovOps(attach);
  if (!dmaBufAttachmentIsIov(attach) || !ops) {
    k.warn("dma_buf_iov_map_ranges on a non-IOV attachment");
    throw new KernelError("EINVAL", "dma_buf_iov_map_ranges", `negotiated ${attach.mapType?.type.name ?? "nothing"}`);
  }
  // WARN_ON(!ops->map_ranges || !ops->unmap_ranges): an exporter offering IOV without its ops.
  if (typeof ops.mapRanges !== "function" || typeof ops.unmapRanges !== "function") {
    k.warn(`dma_buf_iov_map_ranges: ${attach.dmabuf.expName} offers IOV without map_ranges/unmap_ranges`);
    throw new KernelError("EINVAL", "dma_buf_iov_map_ranges", "exporter has no map_ranges/unmap_ranges");
  }
  const dmabuf = attach.dmabuf;
  dmaResvAssertHeld(dmabuf.resv, "dma_buf_iov_map_ranges");
  if (!dmaBufAttachmentIsDynamic(attach)) throw new KernelError("EINVAL", "dma_buf_iov_map_ranges", "static attachment");
  const ranges = ops.mapRanges(attach);
  if (!ranges) throw new KernelError("ENOMEM", "dma_buf_iov_map_ranges", "map_ranges returned NULL");
  const bar = dmaBufIovMatchData(attach)!.bar;
  if (ranges.barNumber !== bar || ranges.nranges !== ranges.ranges.length) {
    k.warn(`${dmabuf.expName}: map_ranges returned ${ranges.nranges} range(s) of BAR${ranges.barNumber}, matched BAR${bar}`);
    ops.unmapRanges(attach, ranges);
    throw new KernelError("EINVAL", "dma_buf_iov_map_ranges", "ranges of another BAR");
  }
  k.trace.emit("dma_buf_iov_map_ranges", { exp_name: dmabuf.expName, ino: dmabuf.ino, attach: attach.id, bar, nranges: ranges.nranges });
  return ranges;
}

/**
 * `dma_buf_iov_unmap_ranges(attach, ranges)`: gives a list from
 * {@link dmaBufIovMapRanges} back to the exporter; the importer must not use
 * the addresses, or anything derived from them, afterwards. Resv held
 * (asserted). A NULL or non-IOV argument, or an exporter without
 * `unmapRanges`, WARNs and returns. Unlike RFC v2's
 * `dma_buf_unmap_interconnect()`, which returned early (leaking the list)
 * once `allow_ic` had been cleared, the list always reaches the exporter.
 * @public
 */
export function dmaBufIovUnmapRanges(attach: DmaBufAttachment, ranges: DmaBufIovRanges): void {
  const ops = dmaBufGetIovOps(attach);
  if (!attach?.dmabuf || !ranges || !ops) {
    attach?.kernel.warn("dma_buf_iov_unmap_ranges: NULL or non-IOV argument");
    return;
  }
  if (typeof ops.unmapRanges !== "function") {
    attach.kernel.warn(`dma_buf_iov_unmap_ranges: ${attach.dmabuf.expName} has no unmap_ranges`);
    return;
  }
  dmaResvAssertHeld(attach.dmabuf.resv, "dma_buf_iov_unmap_ranges");
  ops.unmapRanges(attach, ranges);
  attach.kernel.trace.emit("dma_buf_iov_unmap_ranges", { exp_name: attach.dmabuf.expName, ino: attach.dmabuf.ino, attach: attach.id });
}
