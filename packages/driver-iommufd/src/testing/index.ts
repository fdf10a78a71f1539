// Test kit of iommufd (`@dmabuf-sdk/driver-iommufd/testing`): boot an iommufd session on the importer slot, count IOPTEs, tear down.
export { boot, ioptes, teardown, type IommufdEnv } from "./iommufd-env.js";
