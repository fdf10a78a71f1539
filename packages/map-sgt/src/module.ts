// The SGT mapping type as a kernel module exporting the type, its match helpers and the map/unmap API.
import {
  ConformanceFixtures,
  DmaBufLegacyCompat,
  exportSymbol,
  exportSymbolGpl,
  exportSymbolNsGpl,
  provideSymbol,
  type KernelModule,
} from "@dmabuf-sdk/dmabuf-core";
import { sgtCompatFixtures } from "./compat/fixture.js";
import { dmaBufFreeSgt, dmaBufPhysVecToSgt } from "./phys-vec-to-sgt.js";
import { dmaBufMappingSgtType, dmaBufSgtLegacyCompat } from "./sgt-mapping-type.js";
import { dmaBufSgtMapAttachment, dmaBufSgtMapAttachmentUnlocked, dmaBufSgtUnmapAttachment, dmaBufSgtUnmapAttachmentUnlocked } from "./sgt-map-attachment.js";
import { dmaMapSgtable, dmaUnmapSgtable } from "./dma-mapping.js";
import { sgAllocTable, sgFreeTable } from "./scatterlist.js";

const NS = "DMA_BUF";
const IMPLS: readonly [ReturnType<typeof exportSymbol>, unknown][] = [
  [exportSymbolNsGpl("dma_buf_mapping_sgt_type", NS), dmaBufMappingSgtType],
  [exportSymbolNsGpl("dma_buf_sgt_map_attachment", NS), dmaBufSgtMapAttachment],
  [exportSymbolNsGpl("dma_buf_sgt_unmap_attachment", NS), dmaBufSgtUnmapAttachment],
  [exportSymbolNsGpl("dma_buf_sgt_map_attachment_unlocked", NS), dmaBufSgtMapAttachmentUnlocked],
  [exportSymbolNsGpl("dma_buf_sgt_unmap_attachment_unlocked", NS), dmaBufSgtUnmapAttachmentUnlocked],
  [exportSymbolNsGpl("dma_buf_phys_vec_to_sgt", NS), dmaBufPhysVecToSgt],
  [exportSymbolNsGpl("dma_buf_free_sgt", NS), dmaBufFreeSgt],
  [exportSymbol("sg_alloc_table"), sgAllocTable],
  [exportSymbol("sg_free_table"), sgFreeTable],
  [exportSymbolGpl("dma_map_sgtable"), dmaMapSgtable],
  [exportSymbolGpl("dma_unmap_sgtable"), dmaUnmapSgtable],
];

/**
 * The SGT mapping type as a kernel module: exports the type and its helpers
 * in the `DMA_BUF` namespace and gives core the SGT compatibility entries,
 * so unconverted exporters and importers (`dma_buf_attach()`,
 * `dma_buf_dynamic_attach()`, legacy `map_dma_buf`) negotiate SGT. Also
 * offers the unconverted compat drivers to the conformance matrix.
 * @public
 */
export const dmaBufSgtModule: KernelModule = {
  name: "dma_buf_mapping_sgt",
  license: "GPL",
  description: "DMA-buf SGT mapping type, phys_vec to SGT and the SGT compatibility layer",
  importNs: [NS],
  uses: ["dma_buf_match_mapping", "pci_p2pdma_distance", "pci_p2pdma_map_type", "dma_iova_try_alloc", "dma_iova_link", "dma_iova_destroy", "dma_map_phys", "dma_unmap_phys"],
  exports: IMPLS.map(([decl]) => decl),
  init(ctx) {
    for (const [decl, impl] of IMPLS) provideSymbol(ctx, decl.name, impl);
    ctx.provide(DmaBufLegacyCompat, dmaBufSgtLegacyCompat);
    ctx.provide(ConformanceFixtures, sgtCompatFixtures);
  },
};
