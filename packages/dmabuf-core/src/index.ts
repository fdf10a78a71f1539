// @dmabuf-sdk/dmabuf-core: the kernel base, platform, dma-buf core (drivers/dma-buf/) and uAPI base, as one barrel.
/**
 * The dma-buf core of dmabuf-sdk: a kernel instance (modules, symbols, DI,
 * errno, locks, refs, fault injection), the platform it runs on (memory,
 * PCI, P2P, IOMMU, DMA engine), the dma-buf core (export, fd, attach and
 * mapping-type matching, resv, fences, invalidation, pin) and the uAPI base
 * (processes, fds, pidfds, ioctl, mmap).
 *
 * @packageDocumentation
 */

// kernel base
export { Kernel, type KernelOptions, type Oops } from "./kernel/kernel.js";
export { KernelLocal, KernelWeakMap } from "./kernel/kernel-local.js";
export { ERRNO, errnoName, errnoNumber, isErrno, type Errno } from "./kernel/errno.js";
export { KernelError, KernelBug, isKernelError } from "./kernel/kernel-error.js";
export { Kref } from "./kernel/kref.js";
export { LeakChecker, LeakSource, ObjectTracker, type LeakEntry, type LeakReport } from "./kernel/leak.js";
export {
  Lockdep,
  LockClass,
  type LockOwner,
  type LockdepMap,
  type LockdepReport,
  type LockdepReportKind,
  type LockdepOptions,
  type LockClassKey,
  type LockWaitType,
  type AcquireOptions,
} from "./kernel/lockdep.js";
export { Mutex, WwMutex, WwAcquireCtx, type LockEnv } from "./kernel/mutex.js";
export { RwSemaphore } from "./kernel/rwsem.js";
export { SpinLock } from "./kernel/spinlock.js";
export { RwLock } from "./kernel/rwlock.js";
export { irqWorkQueue } from "./kernel/irq-work.js";
export { XArray, type XArrayFlags } from "./kernel/xarray.js";
export { requestIrq, freeIrq, raiseIrq, type IrqHandler, type IrqReturn } from "./kernel/irq.js";
export { Scheduler, type StepOptions, type PreemptionPointHook } from "./kernel/sched.js";
export { explore, countSchedules, replaySchedule, type ExploreOptions, type ExploreResult, type ExploreFailure, type ExploreStrategy } from "./kernel/explore.js";
export {
  runExecution,
  type ExploreScenario,
  type ExploreInstance,
  type ExploreTask,
  type ExploreStep,
  type ExploreStepOutcome,
  type ExploreCheckFailure,
  type ExploreFailureKind,
  type ExploreDecision,
  type ExploreDecisionKind,
  type ExploreChooser,
  type ExecutionResult,
  type ExecutionBounds,
} from "./kernel/explore-run.js";
export { ExploreError, encodeSchedule, decodeSchedule, SCHEDULE_TAG, type ExploreErrorKind } from "./kernel/explore-schedule.js";
export { shrinkExecution, replayChooser } from "./kernel/explore-shrink.js";
export {
  Workqueue,
  Workqueues,
  WorkerPool,
  WorkStruct,
  DelayedWork,
  allocWorkqueue,
  allocOrderedWorkqueue,
  workqueueLockdepMap,
  initWork,
  initDelayedWork,
  queueWork,
  scheduleWork,
  queueDelayedWork,
  modDelayedWork,
  scheduleDelayedWork,
  flushWork,
  flushDelayedWork,
  cancelWorkSync,
  cancelDelayedWorkSync,
  cancelDelayedWork,
  flushWorkqueue,
  destroyWorkqueue,
  workPending,
  type WorkqueueFlags,
} from "./kernel/workqueue.js";
export { FaultInjector, type AllocSite, type AllocRecord, type FaultRule } from "./kernel/fault-inject.js";
export { KernelAllocator } from "./kernel/slab.js";
export { KernelRandom } from "./kernel/random.js";
export { KernelClock, HZ, MAX_SCHEDULE_TIMEOUT, type TimerHandle, type ClockEvent, type PickNextPolicy, type ScheduleOptions } from "./kernel/time.js";
export { TimerList, timerSetup, modTimer, timerPending, timerDelete, timerDeleteSync } from "./kernel/timer.js";
export { Printk, type LogLevel, type LogRecord } from "./kernel/printk.js";
export { Trace, type TraceEvent, type TraceValue } from "./kernel/trace.js";
export { ModuleContext, provideSymbol, defineModule, type KernelModule, type LoadedModule, type ModuleState, type SymbolOwner } from "./kernel/module.js";
export { ModuleLoader, type LoadOptions } from "./kernel/module-loader.js";
export {
  kernelSymbol,
  exportSymbol,
  exportSymbolGpl,
  exportSymbolNs,
  exportSymbolNsGpl,
  exportSymbolForModules,
  type KernelSymbol,
  type SymbolExport,
  type ExportLicense,
  type SymbolRef,
} from "./kernel/symbol.js";
export { modpost, type ModpostInput, type ModpostResult } from "./kernel/modpost.js";
export { VMLINUX_EXPORTS, type VmlinuxSymbol } from "./vmlinux.js";

