// An example out-of-tree plugin: Xlink, a private device-to-device mapping type and a driver that uses it.
/**
 * An example out-of-tree dmabuf-sdk plugin: a private device-to-device
 * interconnect declared as a new mapping type, with an exporter and an
 * importer driver, cross-tested against every in-tree driver by
 * `dmabuf-conformance run --module @dmabuf-sdk-examples/plugin-xlink`.
 *
 * @packageDocumentation
 */
export { xlinkModule, xlinkExport, xlinkMigrate, xlinkExporterFixture, xlinkImporterFixture, xlinkFixtures } from "./xlink-driver.js";
export { dmaBufMappingXlinkType, dmaBufEmappingXlink, dmaBufImappingXlink, XLINK_DRIVER, type XlinkData, type XlinkExpOps, type XlinkRanges } from "./xlink-type.js";
