// Integration: the vfio-pci exporter and compat exporter fixtures against the iommufd importer fixture, as the conformance matrix pairs them.
import { describe, expect, it } from "vitest";
import { DmaFault, Kernel, TOPOLOGY_NAMES, buildTopology, topologyKernelOptions, type ExporterFixture, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterFixture } from "@dmabuf-sdk/map-sgt";
import { vfioPciExporterFixture } from "@dmabuf-sdk/driver-vfio-pci";
import { iommufdImporterFixture } from "@dmabuf-sdk/driver-iommufd";
import { pattern } from "./env.js";

function ctxFor(name: TopologyName, exp: ExporterFixture) {
  const kernel = new Kernel(topologyKernelOptions(name));
  const topology = buildTopology(kernel, name);
  for (const m of [...exp.modules, ...iommufdImporterFixture.modules]) kernel.modprobe(m);
  const task = kernel.fork({ comm: "case" });
  return { kernel, topology, task };
}

function finish(ctx: ReturnType<typeof ctxFor>): void {
  ctx.kernel.exitTask(ctx.task, 0);
  ctx.kernel.clock.flush();
  expect(ctx.kernel.leakReport().text()).toBe("");
  expect(ctx.kernel.lockdep.reports()).toEqual([]);
  expect(ctx.kernel.oopses()).toEqual([]);
}

describe("conformance fixture: iommufd importer", () => {
  it.each(TOPOLOGY_NAMES.filter((n) => n !== "cross-root-no-p2p"))("vfio-pci × iommufd on %s: PAL, DMA through the IOVA, revoke (ENODEV, stale DMA faults), restore, remap, nothing left", (name) => {
    const ctx = ctxFor(name, vfioPciExporterFixture);
    expect(iommufdImporterFixture.placeable(ctx.topology)).toBe(true);
    const buf = vfioPciExporterFixture.export(ctx, 0x6000n);
    buf.write(0x2ff0n, pattern(0x20, 3));
    const imp = iommufdImporterFixture.import(ctx, buf);
    expect(imp.attachment?.mapType!.type.shortName).toBe("PAL");
    imp.map();
    expect(imp.mapped).toBe(true);
    expect(imp.route()).toBeUndefined();
    expect(imp.dmaRead(0x2ff0n, 0x20)).toEqual(pattern(0x20, 3));
    imp.dmaWrite!(0x5000n, pattern(16, 4));
    expect(buf.read(0x5000n, 16)).toEqual(pattern(16, 4));
    expect(buf.invalidate!()).toEqual({ remap: "ENODEV", kind: "revoke" });
    expect(imp.mapped).toBe(false);
    expect(() => imp.staleDmaRead!(16)).toThrow(DmaFault);
    expect(() => imp.map()).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    expect(() => imp.staleDmaRead!(16)).toThrow(DmaFault);
    buf.restore!();
    imp.map();
    expect(imp.mapped).toBe(true);
    expect(imp.dmaRead(0x5000n, 16)).toEqual(pattern(16, 4));
    imp.unmap();
    expect(imp.mapped).toBe(false);
    imp.detach();
    buf.release();
    finish(ctx);
  });

  it("vfio-pci × iommufd on cross-root-no-p2p: the import works, the DMA faults at the host bridge", () => {
    const ctx = ctxFor("cross-root-no-p2p", vfioPciExporterFixture);
    const buf = vfioPciExporterFixture.export(ctx, 0x2000n);
    const imp = iommufdImporterFixture.import(ctx, buf);
    expect(() => imp.dmaRead(0n, 16)).toThrow(expect.objectContaining({ reason: "p2p-host-bridge" }));
    imp.detach();
    buf.release();
    finish(ctx);
  });

  it("compat-exporter × iommufd: an exporter without PAL fails the import with EINVAL, and nothing is left", () => {
    const ctx = ctxFor("cross-root", compatExporterFixture);
    const buf = compatExporterFixture.export(ctx, 0x2000n);
    expect(() => iommufdImporterFixture.import(ctx, buf)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    buf.release();
    finish(ctx);
  });
});
