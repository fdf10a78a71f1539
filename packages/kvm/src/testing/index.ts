// Test kit of kvm (`@dmabuf-sdk/kvm/testing`): a VMM session, a vfio stand-in and a boot helper.
/**
 * Test kit of the KVM model: a VMM session (VM, vCPU, memslots, guest
 * accesses through `KVM_RUN`) and a stand-in for vfio's `vfio_dma_buf_get_data`.
 *
 * @packageDocumentation
 */
export { kvmOpenSession, type KvmSession } from "./session.js";
export { kvmTestVfioModule } from "./vfio-stand-in.js";
export { kvmTestBoot, type KvmTestMachine } from "./boot.js";
