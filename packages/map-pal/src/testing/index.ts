// Test kit of map-pal (`@dmabuf-sdk/map-pal/testing`): a minimal PAL exporter for importer tests.
export { palExporter } from "./pal-exporter.js";
