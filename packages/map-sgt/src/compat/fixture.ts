// The compat drivers' conformance fixtures: unconverted exporters and importers offered to the matrix.
import type { ConformanceFixtures } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterFixture } from "./compat-exporter.js";
import { compatDynamicImporterFixture, compatStaticImporterFixture } from "./compat-importers.js";

/** The unconverted compat drivers, offered to the conformance matrix. @public */
export const sgtCompatFixtures: ConformanceFixtures = {
  package: "@dmabuf-sdk/map-sgt",
  exporters: [compatExporterFixture],
  importers: [compatStaticImporterFixture, compatDynamicImporterFixture],
};
