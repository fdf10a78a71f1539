// @dmabuf-sdk/memcg-lsm: memcg accounting of dma-bufs and the LSM hook that decides whom to charge.
/**
 * Memory accounting of dma-bufs for dmabuf-sdk, after Albert Esteve's RFC
 * "memcg: dma-buf per-cgroup accounting via pid_fd" (with T.J. Mercier's
 * `MEMCG_DMABUF` patch and Eric Chanudet's `mem_accounting` parameter): the
 * cgroup v2 memory controller with the `dmabuf` stat, the dma-heap core with
 * `charge_pid_fd` and a page-backed system heap, the
 * `security_dma_heap_alloc` LSM hook with stacking, and an SELinux-style LSM
 * with the `dma_heap:charge_to` permission.
 *
 * @packageDocumentation
 */

// memcg (mm/memcontrol.c)
export {
  memcgModule,
  memcgModuleWithParams,
  memCgroupChargeDmabuf,
  memCgroupUnchargeDmabuf,
  getMemCgroupFromMm,
  memCgroupPut,
  cssGet,
  cssPut,
  memCgroupDisabled,
  rootMemCgroup,
  memCgroupFromCgroup,
  memCgroupFromTask,
  memCgroupIsRoot,
  memCgroupOnline,
  memCgroupMargin,
  memCgroupOutOfMemory,
  memcgPageState,
  memcgPageStateLocal,
  memcgMemoryEvent,
  memcgMemoryEvents,
  PAGE_COUNTER_MAX,
  MAX_RECLAIM_RETRIES,
  PAGE_ALLOC_COSTLY_ORDER,
  MEMCG_MEMORY_EVENTS,
  type MemCgroup,
  type PageCounter,
  type CgroupSubsysState,
  type MemcgStatItem,
  type MemcgMemoryEvent,
  type MemcgParams,
} from "./memcontrol.js";
export { cgroupRead, cgroupWrite, pageCounterMemparse, type CgroupFile } from "./cgroup-files.js";
export {
  oomScoreAdj,
  setOomScoreAdj,
  taskIsDying,
  outOfMemory,
  OOM_SCORE_ADJ_MIN,
  OOM_SCORE_ADJ_MAX,
  OOM_KILL_EXIT_CODE,
  type OomControl,
} from "./oom-kill.js";
export {
  GFP_KERNEL,
  GFP_NOWAIT,
  __GFP_HIGH,
  __GFP_IO,
  __GFP_FS,
  __GFP_DIRECT_RECLAIM,
  __GFP_KSWAPD_RECLAIM,
  __GFP_RECLAIM,
  __GFP_NOWARN,
  __GFP_RETRY_MAYFAIL,
  __GFP_NOFAIL,
  __GFP_NORETRY,
  gfpflagsAllowBlocking,
  formatGfp,
  type GfpFlags,
} from "./gfp.js";

// dma-heap (drivers/dma-buf/dma-heap.c, include/uapi/linux/dma-heap.h)
export {
  dmaHeapModule,
  dmaHeapModuleWithParams,
  dmaHeapAdd,
  dmaHeapGetDrvdata,
  dmaHeapGetName,
  dmaHeapList,
  dmaHeapMemAccounting,
  DmaHeap,
  NUM_HEAP_MINORS,
  type DmaHeapOps,
  type DmaHeapExportInfo,
  type DmaHeapParams,
} from "./dma-heap.js";
export {
  DmaHeapAllocationData,
  DMA_HEAP_IOC_MAGIC,
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_IOCTL_ALLOC_V1,
  DMA_HEAP_ALLOCATION_DATA_SIZE,
  DMA_HEAP_ALLOCATION_DATA_SIZE_V1,
  DMA_HEAP_VALID_FD_FLAGS,
  DMA_HEAP_VALID_HEAP_FLAGS,
  type DmaHeapAllocationFields,
} from "./dma-heap-uapi.js";
export { dmaHeapAllocFd, type DmaHeapAllocOptions } from "./dma-heap-user.js";
export { dmaBufMemcg, dmaBufSetMemcg } from "./dma-buf-memcg.js";
export {
  systemHeapModule,
  systemHeapPhys,
  systemHeapRead,
  systemHeapWrite,
  isSystemHeapBuffer,
  SYSTEM_HEAP_ORDERS,
  type SystemHeapBuffer,
  type SystemHeapPage,
} from "./heaps/system-heap.js";

// LSM (security/security.c) and SELinux (security/selinux)
export {
  securityModule,
  securityAddHooks,
  securityDmaHeapAlloc,
  securityLsmList,
  SecurityHookList,
  LSM_ID_CAPABILITY,
  LSM_ID_SELINUX,
  LSM_ID_SMACK,
  LSM_ID_APPARMOR,
  LSM_ID_LOCKDOWN,
  LSM_ID_BPF,
  LSM_ID_LANDLOCK,
  type LsmId,
  type SecurityHooks,
} from "./security.js";
export {
  selinuxModule,
  selinuxModuleWithParams,
  selinuxLoadPolicy,
  selinuxSetEnforce,
  selinuxEnforcing,
  selinuxPolicy,
  selinuxAuditRecords,
  selinuxAvcStats,
  selinuxDmaHeapAlloc,
  selinuxLsmId,
  avcHasPerm,
  SELINUX_KERNEL_CLASSES,
  type AvcAuditRecord,
  type SelinuxParams,
} from "./selinux/selinux.js";
export { parseSelinuxPolicy, type SelinuxPolicy, type SelinuxAvRule, type SelinuxHandleUnknown } from "./selinux/policy.js";

// conformance
export { systemHeapFixture, memcgLsmScenarios, memcgLsmFixtures } from "./fixture.js";
