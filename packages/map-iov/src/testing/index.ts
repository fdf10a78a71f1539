// Test kit of map-iov (`@dmabuf-sdk/map-iov/testing`): a minimal IOV exporter on a VF.
export { iovExporter, type IovExporterOptions, type IovExporterPriv } from "./iov-exporter.js";