// platform
export { PAGE_SHIFT, PAGE_SIZE, PAGE_SIZE_N, U64_LIMIT, U64_MAX, UINT_MAX, pageAligned, pageAlign, pfnDown, pfnPhys, hex } from "./platform/page.js";
export { SparseMemory } from "./platform/sparse-memory.js";
export { PhysMem, MAX_PAGE_ORDER, type PhysRegion, type PhysRegionBacking } from "./platform/phys-mem.js";
export { Device, devIsPci, type DeviceBus } from "./platform/device.js";
export {
  PciHostBridge,
  PciBus,
  PciDev,
  PciTopologyBuilder,
  PCI_STD_NUM_BARS,
  PCI_ROM_RESOURCE,
  pciBusAddress,
  pciUpstreamBridge,
  pciPhysfn,
  pciIovVfId,
  type PciBar,
  type PciAcsCtrl,
  type PciCommand,
  type PciPortType,
  type PciPowerState,
  type PciSriov,
} from "./platform/pci.js";
export {
  calcMapTypeAndDist,
  pciP2pdmaMapType,
  pciP2pdmaDistance,
  pciP2pdmaBusAddrMap,
  pcimP2pdmaInit,
  pcimP2pdmaProvider,
  p2pdmaMapTypeShort,
  type PciP2pdmaMapType,
  type P2pdmaProvider,
  type P2pdmaPath,
} from "./platform/p2pdma.js";
export { IoPageTable, IOMMU_READ, IOMMU_WRITE, IOMMU_CACHE, IOMMU_NOEXEC, IOMMU_MMIO } from "./platform/io-pgtable.js";
export { IovaDomain, type Iova } from "./platform/iova.js";
export { Iommu, IommuDomain, IommuGroup, iommuIsDmaDomain, type IommuDomainType, type IommuGeometry, type IommuOptions } from "./platform/iommu.js";
export {
  iommuDmaStats,
  type IommuDmaStats,
} from "./platform/dma-iommu.js";
export {
  DMA_ATTR_MMIO,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_MAPPING_ERROR,
  DMA_IOVA_USE_SWIOTLB,
  dmaInfoToProt,
  useDmaIommu,
  dmaMappingError,
  dmaMapPhys,
  dmaUnmapPhys,
  dmaIovaState,
  dmaUseIova,
  dmaIovaTryAlloc,
  dmaIovaLink,
  dmaIovaLinkSafe,
  dmaIovaSync,
  dmaIovaUnlink,
  dmaIovaFree,
  dmaIovaDestroy,
  iommuDmaAllocIova,
  iommuDmaFreeIova,
  iommuDmaMap,
  iommuDmaUnmap,
  dmaSyncSingleForDevice,
  dmaSyncSingleForCpu,
  type DmaDataDirection,
  type DmaIovaState,
} from "./platform/dma-mapping.js";
export { DmaFault, dmaRead, dmaReadInto, dmaWrite, type DmaFaultReason } from "./platform/dma-engine.js";
export { Platform, type PlatformOptions } from "./platform/platform.js";
export {
  buildTopology,
  topologyKernelOptions,
  TOPOLOGY_NAMES,
  GENERIC_SRIOV_PF,
  type Topology,
  type TopologyName,
  type TopologyOptions,
  type BarSpec,
  type SriovPfSpec,
} from "./platform/topologies.js";

