// @dmabuf-sdk/driver-vfio-pci: a PCI function bound to vfio-pci, its device file and its dma-buf export (drivers/vfio/pci/).
/**
 * A vfio-pci model: a PCI function bound to vfio-pci, opened through its
 * device node, that exports slices of its BARs as dma-bufs
 * (`VFIO_DEVICE_FEATURE_DMA_BUF`) offering the IOV (on a VF), PAL and SGT P2P mapping types,
 * revokes them on memory disable, resets, runtime PM, close and on request,
 * and lets user space mmap them.
 *
 * @packageDocumentation
 */
export { vfioPciModule, vfioPciProbe, vfioPciRemove, vfioPciUnplug, vfioFileIsValid, vfioFileSetKvm, VfioPciDriver, type VfioPciProbeOptions } from "./module.js";
export { VfioPciCoreDevice, type VfioPciDeviceOps, type VfioPciMatchMappingVersion, type VfioPciDmaBufRevokeVersion } from "./vfio-pci-core.js";
export { VfioDeviceSet, VfioGroup, vfioCheckFeature, type VfioDeviceFile } from "./vfio-main.js";
export {
  VfioPciDmaBuf,
  Completion,
  vfioPciDmabufOps,
  vfioPciPrivateDmabufOps,
  isVfioPciDmaBuf,
  vfioDmaBufGetData,
  type VfioDmaBufData,
  vfioPciDmaBufOffers,
  vfioPciDmaBufMove,
  vfioPciDmaBufSetStatus,
  vfioPciDmaBufCleanup,
  vfioPciCoreFillPhysVec,
  vfioPciCoreGetDmabufPhys,
  type VfioPciDmaBufStatus,
  type VfioPciDmaBufOffer,
} from "./vfio-pci-dmabuf.js";
export {
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_MASTER,
  VFIO_PCI_PM_CAP,
  PCI_PM_CTRL,
  VFIO_PCI_EXP_CAP,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
  VFIO_PCI_CONFIG_SIZE,
} from "./vfio-pci-config.js";
export {
  VFIO_TYPE,
  VFIO_BASE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_MASK,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
  VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE,
  VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR,
  VFIO_DEVICE_DMA_BUF_MEMATTR_NC,
  VFIO_DEVICE_DMA_BUF_MEMATTR_WC,
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_OFFSET_SHIFT,
  VFIO_DEVICE_FEATURE_SIZE,
  VFIO_DEVICE_FEATURE_DMA_BUF_SIZE,
  VFIO_REGION_DMA_RANGE_SIZE,
  VFIO_PCI_HOT_RESET_SIZE,
  vfioPciIndexToOffset,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioDeviceFeatureDmaBufRevoke,
  vfioDeviceFeatureDmaBufMemattr,
  vfioPciHotReset,
  vfioDeviceName,
  type VfioRegionDmaRange,
  type VfioDeviceFeatureDmaBuf,
} from "./vfio.js";
export { vfioPciExporterFixture, vfioPciFixtures, vfioWriteCommand, vfioWritePowerState, fixtureRanges, largestMemBar } from "./fixture.js";
