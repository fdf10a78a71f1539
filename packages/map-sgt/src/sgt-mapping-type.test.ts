// Tests of the SGT mapping type: match rules, finish_match and accessors.
import { beforeEach, describe, expect, it } from "vitest";
import {
  Device,
  Kernel,
  O_RDWR,
  buildTopology,
  dmaBufDebugShow,
  dmaBufDetach,
  dmaBufExport,
  dmaBufMappingAttach,
  dmaBufMatchMapping,
  dmaBufPut,
  topologyKernelOptions,
  type DmaBuf,
  type DmaBufMappingMatch,
  type DmaBufMappingType,
  type PciDev,
  type TopologyName,
} from "@dmabuf-sdk/dmabuf-core";
import {
  DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE,
  DMA_SGT_IMPORTER_ACCEPTS_P2P,
  DMA_SGT_NO_P2P,
  dmaBufEmappingSgt,
  dmaBufEmappingSgtP2p,
  dmaBufGetSgtOps,
  dmaBufImappingSgt,
  dmaBufMappingSgtType,
  dmaBufSgtDmaDevice,
  dmaBufSgtModule,
  dmaBufSgtP2pAllowed,
  dmaBufSimpleSgtExpMatch,
  type DmaBufMappingSgtExpOps,
  type DmaBufSgtData,
} from "@dmabuf-sdk/map-sgt";

const OPS: DmaBufMappingSgtExpOps = { mapDmaBuf: () => null, unmapDmaBuf: () => undefined };
const OPS2: DmaBufMappingSgtExpOps = { mapDmaBuf: () => null, unmapDmaBuf: () => undefined };

function boot(name: TopologyName) {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name);
  k.loadModule(dmaBufSgtModule);
  return { k, t };
}

function exporter(k: Kernel, offers: DmaBufMappingMatch[]): DmaBuf {
  return dmaBufExport(k, { owner: k.modules.vmlinux, ops: { release: () => undefined, matchMapping: (a) => dmaBufMatchMapping(a, offers) }, size: 4096n, flags: O_RDWR, priv: {} });
}

function matchResult(k: Kernel, offers: DmaBufMappingMatch[], imp: DmaBufMappingMatch[]): string {
  const d = exporter(k, offers);
  try {
    const a = dmaBufMappingAttach(d, imp, { invalidateMappings: () => undefined });
    const data = a.mapType!.data as DmaBufSgtData;
    const r = `${a.mapType!.expOps === OPS2 ? "ops2" : "ops"}:${data.exporterRequiresP2p === DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE ? "p2p" : "plain"}:${data.importingDmaDevice?.name}`;
    dmaBufDetach(d, a);
    return r;
  } catch (e) {
    return (e as { errno: string }).errno;
  } finally {
    dmaBufPut(d);
  }
}