// dma-buf core
export {
  DmaBuf,
  DmaBufAttachment,
  DmaBufLegacyCompat,
  defineDmaBufExportInfo,
  dmaBufExport,
  dmaBufFd,
  dmaBufGet,
  getDmaBuf,
  dmaBufPut,
  dmaBufMappingAttach,
  dmaBufAttach,
  dmaBufDynamicAttach,
  dmaBufDetach,
  dmaBufAttachmentIsDynamic,
  dmaBufIsDynamic,
  dmaBufAttachRevocable,
  dmaBufPin,
  dmaBufUnpin,
  dmaBufInvalidateMappings,
  isDmaBufFile,
  type DmaBufOps,
  type DmaBufAttachOps,
  type DmaBufExportInfo,
} from "./dma-buf/dma-buf.js";
export { dmaBufBeginCpuAccess, dmaBufEndCpuAccess } from "./dma-buf/dma-buf-cpu-access.js";
export {
  DMA_BUF_BASE,
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_NAME_LEN,
  DMA_BUF_SET_NAME_A,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_VALID_FLAGS_MASK,
  DMA_BUF_SYNC_WRITE,
  dmaBufSync,
  dmaBufSyncFile,
} from "./dma-buf/dma-buf-ioctl.js";
export {
  dmaBufMatchMapping,
  registerTraceDmaBufMatchMapping,
  type DmaBufMatchTrace,
  type DmaBufMatchTry,
  type DmaBufMatchVerdict,
  type DmaBufMatchProbe,
  type DmaBufMappingType,
  type DmaBufMappingMatch,
  type DmaBufMappingExpOps,
  type DmaBufMatchArgs,
} from "./dma-buf/dma-buf-mapping.js";
export {
  DmaFence,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceSignalTimestamp,
  dmaFenceSignalLocked,
  dmaFenceCheckAndSignal,
  dmaFenceSetError,
  dmaFenceIsSignaled,
  dmaFenceGetStatus,
  dmaFenceGetStatusLocked,
  dmaFenceEnableSwSignaling,
  dmaFenceAddCallback,
  dmaFenceRemoveCallback,
  dmaFenceWaitTimeout,
  dmaFenceWait,
  dmaFenceBeginSignalling,
  dmaFenceEndSignalling,
  dmaFenceDescribe,
  dmaFenceSetCoreVersion,
  dmaFenceDriverName,
  dmaFenceTimelineName,
  dmaFenceSetDeadline,
  dmaFenceGetStatusNumber,
  dmaFenceTimestamp,
  dmaFenceSeqnoIsLater,
  dmaFenceIsSeqno64,
  dmaFenceIsLater,
  dmaFenceGetStub,
  dmaFenceAllocatePrivateStub,
  type FenceCoreVersion,
  type DmaFenceOps,
  type DmaFenceCb,
  type DmaFenceStatus,
} from "./dma-buf/dma-fence.js";
export {
  DmaResv,
  dmaResvInit,
  dmaResvFini,
  dmaResvLock,
  dmaResvLockInterruptible,
  dmaResvTrylock,
  dmaResvUnlock,
  dmaResvAssertHeld,
  dmaResvHeld,
  dmaResvReserveFences,
  dmaResvAddFence,
  dmaResvFences,
  dmaResvGetFences,
  dmaResvGetSingleton,
  dmaResvTestSignaled,
  dmaResvWaitTimeout,
  dmaResvDescribe,
  dmaResvUsageRw,
  type DmaResvUsage,
} from "./dma-buf/dma-resv.js";
export {
  DmaFenceArray,
  dmaFenceArrayCreate,
  dmaFenceArrayFirst,
  dmaFenceArrayNext,
  dmaFenceIsArray,
  dmaFenceMatchContext,
  toDmaFenceArray,
} from "./dma-buf/dma-fence-array.js";
export {
  DmaFenceChain,
  dmaFenceChainAlloc,
  dmaFenceChainFree,
  dmaFenceChainInit,
  dmaFenceChainWalk,
  dmaFenceChainForEach,
  dmaFenceChainFindSeqno,
  dmaFenceChainContained,
  dmaFenceIsChain,
  dmaFenceIsContainer,
  toDmaFenceChain,
  type DmaFenceChainSlot,
} from "./dma-buf/dma-fence-chain.js";
export { dmaFenceUnwrapFirst, dmaFenceUnwrapNext, dmaFenceUnwrapForEach, dmaFenceDedupArray, dmaFenceUnwrapMerge, type DmaFenceUnwrap } from "./dma-buf/dma-fence-unwrap.js";
export {
  SyncFile,
  SYNC_IOC_MAGIC,
  SYNC_IOC_MERGE,
  SYNC_IOC_FILE_INFO,
  SYNC_IOC_SET_DEADLINE,
  EPOLLIN,
  syncFileCreate,
  syncFileFromFile,
  syncFileGetFence,
  syncFileGetName,
} from "./dma-buf/sync-file.js";
export {
  SyncTimeline,
  SyncPt,
  SW_SYNC_PATH,
  SW_SYNC_FOPS,
  SW_SYNC_IOC_MAGIC,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SW_SYNC_GET_DEADLINE,
  swSyncDebugfsInit,
} from "./dma-buf/sw-sync.js";
export { dmaBufDebugShow } from "./dma-buf/dma-buf-debugfs.js";
export { DmaBufCoreState } from "./dma-buf/dma-buf-core-module.js";

