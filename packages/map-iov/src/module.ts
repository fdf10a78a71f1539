// The IOV mapping type as a kernel module exporting dma_buf_mapping_iov and its helpers.
import { exportSymbolNsGpl, provideSymbol, type KernelModule, type SymbolExport } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufIovMapRanges, dmaBufIovUnmapRanges } from "./dma-buf-iov.js";
import { dmaBufIovAllocRanges, dmaBufIovFreeRanges, dmaBufMappingIovType } from "./dma-buf-mapping-iov.js";

const NS = "DMA_BUF";
const IMPLS: readonly [SymbolExport, unknown][] = [
  [exportSymbolNsGpl("dma_buf_mapping_iov_type", NS), dmaBufMappingIovType],
  [exportSymbolNsGpl("dma_buf_iov_map_ranges", NS), dmaBufIovMapRanges],
  [exportSymbolNsGpl("dma_buf_iov_unmap_ranges", NS), dmaBufIovUnmapRanges],
  [exportSymbolNsGpl("dma_buf_iov_alloc_ranges", NS), dmaBufIovAllocRanges],
  [exportSymbolNsGpl("dma_buf_iov_free_ranges", NS), dmaBufIovFreeRanges],
];

/**
 * The IOV mapping type as a kernel module (the kernel would build it into
 * `drivers/dma-buf/`). Every export is `EXPORT_SYMBOL_NS_GPL(…, "DMA_BUF")`:
 * the type singleton, the importer's `dma_buf_iov_map_ranges()` /
 * `dma_buf_iov_unmap_ranges()`, and the exporters' list helpers. Nothing is
 * restricted to a module: who may use IOV is decided by `match` (a VF and
 * its own PF), not by who links.
 * @public
 */
export const dmaBufIovModule: KernelModule = {
  name: "dma_buf_mapping_iov",
  license: "GPL",
  description: "DMA-buf IOV (SR-IOV PF-VF interconnect) mapping type",
  exports: IMPLS.map(([decl]) => decl),
  init(ctx) {
    for (const [decl, impl] of IMPLS) provideSymbol(ctx, decl.name, impl);
  },
};