describe("sgt-mapping-type", () => {
  describe("match rules", () => {
    it.each([
      { topo: "same-switch", exp: "SGT", imp: "NO_P2P", want: "ops:plain:imp" },
      { topo: "same-switch", exp: "SGT", imp: "ACCEPTS_P2P", want: "ops:plain:imp" },
      { topo: "cross-root-no-p2p", exp: "SGT", imp: "ACCEPTS_P2P", want: "ops:plain:imp" },
      { topo: "same-switch", exp: "SGT_P2P", imp: "ACCEPTS_P2P", want: "ops:p2p:imp" },
      { topo: "same-switch-acs", exp: "SGT_P2P", imp: "ACCEPTS_P2P", want: "ops:p2p:imp" },
      { topo: "cross-root", exp: "SGT_P2P", imp: "ACCEPTS_P2P", want: "ops:p2p:imp" },
      { topo: "iommu-off", exp: "SGT_P2P", imp: "ACCEPTS_P2P", want: "ops:p2p:imp" },
      { topo: "sriov", exp: "SGT_P2P", imp: "ACCEPTS_P2P", want: "ops:p2p:imp" },
      { topo: "cross-root-no-p2p", exp: "SGT_P2P", imp: "ACCEPTS_P2P", want: "EINVAL" },
      { topo: "same-switch", exp: "SGT_P2P", imp: "NO_P2P", want: "EINVAL" },
      { topo: "same-switch", exp: "SGT_P2P", imp: "ACCEPTS_P2P non-PCI", want: "EINVAL" },
      { topo: "same-switch", exp: "SGT_P2P then SGT", imp: "NO_P2P", want: "ops2:plain:imp" },
      { topo: "cross-root-no-p2p", exp: "SGT_P2P then SGT", imp: "ACCEPTS_P2P", want: "ops2:plain:imp" },
      { topo: "same-switch", exp: "SGT_P2P then SGT", imp: "ACCEPTS_P2P", want: "ops:p2p:imp" },
    ] as const)("$topo: exporter $exp, importer $imp → $want", ({ topo, exp, imp, want }) => {
      const { k, t } = boot(topo);
      const pdev = t.exporterSlot;
      const dev = imp.includes("non-PCI") ? new Device(k, "platform-imp", "platform") : t.importerSlot;
      const offers =
        exp === "SGT" ? [dmaBufEmappingSgt(OPS)] : exp === "SGT_P2P" ? [dmaBufEmappingSgtP2p(OPS, pdev)] : [dmaBufEmappingSgtP2p(OPS, pdev), dmaBufEmappingSgt(OPS2)];
      const entry = dmaBufImappingSgt(dev, imp.startsWith("ACCEPTS"));
      expect(matchResult(k, offers, [entry])).toBe(want.replace("imp", dev.name));
    });

    it("SGT_P2P without an exporting device WARNs and is skipped", () => {
      const { k, t } = boot("same-switch");
      expect(matchResult(k, [dmaBufEmappingSgtP2p(OPS, null)], [dmaBufImappingSgt(t.importerSlot, true)])).toBe("EINVAL");
      expect(k.warnings()).toHaveLength(1);
    });

    it("an exporter field holding IMPORTER_ACCEPTS_P2P falls out of the switch and matches (kernel quirk)", () => {
      const { k, t } = boot("cross-root-no-p2p");
      const odd = { ...dmaBufEmappingSgt(OPS), data: { ...(dmaBufEmappingSgt(OPS).data as DmaBufSgtData), exporterRequiresP2p: DMA_SGT_IMPORTER_ACCEPTS_P2P } } as DmaBufMappingMatch;
      expect(matchResult(k, [odd], [dmaBufImappingSgt(t.importerSlot, false)])).toMatch(/^ops:/);
    });

    it("the importer's first compatible entry wins for one exporter entry", () => {
      const { k, t } = boot("same-switch");
      const other = new Device(k, "second", "platform");
      expect(matchResult(k, [dmaBufEmappingSgt(OPS)], [dmaBufImappingSgt(other, false), dmaBufImappingSgt(t.importerSlot, false)])).toBe("ops:plain:second");
    });

    it("an SGT entry never matches another type", () => {
      const { k, t } = boot("same-switch");
      const OTHER: DmaBufMappingType = { name: "other", finishMatch: () => undefined };
      expect(matchResult(k, [dmaBufEmappingSgt(OPS)], [{ type: OTHER }])).toBe("EINVAL");
      expect(matchResult(k, [{ type: OTHER }], [dmaBufImappingSgt(t.importerSlot, true)])).toBe("EINVAL");
    });
  });

  describe("finish_match and accessors", () => {
    let k: Kernel;
    let pdev: PciDev;
    let imp: PciDev;
    beforeEach(() => {
      const b = boot("same-switch");
      k = b.k;
      pdev = b.t.exporterSlot;
      imp = b.t.importerSlot;
    });

    it("records the importer's device and flags, the exporter's requirement, the exporter ops; mirrors legacy fields", () => {
      const d = exporter(k, [dmaBufEmappingSgtP2p(OPS, pdev)]);
      const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(imp, true)], { invalidateMappings: () => undefined });
      expect(a.mapType!.type).toBe(dmaBufMappingSgtType);
      expect(a.mapType!.data).toEqual({ importingDmaDevice: imp, importerAcceptsP2p: DMA_SGT_IMPORTER_ACCEPTS_P2P, exporterRequiresP2p: DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE, exportingP2pDevice: null });
      expect(dmaBufSgtDmaDevice(a)).toBe(imp);
      expect(dmaBufSgtP2pAllowed(a)).toBe(true);
      expect(dmaBufGetSgtOps(a)).toBe(OPS);
      expect([a.dev, a.peer2peer]).toEqual([imp, true]);
      expect(dmaBufDebugShow(k)).toContain(`\tDMA Mapped Scatter Gather Table: ${imp.name}\n`);
      dmaBufDetach(d, a);
      dmaBufPut(d);
    });

    it("p2p_allowed is false when the plain entry matched, even for an importer that accepts P2P", () => {
      const d = exporter(k, [dmaBufEmappingSgt(OPS)]);
      const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(imp, true)], { invalidateMappings: () => undefined });
      expect(dmaBufSgtP2pAllowed(a)).toBe(false);
      expect((a.mapType!.data as DmaBufSgtData).importerAcceptsP2p).toBe(DMA_SGT_IMPORTER_ACCEPTS_P2P);
      dmaBufDetach(d, a);
      dmaBufPut(d);
    });

    it("accessors return null/false on a non-SGT attachment", () => {
      const OTHER: DmaBufMappingType = { name: "other", finishMatch: (args, e) => args.attach && (args.attach.mapType = { type: OTHER, expOps: e.expOps }) };
      const d = exporter(k, [{ type: OTHER }]);
      const a = dmaBufMappingAttach(d, [{ type: OTHER }]);
      expect([dmaBufSgtDmaDevice(a), dmaBufSgtP2pAllowed(a), dmaBufGetSgtOps(a)]).toEqual([null, false, null]);
      dmaBufDetach(d, a);
      dmaBufPut(d);
    });

    it("DMA_BUF_SIMPLE_SGT_EXP_MATCH gives one plain SGT entry with the two functions", () => {
      const map = () => null;
      const unmap = () => undefined;
      const ops = dmaBufSimpleSgtExpMatch(map, unmap);
      const m = ops.singleExporterMatch!;
      expect(m.type).toBe(dmaBufMappingSgtType);
      expect((m.data as DmaBufSgtData).exporterRequiresP2p).toBe(DMA_SGT_NO_P2P);
      expect(m.expOps).toMatchObject({ mapDmaBuf: map, unmapDmaBuf: unmap });
    });
  });

  it("the module exports the SGT symbols in the DMA_BUF namespace", () => {
    const { k } = boot("same-switch");
    expect(k.modules.lookup("dma_buf_phys_vec_to_sgt")).toEqual({ decl: { name: "dma_buf_phys_vec_to_sgt", license: "GPL", namespace: "DMA_BUF" }, owner: "dma_buf_mapping_sgt" });
    expect(() => k.loadModule({ name: "no_ns", license: "GPL", uses: ["dma_buf_mapping_sgt_type"] })).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    expect(k.loadModule({ name: "with_ns", license: "GPL", importNs: ["DMA_BUF"], uses: ["dma_buf_mapping_sgt_type"] }).state).toBe("live");
  });
});
