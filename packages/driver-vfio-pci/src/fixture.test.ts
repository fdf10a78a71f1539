// Tests of the vfio-pci conformance fixture: the exporter through the pair lifecycle.
import { describe, expect, it } from "vitest";
import { ConformanceFixtures, DmaFault, Kernel, TOPOLOGY_NAMES, buildTopology, topologyKernelOptions, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import { compatDynamicImporterFixture } from "@dmabuf-sdk/map-sgt";
import { fixtureRanges, vfioPciExporterFixture, vfioPciModule } from "@dmabuf-sdk/driver-vfio-pci";
import { pattern } from "@dmabuf-sdk/driver-vfio-pci/testing";

function ctxFor(name: TopologyName) {
  const kernel = new Kernel(topologyKernelOptions(name));
  const topology = buildTopology(kernel, name);
  for (const m of [...vfioPciExporterFixture.modules, ...compatDynamicImporterFixture.modules]) kernel.modprobe(m);
  const task = kernel.fork({ comm: "case" });
  return { kernel, topology, task };
}

describe("conformance fixture: vfio-pci exporter", () => {
  it("the module offers it to the matrix", () => {
    const k = new Kernel();
    k.modprobe(vfioPciModule);
    expect(k.providers(ConformanceFixtures).map((f) => [f.package, f.exporters.map((e) => e.name), f.importers.map((i) => i.name)])).toEqual([
      ["@dmabuf-sdk/map-sgt", ["compat-exporter"], ["compat-static-importer", "compat-dynamic-importer"]],
      ["@dmabuf-sdk/driver-vfio-pci", ["vfio-pci"], []],
    ]);
  });

  it.each([
    { size: 0x1000n, ranges: [{ offset: 0n, length: 0x1000n }] },
    { size: 0x5000n, ranges: [{ offset: 0x2000n, length: 0x3000n }, { offset: 0n, length: 0x2000n }] },
  ])("exports $size bytes as out-of-order BAR ranges", ({ size, ranges }) => {
    expect(fixtureRanges(size)).toEqual(ranges);
  });

  it.each(TOPOLOGY_NAMES.filter((n) => n !== "cross-root-no-p2p"))("vfio-pci × compat-dynamic-importer on %s: map, DMA, revoke (ENODEV, stale DMA faults), restore, remap, leave nothing", (name) => {
    const ctx = ctxFor(name);
    expect(vfioPciExporterFixture.placeable(ctx.topology)).toBe(true);
    const buf = vfioPciExporterFixture.export(ctx, 0x4000n);
    buf.write(0x1ff0n, pattern(0x20, 1));
    expect(buf.read(0x1ff0n, 0x20)).toEqual(pattern(0x20, 1));
    const imp = compatDynamicImporterFixture.import(ctx, buf);
    imp.map();
    expect(imp.mapped).toBe(true);
    expect(imp.dmaRead(0x1ff0n, 0x20)).toEqual(pattern(0x20, 1));
    imp.dmaWrite!(0x3000n, pattern(16, 2));
    expect(buf.read(0x3000n, 16)).toEqual(pattern(16, 2));
    expect(imp.route()).toBe(ctx.topology.p2pMapType.replace("PCI_P2PDMA_MAP_", ""));
    expect(buf.invalidate!()).toEqual({ remap: "ENODEV", kind: "revoke" });
    expect(imp.mapped).toBe(false);
    expect(() => imp.map()).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    expect(() => imp.staleDmaRead!(16)).toThrow(DmaFault);
    buf.restore!();
    imp.map();
    expect(imp.dmaRead(0x3000n, 16)).toEqual(pattern(16, 2));
    imp.unmap();
    imp.detach();
    buf.release();
    ctx.kernel.exitTask(ctx.task, 0);
    ctx.kernel.clock.flush();
    expect(ctx.kernel.leakReport().text()).toBe("");
    expect(ctx.kernel.lockdep.reports()).toEqual([]);
    expect(ctx.kernel.oopses()).toEqual([]);
  });

  it("cross-root-no-p2p: the SGT importer's attach fails with EINVAL", () => {
    const ctx = ctxFor("cross-root-no-p2p");
    const buf = vfioPciExporterFixture.export(ctx, 0x2000n);
    expect(() => compatDynamicImporterFixture.import(ctx, buf)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    buf.release();
    ctx.kernel.exitTask(ctx.task, 0);
    ctx.kernel.clock.flush();
    expect(ctx.kernel.leakReport().text()).toBe("");
  });
});
