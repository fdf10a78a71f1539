// drivers/iommu/iommufd/main.c: iommufd as the kernel module `iommufd`, the one user of dma_buf_pal_map_phys.
import { ConformanceFixtures, KernelError, defineModule, exportSymbolNsGpl, provideSymbol, type File, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { DMA_BUF_MAPPING_PAL_TYPE, DMA_BUF_PAL_MAP_PHYS, DMA_BUF_PAL_UNMAP_PHYS, dmaBufPalModule } from "@dmabuf-sdk/map-pal";
import { iommufdDeviceAttach, iommufdDeviceBind, iommufdDeviceDetach, iommufdDeviceUnbind } from "./device.js";
import { iommufdFixtures } from "./fixture.js";
import { IommufdCtx, iommufdCtxFromFd, iommufdCtxPut, iommufdFops } from "./main.js";
import { claimPalMapPhysSlot } from "./pages.js";

const setPalMapPhys = claimPalMapPhysSlot();

const IOMMUFD_NS = "IOMMUFD";
const EXPORTS: readonly [string, unknown][] = [
  ["iommufd_device_bind", iommufdDeviceBind],
  ["iommufd_device_attach", iommufdDeviceAttach],
  ["iommufd_device_detach", iommufdDeviceDetach],
  ["iommufd_device_unbind", iommufdDeviceUnbind],
  ["iommufd_ctx_from_fd", iommufdCtxFromFd],
  ["iommufd_ctx_put", iommufdCtxPut],
];

/**
 * iommufd as a kernel module, named `iommufd`: the one module the loader
 * gives `dma_buf_pal_map_phys` (`EXPORT_SYMBOL_FOR_MODULES(…, "iommufd")`).
 * Its `init` takes the function from the loader (`ctx.symbol()`), creates
 * `/dev/iommu`, exports the in-kernel device API in the `IOMMUFD`
 * namespace and offers the `iommufd` conformance importer fixture.
 * @public
 */
export const iommufdModule: KernelModule = defineModule({
  name: "iommufd",
  license: "GPL",
  description: "I/O address spaces for user space, with dma-buf (PAL) import",
  importNs: ["DMA_BUF"],
  uses: ["dma_buf_get", "dma_buf_put", "dma_buf_mapping_attach", "dma_buf_detach", DMA_BUF_MAPPING_PAL_TYPE, DMA_BUF_PAL_UNMAP_PHYS, DMA_BUF_PAL_MAP_PHYS],
  exports: EXPORTS.map(([name]) => exportSymbolNsGpl(name, IOMMUFD_NS)),
  requires: [dmaBufPalModule],
  init(ctx) {
    const k = ctx.kernel;
    setPalMapPhys(k, ctx.symbol(DMA_BUF_PAL_MAP_PHYS));
    ctx.onExit(() => setPalMapPhys(k, null));
    const unregister = k.devfs.register("iommu", {
      fops: iommufdFops,
      open(file: File) {
        k.alloc.kzalloc("iommufd_ctx");
        if (!k.modules.tryModuleGet(ctx.module)) throw new KernelError("ENODEV", "iommufd_fops_open", "iommufd is going away");
        const ictx = new IommufdCtx(k, ctx.module);
        ictx.file = file;
        file.privateData = ictx;
      },
    });
    ctx.onExit(unregister);
    for (const [name, fn] of EXPORTS) provideSymbol(ctx, name, fn);
    ctx.provide(ConformanceFixtures, iommufdFixtures);
  },
});
