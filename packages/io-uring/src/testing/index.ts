// @dmabuf-sdk/io-uring/testing: the boot helper and mock block device for io_uring tests.
/**
 * Test kit of `@dmabuf-sdk/io-uring`: a machine with the io_uring module and
 * a mock block device with dma-buf I/O context support, for subsystem-level
 * tests (the liburing-like `IoUring` helper is in the main entry).
 *
 * @packageDocumentation
 */
export { mockBlkdev, type MockBlkdev } from "./mock-blkdev.js";
export { ioUringMachine, type IoUringMachine } from "./machine.js";
