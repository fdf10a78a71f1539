// The unplug family of the matrix: the exporter's or the importer's device leaves the bus mid-lifecycle.
import { describe, expect, it } from "vitest";
import { runMatrix } from "@dmabuf-sdk/conformance";

describe("unplug family", () => {
  it("runs for every pair with a hot-unpluggable side, with the oracle's outcomes, and passes", async () => {
    const r = await runMatrix({ filter: { topology: "same-switch", scenarios: false } });
    const un = r.cases.filter((c) => c.scenario.startsWith("unplug-"));
    const by = (id: string) => un.find((c) => c.id === `same-switch/${id}`);
    expect(un.length).toBeGreaterThan(10);
    expect(un.filter((c) => c.status !== "pass").map((c) => `${c.id}: ${c.messages.join("; ")}`)).toEqual([]);
    expect(by("xe-vram/compat-dynamic-importer/unplug-exporter")?.actual.outcome).toBe("remap");
    expect(by("xe-vram/compat-static-importer/unplug-exporter")?.actual.outcome).toBe("kept");
    expect(by("vfio-pci/compat-dynamic-importer/unplug-exporter")?.actual.outcome).toBe("ENODEV");
    expect(by("system-heap/xe/unplug-importer")?.actual.outcome).toBe("ok");
    // Pairs refused at attach stop there in the family too; importers with no device have no importer-unplug case.
    expect(by("xe-vram/iommufd/unplug-exporter")?.actual).toMatchObject({ errno: "EINVAL", step: "attach" });
    expect(by("xe-vram/iommufd/unplug-importer")).toBeUndefined();
    expect(by("compat-exporter/compat-dynamic-importer/unplug-exporter")).toBeUndefined();
  });
});
