// @dmabuf-sdk/driver-iommufd: /dev/iommu contexts, IOAS, devices and dma-buf-backed mappings (drivers/iommu/iommufd/).
/**
 * An iommufd model: `/dev/iommu` contexts with I/O address spaces, devices
 * bound and attached to them through UNMANAGED domains of the platform
 * IOMMU, and `IOMMU_IOAS_MAP_FILE` of a dma-buf fd imported with the PAL
 * mapping type. This is the module named `iommufd`, the only one the loader
 * gives `dma_buf_pal_map_phys`.
 *
 * @packageDocumentation
 */
export { iommufdModule } from "./module.js";
export { IommufdCtx, iommufdCtxFromFd, iommufdCtxPut, iommufdFops, type IommufdObject, type IommufdUcmd } from "./main.js";
export { IommufdIoas, iommufdGetIoas } from "./ioas.js";
export { IommufdDevice, IommufdHwptPaging, iommufdDeviceBind, iommufdDeviceAttach, iommufdDeviceDetach, iommufdDeviceUnbind } from "./device.js";
export { IoPagetable, IoptArea, ULONG_MAX, HPAGE_SIZE, MSI_RESV, convIommuProt, type IoptReserved } from "./io-pagetable.js";
export { IoptPages, PfnReaderDmabuf, MAX_NPFNS } from "./pages.js";
export {
  IOMMUFD_TYPE,
  IOMMUFD_CMD_BASE,
  IOMMUFD_CMD_DESTROY,
  IOMMUFD_CMD_IOAS_ALLOC,
  IOMMUFD_CMD_IOAS_UNMAP,
  IOMMUFD_CMD_IOAS_MAP_FILE,
  IOMMUFD_CMD_LAST,
  IOMMU_DESTROY,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_UNMAP,
  IOMMU_IOAS_MAP_FILE,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_DESTROY_SIZE,
  IOMMU_IOAS_ALLOC_SIZE,
  IOMMU_IOAS_UNMAP_SIZE,
  IOMMU_IOAS_MAP_FILE_SIZE,
  iommuDestroy,
  iommuIoasAlloc,
  iommuIoasUnmap,
  iommuIoasMapFile,
  type IommuIoasMapFile,
} from "./iommufd.js";
export { iommufdImporterFixture, iommufdFixtures, iommufdOpenSession, type IommufdSession } from "./fixture.js";
