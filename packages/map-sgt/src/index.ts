// @dmabuf-sdk/map-sgt: the SGT mapping type, DMA-mapped scatter-gather tables and the compat layer.
/**
 * The SGT mapping type of dmabuf-sdk: the DMA-mapped scatter-gather table,
 * its P2P rules, `dma_buf_phys_vec_to_sgt()`, the importer map helpers, and
 * the compatibility layer that lets exporters and importers not converted to
 * mapping types negotiate SGT.
 *
 * @packageDocumentation
 */
export { dmaBufSgtModule } from "./module.js";
export {
  SgTable,
  sgAllocTable,
  sgFreeTable,
  sgSetPage,
  sgPage,
  sgPhys,
  sgSetDma,
  sgDmaAddress,
  sgDmaLen,
  forEachSgtableDmaSg,
  sgtableDmaSize,
} from "./scatterlist.js";
export { dmaMapSgtable, dmaUnmapSgtable, sgtableIsMapped } from "./dma-mapping.js";
export {
  dmaBufMappingSgtType,
  dmaBufImappingSgt,
  dmaBufEmappingSgt,
  dmaBufEmappingSgtP2p,
  dmaBufSimpleSgtExpMatch,
  dmaBufSgtDmaDevice,
  dmaBufSgtP2pAllowed,
  dmaBufGetSgtOps,
  dmaBufSgtLegacyCompat,
  DMA_SGT_NO_P2P,
  DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE,
  DMA_SGT_IMPORTER_ACCEPTS_P2P,
  type DmaSgtRequiresP2p,
  type DmaBufSgtData,
  type DmaBufSgtMatch,
  type DmaBufMappingSgtExpOps,
} from "./sgt-mapping-type.js";
export {
  dmaBufSgtMapAttachment,
  dmaBufSgtUnmapAttachment,
  dmaBufSgtMapAttachmentUnlocked,
  dmaBufSgtUnmapAttachmentUnlocked,
  dmaBufMapAttachment,
  dmaBufUnmapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufUnmapAttachmentUnlocked,
} from "./sgt-map-attachment.js";
export { dmaBufPhysVecToSgt, dmaBufFreeSgt, dmaBufSgtRoute, type DmaBufSgtRoute } from "./phys-vec-to-sgt.js";
export { physVecColumns, isPhysVecColumns, type PhysVec, type PhysVecColumns, type PhysVecInput } from "./phys-vec.js";
export { compatExporterModule, compatExporterAlloc, compatExporterFixture, type CompatExporterBuffer } from "./compat/compat-exporter.js";
export {
  compatStaticImporterModule,
  compatDynamicImporterModule,
  CompatStaticImporter,
  CompatDynamicImporter,
  compatStaticImporterFixture,
  compatDynamicImporterFixture,
} from "./compat/compat-importers.js";
export { sgtCompatFixtures } from "./compat/fixture.js";
export { sgtDmaRead, sgtDmaWrite } from "./compat/sgt-importer-dma.js";
export { sgtableDmaAddressAt } from "./scatterlist.js";
