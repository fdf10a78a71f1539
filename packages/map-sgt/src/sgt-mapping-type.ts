// The SGT mapping type (dma_buf_mapping_sgt in drivers/dma-buf/dma-buf-mapping.c): its P2P fields, match and exporter ops.
import {
  KernelError,
  pciP2pdmaDistance,
  type Device,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufLegacyCompat,
  type DmaBufMappingExpOps,
  type DmaBufMappingMatch,
  type DmaBufMappingType,
  type DmaBufOps,
  type DmaDataDirection,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import type { SgTable } from "./scatterlist.js";

/**
 * `enum dma_sgt_requires_p2p`: one enum for the importer's field
 * (`NO_P2P` or `IMPORTER_ACCEPTS_P2P`) and the exporter's (`NO_P2P` or
 * `EXPORTER_REQUIRES_P2P_DISTANCE`), as in the kernel.
 * @public
 */
export type DmaSgtRequiresP2p = "DMA_SGT_NO_P2P" | "DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE" | "DMA_SGT_IMPORTER_ACCEPTS_P2P";

/** `DMA_SGT_NO_P2P`. @public */
export const DMA_SGT_NO_P2P: DmaSgtRequiresP2p = "DMA_SGT_NO_P2P";
/** `DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE`. @public */
export const DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE: DmaSgtRequiresP2p = "DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE";
/** `DMA_SGT_IMPORTER_ACCEPTS_P2P`. @public */
export const DMA_SGT_IMPORTER_ACCEPTS_P2P: DmaSgtRequiresP2p = "DMA_SGT_IMPORTER_ACCEPTS_P2P";

/** `sgt_data` of `struct dma_buf_mapping_match`: each side fills its own fields. @public */
export interface DmaBufSgtData {
  /** Importer: the device that will DMA (`importing_dma_device`). */
  readonly importingDmaDevice: Device | null;
  /** Exporter: the PCI function whose MMIO is exported (`exporting_p2p_device`). */
  readonly exportingP2pDevice: PciDev | null;
  /** Importer: `DMA_SGT_IMPORTER_ACCEPTS_P2P` or `DMA_SGT_NO_P2P`. */
  readonly importerAcceptsP2p: DmaSgtRequiresP2p;
  /** Exporter: `DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE` or `DMA_SGT_NO_P2P`. */
  readonly exporterRequiresP2p: DmaSgtRequiresP2p;
}

/**
 * `struct dma_buf_mapping_sgt_exp_ops`: the exporter's SGT map functions.
 * @public
 */
export interface DmaBufMappingSgtExpOps extends DmaBufMappingExpOps {
  /**
   * `map_dma_buf`: called by `dmaBufSgtMapAttachment()` with the resv lock
   * held (after pinning, for static importers of a pinnable exporter). Returns
   * a table with DMA addresses for `dmaBufSgtDmaDevice(attach)`; importers must
   * not use its CPU list. `null` is reported as `ENOMEM`; throw a
   * `KernelError` to refuse. The caller owns the table until unmap.
   */
  mapDmaBuf(attach: DmaBufAttachment, dir: DmaDataDirection): SgTable | null;
  /** `unmap_dma_buf`: resv held; gives the table back. */
  unmapDmaBuf(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): void;
}

/** An SGT candidate or the negotiated SGT result. @public */
export type DmaBufSgtMatch = DmaBufMappingMatch<DmaBufSgtData>;

function sgtData(m: DmaBufMappingMatch): DmaBufSgtData {
  return m.data as DmaBufSgtData;
}

/**
 * `dma_buf_mapping_sgt_type`: the DMA-mapped scatter-gather table. Its
 * `match` decides on the exporter's requirement: `NO_P2P` is compatible with
 * any SGT importer; `EXPORTER_REQUIRES_P2P_DISTANCE` needs an importer that
 * accepts P2P and a non-negative `pci_p2pdma_distance()` to the exporting
 * function (any failure is "try the next entry"); any other value falls out
 * of the kernel's switch and is compatible.
 * @public
 */
export const dmaBufMappingSgtType: DmaBufMappingType<DmaBufSgtData> = {
  name: "DMA Mapped Scatter Gather Table",
  shortName: "SGT",
  match(dmabuf: DmaBuf, exp: DmaBufSgtMatch, imp: DmaBufSgtMatch): boolean {
    const e = sgtData(exp);
    const i = sgtData(imp);
    switch (e.exporterRequiresP2p) {
      case DMA_SGT_NO_P2P:
        return true;
      case DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE:
        if (!e.exportingP2pDevice) {
          dmabuf.kernel.warn("dma_buf_sgt_match: EXPORTER_REQUIRES_P2P_DISTANCE without an exporting P2P device");
          return false;
        }
        if (i.importerAcceptsP2p !== DMA_SGT_IMPORTER_ACCEPTS_P2P) return false;
        if (!i.importingDmaDevice) return false;
        return pciP2pdmaDistance(e.exportingP2pDevice, i.importingDmaDevice, dmabuf.kernel.printk) >= 0;
      default:
        return true;
    }
  },
  finishMatch(args, exp, imp): void {
    const attach = args.attach;
    if (!attach) return;
    const i = sgtData(imp);
    const e = sgtData(exp);
    const data: DmaBufSgtData = {
      importingDmaDevice: i.importingDmaDevice,
      importerAcceptsP2p: i.importerAcceptsP2p,
      exporterRequiresP2p: e.exporterRequiresP2p,
      exportingP2pDevice: null, // "left opaque" by the kernel
    };
    attach.mapType = { type: dmaBufMappingSgtType, expOps: exp.expOps, data } as DmaBufMappingMatch;
    // Conversion period (patches 02-15): mirror the legacy fields for unconverted exporters.
    attach.dev = i.importingDmaDevice;
    attach.peer2peer = i.importerAcceptsP2p === DMA_SGT_IMPORTER_ACCEPTS_P2P;
  },
  debugfsDump(attach: DmaBufAttachment): string {
    return ` ${sgtData(attach.mapType!).importingDmaDevice?.name ?? ""}`;
  },
};

const isSgt = (attach: DmaBufAttachment | null): attach is DmaBufAttachment & { mapType: DmaBufMappingMatch } =>
  !!attach && attach.mapType?.type === (dmaBufMappingSgtType as DmaBufMappingType);

/**
 * `DMA_BUF_IMAPPING_SGT(dev, accepts_p2p)`: an importer entry. `false`/`true`
 * stand for `DMA_SGT_NO_P2P`/`DMA_SGT_IMPORTER_ACCEPTS_P2P`.
 * @public
 */
export function dmaBufImappingSgt(dev: Device, acceptsP2p: boolean | DmaSgtRequiresP2p): DmaBufMappingMatch {
  const accepts = typeof acceptsP2p === "boolean" ? (acceptsP2p ? DMA_SGT_IMPORTER_ACCEPTS_P2P : DMA_SGT_NO_P2P) : acceptsP2p;
  const data: DmaBufSgtData = { importingDmaDevice: dev, exportingP2pDevice: null, importerAcceptsP2p: accepts, exporterRequiresP2p: DMA_SGT_NO_P2P };
  return { type: dmaBufMappingSgtType, data } as DmaBufMappingMatch;
}

/** `DMA_BUF_EMAPPING_SGT(exp_ops)`: an exporter entry that does not need P2P. @public */
export function dmaBufEmappingSgt(expOps: DmaBufMappingSgtExpOps): DmaBufMappingMatch {
  const data: DmaBufSgtData = { importingDmaDevice: null, exportingP2pDevice: null, importerAcceptsP2p: DMA_SGT_NO_P2P, exporterRequiresP2p: DMA_SGT_NO_P2P };
  return { type: dmaBufMappingSgtType, expOps, data } as DmaBufMappingMatch;
}

/**
 * `DMA_BUF_EMAPPING_SGT_P2P(exp_ops, pci_dev)`: an exporter entry of MMIO
 * that only P2P-capable importers within reach of `pdev` may use.
 * @public
 */
export function dmaBufEmappingSgtP2p(expOps: DmaBufMappingSgtExpOps, pdev: PciDev | null): DmaBufMappingMatch {
  const data: DmaBufSgtData = {
    importingDmaDevice: null,
    exportingP2pDevice: pdev,
    importerAcceptsP2p: DMA_SGT_NO_P2P,
    exporterRequiresP2p: DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE,
  };
  return { type: dmaBufMappingSgtType, expOps, data } as DmaBufMappingMatch;
}

/**
 * `DMA_BUF_SIMPLE_SGT_EXP_MATCH(map, unmap)`: the `dma_buf_ops` fields of an
 * exporter that offers exactly one plain SGT entry. Spread it into the ops.
 * @public
 */
export function dmaBufSimpleSgtExpMatch(
  mapDmaBuf: DmaBufMappingSgtExpOps["mapDmaBuf"],
  unmapDmaBuf: DmaBufMappingSgtExpOps["unmapDmaBuf"],
): Pick<DmaBufOps, "singleExporterMatch"> {
  return { singleExporterMatch: dmaBufEmappingSgt({ mapDmaBuf, unmapDmaBuf }) };
}

/** `dma_buf_sgt_dma_device()`: the importer's DMA device of an SGT attachment, else null. @public */
export function dmaBufSgtDmaDevice(attach: DmaBufAttachment | null): Device | null {
  return isSgt(attach) ? sgtData(attach.mapType).importingDmaDevice : null;
}

/**
 * `dma_buf_sgt_p2p_allowed()`: the P2P exporter entry is the one that
 * matched (so the importer accepted P2P and the distance was fine). It does
 * not look at the importer's flag.
 * @public
 */
export function dmaBufSgtP2pAllowed(attach: DmaBufAttachment | null): boolean {
  return isSgt(attach) && sgtData(attach.mapType).exporterRequiresP2p === DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE;
}

/** `dma_buf_get_sgt_ops()`: the exporter's SGT ops of an SGT attachment, else null. @public */
export function dmaBufGetSgtOps(attach: DmaBufAttachment | null): DmaBufMappingSgtExpOps | null {
  return isSgt(attach) ? ((attach.mapType.expOps as DmaBufMappingSgtExpOps | undefined) ?? null) : null;
}

/**
 * `dma_buf_sgt_compat_exp_ops`: forwards to the legacy `map_dma_buf` /
 * `unmap_dma_buf` of an exporter not converted to mapping types.
 */
const dmaBufSgtCompatExpOps: DmaBufMappingSgtExpOps = {
  mapDmaBuf(attach, dir) {
    const map = attach.dmabuf!.ops.mapDmaBuf;
    if (!map) throw new KernelError("EINVAL", "dma_buf_sgt_compat_map", "exporter has no map_dma_buf");
    return map(attach, dir) as SgTable | null;
  },
  unmapDmaBuf(attach, sgt, dir) {
    attach.dmabuf!.ops.unmapDmaBuf?.(attach, sgt, dir);
  },
};

/**
 * The compatibility entries the SGT module hands to core: an SGT importer
 * entry for `dma_buf_attach()`/`dma_buf_dynamic_attach()`, and
 * `dma_buf_sgt_exp_compat_match` (NO_P2P, so any SGT importer matches and the
 * legacy exporter checks `attach.peer2peer` itself).
 * @public
 */
export const dmaBufSgtLegacyCompat: DmaBufLegacyCompat = {
  importerMatch: (dev, acceptsP2p) => dmaBufImappingSgt(dev, acceptsP2p),
  exporterMatch: dmaBufEmappingSgt(dmaBufSgtCompatExpOps),
};
