// The kernel image's symbol table (vmlinux __ksymtab): every symbol core exports, with its namespace and license.
/**
 * The built-in kernel image's symbol table: what core exports, with the
 * kernel's license and namespace for each. Modules that list these in `uses`
 * are checked against it at load (and by modpost at build).
 */
import { exportSymbol, exportSymbolGpl, exportSymbolNsGpl, type SymbolExport } from "./kernel/symbol.js";
import * as dmaBuf from "./dma-buf/dma-buf.js";
import * as cpuAccess from "./dma-buf/dma-buf-cpu-access.js";
import * as mapping from "./dma-buf/dma-buf-mapping.js";
import * as fence from "./dma-buf/dma-fence.js";
import * as resv from "./dma-buf/dma-resv.js";
import * as fenceArray from "./dma-buf/dma-fence-array.js";
import * as fenceChain from "./dma-buf/dma-fence-chain.js";
import * as unwrap from "./dma-buf/dma-fence-unwrap.js";
import * as syncFile from "./dma-buf/sync-file.js";
import * as eventfd from "./uapi/eventfd.js";
import * as dma from "./platform/dma-mapping.js";
import * as p2p from "./platform/p2pdma.js";
import * as engine from "./platform/dma-engine.js";

const NS = "DMA_BUF";

/** One vmlinux export: its `__ksymtab` entry and the function. @public */
export interface VmlinuxSymbol {
  readonly decl: SymbolExport;
  readonly value: unknown;
}

const ns = (name: string, value: unknown): VmlinuxSymbol => ({ decl: exportSymbolNsGpl(name, NS), value });
const gpl = (name: string, value: unknown): VmlinuxSymbol => ({ decl: exportSymbolGpl(name), value });
const plain = (name: string, value: unknown): VmlinuxSymbol => ({ decl: exportSymbol(name), value });

/** Every symbol the core exports, as in the kernel (`EXPORT_SYMBOL_NS_GPL(…, "DMA_BUF")` for dma-buf). */
export const VMLINUX_SYMBOLS: readonly VmlinuxSymbol[] = [
  ns("dma_buf_export", dmaBuf.dmaBufExport),
  ns("dma_buf_fd", dmaBuf.dmaBufFd),
  ns("dma_buf_get", dmaBuf.dmaBufGet),
  ns("dma_buf_put", dmaBuf.dmaBufPut),
  ns("dma_buf_mapping_attach", dmaBuf.dmaBufMappingAttach),
  ns("dma_buf_attach", dmaBuf.dmaBufAttach),
  ns("dma_buf_dynamic_attach", dmaBuf.dmaBufDynamicAttach),
  ns("dma_buf_detach", dmaBuf.dmaBufDetach),
  ns("dma_buf_pin", dmaBuf.dmaBufPin),
  ns("dma_buf_unpin", dmaBuf.dmaBufUnpin),
  ns("dma_buf_invalidate_mappings", dmaBuf.dmaBufInvalidateMappings),
  ns("dma_buf_attach_revocable", dmaBuf.dmaBufAttachRevocable),
  ns("dma_buf_match_mapping", mapping.dmaBufMatchMapping),
  ns("dma_buf_begin_cpu_access", cpuAccess.dmaBufBeginCpuAccess),
  ns("dma_buf_end_cpu_access", cpuAccess.dmaBufEndCpuAccess),
  plain("dma_fence_signal", fence.dmaFenceSignal),
  plain("dma_fence_add_callback", fence.dmaFenceAddCallback),
  plain("dma_fence_remove_callback", fence.dmaFenceRemoveCallback),
  plain("dma_fence_wait_timeout", fence.dmaFenceWaitTimeout),
  plain("dma_fence_get_status", fence.dmaFenceGetStatus),
  plain("dma_fence_context_alloc", fence.dmaFenceContextAlloc),
  plain("dma_fence_set_deadline", fence.dmaFenceSetDeadline),
  plain("dma_fence_get_stub", fence.dmaFenceGetStub),
  plain("dma_fence_allocate_private_stub", fence.dmaFenceAllocatePrivateStub),
  plain("dma_fence_array_create", fenceArray.dmaFenceArrayCreate),
  plain("dma_fence_match_context", fenceArray.dmaFenceMatchContext),
  plain("dma_fence_chain_init", fenceChain.dmaFenceChainInit),
  plain("dma_fence_chain_walk", fenceChain.dmaFenceChainWalk),
  plain("dma_fence_chain_find_seqno", fenceChain.dmaFenceChainFindSeqno),
  gpl("dma_fence_unwrap_first", unwrap.dmaFenceUnwrapFirst),
  gpl("dma_fence_unwrap_next", unwrap.dmaFenceUnwrapNext),
  gpl("dma_fence_dedup_array", unwrap.dmaFenceDedupArray),
  gpl("__dma_fence_unwrap_merge", unwrap.dmaFenceUnwrapMerge),
  plain("sync_file_create", syncFile.syncFileCreate),
  plain("sync_file_get_fence", syncFile.syncFileGetFence),
  gpl("eventfd_ctx_fdget", eventfd.eventfdCtxFdget),
  gpl("eventfd_signal", eventfd.eventfdSignal),
  gpl("eventfd_ctx_put", eventfd.eventfdCtxPut),
  plain("dma_resv_reserve_fences", resv.dmaResvReserveFences),
  plain("dma_resv_add_fence", resv.dmaResvAddFence),
  plain("dma_resv_wait_timeout", resv.dmaResvWaitTimeout),
  gpl("dma_resv_get_fences", resv.dmaResvGetFences),
  gpl("dma_resv_get_singleton", resv.dmaResvGetSingleton),
  gpl("dma_map_phys", dma.dmaMapPhys),
  gpl("dma_unmap_phys", dma.dmaUnmapPhys),
  gpl("dma_iova_try_alloc", dma.dmaIovaTryAlloc),
  gpl("dma_iova_link", dma.dmaIovaLink),
  gpl("dma_iova_sync", dma.dmaIovaSync),
  gpl("dma_iova_unlink", dma.dmaIovaUnlink),
  gpl("dma_iova_destroy", dma.dmaIovaDestroy),
  gpl("dma_iova_free", dma.dmaIovaFree),
  plain("dma_sync_single_for_device", dma.dmaSyncSingleForDevice),
  plain("dma_sync_single_for_cpu", dma.dmaSyncSingleForCpu),
  gpl("pci_p2pdma_map_type", p2p.pciP2pdmaMapType),
  gpl("pci_p2pdma_distance", p2p.pciP2pdmaDistance),
  gpl("pcim_p2pdma_init", p2p.pcimP2pdmaInit),
  gpl("pcim_p2pdma_provider", p2p.pcimP2pdmaProvider),
  gpl("device_dma_read", engine.dmaRead),
  gpl("device_dma_write", engine.dmaWrite),
];

/** The `__ksymtab` view of `VMLINUX_SYMBOLS`, for modpost. @public */
export const VMLINUX_EXPORTS: readonly SymbolExport[] = VMLINUX_SYMBOLS.map((s) => s.decl);
