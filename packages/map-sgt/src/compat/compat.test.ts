// Tests of the SGT compatibility layer: unconverted exporters and importers, and their fixtures.
import { describe, expect, it } from "vitest";
import {
  ConformanceFixtures,
  Kernel,
  KernelError,
  O_RDWR,
  buildTopology,
  dmaBufAttach,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaBufExport,
  dmaBufInvalidateMappings,
  dmaBufMappingAttach,
  dmaBufPut,
  dmaResvLock,
  dmaResvUnlock,
  topologyKernelOptions,
  type TopologyName,
} from "@dmabuf-sdk/dmabuf-core";
import {
  CompatDynamicImporter,
  CompatStaticImporter,
  compatDynamicImporterFixture,
  compatDynamicImporterModule,
  compatExporterAlloc,
  compatExporterFixture,
  compatExporterModule,
  compatStaticImporterFixture,
  compatStaticImporterModule,
  dmaBufImappingSgt,
  dmaBufMappingSgtType,
  dmaBufSgtMapAttachmentUnlocked,
  dmaBufSgtModule,
  dmaBufSgtUnmapAttachmentUnlocked,
  sgtDmaRead,
  sgtDmaWrite,
} from "@dmabuf-sdk/map-sgt";
import { mmioExporter, pagesExporter } from "@dmabuf-sdk/map-sgt/testing";

