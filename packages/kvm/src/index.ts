// @dmabuf-sdk/kvm: the KVM subsystem (virt/kvm/, arch/x86/kvm/) with dma-buf-backed memslots and its module.
/**
 * A KVM model for dmabuf-sdk: `/dev/kvm`, VMs, memslots
 * (`KVM_SET_USER_MEMORY_REGION2`, including the dma-buf-backed slot of Xu
 * Yilun's RFC), a stage-2 table with KVM's invalidation sequence, vCPU guest
 * accesses that reach the platform, memory attributes (private MMIO), the
 * KVM-VFIO device, and every design of the "KVM maps device MMIO from a
 * dma-buf" argument as a build version.
 *
 * @packageDocumentation
 */
export { kvmModule, kvmModuleBuild } from "./module.js";
export { KVM_PFN_VERSIONS, kvmHasDmabufSlots, kvmChecksVfioData, type KvmPfnVersion } from "./kvm-version.js";
export {
  Kvm,
  kvmDestroyVm,
  kvmSetMemoryRegion,
  kvmVmIoctlSetMemoryRegion,
  kvmVmIoctlSetMemAttributes,
  kvmDevIoctlCreateVm,
  kvmFromFd,
  kvmVmFops,
  type KvmBuild,
} from "./kvm-main.js";
export type { KvmMemorySlot, KvmMemslotBackend, Spte, SlotPfn } from "./kvm-host.js";
export {
  kvmMmuPageFault,
  kvmMmuInvalidateBegin,
  kvmMmuInvalidateEnd,
  mmuInvalidateRetryGfn,
  kvmUnmapGfnRange,
  kvmZapGfnRange,
  kvmMemIsPrivate,
  kvmLevelForOrder,
  type KvmFaultResult,
  type KvmFaultPoint,
  type KvmMemoryFault,
} from "./mmu.js";
export { KvmVcpu, kvmVcpuRun, kvmVcpuCreate, kvmVcpuFops, type GuestAccess, type KvmRun } from "./vcpu.js";
export { KvmDevice, kvmIoctlCreateDevice, VFIO_FILE_IS_VALID, VFIO_FILE_SET_KVM, type VfioFileIsValid, type VfioFileSetKvm } from "./kvm-vfio.js";
export {
  kvmDmabufBind,
  kvmDmabufGetPfn,
  kvmDmabufAttachOps,
  VFIO_DMA_BUF_GET_DATA,
  type VfioDmaBufData,
  type VfioDmaBufGetData,
  type KvmDmabufSlot,
} from "./vfio-dmabuf.js";
export { dmaBufPfnAttach, dmaBufGetPfnUnlocked, type DmaBufPfn } from "./dma-buf-pfn.js";
export { kvmHvaBackend, kvmMmuNotifierRegister } from "./kvm-mmu-notifier.js";
export { kvmImporterFixture, kvmImporterFixtures, kvmFixtures, kvmRevokedErrno, KVM_FIXTURE_GPA } from "./fixture.js";
export { kvmBindReport, type KvmBindRow } from "./bind-report.js";
export * from "./kvm-uapi.js";
