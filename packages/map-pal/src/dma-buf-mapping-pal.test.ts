// Tests of the PAL mapping type: its match rules and map_phys/unmap_phys.
import { beforeEach, describe, expect, it } from "vitest";
import {
  Kernel,
  KernelError,
  O_RDWR,
  dmaBufDebugShow,
  dmaBufDetach,
  dmaBufExport,
  dmaBufMappingAttach,
  dmaBufMatchMapping,
  dmaBufPut,
  dmaResvLock,
  dmaResvUnlock,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufMappingMatch,
  type DmaBufMappingType,
  type KernelModule,
} from "@dmabuf-sdk/dmabuf-core";
import {
  DMA_BUF_PAL_MAP_PHYS,
  dmaBufAttachmentIsPal,
  dmaBufEmappingPal,
  dmaBufImappingPal,
  dmaBufMappingPalType,
  dmaBufPalModule,
  dmaBufPalUnmapPhys,
  type DmaBufMappingPalExpOps,
  type DmaBufPalMapPhys,
  type DmaBufPhysList,
} from "@dmabuf-sdk/map-pal";

/** A second mapping type, to check priorities against. */
const MOCK: DmaBufMappingType = { name: "Mock", finishMatch: (a, e) => a.attach && (a.attach.mapType = { type: MOCK, expOps: e.expOps }) };

function palOps(tag: string, log: string[], list: DmaBufPhysList = { length: 1, phys: [{ paddr: 0x40_0000_0000n, len: 0x1000n }] }): DmaBufMappingPalExpOps & { tag: string } {
  return {
    tag,
    mapPhys: () => (log.push(`map ${tag}`), list),
    unmapPhys: (_a, p) => void log.push(`unmap ${tag} ${p.length}`),
  };
}

function exporter(k: Kernel, offers: DmaBufMappingMatch[]): DmaBuf {
  return dmaBufExport(k, { owner: k.modules.vmlinux, ops: { release: () => undefined, matchMapping: (a) => dmaBufMatchMapping(a, offers) }, size: 0x1000n, flags: O_RDWR, priv: {} });
}

/** Loads a module named `iommufd` that hands the restricted function to the test. */
function grantedMapPhys(k: Kernel): DmaBufPalMapPhys {
  let fn: DmaBufPalMapPhys | undefined;
  const mod: KernelModule = { name: "iommufd", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS], init: (ctx) => (fn = ctx.symbol(DMA_BUF_PAL_MAP_PHYS)) };
  k.loadModule(mod);
  return fn!;
}

