// Test kit of vfio-pci (`@dmabuf-sdk/driver-vfio-pci/testing`): a VMM with a vfio-pci device open, VFIO_DEVICE_FEATURE_DMA_BUF export and revoke, BAR access, teardown checks.
export { P, barRead, barWrite, boot, exportBuf, exportRaw, pattern, revokeRaw, setMemory, setPowerState, teardown, vfioOpen, type Env, type VfioOpen, type VfioOpenOptions } from "./vfio-env.js";
