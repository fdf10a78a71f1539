// A stand-in for vfio's exports to KVM (vfio_dma_buf_get_data of RFC 09/12) over map-pal's test MMIO exporter, for tests without a vfio driver.
import { KernelError, exportSymbolGpl, provideSymbol, type DmaBuf, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { palMmioPrivateOps, palMmioSharedOps, type PalMmioBuffer } from "@dmabuf-sdk/map-pal/testing";
import { VFIO_DMA_BUF_GET_DATA, type VfioDmaBufData } from "../vfio-dmabuf.js";

/**
 * A module named `vfio` exporting `vfio_dma_buf_get_data` (GPL) for buffers of
 * the PAL test exporter, whose `sideData` plays the part of the snapshot
 * vfio takes at export (`is_private`, `kvm`). Other buffers: `EINVAL`.
 * @public
 */
export const kvmTestVfioModule: KernelModule = {
  name: "vfio",
  license: "GPL",
  exports: [exportSymbolGpl(VFIO_DMA_BUF_GET_DATA)],
  init(ctx) {
    provideSymbol(ctx, VFIO_DMA_BUF_GET_DATA, (dmabuf: DmaBuf): VfioDmaBufData => {
      if (dmabuf.ops !== palMmioSharedOps && dmabuf.ops !== palMmioPrivateOps) throw new KernelError("EINVAL", "vfio_dma_buf_get_data", "not a vfio dma-buf");
      return (dmabuf.priv as PalMmioBuffer).sideData;
    });
  },
};