function boot(name: TopologyName = "cross-root") {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name);
  k.modprobe(compatExporterModule);
  k.modprobe(compatStaticImporterModule);
  k.modprobe(compatDynamicImporterModule);
  return { k, t };
}

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe("SGT compatibility layer", () => {
  it("a legacy exporter with a converted importer negotiates SGT and moves bytes both ways", () => {
    const { k, t } = boot();
    const d = compatExporterAlloc(k, k.modules.find("compat_exporter")!, 0x3000n);
    const data = bytes(0x3000);
    d.priv.pfns.forEach((p, i) => k.platform.physmem.write(BigInt(p) << 12n, data.subarray(i * 0x1000, (i + 1) * 0x1000)));
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, true)], { invalidateMappings: () => undefined });
    expect(a.mapType!.type).toBe(dmaBufMappingSgtType);
    expect(a.dev).toBe(t.importerSlot);
    const sgt = dmaBufSgtMapAttachmentUnlocked(a, "DMA_BIDIRECTIONAL");
    expect(sgtDmaRead(t.importerSlot, sgt, 0n, 0x3000)).toEqual(data);
    sgtDmaWrite(t.importerSlot, sgt, 0x1ffen, Uint8Array.of(9, 9, 9, 9));
    // The write straddles two pages.
    expect(k.platform.physmem.read((BigInt(d.priv.pfns[1]!) << 12n) + 0xffen, 2)).toEqual(Uint8Array.of(9, 9));
    expect(k.platform.physmem.read(BigInt(d.priv.pfns[2]!) << 12n, 2)).toEqual(Uint8Array.of(9, 9));
    dmaBufSgtUnmapAttachmentUnlocked(a, sgt, "DMA_BIDIRECTIONAL");
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it.each([
    { desc: "static importer", Importer: CompatStaticImporter },
    { desc: "dynamic importer", Importer: CompatDynamicImporter },
  ])("a converted page-backed exporter with an unconverted $desc negotiates SGT and moves bytes", ({ Importer }) => {
    const { k, t } = boot();
    const d = pagesExporter(k, 2);
    const data = bytes(0x2000, 3);
    d.priv.pfns.forEach((p, i) => k.platform.physmem.write(BigInt(p) << 12n, data.subarray(i * 0x1000, (i + 1) * 0x1000)));
    const imp = new Importer(t.importerSlot, d);
    expect(imp.attachment?.mapType!.type).toBe(dmaBufMappingSgtType);
    imp.map();
    expect(sgtDmaRead(t.importerSlot, imp.sgt!, 0n, 0x2000)).toEqual(data);
    imp.detach();
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it.each([
    { topo: "same-switch" as const, importer: "dynamic", result: "ok" },
    { topo: "cross-root" as const, importer: "dynamic", result: "ok" },
    { topo: "cross-root-no-p2p" as const, importer: "dynamic", result: "EINVAL" },
    { topo: "same-switch" as const, importer: "static", result: "EINVAL" },
  ])("an SGT_P2P MMIO exporter and an unconverted $importer importer on $topo: $result", ({ topo, importer, result }) => {
    const { k, t } = boot(topo);
    const bar = t.exporterSlot.bars[0]!;
    k.platform.physmem.write(bar.start, bytes(0x1000, 5));
    const d = mmioExporter(k, t.exporterSlot, [{ paddr: bar.start, len: 0x1000n }]);
    const make = () => (importer === "dynamic" ? new CompatDynamicImporter(t.importerSlot, d) : new CompatStaticImporter(t.importerSlot, d));
    if (result !== "ok") {
      expect(make).toThrow(expect.objectContaining({ errno: result }));
    } else {
      const imp = make();
      imp.map();
      expect(sgtDmaRead(t.importerSlot, imp.sgt!, 0n, 0x1000)).toEqual(bytes(0x1000, 5));
      imp.detach();
    }
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it("an unconverted exporter that checks attach->peer2peer itself sees the legacy fields", () => {
    const { k, t } = boot();
    const legacyMap = () => null;
    const d = dmaBufExport(k, {
      owner: k.modules.vmlinux,
      ops: {
        mapDmaBuf: legacyMap,
        unmapDmaBuf: () => undefined,
        attach: (_d, a) => {
          // old vfio-pci: P2P-only MMIO refuses importers that cannot take it
          if (!a.peer2peer) throw new KernelError("EOPNOTSUPP", "old_vfio_attach");
        },
        release: () => undefined,
      },
      size: 0x1000n,
      flags: O_RDWR,
      priv: {},
    });
    expect(() => dmaBufAttach(d, t.importerSlot)).toThrow(expect.objectContaining({ errno: "EOPNOTSUPP" }));
    const a = dmaBufDynamicAttach(d, t.importerSlot, { allowPeer2peer: true, invalidateMappings: () => undefined });
    expect(a.peer2peer).toBe(true);
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("the dynamic importer drops its mapping on invalidation and maps again on next use", () => {
    const { k, t } = boot();
    const d = pagesExporter(k, 1, { pinnable: true });
    k.platform.physmem.write(BigInt(d.priv.pfns[0]!) << 12n, Uint8Array.of(1, 2, 3));
    const imp = new CompatDynamicImporter(t.importerSlot, d);
    imp.map();
    dmaResvLock(d.resv);
    dmaBufInvalidateMappings(d);
    dmaResvUnlock(d.resv);
    expect([imp.sgt, imp.invalidations, imp.staleAddr !== null]).toEqual([null, 1, true]);
    expect(sgtDmaRead(t.importerSlot, imp.ensureMapped(), 0n, 3)).toEqual(Uint8Array.of(1, 2, 3));
    expect(d.priv.log).toEqual(["map", "unmap", "map"]);
    imp.detach();
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it("the compat drivers need the SGT module: loading one without it fails with Unknown symbol", () => {
    const k = new Kernel();
    expect(() => k.loadModule(compatExporterModule)).toThrow(expect.objectContaining({ errno: "ENOENT" }));
    expect(k.printk.contains("compat_exporter: Unknown symbol sg_alloc_table (err -2)")).toBe(true);
    k.modprobe(compatExporterModule);
    expect(k.modules.find("dma_buf_mapping_sgt")).toBeDefined();
  });

  describe("fixtures", () => {
    it("the SGT module offers the compat fixtures to the conformance matrix", () => {
      const k = new Kernel();
      k.loadModule(dmaBufSgtModule);
      const f = k.providers(ConformanceFixtures);
      expect(f.map((x) => [x.package, x.exporters.map((e) => e.name), x.importers.map((i) => i.name)])).toEqual([
        ["@dmabuf-sdk/map-sgt", ["compat-exporter"], ["compat-static-importer", "compat-dynamic-importer"]],
      ]);
    });

    it.each([compatStaticImporterFixture, compatDynamicImporterFixture])("compat-exporter × $name: the lifecycle on a fresh kernel leaves nothing", (impFix) => {
      const k = new Kernel(topologyKernelOptions("cross-root"));
      const topology = buildTopology(k, "cross-root");
      for (const m of [...compatExporterFixture.modules, ...impFix.modules]) k.modprobe(m);
      const task = k.fork({ comm: "case" });
      const ctx = { kernel: k, topology, task };
      const buf = compatExporterFixture.export(ctx, 0x4000n);
      buf.write(0x1000n, bytes(16, 9));
      const imp = impFix.import(ctx, buf);
      imp.map();
      expect(imp.mapped).toBe(true);
      expect(imp.dmaRead(0x1000n, 16)).toEqual(bytes(16, 9));
      imp.dmaWrite!(0x3ff0n, bytes(16, 4));
      expect(buf.read(0x3ff0n, 16)).toEqual(bytes(16, 4));
      expect(imp.route()).toBeUndefined(); // system memory: no P2P route
      expect(buf.invalidate).toBeUndefined();
      imp.unmap();
      imp.detach();
      buf.release();
      k.exitTask(task, 0);
      expect(k.leakReport().text()).toBe("");
      expect(k.lockdep.reports()).toEqual([]);
    });
  });
});
