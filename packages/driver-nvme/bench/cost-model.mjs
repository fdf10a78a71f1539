// The cost model of the "per-I/O mapping vs registered dma-buf" benchmark: every parameter in one place, with its source.
//
// Throughput of a 4 KiB random-read workload at high queue depth is bounded by the device/CPU
// ceiling or by the serialised IOMMU work each I/O needs, whichever is slower:
//   IOPS = 1 / max(T_CEILING, Σ ops_per_io(op) × T(op))
// ops_per_io are MEASURED in the model (iommuDmaStats deltas over the run / I/Os), not assumed.

/** Parameters, in nanoseconds per operation. */
export const COST = {
  // The device + CPU ceiling: 5.01 M IOPS, which passthrough reaches before and after (cover letter of
  // "[PATCH v3 00/10] Add dmabuf read/write via io_uring", Pavel Begunkov, 2026-04-29; seed 002).
  T_CEILING: 1e9 / 5.01e6,
  // A synchronous IOTLB invalidation (iommu_iotlb_sync after unmap in a strict DMA domain): the CPU waits
  // for the IOMMU's single invalidation queue (reference io-uring-nvme.md §4.5, §5). Calibrated so that
  // strict "before" = 570 K IOPS (cover letter) given the other per-I/O costs below.
  T_IOTLB_SYNC: 1e9 / 570e3 - 2 * 145 - 2 * 100,
  // IOVA allocation or free (alloc_iova_fast/free_iova_fast under contention on the shared rbtree and
  // rcaches; §5 "Map cost"). Calibrated with T_PTE so that lazy "before" = 1.93 M IOPS (cover letter).
  T_IOVA: 145,
  // One iommu_map()/iommu_unmap() call of a 4 KiB range (page-table walk + PTE write/clear; §4.4). Assumed
  // (order of magnitude of a VT-d second-level PTE update with its cache flush); see docs/benchmarks.md.
  T_PTE: 100,
  // queue_iova(): a per-CPU flush-queue insert (§5 "Unmap cost", lazy). Assumed.
  T_FQ_ENQUEUE: 20,
  // iommu_flush_iotlb_all() when a flush queue drains (every IOVA_FQ_SIZE = 256 entries or 10 ms). Assumed
  // (a full-domain invalidation is a few times a single one); it is amortised over 256 I/Os.
  T_FLUSH_ALL: 2000,
  // dma_sync_single_for_{device,cpu}: no-ops on cache-coherent x86 without bounce buffers (§4.3 step 1).
  T_DMA_SYNC: 0,
};

/** Serialised IOMMU nanoseconds per I/O for measured per-I/O op counts. */
export function iommuNsPerIo(ops) {
  return (
    ops.iotlbSync * COST.T_IOTLB_SYNC +
    (ops.iovaAlloc + ops.iovaFree) * COST.T_IOVA +
    (ops.map + ops.unmap) * COST.T_PTE +
    ops.fqEnqueue * COST.T_FQ_ENQUEUE +
    ops.iotlbFlushAll * COST.T_FLUSH_ALL +
    ops.dmaSync * COST.T_DMA_SYNC
  );
}

/** Modelled IOPS. */
export function iops(ops) {
  return 1e9 / Math.max(COST.T_CEILING, iommuNsPerIo(ops));
}

/** The cover letter's numbers (IOPS), for the comparison column. */
export const SEED = {
  strict: { before: 570e3, after: 5.01e6 },
  lazy: { before: 1.93e6, after: 5.01e6 },
  passthrough: { before: 5.01e6, after: 5.01e6 },
};
