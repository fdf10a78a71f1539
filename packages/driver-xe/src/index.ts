// @dmabuf-sdk/driver-xe: an Intel Xe GPU with VRAM behind the LMEM BAR and its dma-buf exporter/importer (drivers/gpu/drm/xe/).
/**
 * An Intel Xe GPU model for dmabuf-sdk: VRAM behind the LMEM BAR and system
 * memory, buffer objects that move between them (eviction, migration) with
 * their importers invalidated under the reservation lock, a GPU copy engine
 * that reaches VRAM by device physical address and everything else by DMA
 * address, GPU page tables, SR-IOV PF mode with the VFs' LMEM quotas, the
 * dma-buf exporter (`[SGT_P2P, SGT]`: P2P when reachable, else migrate to
 * system pages) and the dynamic importer (`[IOV, SGT]`) with the PF's
 * translation of a VF's BAR ranges into DPAs of that VF's own quota and the
 * sticky fallback to SGT.
 *
 * @packageDocumentation
 */
export { xeModule } from "./module.js";
export {
  XeDevice,
  XE_DRM_DRIVER,
  xeDeviceProbe,
  xeDeviceRemove,
  xeDeviceOf,
  xeDevices,
  xePciMatch,
  LMEM_BAR,
  XE_PAGE_SIZE,
  XE_PCI_IDS,
  XE_SRIOV_PF,
  type XeSriovMode,
  type XeProbeOptions,
} from "./xe-device.js";
export { XeVram, type XeVramBlock, type XeVramAllocOptions } from "./xe-ttm-vram-mgr.js";
export {
  XeBo,
  XE_PL_SYSTEM,
  XE_PL_TT,
  XE_PL_VRAM0,
  xeBoCreate,
  xeBoGet,
  xeBoPut,
  xeBoAddr,
  xeBoVramPage,
  xeBoMove,
  xeBoMoveNotify,
  xeBoMigrate,
  xeBoEvict,
  xeBoPurge,
  xeBoValidate,
  xeBoPin,
  xeBoUnpin,
  xeBoRead,
  xeBoWrite,
  type XeMemType,
  type XeBoPlacement,
  type XeBoCreateOptions,
  type DrmPagemapAddr,
  type XeSriovDmaData,
  type XeBoImport,
  type XeIovFallback,
  type XeTt,
} from "./xe-bo.js";
export { xeGemPrimeMmap, xeBoUnplugMmapPolicy } from "./xe-bo-vm.js";
export { xeBoPciDevRemoveAll, type XeBoRemoveOutcome } from "./xe-bo-evict.js";
export { xeGpuDmaRead, xeGpuDmaReadInto, xeGpuDmaWrite, xeMigrateCopy, xeMigrateClear, xeMigrateUpdatePgtables, type XeGpuAddress, type XeMigrateRes } from "./xe-migrate.js";
export { XeExecQueue, XeSchedJob, xeSchedJobRun, type XeBatch } from "./xe-sched-job.js";
export {
  xeSriovPfInit,
  xeSriovPfFini,
  xeSriovVfIdOf,
  xeDeviceIsSriovPf,
  xeGtSriovPfConfigSetLmem,
  xeGtSriovPfConfigGetLmem,
  xeGtSriovPfConfigGetLmemObj,
  type XeGtSriovConfig,
  type XeSriovPf,
  type XeSriovPfOptions,
} from "./xe-gt-sriov-pf-config.js";
export { xeBoTranslateIoAddrToDpa, xeBoMoveDmabuf, xeFindVfDev, XeIovFallbackNeeded } from "./xe-bo-move-dmabuf.js";
export {
  xeDmabufOps,
  xeDmaBufAttachOps,
  xeDmaBufImporterMatches,
  xeGemPrimeExport,
  xeGemPrimeImport,
  xeDmaBufReattach,
  xeBoLockAndValidate,
  xeBoValidateUnlocked,
  xeDmaBufImportMapped,
} from "./xe-dma-buf.js";
export {
  XeVm,
  XeVma,
  XE_PAGE_PRESENT,
  XE_PAGE_RW,
  XE_PPGTT_PTE_DM,
  xeVmCreate,
  xeVmDestroy,
  xeVmBind,
  xeVmUnbind,
  xeVmRebind,
  xePtStageBind,
  xeVmRead,
  xeVmWrite,
  type XePte,
  type XeBindSource,
} from "./xe-pt.js";
export { xeFixtures, xeVramExporterFixture, xeSystemExporterFixture, xeImporterFixture, XE_FIXTURE_VA } from "./fixture.js";
