// The unplug family of the matrix: the exporter's or the importer's device leaves the bus mid-lifecycle.
import { describe, expect, it } from "vitest";
import { runMatrix } from "@dmabuf-sdk/conformance";
import { runUnplugCase, type ExporterFixture } from "@dmabuf-sdk/dmabuf-core";
import { vfioPciExporterFixture } from "@dmabuf-sdk/driver-vfio-pci";
import { xeVramExporterFixture, type XeBo } from "@dmabuf-sdk/driver-xe";
import type { DrmUnplugMmapPolicy } from "@dmabuf-sdk/drm";
import { kvmImporterFixture } from "@dmabuf-sdk/kvm";

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
    // KVM columns: the hva slot follows the VMM's mapping (dummy page, EFAULT), the dma-buf slots say EIO, a refused build stops at load.
    expect(by("xe-vram/kvm/unplug-exporter")?.actual.outcome).toBe("dummy-page");
    expect(by("xe-system/kvm/unplug-exporter")?.actual.outcome).toBe("dummy-page");
    expect(by("vfio-pci/kvm/unplug-exporter")?.actual.outcome).toBe("EFAULT");
    expect(by("vfio-pci/kvm-pfn-attachment/unplug-exporter")?.actual.outcome).toBe("EIO");
    expect(by("vfio-pci/kvm-maptype-pal-iommufd+kvm/unplug-exporter")?.actual.outcome).toBe("EIO");
    expect(by("xe-vram/kvm-maptype-pal-iommufd/unplug-exporter")?.actual).toMatchObject({ errno: "EINVAL", step: "load" });
  });
});

describe("unplug family: mainline KVM follows the VMM's mapping, not an attachment", () => {
  const kvmImporter = kvmImporterFixture("mainline-vma");
  /** The Xe VRAM exporter with the removed device's CPU mappings set to `policy`. */
  const xeWith = (policy: DrmUnplugMmapPolicy): ExporterFixture => ({
    ...xeVramExporterFixture,
    export(ctx, size) {
      const b = xeVramExporterFixture.export(ctx, size);
      (b.dmabuf.priv as XeBo).xe.unplugMmap = policy;
      return b;
    },
  });
  it.each([
    { policy: "dummy-page" as const, outcome: "dummy-page" },
    { policy: "sigbus" as const, outcome: "EFAULT" },
  ])("xe-vram removed, CPU mappings $policy: the guest's next access gives $outcome, nothing leaks", ({ policy, outcome }) => {
    const run = runUnplugCase("same-switch", xeWith(policy), kvmImporter, "unplug-exporter", 7);
    expect(run.violations).toEqual([]);
    expect(run.actual.outcome).toBe(outcome);
  });
  it("vfio-pci removed: the hva slot's fault gets EFAULT, the pfn attachment's EIO", () => {
    expect(runUnplugCase("same-switch", vfioPciExporterFixture, kvmImporter, "unplug-exporter", 7).actual.outcome).toBe("EFAULT");
    expect(runUnplugCase("same-switch", vfioPciExporterFixture, kvmImporterFixture("pfn-attachment"), "unplug-exporter", 7).actual.outcome).toBe("EIO");
  });
  it("a kvm build the loader refuses stops the case at load, as in the lifecycle", () => {
    const run = runUnplugCase("same-switch", vfioPciExporterFixture, kvmImporterFixture("maptype-pal", "iommufd"), "unplug-exporter", 7);
    expect(run.violations).toEqual([]);
    expect(run.actual).toMatchObject({ errno: "EINVAL", step: "load" });
  });
});
