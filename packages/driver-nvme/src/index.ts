// @dmabuf-sdk/driver-nvme: the NVMe controller model and drivers/nvme/host/pci.c with dma-buf I/O context support, and its module.
/**
 * An NVMe model for dmabuf-sdk: a PCIe NVMe controller on the platform
 * (BAR0 registers and doorbells, admin and I/O queues in host memory,
 * namespaces with real media, PRP lists and SGLs walked by the controller's
 * DMA, MSI-X completions), the nvme-pci driver with its block devices, and
 * the dma-buf I/O context support that lets io_uring READ_FIXED/WRITE_FIXED
 * run against a registered dma-buf with a long-term mapping.
 *
 * @packageDocumentation
 */
export { nvmeModule, nvmeHwAttach, nvmeHwOf, nvmeProbe, nvmeRemove, nvmeDevices } from "./module.js";
export { NvmeHw, NvmeNamespace, nvmeHwNamespace, type NvmeHwOptions, type NvmeHwStats } from "./nvme-hw.js";
export {
  NvmeDev,
  NvmeQueue,
  NVME_SMALL_POOL_ENTRIES,
  nvmeInitDmaBufIoCtx,
  type NvmeDevOptions,
  type NvmeDevStats,
  type NvmeIod,
  type NvmeNsInfo,
  type NvmeData,
  type NvmeDmabufToken,
  type NvmeDmabufMap,
} from "./pci.js";
export { nvmeBdevFops, nvmeErrorStatus, type NvmeBlockDevice } from "./fops.js";
export { pciAllocIrqVectors, pciFreeIrqVectors, pciRequestIrq, pciFreeIrq, pciIrqCount, pciIrqVector, msixRaise, type IrqHandler } from "./msi.js";
export { DmaPool, dmaAllocCoherent, dmaFreeCoherent, coherentRead, coherentWrite, type DmaCoherent } from "./dmapool.js";
export { nvmeImporterFixture, nvmeFixtures, NVME_FIXTURE_NS_SIZE } from "./fixture.js";
export * from "./nvme-spec.js";
