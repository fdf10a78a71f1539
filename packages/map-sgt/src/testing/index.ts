// Test kit of map-sgt (`@dmabuf-sdk/map-sgt/testing`): minimal SGT exporters for importer tests.
export { mmioExporter, pagesExporter, type MmioPriv, type PagesPriv } from "./exporters.js";
