// @dmabuf-sdk/io-uring: io_uring (io_uring/*.c) with dma-buf registered buffers and the dma-buf I/O context layer, and its module.
/**
 * io_uring for dmabuf-sdk: rings (`io_uring_setup`, `io_uring_enter`,
 * `io_uring_register`), registered files and buffers, `READ`/`WRITE` and
 * `READ_FIXED`/`WRITE_FIXED`, and Pavel Begunkov's dma-buf registered
 * buffers with the dma-buf I/O context/map layer (v6 by default, v3 as a
 * version axis).
 *
 * @packageDocumentation
 */
export { ioUringModule } from "./module.js";
export {
  IoRingCtx,
  IoKiocb,
  ioUringSetup,
  ioUringEnter,
  ioUringRings,
  ioUringFops,
  ioIsUringFops,
  ioCompleteRw,
  type IoUringParams,
} from "./io-uring.js";
export { ioUringRegister } from "./register.js";
export {
  IoMappedUbuf,
  IoRsrcNode,
  IO_REGBUF_F_DMABUF,
  ioUringRegbufDesc,
  ioImportFixed,
  ioFindBufNode,
  type IoRegbufDma,
  type IoUringRegbufDesc,
  type IoImported,
} from "./rsrc.js";
export {
  DmaBufIoCtx,
  DmaBufIoMap,
  IO_DMABUF_DEFAULT_VERSION,
  dmaBufIoCreate,
  dmaBufIoInitMap,
  dmaBufIoGetMap,
  dmaBufIoTrygetMap,
  dmaBufIoPutMap,
  dmaBufIoInvalidateMappings,
  dmaBufIoDetach,
  dmaBufIoRelease,
  type DmaBufIoOps,
  type DmaBufIoFileOperations,
  type IoDmabufVersion,
} from "./dma-buf-io.js";
export {
  EIOCBQUEUED,
  iovIterBvec,
  iovIterDmabufMap,
  walkBvec,
  copyFromIterBvec,
  copyToIterBvec,
  type IovIter,
  type IovIterBvec,
  type IovIterDmabufMap,
  type BioVec,
  type IterDir,
  type Kiocb,
  type IoUringFileOperations,
} from "./iov-iter.js";
export { IoUring, userAlloc, userCopy, negErrno } from "./liburing.js";
export { queueWork, waitEvent, wouldBlock, kworker, type WorkFn } from "./workqueue.js";
export * from "./io-uring-uapi.js";
