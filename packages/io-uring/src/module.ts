// io_uring/io_uring.c module init + drivers/dma-buf/dma-buf-io.c exports: the io_uring subsystem as a kernel module.
import { exportSymbolGpl, provideSymbol, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufIoDetach, dmaBufIoInitMap, dmaBufIoInvalidateMappings, dmaBufIoPutMap } from "./dma-buf-io.js";

const IMPLS: readonly [ReturnType<typeof exportSymbolGpl>, unknown][] = [
  [exportSymbolGpl("dma_buf_io_init_map"), dmaBufIoInitMap],
  [exportSymbolGpl("dma_buf_io_invalidate_mappings"), dmaBufIoInvalidateMappings],
  [exportSymbolGpl("dma_buf_io_detach"), dmaBufIoDetach],
  [exportSymbolGpl("dma_buf_io_put_map"), dmaBufIoPutMap],
];

/**
 * io_uring and the dma-buf I/O context layer as a module named `io_uring`:
 * exports the layer's driver API (`dma_buf_io_*`, GPL) that block drivers
 * such as nvme use. The rings themselves need no module state.
 * @public
 */
export const ioUringModule: KernelModule = {
  name: "io_uring",
  license: "GPL",
  description: "io_uring with dma-buf registered buffers and the dma-buf I/O context layer",
  importNs: ["DMA_BUF"],
  uses: ["dma_buf_get", "dma_buf_put"],
  exports: IMPLS.map(([decl]) => decl),
  init(ctx) {
    for (const [decl, impl] of IMPLS) provideSymbol(ctx, decl.name, impl);
  },
};
