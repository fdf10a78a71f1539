// Test kit of map-sgt: converted exporters (MMIO ranges offered as SGT/SGT_P2P, pinned pages) for SGT importers.
import {
  O_RDWR,
  dmaBufExport,
  dmaBufMatchMapping,
  pcimP2pdmaInit,
  pcimP2pdmaProvider,
  type DmaBuf,
  type DmaBufOps,
  type Kernel,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import {
  dmaBufEmappingSgt,
  dmaBufEmappingSgtP2p,
  dmaBufFreeSgt,
  dmaBufPhysVecToSgt,
  dmaBufSgtDmaDevice,
  dmaBufSimpleSgtExpMatch,
  dmaMapSgtable,
  dmaUnmapSgtable,
  sgAllocTable,
  sgFreeTable,
  sgSetPage,
  type DmaBufMappingSgtExpOps,
  isPhysVecColumns,
  type PhysVecInput,
  type SgTable,
} from "../index.js";

/** @public */
export interface MmioPriv {
  readonly pdev: PciDev;
  readonly ranges: PhysVecInput;
  log: string[];
}

/**
 * A converted MMIO exporter (like vfio-pci after patch 12): offers SGT_P2P(pdev) built with phys_vec_to_sgt
 * from `ranges`, objects or columns (`physVecColumns()`).
 * @public
 */
export function mmioExporter(kernel: Kernel, pdev: PciDev, ranges: PhysVecInput, extra: Partial<DmaBufOps<MmioPriv>> = {}, offers?: "sgt-and-p2p"): DmaBuf<MmioPriv> {
  pcimP2pdmaInit(kernel.alloc, pdev);
  const provider = pcimP2pdmaProvider(pdev, 0);
  const lens = isPhysVecColumns(ranges) ? [...ranges.len] : ranges.map((r) => r.len);
  const size = lens.reduce((a, l) => a + l, 0n);
  const nr = lens.length;
  const ops: DmaBufMappingSgtExpOps = {
    mapDmaBuf(attach, dir) {
      (attach.dmabuf!.priv as MmioPriv).log.push("map");
      return dmaBufPhysVecToSgt(attach, provider, ranges, nr, size, dir);
    },
    unmapDmaBuf(attach, sgt, dir) {
      (attach.dmabuf!.priv as MmioPriv).log.push("unmap");
      dmaBufFreeSgt(attach, sgt, dir);
    },
  };
  return dmaBufExport<MmioPriv>(kernel, {
    owner: kernel.modules.vmlinux,
    expName: "mock_mmio",
    ops: {
      matchMapping: (args) => dmaBufMatchMapping(args, offers === "sgt-and-p2p" ? [dmaBufEmappingSgtP2p(ops, pdev), dmaBufEmappingSgt(ops)] : [dmaBufEmappingSgtP2p(ops, pdev)]),
      release: () => undefined,
      ...extra,
    },
    size,
    flags: O_RDWR,
    priv: { pdev, ranges, log: [] },
  });
}

/** @public */
export interface PagesPriv {
  readonly pfns: number[];
  log: string[];
}

/** A converted page-backed exporter using DMA_BUF_SIMPLE_SGT_EXP_MATCH; optionally pinnable. @public */
export function pagesExporter(kernel: Kernel, npages: number, opts: { pinnable?: boolean; failPin?: Error } = {}): DmaBuf<PagesPriv> {
  const pfns = Array.from({ length: npages }, () => kernel.platform.physmem.allocPages(0, "test_pages"));
  const priv: PagesPriv = { pfns, log: [] };
  return dmaBufExport<PagesPriv>(kernel, {
    owner: kernel.modules.vmlinux,
    expName: "mock_pages",
    ops: {
      ...dmaBufSimpleSgtExpMatch(
        (attach, dir) => {
          priv.log.push("map");
          const sgt = sgAllocTable(kernel, pfns.length);
          pfns.forEach((p, i) => sgSetPage(sgt, i, p, 4096, 0));
          try {
            dmaMapSgtable(dmaBufSgtDmaDevice(attach)!, sgt, dir, 0);
          } catch (e) {
            sgFreeTable(sgt);
            throw e;
          }
          return sgt;
        },
        (attach, sgt: SgTable, dir) => {
          priv.log.push("unmap");
          dmaUnmapSgtable(dmaBufSgtDmaDevice(attach)!, sgt, dir, 0);
          sgFreeTable(sgt);
        },
      ),
      ...(opts.pinnable
        ? {
            pin: () => {
              priv.log.push("pin");
              if (opts.failPin) throw opts.failPin;
            },
            unpin: () => priv.log.push("unpin"),
          }
        : {}),
      release: () => pfns.forEach((p) => kernel.platform.physmem.freePages(p, 0)),
    },
    size: BigInt(npages * 4096),
    flags: O_RDWR,
    priv,
  });
}
