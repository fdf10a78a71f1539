// kernel/dma/mapping.c: dma_map_sgtable/dma_unmap_sgtable of a scatter-gather table.
import {
  KernelWeakMap,
  KernelError,
  dmaInfoToProt,
  iommuDmaAllocIova,
  iommuDmaFreeIova,
  iommuDmaMap,
  iommuDmaUnmap,
  useDmaIommu,
  type Device,
  type DmaDataDirection,
} from "@dmabuf-sdk/dmabuf-core";
import { sgSetDma, type SgTable } from "./scatterlist.js";

interface SgMapping {
  readonly dev: Device;
  /** dma-iommu: the one IOVA range of the table; dma-direct: undefined. */
  readonly iova?: bigint;
  readonly size?: bigint;
}

const MAPPINGS = new KernelWeakMap<SgTable, SgMapping>("MAPPINGS", (sgt) => sgt.kernel);

/**
 * `dma_map_sgtable(dev, sgt, dir, attrs)`: maps the CPU list for `dev`.
 * Through a DMA domain (dma-iommu) the entries are laid out in one IOVA
 * range and contiguous entries merge into DMA segments of at most
 * `dev.dmaMaxSegSize`; with dma-direct each entry's DMA address is its
 * physical address. Sets `sgt.nents` to the number of DMA segments.
 * @throws KernelError `EINVAL` (no CPU list, already mapped), `ENOMEM`
 * (IOVA or page-table allocation; nothing stays mapped), `EIO` (beyond the DMA mask).
 * @public
 */
export function dmaMapSgtable(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs: number): void {
  if (!sgt.pagePfn || !sgt.offset || !sgt.length || sgt.origNents === 0) throw new KernelError("EINVAL", "dma_map_sgtable", "no CPU list");
  if (MAPPINGS.has(sgt)) throw new KernelError("EINVAL", "dma_map_sgtable", "table already mapped");
  const n = sgt.origNents;
  if (!useDmaIommu(dev)) {
    for (let i = 0; i < n; i++) {
      const phys = (BigInt(sgt.pagePfn[i]!) << 12n) + BigInt(sgt.offset[i]!);
      if (phys + BigInt(sgt.length[i]!) - 1n > dev.dmaMask) throw new KernelError("EIO", "dma_map_sgtable", `${dev.name}: beyond the DMA mask`);
    }
    for (let i = 0; i < n; i++) sgSetDma(sgt, i, (BigInt(sgt.pagePfn[i]!) << 12n) + BigInt(sgt.offset[i]!), sgt.length[i]!);
    sgt.nents = n;
    MAPPINGS.set(sgt, { dev });
    return;
  }

  // iommu_dma_map_sg(): one IOVA range for the whole list, entries page-padded.
  let total = 0n;
  for (let i = 0; i < n; i++) total += (BigInt(sgt.offset[i]! & 0xfff) + BigInt(sgt.length[i]!) + 0xfffn) & ~0xfffn;
  const iova = iommuDmaAllocIova(dev, total);
  if (!iova) throw new KernelError("ENOMEM", "dma_map_sgtable", "IOVA space exhausted");
  const domain = dev.iommuGroup!.defaultDomain;
  const iommu = dev.kernel.platform.iommu!;
  const prot = dmaInfoToProt(dir, true, attrs);
  let cur = 0n;
  let seg = -1;
  let segLen = 0;
  let segEnd = -1n;
  try {
    for (let i = 0; i < n; i++) {
      const off = sgt.offset[i]! & 0xfff;
      const phys = (BigInt(sgt.pagePfn[i]!) << 12n) + BigInt(sgt.offset[i]! - off);
      const len = sgt.length[i]!;
      const span = (BigInt(off) + BigInt(len) + 0xfffn) & ~0xfffn;
      iommuDmaMap(dev, iova + cur, phys, span, prot);
      cur += span;
      const addr = iova + cur - span + BigInt(off);
      // __finalise_sg(): extend the previous segment when contiguous and within the size limit.
      if (seg >= 0 && segEnd === addr && segLen + len <= dev.dmaMaxSegSize) {
        segLen += len;
        sgt.dmaLength[seg] = segLen;
      } else {
        seg++;
        segLen = len;
        sgSetDma(sgt, seg, addr, len);
      }
      segEnd = addr + BigInt(len);
    }
  } catch (e) {
    iommu.unmap(domain, iova, cur);
    iommuDmaFreeIova(dev, iova);
    sgt.dmaAddress.fill(0n);
    sgt.dmaLength.fill(0);
    throw new KernelError("ENOMEM", "dma_map_sgtable", "iommu_map failed", { cause: e });
  }
  sgt.nents = seg + 1;
  MAPPINGS.set(sgt, { dev, iova, size: total });
}

/** `dma_unmap_sgtable()`: undoes {@link dmaMapSgtable}; the DMA list is cleared. @public */
export function dmaUnmapSgtable(dev: Device, sgt: SgTable, _dir: DmaDataDirection, _attrs: number): void {
  const m = MAPPINGS.get(sgt);
  if (!m || m.dev !== dev) {
    dev.kernel.warn(`dma_unmap_sgtable: table not mapped for ${dev.name}`);
    return;
  }
  MAPPINGS.delete(sgt);
  // iommu_dma_unmap_sg() → __iommu_dma_unmap(): strict sync or flush queue.
  if (m.iova !== undefined) iommuDmaUnmap(dev, m.iova, m.size!);
  sgt.dmaAddress.fill(0n, 0, sgt.nents);
  sgt.dmaLength.fill(0, 0, sgt.nents);
  sgt.nents = sgt.origNents;
}

/** True while `sgt` is mapped by {@link dmaMapSgtable}. @public */
export function sgtableIsMapped(sgt: SgTable): boolean {
  return MAPPINGS.has(sgt);
}