describe("dma-buf-mapping-pal", () => {
  let k: Kernel;
  let log: string[];
  beforeEach(() => {
    k = new Kernel();
    k.loadModule(dmaBufPalModule);
    log = [];
  });

  it("the type singleton: the kernel's name, no match, no debugfs_dump", () => {
    expect(dmaBufMappingPalType.name).toBe("Physical Address List");
    expect(dmaBufMappingPalType.shortName).toBe("PAL");
    expect(dmaBufMappingPalType.match).toBeUndefined();
    expect(dmaBufMappingPalType.debugfsDump).toBeUndefined();
    expect(dmaBufImappingPal()).toEqual({ type: dmaBufMappingPalType });
    const ops = palOps("a", log);
    expect(dmaBufEmappingPal(ops)).toEqual({ type: dmaBufMappingPalType, expOps: ops });
  });

  const A = palOps("a", []);
  const B = palOps("b", []);
  it.each([
    { desc: "PAL offered, PAL asked", exp: [dmaBufEmappingPal(A)], imp: [dmaBufImappingPal()], result: "PAL a" },
    { desc: "two PAL entries: the exporter's first wins", exp: [dmaBufEmappingPal(A), dmaBufEmappingPal(B)], imp: [dmaBufImappingPal()], result: "PAL a" },
    { desc: "exporter priority over the importer's order (Mock first)", exp: [{ type: MOCK, expOps: B }, dmaBufEmappingPal(A)], imp: [dmaBufImappingPal(), { type: MOCK }], result: "Mock b" },
    { desc: "exporter priority over the importer's order (PAL first)", exp: [dmaBufEmappingPal(A), { type: MOCK, expOps: B }], imp: [{ type: MOCK }, dmaBufImappingPal()], result: "PAL a" },
    { desc: "importer asks PAL, exporter has none", exp: [{ type: MOCK }], imp: [dmaBufImappingPal()], result: "EINVAL" },
    { desc: "exporter offers nothing", exp: [], imp: [dmaBufImappingPal()], result: "EINVAL" },
    { desc: "importer asks nothing", exp: [dmaBufEmappingPal(A)], imp: [], result: "EINVAL" },
  ])("matching: $desc → $result", ({ exp, imp, result }) => {
    const d = exporter(k, exp);
    let got: string;
    try {
      const a = dmaBufMappingAttach(d, imp, { invalidateMappings: () => undefined });
      got = `${a.mapType!.type.shortName ?? a.mapType!.type.name} ${(a.mapType!.expOps as { tag: string }).tag}`;
      expect(dmaBufAttachmentIsPal(a)).toBe(a.mapType!.type === dmaBufMappingPalType);
      dmaBufDetach(d, a);
    } catch (e) {
      got = (e as KernelError).errno;
    }
    expect(got).toBe(result);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it("bufinfo names the type of a PAL attachment, with nothing after the colon", () => {
    const d = exporter(k, [dmaBufEmappingPal(palOps("a", log))]);
    const a = dmaBufMappingAttach(d, [dmaBufImappingPal()], { invalidateMappings: () => undefined });
    expect(dmaBufDebugShow(k)).toContain("\tPhysical Address List:\n");
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  describe("map_phys / unmap_phys", () => {
    let d: DmaBuf;
    let a: DmaBufAttachment;
    let mapPhys: DmaBufPalMapPhys;
    const list: DmaBufPhysList = { length: 2, phys: [{ paddr: 0x40_0000_2000n, len: 0x2000n }, { paddr: 0x40_0000_0000n, len: 0x1000n }] };
    beforeEach(() => {
      mapPhys = grantedMapPhys(k);
      d = exporter(k, [dmaBufEmappingPal(palOps("a", log, list))]);
      a = dmaBufMappingAttach(d, [dmaBufImappingPal()], { invalidateMappings: () => undefined });
    });

    it("map_phys under the resv lock returns the exporter's list; unmap_phys gives it back", () => {
      dmaResvLock(d.resv);
      const got = mapPhys(a);
      dmaBufPalUnmapPhys(a, got);
      dmaResvUnlock(d.resv);
      expect(got).toBe(list);
      expect(log).toEqual(["map a", "unmap a 2"]);
      expect(k.lockdep.reports()).toEqual([]);
      dmaBufDetach(d, a);
      dmaBufPut(d);
      expect(k.leakReport().text()).toBe("");
    });

    it("map_phys without the resv lock is a failed dma_resv_assert_held() (lockdep), as in the kernel", () => {
      mapPhys(a);
      expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["assert"]);
      expect(k.lockdep.reports()[0]!.message).toMatch(/lockdep_assert_held\(dma_resv\) failed at dma_buf_pal_map_phys/);
    });

    it("unmap_phys does not assert the resv lock (the kernel does not)", () => {
      dmaBufPalUnmapPhys(a, list);
      expect(k.lockdep.reports()).toEqual([]);
      expect(log).toEqual(["unmap a 2"]);
    });

    it("the exporter's refusal reaches the importer", () => {
      const d2 = exporter(k, [
        dmaBufEmappingPal({
          mapPhys: () => {
            throw new KernelError("ENODEV", "mock_map_phys");
          },
          unmapPhys: () => undefined,
        }),
      ]);
      const a2 = dmaBufMappingAttach(d2, [dmaBufImappingPal()], { invalidateMappings: () => undefined });
      dmaResvLock(d2.resv);
      expect(() => mapPhys(a2)).toThrow(expect.objectContaining({ errno: "ENODEV" }));
      dmaResvUnlock(d2.resv);
    });

    it.each([
      { desc: "map_phys", call: (fn: DmaBufPalMapPhys, x: DmaBufAttachment) => fn(x), errno: "EINVAL", warning: "dma_buf_pal_map_phys on a non-PAL attachment" },
      { desc: "unmap_phys", call: (_fn: DmaBufPalMapPhys, x: DmaBufAttachment) => dmaBufPalUnmapPhys(x, list), errno: undefined, warning: "dma_buf_pal_unmap_phys on a non-PAL attachment" },
    ])("$desc on an attachment of another type WARNs instead of calling through foreign ops", ({ call, errno, warning }) => {
      const other = exporter(k, [{ type: MOCK, expOps: palOps("mock", log) }]);
      const m = dmaBufMappingAttach(other, [{ type: MOCK }], { invalidateMappings: () => undefined });
      dmaResvLock(other.resv);
      try {
        if (errno) expect(() => call(mapPhys, m)).toThrow(expect.objectContaining({ errno }));
        else call(mapPhys, m);
      } finally {
        dmaResvUnlock(other.resv);
      }
      expect(k.warnings()).toEqual([expect.stringContaining(warning)]);
      expect(log).toEqual([]);
    });
  });
});
