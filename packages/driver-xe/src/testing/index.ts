// Test kit of xe (`@dmabuf-sdk/driver-xe/testing`): machines with xe loaded and a VF exporter for the PF importer.
export { boot, bootSriov, bytes, teardown, xeOn, type Machine } from "./machine.js";
export { vfExport, vfExporterFixture, vfRevoke, type VfExportOptions, type VfExporterPriv } from "./vf-exporter.js";
