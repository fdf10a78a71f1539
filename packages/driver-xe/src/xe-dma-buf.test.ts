// Tests of drivers/gpu/drm/xe/xe_dma_buf.c: the exporter's mapping types, migration and move notify.
import { describe, expect, it } from "vitest";
import {
  O_RDWR,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufPin,
  dmaBufPut,
  dmaBufUnpin,
  dmaResvHeld,
  dmaResvLock,
  dmaResvUnlock,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufMappingMatch,
  type Device,
  type TopologyName,
} from "@dmabuf-sdk/dmabuf-core";
import {
  CompatStaticImporter,
  dmaBufImappingSgt,
  dmaBufMappingSgtType,
  dmaBufSgtMapAttachment,
  dmaBufSgtRoute,
  dmaBufSgtUnmapAttachment,
  sgtDmaRead,
  sgtDmaWrite,
  type SgTable,
} from "@dmabuf-sdk/map-sgt";
import {
  XE_PL_TT,
  XE_PL_VRAM0,
  xeBoCreate,
  xeBoEvict,
  xeBoPut,
  xeBoRead,
  xeBoUnpin,
  xeBoWrite,
  xeGemPrimeExport,
  type XeBo,
  type XeBoPlacement,
  type XeDevice,
} from "@dmabuf-sdk/driver-xe";
import { boot, bytes, teardown, xeOn } from "@dmabuf-sdk/driver-xe/testing";

const MiB = 1n << 20n;

/** A converted dynamic SGT importer (an RDMA-umem-like device): drops its table on invalidation. */
class DynImporter {
  readonly attach: DmaBufAttachment;
  sgt: SgTable | null = null;
  invalidations = 0;
  lockedInCallback: boolean[] = [];
  constructor(
    readonly dev: Device,
    readonly dmabuf: DmaBuf,
    entries: DmaBufMappingMatch[],
  ) {
    this.attach = dmaBufMappingAttach(dmabuf, entries, {
      allowPeer2peer: true,
      invalidateMappings: (a) => {
        this.invalidations++;
        this.lockedInCallback.push(dmaResvHeld(dmabuf.resv));
        if (this.sgt) dmaBufSgtUnmapAttachment(a, this.sgt, "DMA_BIDIRECTIONAL");
        this.sgt = null;
      },
    });
  }
  map(): SgTable {
    if (this.sgt) return this.sgt;
    dmaResvLock(this.dmabuf.resv);
    try {
      return (this.sgt = dmaBufSgtMapAttachment(this.attach, "DMA_BIDIRECTIONAL"));
    } finally {
      dmaResvUnlock(this.dmabuf.resv);
    }
  }
  read(off: bigint, len: number): Uint8Array {
    return sgtDmaRead(this.dev, this.map(), off, len);
  }
  detach(): void {
    if (this.sgt) {
      dmaResvLock(this.dmabuf.resv);
      dmaBufSgtUnmapAttachment(this.attach, this.sgt, "DMA_BIDIRECTIONAL");
      dmaResvUnlock(this.dmabuf.resv);
      this.sgt = null;
    }
    dmaBufDetach(this.dmabuf, this.attach);
  }
}

function exported(xe: XeDevice, size: bigint, placements: XeBoPlacement[]): { bo: XeBo; dmabuf: DmaBuf } {
  const bo = xeBoCreate(xe, size, { placements });
  const dmabuf = xeGemPrimeExport(bo, O_RDWR);
  xeBoPut(bo);
  return { bo, dmabuf };
}

function route(sgt: SgTable): string {
  return dmaBufSgtRoute(sgt) ?? "pages";
}

