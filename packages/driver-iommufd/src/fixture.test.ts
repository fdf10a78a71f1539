// Tests of the iommufd importer fixture that the module offers to the conformance matrix.
import { describe, expect, it } from "vitest";
import { ConformanceFixtures, Kernel } from "@dmabuf-sdk/dmabuf-core";
import { iommufdModule } from "@dmabuf-sdk/driver-iommufd";

describe("conformance fixture: iommufd importer", () => {
  it("the module offers it to the matrix", () => {
    const k = new Kernel();
    k.modprobe(iommufdModule);
    expect(k.providers(ConformanceFixtures).map((f) => [f.package, f.exporters.map((e) => e.name), f.importers.map((i) => i.name)])).toEqual([["@dmabuf-sdk/driver-iommufd", [], ["iommufd"]]]);
  });
});
