// Tests: vfio-pci on an SR-IOV VF offers IOV, PAL and SGT_P2P, in that order.
import { describe, expect, it } from "vitest";
import { GENERIC_SRIOV_PF, dmaBufDetach, dmaBufMappingAttach, dmaResvLock, dmaResvUnlock, type DmaBufAttachOps, type DmaBufMappingMatch } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingIov, dmaBufIovMapRanges, dmaBufIovMatchData, dmaBufIovUnmapRanges, dmaBufMappingIovType, rangeLen } from "@dmabuf-sdk/map-iov";
import { dmaBufImappingPal, dmaBufMappingPalType } from "@dmabuf-sdk/map-pal";
import { dmaBufImappingSgt, dmaBufMappingSgtType } from "@dmabuf-sdk/map-sgt";
import { vfioPciDmaBufOffers } from "@dmabuf-sdk/driver-vfio-pci";
import { P, boot, exportBuf, revokeRaw, setPowerState, teardown, type Env } from "@dmabuf-sdk/driver-vfio-pci/testing";

const BAR = GENERIC_SRIOV_PF.memBar;
const revocable: DmaBufAttachOps = { allowPeer2peer: true, invalidateMappings: () => undefined };

/** The sriov machine with vfio-pci on VF1 (the exporter slot); the PF (importer slot) has no driver. */
const bootVf = (): Env => boot("sriov");

function attachWith(e: Env, imp: DmaBufMappingMatch[], ranges = [{ offset: 0n, length: 4n * P }], bar = BAR) {
  const { dmabuf, priv } = exportBuf(e, ranges, bar);
  return { dmabuf, priv, attach: dmaBufMappingAttach(dmabuf, imp, revocable) };
}

describe("vfio-pci on a VF offers [IOV, PAL, SGT_P2P]", () => {
  it("the offer list of a VF's buffer starts with IOV for the exported BAR; a PF's has no IOV entry", () => {
    const vf = bootVf();
    const { priv } = exportBuf(vf, [{ offset: 0n, length: P }], BAR);
    const offers = vfioPciDmaBufOffers.map((o) => o(priv)).filter((o) => o !== null);
    expect(offers.map((o) => o.type.shortName)).toEqual(["IOV", "PAL", "SGT"]);
    expect(offers[0]!.data).toEqual({ dev: vf.t.exporterSlot, bar: BAR });
    teardown(vf);
    const pf = boot("same-switch");
    const { priv: pfPriv } = exportBuf(pf);
    expect(vfioPciDmaBufOffers.map((o) => o(pfPriv)?.type.shortName ?? null)).toEqual([null, "PAL", "SGT"]);
    teardown(pf);
  });

  it.each([
    { desc: "[IOV(own PF, LMEM BAR), SGT]", imp: (e: Env) => [dmaBufImappingIov(e.t.importerSlot, BAR), dmaBufImappingSgt(e.t.importerSlot, true)], bar: BAR, result: "IOV" },
    { desc: "[SGT, IOV(own PF)]: the exporter's priority puts IOV first", imp: (e: Env) => [dmaBufImappingSgt(e.t.importerSlot, true), dmaBufImappingIov(e.t.importerSlot, BAR)], bar: BAR, result: "IOV" },
    { desc: "[IOV(own PF, BAR 0)] for an export of the LMEM BAR: no match", imp: (e: Env) => [dmaBufImappingIov(e.t.importerSlot, 0)], bar: BAR, result: "EINVAL" },
    { desc: "[IOV(own PF, LMEM BAR), SGT] for an export of BAR 0: SGT", imp: (e: Env) => [dmaBufImappingIov(e.t.importerSlot, BAR), dmaBufImappingSgt(e.t.importerSlot, true)], bar: 0, result: "SGT" },
    { desc: "[IOV(the other VF), SGT]: SGT", imp: (e: Env) => [dmaBufImappingIov(e.t.sriov!.vfs[1]!, BAR), dmaBufImappingSgt(e.t.importerSlot, true)], bar: BAR, result: "SGT" },
    { desc: "[IOV(the VF itself), PAL]: PAL", imp: (e: Env) => [dmaBufImappingIov(e.t.exporterSlot, BAR), dmaBufImappingPal()], bar: BAR, result: "PAL" },
  ])("attach with $desc → $result", ({ imp, bar, result }) => {
    const e = bootVf();
    const { dmabuf } = exportBuf(e, [{ offset: 0n, length: P }], bar);
    let got: string;
    try {
      const a = dmaBufMappingAttach(dmabuf, imp(e), revocable);
      got = a.mapType!.type === dmaBufMappingIovType ? "IOV" : a.mapType!.type === dmaBufMappingPalType ? "PAL" : a.mapType!.type === dmaBufMappingSgtType ? "SGT" : "?";
      dmaBufDetach(dmabuf, a);
    } catch (err) {
      got = (err as { errno: string }).errno;
    }
    expect(got).toBe(result);
    teardown(e);
  });
});

