// CPU access brackets of a dma-buf: dma_buf_begin_cpu_access() / dma_buf_end_cpu_access() (drivers/dma-buf/dma-buf.c).
import { MAX_SCHEDULE_TIMEOUT } from "../kernel/time.js";
import type { DmaDataDirection } from "../platform/dma-mapping.js";
import type { DmaBuf } from "./dma-buf.js";
import { dmaResvUsageRw, dmaResvWaitTimeout } from "./dma-resv.js";

/**
 * `dma_buf_begin_cpu_access()`: before the CPU reads (`DMA_FROM_DEVICE`),
 * writes (`DMA_TO_DEVICE`) or both (`DMA_BIDIRECTIONAL`). The exporter's
 * `beginCpuAccess` runs first; if it succeeds the core waits, without a
 * timeout, for the implicit fences the access must not overtake: the
 * writers for a read, every reader and writer for a write
 * (`dma_resv_usage_rw()`). A fence nobody signals makes this a hung task.
 * @throws KernelError the exporter's errno (no wait then).
 * @public
 */
export function dmaBufBeginCpuAccess(dmabuf: DmaBuf, dir: DmaDataDirection): void {
  dmabuf.ops.beginCpuAccess?.(dmabuf, dir);
  const write = dir === "DMA_BIDIRECTIONAL" || dir === "DMA_TO_DEVICE";
  dmaResvWaitTimeout(dmabuf.resv, dmaResvUsageRw(write), true, MAX_SCHEDULE_TIMEOUT);
}

/**
 * `dma_buf_end_cpu_access()`: the CPU access is over; calls the exporter's
 * `endCpuAccess` if it has one.
 * @throws KernelError the exporter's errno.
 * @public
 */
export function dmaBufEndCpuAccess(dmabuf: DmaBuf, dir: DmaDataDirection): void {
  dmabuf.ops.endCpuAccess?.(dmabuf, dir);
}
