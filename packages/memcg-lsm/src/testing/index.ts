// Test kit of memcg-lsm (`@dmabuf-sdk/memcg-lsm/testing`): boot helpers for dma-heap, memcg and LSM tests.
export { ALLOCATOR, ALLOW_CLIENT, CLIENT, boot, current, dmabuf, exitAll, policy, spawn, type BootOptions } from "./boot.js";
