// Tests of dma_buf_sgt_map_attachment / dma_buf_sgt_unmap_attachment: check order, pin and fence waits.
import { describe, expect, it } from "vitest";
import {
  DmaFence,
  Kernel,
  KernelError,
  SpinLock,
  buildTopology,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufPut,
  dmaFenceContextAlloc,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  topologyKernelOptions,
  type DmaBufAttachOps,
} from "@dmabuf-sdk/dmabuf-core";
import {
  dmaBufImappingSgt,
  dmaBufSgtMapAttachment,
  dmaBufSgtMapAttachmentUnlocked,
  dmaBufSgtModule,
  dmaBufSgtUnmapAttachment,
  dmaBufSgtUnmapAttachmentUnlocked,
  sgtDmaRead,
} from "@dmabuf-sdk/map-sgt";
import { pagesExporter } from "@dmabuf-sdk/map-sgt/testing";

function boot() {
  const k = new Kernel(topologyKernelOptions("cross-root"));
  const t = buildTopology(k, "cross-root");
  k.loadModule(dmaBufSgtModule);
  return { k, t };
}

const DYNAMIC: DmaBufAttachOps = { invalidateMappings: () => undefined };

describe("dma_buf_sgt_map_attachment / unmap", () => {
  it.each([
    { desc: "static importer of a pinnable exporter: pin → map, unmap → unpin", pinnable: true, dynamic: false, log: ["pin", "map", "unmap", "unpin"] },
    { desc: "dynamic importer of a pinnable exporter: not pinned", pinnable: true, dynamic: true, log: ["map", "unmap"] },
    { desc: "static importer of a non-pinnable exporter", pinnable: false, dynamic: false, log: ["map", "unmap"] },
  ])("$desc", ({ pinnable, dynamic, log }) => {
    const { k, t } = boot();
    const d = pagesExporter(k, 4, { pinnable });
    const data = Uint8Array.from({ length: 4096 * 4 }, (_, i) => i & 0xff);
    d.priv.pfns.forEach((pfn, i) => k.platform.physmem.write(BigInt(pfn) << 12n, data.subarray(i * 4096, (i + 1) * 4096)));
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, false)], dynamic ? DYNAMIC : null);
    const sgt = dmaBufSgtMapAttachmentUnlocked(a, "DMA_BIDIRECTIONAL");
    expect(sgtDmaRead(t.importerSlot, sgt, 0n, data.length)).toEqual(data);
    dmaBufSgtUnmapAttachmentUnlocked(a, sgt, "DMA_BIDIRECTIONAL");
    expect(d.priv.log).toEqual(log);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it("every map reaches the exporter: no attachment-level cache", () => {
    const { k, t } = boot();
    const d = pagesExporter(k, 1);
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, false)], DYNAMIC);
    const s1 = dmaBufSgtMapAttachmentUnlocked(a, "DMA_TO_DEVICE");
    const s2 = dmaBufSgtMapAttachmentUnlocked(a, "DMA_TO_DEVICE");
    expect(s1).not.toBe(s2);
    expect(d.priv.log).toEqual(["map", "map"]);
    dmaBufSgtUnmapAttachmentUnlocked(a, s1, "DMA_TO_DEVICE");
    dmaBufSgtUnmapAttachmentUnlocked(a, s2, "DMA_TO_DEVICE");
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("a refused pin fails the map with the exporter's errno and nothing is mapped", () => {
    const { k, t } = boot();
    const d = pagesExporter(k, 1, { pinnable: true, failPin: new KernelError("EBUSY", "mock_pin") });
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, false)]);
    expect(() => dmaBufSgtMapAttachmentUnlocked(a, "DMA_TO_DEVICE")).toThrow(expect.objectContaining({ errno: "EBUSY" }));
    expect(d.priv.log).toEqual(["pin"]);
    expect(k.warnings()).toEqual(["exporter refused a pin with -EBUSY"]);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it("a failing map of a pinned static importer unpins", () => {
    const { k, t } = boot();
    const d = pagesExporter(k, 1, { pinnable: true });
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, false)]);
    k.faults.inject({ site: "sg_alloc_table" });
    expect(() => dmaBufSgtMapAttachmentUnlocked(a, "DMA_TO_DEVICE")).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
    expect(d.priv.log).toEqual(["pin", "map", "unpin"]);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it("map_dma_buf returning NULL is ENOMEM", () => {
    const { k, t } = boot();
    const d = pagesExporter(k, 1);
    (d.ops.singleExporterMatch!.expOps as { mapDmaBuf: () => null }).mapDmaBuf = () => null;
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, false)]);
    expect(() => dmaBufSgtMapAttachmentUnlocked(a, "DMA_TO_DEVICE")).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("needs the resv lock (asserted); the _unlocked variants take it", () => {
    const { k, t } = boot();
    const d = pagesExporter(k, 1);
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, false)], DYNAMIC);
    const sgt = dmaBufSgtMapAttachment(a, "DMA_TO_DEVICE");
    dmaBufSgtUnmapAttachment(a, sgt, "DMA_TO_DEVICE");
    expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["assert", "assert"]);
    dmaResvLock(d.resv);
    expect(() => dmaBufSgtMapAttachmentUnlocked(a, "DMA_TO_DEVICE")).toThrow(/acquired twice/);
    dmaResvUnlock(d.resv);
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("a static importer waits for KERNEL fences; a dynamic one does not", () => {
    const { k, t } = boot();
    const d = pagesExporter(k, 1);
    const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "move fence lock");
    const fence = new DmaFence(k, { getDriverName: () => "ttm", getTimelineName: () => "move" }, lock, dmaFenceContextAlloc(k, 1), 1n);
    dmaResvLock(d.resv);
    dmaResvReserveFences(d.resv, 1);
    dmaResvAddFence(d.resv, fence, "DMA_RESV_USAGE_KERNEL");
    dmaResvUnlock(d.resv);
    k.clock.schedule(5e6, () => dmaFenceSignal(fence));
    const dyn = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, false)], DYNAMIC);
    const s1 = dmaBufSgtMapAttachmentUnlocked(dyn, "DMA_TO_DEVICE");
    expect(k.clock.nowNs).toBe(0);
    const stat = dmaBufMappingAttach(d, [dmaBufImappingSgt(t.importerSlot, false)]);
    const s2 = dmaBufSgtMapAttachmentUnlocked(stat, "DMA_TO_DEVICE");
    expect(k.clock.nowNs).toBe(5e6);
    dmaBufSgtUnmapAttachmentUnlocked(dyn, s1, "DMA_TO_DEVICE");
    dmaBufSgtUnmapAttachmentUnlocked(stat, s2, "DMA_TO_DEVICE");
    dmaBufDetach(d, dyn);
    dmaBufDetach(d, stat);
    dmaBufPut(d);
  });

  it("a non-SGT attachment is EINVAL with a WARN; unmap of one WARNs and returns", () => {
    const { k } = boot();
    const T = { name: "other", finishMatch: (args: { attach: { mapType: unknown } | null }) => args.attach && (args.attach.mapType = { type: T }) };
    const d = pagesExporter(k, 1);
    const fakeAttach = { kernel: k, dmabuf: d, mapType: { type: T }, importerOps: null } as never;
    dmaResvLock(d.resv);
    expect(() => dmaBufSgtMapAttachment(fakeAttach, "DMA_TO_DEVICE")).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    dmaBufSgtUnmapAttachment(fakeAttach, {} as never, "DMA_TO_DEVICE");
    dmaResvUnlock(d.resv);
    expect(k.warnings()).toHaveLength(2);
    dmaBufPut(d);
  });
});