describe("vfio-pci's IOV ops", () => {
  it("map_ranges hands out the BAR ranges (inclusive ends, buffer order, exact 64-bit) and counts a mapping; unmap_ranges frees them", () => {
    const e = bootVf();
    const { dmabuf, priv, attach } = attachWith(e, [dmaBufImappingIov(e.t.importerSlot, BAR)], [{ offset: 8n * P, length: 2n * P }, { offset: 0n, length: P }]);
    expect(dmaBufIovMatchData(attach)).toEqual({ dev: e.t.exporterSlot, bar: BAR });
    const start = e.t.exporterSlot.bars[BAR]!.start;
    dmaResvLock(dmabuf.resv);
    const r = dmaBufIovMapRanges(attach);
    expect([r.barNumber, r.nranges, r.ranges]).toEqual([BAR, 2, [{ start: start + 8n * P, end: start + 10n * P - 1n }, { start, end: start + P - 1n }]]);
    expect(r.ranges.map(rangeLen)).toEqual([2n * P, P]);
    expect([priv.outstandingMaps, e.k.objects.count("dma_buf_iov_ranges")]).toEqual([1, 1]);
    dmaBufIovUnmapRanges(attach, r);
    dmaResvUnlock(dmabuf.resv);
    expect([priv.outstandingMaps, e.k.objects.count("dma_buf_iov_ranges")]).toEqual([0, 0]);
    dmaBufDetach(dmabuf, attach);
    teardown(e);
  });

  it.each([
    { desc: "revoked by D3hot", revoke: (e: Env) => setPowerState(e, 3) },
    { desc: "revoked for good (DMA_BUF_REVOKE)", revoke: (e: Env, fd: number) => expect(revokeRaw(e, fd)).toBe(0) },
  ])("map_ranges on a buffer $desc: ENODEV, nothing allocated, nothing counted", ({ revoke }) => {
    const e = bootVf();
    const { fd, dmabuf, priv } = exportBuf(e, [{ offset: 0n, length: P }], BAR);
    const attach = dmaBufMappingAttach(dmabuf, [dmaBufImappingIov(e.t.importerSlot, BAR)], revocable);
    revoke(e, fd);
    dmaResvLock(dmabuf.resv);
    expect(() => dmaBufIovMapRanges(attach)).toThrow(expect.objectContaining({ errno: "ENODEV", operation: "vfio_pci_dma_buf_map_ranges" }));
    dmaResvUnlock(dmabuf.resv);
    expect([priv.outstandingMaps, e.k.objects.count("dma_buf_iov_ranges")]).toEqual([0, 0]);
    dmaBufDetach(dmabuf, attach);
    teardown(e);
  });

  it("map_ranges when the list cannot be allocated: ENOMEM and the buffer's count unchanged", () => {
    const e = bootVf();
    const { dmabuf, priv, attach } = attachWith(e, [dmaBufImappingIov(e.t.importerSlot, BAR)]);
    e.k.faults.inject({ site: "kvmalloc", what: "dma_buf_iov_ranges", nth: 1 });
    dmaResvLock(dmabuf.resv);
    expect(() => dmaBufIovMapRanges(attach)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
    dmaResvUnlock(dmabuf.resv);
    expect(priv.outstandingMaps).toBe(0);
    dmaBufDetach(dmabuf, attach);
    teardown(e);
  });

  it("a revoke waits for the PF to give the ranges back: its invalidate_mappings unmaps them under resv", () => {
    const e = bootVf();
    const { dmabuf, priv } = exportBuf(e, [{ offset: 0n, length: P }], BAR);
    let held: ReturnType<typeof dmaBufIovMapRanges> | null = null;
    const attach = dmaBufMappingAttach(dmabuf, [dmaBufImappingIov(e.t.importerSlot, BAR)], {
      allowPeer2peer: true,
      invalidateMappings: (a) => {
        if (held) dmaBufIovUnmapRanges(a, held);
        held = null;
      },
    });
    dmaResvLock(dmabuf.resv);
    held = dmaBufIovMapRanges(attach);
    dmaResvUnlock(dmabuf.resv);
    expect(priv.outstandingMaps).toBe(1);
    setPowerState(e, 3);
    expect([held, priv.status, priv.outstandingMaps, e.k.objects.count("dma_buf_iov_ranges")]).toEqual([null, "VFIO_PCI_DMA_BUF_TEMP_REVOKED", 0, 0]);
    setPowerState(e, 0);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    dmaBufDetach(dmabuf, attach);
    teardown(e);
  });
});
