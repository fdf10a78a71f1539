// Test kit of map-pal (`@dmabuf-sdk/map-pal/testing`): minimal PAL exporters for importer tests — a
// page-backed one, and an MMIO one (a BAR slice offering PAL, `get_pfn`, mmap, revoke, and a private form).
export { palExporter } from "./pal-exporter.js";
export { PalMmioBuffer, palMmioExport, palMmioSetRevoked, palMmioSharedOps, palMmioPrivateOps } from "./mmio-exporter.js";
