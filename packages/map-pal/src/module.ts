// The PAL mapping type as a kernel module; dma_buf_pal_map_phys is EXPORT_SYMBOL_FOR_MODULES(…, "iommufd").
import {
  KernelError,
  defineModule,
  dmaResvAssertHeld,
  exportSymbolForModules,
  exportSymbolNsGpl,
  provideSymbol,
  type DmaBufAttachment,
  type KernelModule,
} from "@dmabuf-sdk/dmabuf-core";
import {
  DMA_BUF_MAPPING_PAL_TYPE,
  DMA_BUF_PAL_MAP_PHYS,
  DMA_BUF_PAL_UNMAP_PHYS,
  dmaBufAttachmentIsPal,
  dmaBufMappingPalType,
  dmaBufPalUnmapPhys,
  type DmaBufMappingPalExpOps,
  type DmaBufPhysList,
} from "./dma-buf-mapping-pal.js";

/**
 * `dma_buf_pal_map_phys(attach)`: the exporter's physical address list for a
 * PAL attachment. The caller holds the resv lock (asserted). Deliberately not
 * exported from this file or any other: the only way to reach it is the
 * module loader, which hands it to a module named `iommufd`.
 *
 * Unlike the posted code, which calls through `attach->map_type.exp_ops`
 * without looking at the type, a non-PAL attachment WARNs and fails with
 * `EINVAL`. A `null` list from the exporter is reported as `ENOMEM`.
 */
function dmaBufPalMapPhys(attach: DmaBufAttachment): DmaBufPhysList {
  if (!attach?.dmabuf) throw new KernelError("EINVAL", "dma_buf_pal_map_phys", "attachment without a dma-buf");
  dmaResvAssertHeld(attach.dmabuf.resv, "dma_buf_pal_map_phys");
  if (!dmaBufAttachmentIsPal(attach) || !attach.mapType?.expOps) {
    attach.kernel.warn("dma_buf_pal_map_phys on a non-PAL attachment");
    throw new KernelError("EINVAL", "dma_buf_pal_map_phys", `negotiated ${attach.mapType?.type.name ?? "nothing"}`);
  }
  const list = (attach.mapType.expOps as DmaBufMappingPalExpOps).mapPhys(attach);
  if (!list) throw new KernelError("ENOMEM", "dma_buf_pal_map_phys", "map_phys returned NULL");
  return list;
}

const NS = "DMA_BUF";

/**
 * The importers the kernel names: `EXPORT_SYMBOL_FOR_MODULES(dma_buf_pal_map_phys, "iommufd")`.
 * @public
 */
export const DMA_BUF_PAL_IMPORTERS = "iommufd";

/**
 * The PAL mapping type as a kernel module built from a tree whose
 * `EXPORT_SYMBOL_FOR_MODULES(dma_buf_pal_map_phys, …)` names `importers` (a
 * comma-separated list of module names, `*` tail globs). The kernel's list is
 * {@link DMA_BUF_PAL_IMPORTERS}; another list models a patched tree
 * (e.g. `"iommufd,kvm"` for a KVM importer). Its exports:
 * - `dma_buf_mapping_pal_type` and `dma_buf_pal_unmap_phys`:
 *   `EXPORT_SYMBOL_NS_GPL(…, "DMA_BUF")`, for every exporter and importer;
 * - `dma_buf_pal_map_phys`: `EXPORT_SYMBOL_FOR_MODULES(…, importers)`, so the
 *   loader refuses it to any module not named there (`EINVAL`, "module uses
 *   symbol … from namespace module:…, but does not import it.").
 * @public
 */
export function dmaBufPalModuleBuild(importers: string): KernelModule {
  return defineModule({
    name: "dma_buf_mapping_pal",
    license: "GPL",
    description: "DMA-buf physical address list (PAL) mapping type",
    importNs: [NS],
    uses: ["dma_buf_match_mapping"],
    exports: [exportSymbolNsGpl(DMA_BUF_MAPPING_PAL_TYPE, NS), exportSymbolNsGpl(DMA_BUF_PAL_UNMAP_PHYS, NS), exportSymbolForModules(DMA_BUF_PAL_MAP_PHYS, importers)],
    init(ctx) {
      provideSymbol(ctx, DMA_BUF_MAPPING_PAL_TYPE, dmaBufMappingPalType);
      provideSymbol(ctx, DMA_BUF_PAL_UNMAP_PHYS, dmaBufPalUnmapPhys);
      provideSymbol(ctx, DMA_BUF_PAL_MAP_PHYS, dmaBufPalMapPhys);
    },
  });
}

/**
 * The PAL mapping type as the kernel has it (the kernel builds it into
 * `drivers/dma-buf/dma-buf-mapping.c`): `dma_buf_pal_map_phys` for `iommufd` only.
 * @public
 */
export const dmaBufPalModule: KernelModule = dmaBufPalModuleBuild(DMA_BUF_PAL_IMPORTERS);
