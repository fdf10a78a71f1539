// The PAL mapping type (DMA_BUF_MAPPING_PAL): struct phys_vec lists and the exporter's map_phys/unmap_phys.
import {
  kernelSymbol,
  type DmaBufAttachment,
  type DmaBufMappingExpOps,
  type DmaBufMappingMatch,
  type DmaBufMappingType,
  type DmaBufMatchArgs,
  type KernelSymbol,
} from "@dmabuf-sdk/dmabuf-core";

/**
 * `struct dma_buf_phys_vec` (`struct phys_vec` after the rebase): one range
 * of CPU physical addresses.
 * @public
 */
export interface DmaBufPhysVec {
  /** `paddr`: CPU physical address of the first byte. */
  readonly paddr: bigint;
  /** `len`: length in bytes. */
  readonly len: bigint;
}

/**
 * `struct dma_buf_phys_list`: what `map_phys` returns. `length` is the number
 * of entries (not bytes), as in the kernel's `__counted_by(length)` array.
 * The exporter allocates it and frees it in its `unmap_phys`. The core
 * checks nothing about the entries (non-empty, alignment, overflow, sum):
 * every entry is MMIO and the importer maps it with `IOMMU_MMIO`.
 * @public
 */
export interface DmaBufPhysList {
  /** Number of entries of `phys` in use. */
  readonly length: number;
  /** The ranges, in buffer order: entry i covers the bytes after entries 0..i-1. */
  readonly phys: readonly DmaBufPhysVec[];
}

/**
 * `struct dma_buf_mapping_pal_exp_ops`: the exporter's PAL functions,
 * reached through `attach.mapType.expOps` once PAL was negotiated.
 * @public
 */
export interface DmaBufMappingPalExpOps extends DmaBufMappingExpOps {
  /**
   * `map_phys`: called by `dma_buf_pal_map_phys()` with the resv lock held.
   * Returns a list the importer may use until it calls `unmap_phys`, or
   * until an invalidation, after which it must call `unmap_phys` in bounded
   * time. Throw a `KernelError` to refuse (`ENOMEM`, `ENODEV` when revoked).
   */
  mapPhys(attach: DmaBufAttachment): DmaBufPhysList;
  /**
   * `unmap_phys`: called by `dma_buf_pal_unmap_phys()`; gives the list back.
   * The core does not assert the resv lock here (iommufd calls it with the
   * lock held, from its invalidation callback and from release).
   */
  unmapPhys(attach: DmaBufAttachment, phys: DmaBufPhysList): void;
}

/**
 * `dma_buf_pal_finish_match()`: records the PAL result in `attach.mapType`
 * (the type and the exporter's ops; PAL carries no data).
 */
function dmaBufPalFinishMatch(args: DmaBufMatchArgs, exp: DmaBufMappingMatch): void {
  if (!args.attach) return;
  args.attach.mapType = { type: dmaBufMappingPalType, expOps: exp.expOps };
}

/**
 * `dma_buf_mapping_pal_type`: the physical address list. It has no `match`
 * callback, so any PAL importer entry matches any PAL exporter entry; the
 * exporter's priority list alone decides. No `debugfs_dump` either.
 * @public
 */
export const dmaBufMappingPalType: DmaBufMappingType = {
  name: "Physical Address List",
  shortName: "PAL",
  finishMatch: dmaBufPalFinishMatch,
};

/** `DMA_BUF_IMAPPING_PAL()`: the importer entry. @public */
export function dmaBufImappingPal(): DmaBufMappingMatch {
  return { type: dmaBufMappingPalType };
}

/** `DMA_BUF_EMAPPING_PAL(exp_ops)`: an exporter entry. @public */
export function dmaBufEmappingPal(expOps: DmaBufMappingPalExpOps): DmaBufMappingMatch {
  return { type: dmaBufMappingPalType, expOps };
}

/** True when the attachment negotiated PAL. @public */
export function dmaBufAttachmentIsPal(attach: DmaBufAttachment | null): boolean {
  return !!attach && attach.mapType?.type === dmaBufMappingPalType;
}

/**
 * `dma_buf_pal_unmap_phys(attach, phys)`: gives a list from
 * `dma_buf_pal_map_phys()` back to the exporter. After it returns the importer
 * must not use the addresses. Like the kernel it does not assert the resv
 * lock. An attachment that did not negotiate PAL WARNs and returns (the
 * kernel would call through a foreign ops table).
 * @public
 */
export function dmaBufPalUnmapPhys(attach: DmaBufAttachment, phys: DmaBufPhysList): void {
  if (!dmaBufAttachmentIsPal(attach) || !attach.mapType?.expOps) {
    attach?.kernel.warn("dma_buf_pal_unmap_phys on a non-PAL attachment");
    return;
  }
  (attach.mapType.expOps as DmaBufMappingPalExpOps).unmapPhys(attach, phys);
}

/** The signature of `dma_buf_pal_map_phys()`. @public */
export type DmaBufPalMapPhys = (attach: DmaBufAttachment) => DmaBufPhysList;

/**
 * The kernel symbol `dma_buf_pal_map_phys`, exported with
 * `EXPORT_SYMBOL_FOR_MODULES(dma_buf_pal_map_phys, "iommufd")`. This is only
 * its name and DI token: a module named `iommufd` lists it in `uses` and gets
 * the function with `ctx.symbol(DMA_BUF_PAL_MAP_PHYS)`. The function itself
 * is exported by no file of this package.
 * @public
 */
export const DMA_BUF_PAL_MAP_PHYS: KernelSymbol<DmaBufPalMapPhys> = kernelSymbol<DmaBufPalMapPhys>("dma_buf_pal_map_phys");

/** The kernel symbol `dma_buf_pal_unmap_phys` (`EXPORT_SYMBOL_NS_GPL(…, "DMA_BUF")`). @public */
export const DMA_BUF_PAL_UNMAP_PHYS: KernelSymbol<typeof dmaBufPalUnmapPhys> = kernelSymbol<typeof dmaBufPalUnmapPhys>("dma_buf_pal_unmap_phys");

/** The kernel symbol `dma_buf_mapping_pal_type` (`EXPORT_SYMBOL_NS_GPL(…, "DMA_BUF")`). @public */
export const DMA_BUF_MAPPING_PAL_TYPE: KernelSymbol<DmaBufMappingType> = kernelSymbol<DmaBufMappingType>("dma_buf_mapping_pal_type");
