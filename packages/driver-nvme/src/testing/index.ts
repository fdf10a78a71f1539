// @dmabuf-sdk/driver-nvme/testing: the boot helper for NVMe tests (a machine with a controller on the importer slot).
/**
 * Test kit of `@dmabuf-sdk/driver-nvme`: boots a machine with an NVMe
 * controller bound by nvme-pci on a topology slot.
 *
 * @packageDocumentation
 */
export { nvmeMachine, type NvmeMachine, type NvmeMachineOptions } from "./machine.js";