// uAPI base
export { Task, type TaskState } from "./uapi/task.js";
export { type Cred, INIT_CRED, prepareCreds, securityContextType } from "./uapi/cred.js";
export { Cgroup, CgroupRoot } from "./uapi/cgroup.js";
export { File, O_RDONLY, O_WRONLY, O_RDWR, O_ACCMODE, O_NONBLOCK, O_CLOEXEC, O_APPEND, O_DIRECT, O_NOATIME, F_GETFL, F_SETFL, FMODE_READ, FMODE_WRITE, FMODE_PREAD, FMODE_PWRITE, type FileOperations } from "./uapi/file.js";
export { fput } from "./uapi/file-table.js";
export { FdTable } from "./uapi/fdtable.js";
export { Devfs, type DevNode } from "./uapi/devfs.js";
export {
  pidfdGetTask,
  pidfdPid,
  PIDFD_NONBLOCK,
  PIDFD_SELF_THREAD,
  PIDFD_SELF_THREAD_GROUP,
  type Pid,
} from "./uapi/pidfd.js";
export { UserSyscalls, PIDFD_THREAD, POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL } from "./uapi/syscalls.js";
export { UserMemory, userMemory } from "./uapi/user-ptr.js";
export { LibSync, type SyncFenceInfo, type SyncFileInfo } from "./uapi/libsync.js";
export { EventfdCtx, EFD_SEMAPHORE, EFD_CLOEXEC, EFD_NONBLOCK, eventfdSignal, eventfdCtxFdget, eventfdCtxPut } from "./uapi/eventfd.js";
export { copyFromUser, copyToUser, strndupUser, UserStruct, type UserArg } from "./uapi/user-buffer.js";
export { ioc, io, ior, iow, iowr, iocNr, iocType, iocSize, iocDir, IOC_NONE, IOC_READ, IOC_WRITE } from "./uapi/ioctl.js";
export {
  Mm,
  VmArea,
  UserSignal,
  unmapMappingRange,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  MAP_SHARED,
  MAP_PRIVATE,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  MAP_FIXED,
  MAP_ANONYMOUS,
  MAP_GROWSDOWN,
  MAP_DENYWRITE,
  MAP_EXECUTABLE,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_NONBLOCK,
  MAP_STACK,
  MAP_HUGETLB,
  MAP_SYNC,
  MAP_FIXED_NOREPLACE,
  MAP_UNINITIALIZED,
  TASK_SIZE,
  vmaSetAnonymous,
  pinUserPages,
  unpinUserPages,
  VM_READ,
  VM_WRITE,
  VM_SHARED,
  VM_MAYSHARE,
  VM_PFNMAP,
  VM_IO,
  VM_DONTEXPAND,
  VM_DONTDUMP,
  VM_ALLOW_ANY_UNCACHED,
  type PageCaching,
  type VmFault,
  type VmFaultResult,
  type VmOperations,
  type MmuNotifierOps,
} from "./uapi/mm.js";

// conformance contract
export {
  ConformanceFixtures,
  type ExporterFixture,
  type ImporterFixture,
  type ExportedBuffer,
  type ImportedBuffer,
  type FixtureBase,
  type FixtureContext,
  type InvalidationOutcome,
  type ConformanceScenario,
  type ConformanceExpectation,
} from "./conformance/fixture.js";
export {
  CASE_BUFFER_SIZE,
  caseTopologyOptions,
  runPairCase,
  runScenarioCase,
  runUnplugCase,
  type UnplugFamily,
  type CaseActual,
  type CaseContexts,
  type CaseRun,
  type LifecycleStep,
} from "./conformance/pair-lifecycle.js";
export { withGetters } from "./conformance/with-getters.js";

// Exported for this package's own tests only: @internal, stripped from the published .d.ts (stripInternal).
/** @internal */
export { DMA_FENCE_ARRAY_PENDING_ERROR } from "./dma-buf/dma-fence-array.js";
/** @internal */
export { IOVA_FQ_SIZE, IOVA_FQ_TIMEOUT_MS, iommuDmaFqDepth, iommuDmaStatsSnapshot } from "./platform/dma-iommu.js";
/** @internal */
export { irqActions } from "./kernel/irq.js";
/** @internal */
export { modStrncmp, strncmp, verifyModuleNamespace, licenseIsGplCompatible } from "./kernel/module-namespace.js";
/** @internal */
export { SETFL_MASK } from "./uapi/file.js";
/** @internal */
export { SYNC_FILE_INFO_SIZE, SYNC_MERGE_DATA_SIZE } from "./dma-buf/sync-file.js";
