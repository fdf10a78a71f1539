// @dmabuf-sdk/map-pal: the PAL (physical address list) mapping type, phys_vec ranges of the exporter.
/**
 * The PAL (physical address list) mapping type of dmabuf-sdk: the exporter
 * hands out the CPU physical ranges of its MMIO, for importers that build
 * their own IOMMU page tables. `dma_buf_pal_map_phys()` is exported only to
 * the module named `iommufd` (`EXPORT_SYMBOL_FOR_MODULES`) and is reachable
 * only through the module loader, never from this entry point.
 *
 * @packageDocumentation
 */
export { dmaBufPalModule, dmaBufPalModuleBuild, DMA_BUF_PAL_IMPORTERS } from "./module.js";
export {
  dmaBufMappingPalType,
  dmaBufImappingPal,
  dmaBufEmappingPal,
  dmaBufAttachmentIsPal,
  dmaBufPalUnmapPhys,
  DMA_BUF_PAL_MAP_PHYS,
  DMA_BUF_PAL_UNMAP_PHYS,
  DMA_BUF_MAPPING_PAL_TYPE,
  type DmaBufPhysVec,
  type DmaBufPhysList,
  type DmaBufMappingPalExpOps,
  type DmaBufPalMapPhys,
} from "./dma-buf-mapping-pal.js";
