// drivers/iommu/dma-iommu.c: the DMA-API side of a DMA domain (strict or flush-queue unmap, IOTLB invalidation, counters).
import type { TimerHandle } from "../kernel/time.js";
import type { Device } from "./device.js";
import type { IommuDomain } from "./iommu.js";

/**
 * What the DMA API asked of the IOMMU for one device, counted as the kernel
 * does the work: one IOVA allocation per mapping, one `iommu_map` per linked
 * range, one `iommu_unmap` per unmapped range, and then either one
 * synchronous IOTLB invalidation (strict) or one flush-queue entry (lazy),
 * plus one full IOTLB flush per flush-queue drain. `dmaSync` counts the
 * `dma_sync_*` calls (no-ops on the model's cache-coherent platform).
 * @public
 */
export interface IommuDmaStats {
  iovaAlloc: number;
  iovaFree: number;
  map: number;
  mapPages: number;
  unmap: number;
  unmapPages: number;
  /** `iommu_iotlb_sync()` after an unmap: the CPU waits for the invalidation. */
  iotlbSync: number;
  /** `queue_iova()`: the IOVA waits in the flush queue for the next flush. */
  fqEnqueue: number;
  /** `fq_flush_iotlb()` → `iommu_flush_iotlb_all()`: one full-domain invalidation per drain. */
  iotlbFlushAll: number;
  dmaSync: number;
}

/** `IOVA_FQ_SIZE`: entries of a flush queue (drivers/iommu/dma-iommu.c). @internal */
export const IOVA_FQ_SIZE = 256;
/** `IOVA_FQ_TIMEOUT`: milliseconds before a non-empty flush queue is drained by its timer. @internal */
export const IOVA_FQ_TIMEOUT_MS = 10;

function zeroStats(): IommuDmaStats {
  return { iovaAlloc: 0, iovaFree: 0, map: 0, mapPages: 0, unmap: 0, unmapPages: 0, iotlbSync: 0, fqEnqueue: 0, iotlbFlushAll: 0, dmaSync: 0 };
}

/**
 * `struct iommu_dma_cookie`'s flush queue. The model runs one CPU, so a
 * domain has one queue (the kernel has one per CPU).
 */
interface FlushQueue {
  /** Queued IOVA ranges: start pfn and the device whose counters pay the free. */
  readonly entries: { pfnLo: number; dev: Device }[];
  timer: TimerHandle | undefined;
}

const FQS = new WeakMap<IommuDomain, FlushQueue>();
const STATS = new WeakMap<Device, IommuDmaStats>();

/** The DMA-API counters of `dev` (live object; zero until the device maps anything). @public */
export function iommuDmaStats(dev: Device): IommuDmaStats {
  let s = STATS.get(dev);
  if (!s) {
    s = zeroStats();
    STATS.set(dev, s);
  }
  return s;
}

/** A copy of `dev`'s counters, to diff against later. @internal */
export function iommuDmaStatsSnapshot(dev: Device): IommuDmaStats {
  return { ...iommuDmaStats(dev) };
}

/** `iommu_dma_init_fq()` was done: the domain unmaps lazily. */
export function iommuDmaIsFq(domain: IommuDomain): boolean {
  return domain.type === "IOMMU_DOMAIN_DMA_FQ";
}

/** Number of IOVA ranges waiting in `domain`'s flush queue. @internal */
export function iommuDmaFqDepth(domain: IommuDomain): number {
  return FQS.get(domain)?.entries.length ?? 0;
}

/**
 * `fq_flush_iotlb()` + `fq_ring_free()`: one full IOTLB invalidation of the
 * domain, then the queued IOVAs go back to the allocator.
 */
export function iommuDmaFlushFq(domain: IommuDomain): void {
  const fq = FQS.get(domain);
  if (!fq) return;
  fq.timer?.cancel();
  fq.timer = undefined;
  if (!fq.entries.length) return;
  const first = fq.entries[0]!.dev;
  iommuDmaStats(first).iotlbFlushAll++;
  for (const e of fq.entries.splice(0)) {
    if (domain.iovad?.freeIova(e.pfnLo)) iommuDmaStats(e.dev).iovaFree++;
    else e.dev.kernel.warn(`${e.dev.name}: flush queue frees an IOVA that is not allocated`);
  }
}

/**
 * `queue_iova()`: defers the IOVA free to the next flush. A full queue is
 * drained first; the first entry of an empty queue arms the timer.
 */
export function iommuDmaQueueIova(dev: Device, domain: IommuDomain, pfnLo: number): void {
  let fq = FQS.get(domain);
  if (!fq) {
    fq = { entries: [], timer: undefined };
    FQS.set(domain, fq);
  }
  if (fq.entries.length >= IOVA_FQ_SIZE) iommuDmaFlushFq(domain);
  fq.entries.push({ pfnLo, dev });
  iommuDmaStats(dev).fqEnqueue++;
  if (!fq.timer) fq.timer = dev.kernel.clock.schedule(IOVA_FQ_TIMEOUT_MS * 1e6, () => iommuDmaFlushFq(domain));
}
