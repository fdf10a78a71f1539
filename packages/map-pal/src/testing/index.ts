/**
 * Test kit of the PAL mapping type: a minimal MMIO exporter (a BAR slice
 * offering PAL, `get_pfn`, mmap, revoke, and a private form) for importer tests.
 *
 * @packageDocumentation
 */
export { PalMmioBuffer, palMmioExport, palMmioSetRevoked, palMmioSharedOps, palMmioPrivateOps } from "./mmio-exporter.js";
