// drivers/iommu/dma-iommu.c: the DMA-API side of a DMA domain (strict or flush-queue unmap, IOTLB invalidation, counters).
import { KernelWeakMap } from "../kernel/kernel-local.js";
import { SpinLock } from "../kernel/spinlock.js";
import { modTimer, timerDelete, timerSetup, type TimerList } from "../kernel/timer.js";
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
 * domain has one queue (the kernel has one per CPU), with its `fq->lock`
 * and the cookie's `fq_timer`, a timer_list: the drain after
 * `IOVA_FQ_TIMEOUT` runs in softirq context, as `fq_flush_timeout()` does.
 */
interface FlushQueue {
  /** Queued IOVA ranges: start pfn and the device whose counters pay the free. */
  readonly entries: { pfnLo: number; dev: Device }[];
  /** `fq->lock`: taken irqsave, from process context and from the timer's softirq. */
  readonly lock: SpinLock;
  /** `cookie->fq_timer`. */
  readonly timer: TimerList;
  /** `cookie->fq_timer_on`. */
  timerOn: boolean;
}

/** The `spin_lock_init(&fq->lock)` site in `iommu_dma_init_one_fq()`. */
const FQ_LOCK_KEY = { site: "iommu_dma_init_one_fq" };

const FQS = new WeakMap<IommuDomain, FlushQueue>();
const STATS = new KernelWeakMap<Device, IommuDmaStats>("iommu_dma stats", (dev) => dev.kernel);

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

/** `fq_flush_iotlb()` + `fq_ring_free()` (`fq->lock` held): one full IOTLB invalidation, then the IOVAs go back. */
function fqFlushAndFreeLocked(domain: IommuDomain, fq: FlushQueue): void {
  fq.lock.assertHeld("fq_ring_free_locked");
  if (!fq.entries.length) return;
  const first = fq.entries[0]!.dev;
  iommuDmaStats(first).iotlbFlushAll++;
  for (const e of fq.entries.splice(0)) {
    if (domain.iovad?.freeIova(e.pfnLo)) iommuDmaStats(e.dev).iovaFree++;
    else e.dev.kernel.warn(`${e.dev.name}: flush queue frees an IOVA that is not allocated`);
  }
}

/**
 * `fq_flush_timeout()`: the flush-queue timer's callback (softirq context):
 * clears `fq_timer_on`, invalidates the IOTLB, frees the queued IOVAs under
 * `fq->lock`.
 */
function fqFlushTimeout(domain: IommuDomain, fq: FlushQueue): void {
  fq.timerOn = false;
  fq.lock.lockIrqsave();
  try {
    fqFlushAndFreeLocked(domain, fq);
  } finally {
    fq.lock.unlock();
  }
}

/** Drains `domain`'s flush queue now (as its timer would), and disarms the timer. */
export function iommuDmaFlushFq(domain: IommuDomain): void {
  const fq = FQS.get(domain);
  if (!fq) return;
  timerDelete(fq.timer);
  fqFlushTimeout(domain, fq);
}

function fqOf(dev: Device, domain: IommuDomain): FlushQueue {
  let fq = FQS.get(domain);
  if (!fq) {
    const k = dev.kernel;
    const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "fq lock", "&fq->lock", FQ_LOCK_KEY);
    const q: FlushQueue = { entries: [], lock, timer: timerSetup(k, "&cookie->fq_timer", () => fqFlushTimeout(domain, q)), timerOn: false };
    FQS.set(domain, (fq = q));
  }
  return fq;
}

/**
 * `queue_iova()`: defers the IOVA free to the next flush, under `fq->lock`
 * (irqsave). A full queue is flushed first; the first entry after a flush
 * arms the timer (`fq_timer_on`).
 */
export function iommuDmaQueueIova(dev: Device, domain: IommuDomain, pfnLo: number): void {
  const fq = fqOf(dev, domain);
  fq.lock.lockIrqsave();
  try {
    if (fq.entries.length >= IOVA_FQ_SIZE) fqFlushAndFreeLocked(domain, fq);
    fq.entries.push({ pfnLo, dev });
    iommuDmaStats(dev).fqEnqueue++;
  } finally {
    fq.lock.unlock();
  }
  if (!fq.timerOn) {
    fq.timerOn = true;
    modTimer(fq.timer, dev.kernel.clock.nowNs + IOVA_FQ_TIMEOUT_MS * 1e6);
  }
}
