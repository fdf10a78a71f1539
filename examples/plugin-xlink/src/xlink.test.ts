// Tests of the example Xlink plugin: its mapping type, driver module and negotiation through core.
import { describe, expect, it } from "vitest";
import { Kernel, buildTopology, dmaBufDetach, dmaBufMappingAttach, dmaBufPut, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingSgt } from "@dmabuf-sdk/map-sgt";
import { XLINK_DRIVER, dmaBufImappingXlink, dmaBufMappingXlinkType, xlinkExport, xlinkModule } from "@dmabuf-sdk-examples/plugin-xlink";

function boot() {
  const k = new Kernel(topologyKernelOptions("same-switch"));
  const t = buildTopology(k, "same-switch");
  k.modprobe(xlinkModule);
  return { k, t };
}

describe("plugin-xlink", () => {
  it.each([
    { desc: "two Xlink devices negotiate XLINK", importerIsXlink: true, want: "XLINK" },
    { desc: "any other importer falls back to the SGT entry", importerIsXlink: false, want: "SGT" },
  ])("$desc", ({ importerIsXlink, want }) => {
    const { k, t } = boot();
    const d = xlinkExport(t.exporterSlot, 0x4000n);
    if (importerIsXlink) t.importerSlot.driver = XLINK_DRIVER;
    const a = dmaBufMappingAttach(d, [dmaBufImappingXlink(t.importerSlot), dmaBufImappingSgt(t.importerSlot, true)], { invalidateMappings: () => undefined });
    expect(a.mapType!.type.shortName).toBe(want);
    expect(a.mapType!.type === dmaBufMappingXlinkType).toBe(want === "XLINK");
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().empty).toBe(true);
  });

  it("declares its mapping type without touching core: core matches it by identity", () => {
    const { k, t } = boot();
    const d = xlinkExport(t.exporterSlot, 0x1000n);
    expect(() => dmaBufMappingAttach(d, [{ type: { ...dmaBufMappingXlinkType }, data: { dev: t.importerSlot } }])).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    dmaBufPut(d);
    expect(k.leakReport().empty).toBe(true);
  });
});
