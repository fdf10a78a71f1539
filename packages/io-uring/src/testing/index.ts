/**
 * Test kit of `@dmabuf-sdk/io-uring`: a liburing-like {@link IoUring}
 * helper, user memory helpers, and a mock block device with dma-buf I/O
 * context support for subsystem-level tests.
 *
 * @packageDocumentation
 */
export { IoUring, userAlloc, userCopy, negErrno } from "../liburing.js";
export { mockBlkdev, type MockBlkdev } from "./mock-blkdev.js";
export { ioUringMachine, type IoUringMachine } from "./machine.js";