describe("xe dma-buf exporter", () => {
  type Row = { topo: TopologyName; bo: "vram" | "system"; importer: "dynamic" | "static"; route: string; placed: string };
  it.each<Row>([
    { topo: "same-switch", bo: "vram", importer: "dynamic", route: "bus-addr", placed: XE_PL_VRAM0 },
    { topo: "same-switch-acs", bo: "vram", importer: "dynamic", route: "iova", placed: XE_PL_VRAM0 },
    { topo: "cross-root", bo: "vram", importer: "dynamic", route: "iova", placed: XE_PL_VRAM0 },
    { topo: "iommu-off", bo: "vram", importer: "dynamic", route: "per-range", placed: XE_PL_VRAM0 },
    { topo: "cross-root-no-p2p", bo: "vram", importer: "dynamic", route: "pages", placed: XE_PL_TT },
    { topo: "same-switch", bo: "vram", importer: "static", route: "pages", placed: XE_PL_TT },
    { topo: "cross-root", bo: "vram", importer: "static", route: "pages", placed: XE_PL_TT },
    { topo: "same-switch", bo: "system", importer: "dynamic", route: "pages", placed: XE_PL_TT },
    { topo: "cross-root-no-p2p", bo: "system", importer: "static", route: "pages", placed: XE_PL_TT },
  ])("$bo BO → $importer importer on $topo: SGT via $route, BO in $placed; the importer's DMA reaches the bytes", ({ topo, bo: kind, importer, route: want, placed }) => {
    const { k, t } = boot(topo);
    const xe = xeOn(t.exporterSlot);
    const { bo, dmabuf } = exported(xe, 0x10000n, kind === "vram" ? [XE_PL_VRAM0, XE_PL_TT] : [XE_PL_TT]);
    xeBoWrite(bo, 0n, bytes(0x10000, 4));
    const dev = t.importerSlot;
    const imp = importer === "dynamic" ? new DynImporter(dev, dmabuf, [dmaBufImappingSgt(dev, true)]) : new CompatStaticImporter(dev, dmabuf);
    expect((imp instanceof DynImporter ? imp.attach : imp.attachment).mapType!.type).toBe(dmaBufMappingSgtType);
    let sgt: SgTable;
    if (imp instanceof DynImporter) sgt = imp.map();
    else {
      imp.map();
      sgt = imp.sgt!;
    }
    expect([route(sgt), bo.memType, bo.pinCount]).toEqual([want, placed, importer === "static" ? 1 : 0]);
    expect(sgtDmaRead(dev, sgt, 0n, 0x10000)).toEqual(bytes(0x10000, 4));
    sgtDmaWrite(dev, sgt, 0xf000n, bytes(0x1000, 8));
    expect(xeBoRead(bo, 0xf000n, 0x1000)).toEqual(bytes(0x1000, 8));
    imp.detach();
    expect(bo.pinCount).toBe(0);
    dmaBufPut(dmabuf);
    expect(teardown(k)).toBe("");
    expect([k.warnings(), k.lockdep.reports()]).toEqual([[], []]);
  });

  it.each([
    { desc: "a VRAM-only BO and an importer without P2P: EINVAL (no SGT entry without migration)", placements: [XE_PL_VRAM0], entries: (d: Device) => [dmaBufImappingSgt(d, false)], dynamic: true },
    { desc: "a VRAM-only BO and a static importer: EINVAL", placements: [XE_PL_VRAM0], entries: (d: Device) => [dmaBufImappingSgt(d, false)], dynamic: false },
  ] as { desc: string; placements: XeBoPlacement[]; entries: (d: Device) => DmaBufMappingMatch[]; dynamic: boolean }[])("$desc", ({ placements, entries, dynamic }) => {
    const { k, t } = boot("same-switch");
    const { dmabuf } = exported(xeOn(t.exporterSlot), 0x4000n, placements);
    expect(() => dmaBufMappingAttach(dmabuf, entries(t.importerSlot), dynamic ? { invalidateMappings: () => undefined } : null)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    dmaBufPut(dmabuf);
    expect(teardown(k)).toBe("");
  });

  it.each([
    { desc: "P2P importer: eviction to TT, remap validates back into VRAM", topo: "same-switch" as TopologyName, before: XE_PL_VRAM0, after: [XE_PL_TT, XE_PL_VRAM0] },
    { desc: "non-P2P importer: migrated to TT, eviction swaps out, remap repopulates", topo: "cross-root-no-p2p" as TopologyName, before: XE_PL_TT, after: ["XE_PL_SYSTEM", XE_PL_TT] },
  ])("$desc; importers are invalidated under the resv lock and read the right bytes again", ({ topo, before, after }) => {
    const { k, t } = boot(topo);
    const xe = xeOn(t.exporterSlot);
    const { bo, dmabuf } = exported(xe, 0x8000n, [XE_PL_VRAM0, XE_PL_TT]);
    xeBoWrite(bo, 0n, bytes(0x8000, 6));
    const imp = new DynImporter(t.importerSlot, dmabuf, [dmaBufImappingSgt(t.importerSlot, true)]);
    expect(imp.read(0n, 0x8000)).toEqual(bytes(0x8000, 6));
    expect(bo.memType).toBe(before);
    // A migration done by the map itself notifies every importer, this one included (it had nothing mapped yet).
    imp.invalidations = 0;
    imp.lockedInCallback = [];
    dmaResvLock(bo.resv);
    xeBoEvict(bo);
    dmaResvUnlock(bo.resv);
    expect([imp.sgt, imp.invalidations, imp.lockedInCallback, bo.memType]).toEqual([null, 1, [true], after[0]]);
    xeBoWrite(bo, 0x100n, bytes(16, 7)); // the exporter writes where the BO is now
    const expected = bytes(0x8000, 6);
    expected.set(bytes(16, 7), 0x100);
    expect(imp.read(0n, 0x8000)).toEqual(expected);
    expect(bo.memType).toBe(after[1]);
    imp.detach();
    dmaBufPut(dmabuf);
    expect(teardown(k)).toBe("");
    expect([k.warnings(), k.lockdep.reports()]).toEqual([[], []]);
  });

  it("a P2P and a non-P2P importer on one BO: each map moves the BO and invalidates the other", () => {
    const { k, t } = boot("same-switch");
    const xe = xeOn(t.exporterSlot);
    const { bo, dmabuf } = exported(xe, 0x4000n, [XE_PL_VRAM0, XE_PL_TT]);
    xeBoWrite(bo, 0n, bytes(0x4000, 2));
    const p2p = new DynImporter(t.importerSlot, dmabuf, [dmaBufImappingSgt(t.importerSlot, true)]);
    const sys = new DynImporter(t.importerSlot, dmabuf, [dmaBufImappingSgt(t.importerSlot, false)]);
    expect(route(p2p.map())).toBe("bus-addr");
    p2p.invalidations = sys.invalidations = 0;
    expect(route(sys.map())).toBe("pages"); // migrates to TT: the P2P mapping is dropped
    expect([p2p.sgt, p2p.invalidations, bo.memType]).toEqual([null, 1, XE_PL_TT]);
    p2p.invalidations = sys.invalidations = 0;
    expect(p2p.read(0n, 0x4000)).toEqual(bytes(0x4000, 2)); // validates back into VRAM: the other is dropped
    expect([sys.sgt, sys.invalidations, bo.memType]).toEqual([null, 1, XE_PL_VRAM0]);
    expect(sys.read(0n, 0x4000)).toEqual(bytes(0x4000, 2));
    p2p.detach();
    sys.detach();
    dmaBufPut(dmabuf);
    expect(teardown(k)).toBe("");
  });

  it("VRAM pressure evicts an exported BO: its importer is invalidated and maps again", () => {
    const { k, t } = boot("same-switch"); // 16 MiB of VRAM
    const xe = xeOn(t.exporterSlot);
    const { bo, dmabuf } = exported(xe, 8n * MiB, [XE_PL_VRAM0, XE_PL_TT]);
    xeBoWrite(bo, 0x7ff000n, bytes(0x1000, 3));
    const imp = new DynImporter(t.importerSlot, dmabuf, [dmaBufImappingSgt(t.importerSlot, true)]);
    imp.map();
    const big = xeBoCreate(xe, 12n * MiB, { placements: [XE_PL_VRAM0], pinned: true, name: "big" });
    expect([imp.invalidations, bo.memType]).toEqual([1, XE_PL_TT]);
    // VRAM is still full: the remap validates, falls back to TT and serves pages.
    expect(imp.read(0x7ff000n, 0x1000)).toEqual(bytes(0x1000, 3));
    expect([route(imp.sgt!), bo.memType]).toEqual(["pages", XE_PL_TT]);
    dmaResvLock(big.resv);
    xeBoUnpin(big);
    dmaResvUnlock(big.resv);
    xeBoPut(big);
    imp.detach();
    dmaBufPut(dmabuf);
    expect(teardown(k)).toBe("");
    expect([k.warnings(), k.lockdep.reports()]).toEqual([[], []]);
  });

  it("a dynamic P2P importer pins the BO in VRAM; a static importer's pin-on-map then fails with EINVAL", () => {
    const { k, t } = boot("same-switch");
    const { bo, dmabuf } = exported(xeOn(t.exporterSlot), 0x4000n, [XE_PL_VRAM0, XE_PL_TT]);
    const p2p = new DynImporter(t.importerSlot, dmabuf, [dmaBufImappingSgt(t.importerSlot, true)]);
    dmaResvLock(dmabuf.resv);
    dmaBufPin(p2p.attach);
    dmaResvUnlock(dmabuf.resv);
    expect([bo.memType, bo.pinCount]).toEqual([XE_PL_VRAM0, 1]);
    const st = new CompatStaticImporter(t.importerSlot, dmabuf);
    expect(() => st.map()).toThrow(expect.objectContaining({ errno: "EINVAL", operation: "xe_dma_buf_pin" }));
    expect(k.warnings()).toEqual([]);
    st.detach();
    dmaResvLock(dmabuf.resv);
    dmaBufUnpin(p2p.attach);
    dmaResvUnlock(dmabuf.resv);
    p2p.detach();
    dmaBufPut(dmabuf);
    expect(teardown(k)).toBe("");
  });

  it("export: one dma-buf per BO (a second export is a new reference), exp_name drm, owner xe, the resv is the BO's", () => {
    const { k, t } = boot("same-switch");
    const xe = xeOn(t.exporterSlot);
    const bo = xeBoCreate(xe, 0x1000n, { placements: [XE_PL_VRAM0, XE_PL_TT] });
    const a = xeGemPrimeExport(bo, O_RDWR);
    const b = xeGemPrimeExport(bo, O_RDWR);
    expect([a === b, a.file.count, a.expName, a.owner.name, a.resv === bo.resv, bo.kref.refcount]).toEqual([true, 2, "drm", "xe", true, 2]);
    expect(() => k.unloadModule("xe")).toThrow(expect.objectContaining({ errno: "EAGAIN" }));
    dmaBufPut(a);
    dmaBufPut(b);
    expect([bo.dmaBuf, bo.kref.refcount]).toEqual([null, 1]);
    xeBoPut(bo);
    expect(teardown(k)).toBe("");
  });

  it("fault injection over export + attach + map + evict + remap: every failure unwinds, nothing leaks", () => {
    const run = (topo: TopologyName) => {
      const m = boot(topo);
      const xe = xeOn(m.t.exporterSlot);
      m.k.faults.reset();
      return { ...m, xe };
    };
    const body = ({ t, xe }: ReturnType<typeof run>) => {
      const bo = xeBoCreate(xe, 0x4000n, { placements: [XE_PL_VRAM0, XE_PL_TT] });
      let dmabuf: DmaBuf;
      try {
        dmabuf = xeGemPrimeExport(bo, O_RDWR);
      } finally {
        xeBoPut(bo);
      }
      try {
        const imp = new DynImporter(t.importerSlot, dmabuf, [dmaBufImappingSgt(t.importerSlot, true)]);
        try {
          imp.read(0n, 16);
          dmaResvLock(bo.resv);
          try {
            xeBoEvict(bo);
          } finally {
            dmaResvUnlock(bo.resv);
          }
          imp.read(0n, 16);
        } finally {
          imp.detach();
        }
      } finally {
        dmaBufPut(dmabuf);
      }
    };
    for (const topo of ["same-switch", "cross-root", "cross-root-no-p2p"] as TopologyName[]) {
      const probe = run(topo);
      body(probe);
      const n = probe.k.faults.attempts;
      expect(n).toBeGreaterThan(5);
      let failed = 0;
      for (let i = 1; i <= n; i++) {
        const m = run(topo);
        m.k.faults.failNth(i);
        try {
          body(m);
        } catch (e) {
          // Some failures are absorbed (no IOVA range: map per range), the others surface as ENOMEM.
          expect(e).toMatchObject({ errno: "ENOMEM" });
          failed++;
        }
        expect(teardown(m.k)).toBe("");
        expect([m.k.warnings(), m.k.lockdep.reports()]).toEqual([[], []]);
      }
      expect(failed).toBeGreaterThan(n / 2);
    }
  });
});
