// @dmabuf-sdk/map-iov: the IOV mapping type, the virtual link between an SR-IOV VF and its PF.
/**
 * The IOV mapping type of dmabuf-sdk: the virtual link between an SR-IOV
 * physical function and its virtual functions, as the forward model of the
 * mapping-types framework has it. A VF's exporter offers
 * `dmaBufEmappingIov(ops, vf, bar)`; the PF's importer offers
 * `dmaBufImappingIov(pf, bar)`; they match only when the importer is the
 * exporting VF's own PF and the BARs agree. The importer then gets the
 * buffer's CPU physical ranges inside the VF's BAR with
 * `dmaBufIovMapRanges()` — a typed list and a BAR number, no xarray, no
 * `dma_addr_t` — and translates them itself.
 *
 * @packageDocumentation
 */
export { dmaBufIovModule } from "./module.js";
export {
  dmaBufMappingIovType,
  dmaBufImappingIov,
  dmaBufEmappingIov,
  dmaBufAttachmentIsIov,
  dmaBufIovMatchData,
  dmaBufGetIovOps,
  dmaBufIovAllocRanges,
  dmaBufIovFreeRanges,
  rangeLen,
  type DmaBufIovRange,
  type DmaBufIovRanges,
  type DmaBufIovData,
  type DmaBufIovMatch,
  type DmaBufIovPhys,
  type DmaBufMappingIovExpOps,
} from "./dma-buf-mapping-iov.js";
export { dmaBufIovMapRanges, dmaBufIovUnmapRanges } from "./dma-buf-iov.js";
