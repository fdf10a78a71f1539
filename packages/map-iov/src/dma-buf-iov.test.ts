// Tests of dma_buf_iov_map_ranges / dma_buf_iov_unmap_ranges.
import { describe, expect, it } from "vitest";
import {
  Kernel,
  GENERIC_SRIOV_PF,
  KernelError,
  buildTopology,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufPut,
  dmaResvLock,
  dmaResvUnlock,
  topologyKernelOptions,
  type DmaBufAttachment,
  type DmaBufMappingType,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingIov, dmaBufIovMapRanges, dmaBufIovUnmapRanges, type DmaBufIovRanges } from "@dmabuf-sdk/map-iov";
import { iovExporter, type IovExporterPriv } from "@dmabuf-sdk/map-iov/testing";

const otherType: DmaBufMappingType = {
  name: "Other",
  finishMatch(args, exp) {
    if (args.attach) args.attach.mapType = { type: otherType, expOps: exp.expOps };
  },
};

function boot() {
  const k = new Kernel(topologyKernelOptions("sriov"));
  const t = buildTopology(k, "sriov");
  const vf = t.sriov!.vfs[0]!;
  const pf = t.sriov!.pf;
  return { k, vf, pf, bar: vf.bars[GENERIC_SRIOV_PF.memBar]! };
}

function locked<T>(a: DmaBufAttachment, fn: () => T): T {
  dmaResvLock(a.dmabuf!.resv);
  try {
    return fn();
  } finally {
    dmaResvUnlock(a.dmabuf!.resv);
  }
}

describe("dma_buf_iov_map_ranges", () => {
  it("hands out the exporter's BAR ranges with the BAR number; unmap gives them back", () => {
    const { k, vf, pf, bar } = boot();
    const d = iovExporter(k, vf, GENERIC_SRIOV_PF.memBar, [
      { offset: 0x20_0000n, len: 0x20_0000n },
      { offset: 0n, len: 0x1000n },
    ]);
    const a = dmaBufMappingAttach(d, [dmaBufImappingIov(pf, GENERIC_SRIOV_PF.memBar)], { invalidateMappings: () => undefined });
    const r = locked(a, () => dmaBufIovMapRanges(a));
    expect(r.barNumber).toBe(GENERIC_SRIOV_PF.memBar);
    expect(r.ranges).toEqual([
      { start: bar.start + 0x20_0000n, end: bar.start + 0x3f_ffffn },
      { start: bar.start, end: bar.start + 0xfffn },
    ]);
    expect(k.trace.events("dma_buf_iov_map_ranges").map((e) => e.fields.nranges)).toEqual([2]);
    expect(d.priv.outstanding).toBe(1);
    locked(a, () => dmaBufIovUnmapRanges(a, r));
    expect(d.priv.log).toEqual(["map", "unmap"]);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
    expect([k.warnings(), k.lockdep.reports()]).toEqual([[], []]);
  });

  type Case = {
    desc: string;
    setup?: (p: IovExporterPriv) => void;
    attach: "iov" | "static-iov" | "other";
    lock?: boolean;
    errno: string;
    warn?: string;
    assert?: boolean;
  };
  it.each<Case>([
    { desc: "another type's attachment: WARN, EINVAL", attach: "other", errno: "EINVAL", warn: "dma_buf_iov_map_ranges on a non-IOV attachment" },
    { desc: "a static attachment: EINVAL", attach: "static-iov", errno: "EINVAL" },
    { desc: "the exporter refuses (revoked): its errno", attach: "iov", setup: (p) => (p.failMap = "ENODEV"), errno: "ENODEV" },
    { desc: "the exporter hands out another BAR: WARN, list given back, EINVAL", attach: "iov", setup: (p) => (p.lieBar = 0), errno: "EINVAL", warn: "test_iov_exporter: map_ranges returned 1 range(s) of BAR0, matched BAR2" },
    { desc: "without the resv lock: lockdep_assert_held fails (and the map goes on)", attach: "iov", lock: false, errno: "none", assert: true },
  ])("$desc", ({ setup, attach, lock = true, errno, warn, assert }) => {
    const { k, vf, pf } = boot();
    const d = iovExporter(k, vf, GENERIC_SRIOV_PF.memBar, [{ offset: 0n, len: 0x1000n }], { after: [{ type: otherType, expOps: {} }] });
    setup?.(d.priv);
    const entries = attach === "other" ? [{ type: otherType }] : [dmaBufImappingIov(pf, GENERIC_SRIOV_PF.memBar)];
    const a = dmaBufMappingAttach(d, entries, attach === "static-iov" ? null : { invalidateMappings: () => undefined });
    let got: DmaBufIovRanges | undefined;
    let err: unknown;
    const run = () => {
      try {
        got = dmaBufIovMapRanges(a);
      } catch (e) {
        err = e;
      }
    };
    if (lock) locked(a, run);
    else run();
    expect(err === undefined ? "none" : (err as { errno: string }).errno).toBe(errno);
    expect(k.warnings()).toEqual(warn ? [warn] : []);
    expect(k.lockdep.reports().map((r) => r.kind)).toEqual(assert ? ["assert"] : []);
    if (got) locked(a, () => dmaBufIovUnmapRanges(a, got!));
    expect(d.priv.outstanding).toBe(0);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it.each([
    { desc: "without mapRanges", drop: "mapRanges" as const },
    { desc: "without unmapRanges", drop: "unmapRanges" as const },
  ])("an exporter offering IOV $desc: WARN, EINVAL, no TypeError, nothing called", ({ drop }) => {
    const { k, vf, pf } = boot();
    const d = iovExporter(k, vf, GENERIC_SRIOV_PF.memBar, [{ offset: 0n, len: 0x1000n }]);
    const a = dmaBufMappingAttach(d, [dmaBufImappingIov(pf, GENERIC_SRIOV_PF.memBar)], { invalidateMappings: () => undefined });
    const full = a.mapType!.expOps as Record<string, unknown>;
    const partial = Object.fromEntries(Object.entries(full).filter(([key]) => key !== drop));
    a.mapType = { ...a.mapType!, expOps: partial };
    let err: unknown;
    locked(a, () => {
      try {
        dmaBufIovMapRanges(a);
      } catch (e) {
        err = e;
      }
    });
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errno).toBe("EINVAL");
    expect(k.warnings()).toEqual(["dma_buf_iov_map_ranges: test_iov_exporter offers IOV without map_ranges/unmap_ranges"]);
    expect(d.priv.log).toEqual([]);
    if (drop === "unmapRanges") {
      locked(a, () => dmaBufIovUnmapRanges(a, { barNumber: GENERIC_SRIOV_PF.memBar, nranges: 0, ranges: [] } as unknown as DmaBufIovRanges));
      expect(k.warnings()).toHaveLength(2);
    }
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it("a NULL attachment is EINVAL", () => {
    expect(() => dmaBufIovMapRanges(null as unknown as DmaBufAttachment)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
  });

  it("fault injection: every allocation of attach + map fails cleanly and leaves nothing", () => {
    const probe = boot();
    const count = (kk: Kernel) => kk.faults.attempts;
    const run = (kk: Kernel, vfDev: typeof probe.vf, pfDev: typeof probe.pf) => {
      const d = iovExporter(kk, vfDev, GENERIC_SRIOV_PF.memBar, [{ offset: 0n, len: 0x1000n }]);
      try {
        const a = dmaBufMappingAttach(d, [dmaBufImappingIov(pfDev, GENERIC_SRIOV_PF.memBar)], { invalidateMappings: () => undefined });
        try {
          const r = locked(a, () => dmaBufIovMapRanges(a));
          locked(a, () => dmaBufIovUnmapRanges(a, r));
        } finally {
          dmaBufDetach(d, a);
        }
      } finally {
        dmaBufPut(d);
      }
    };
    const before = count(probe.k);
    run(probe.k, probe.vf, probe.pf);
    const n = count(probe.k) - before;
    expect(n).toBeGreaterThanOrEqual(3); // export (2), attach, ranges
    for (let i = 1; i <= n; i++) {
      const { k, vf, pf } = boot();
      k.faults.reset();
      k.faults.failNth(i);
      expect(() => run(k, vf, pf)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
      expect(k.leakReport().text()).toBe("");
      expect([k.warnings(), k.lockdep.reports()]).toEqual([[], []]);
    }
  });
});

describe("dma_buf_iov_unmap_ranges", () => {
  it("a non-IOV attachment WARNs and returns without calling any exporter", () => {
    const { k, vf } = boot();
    const d = iovExporter(k, vf, GENERIC_SRIOV_PF.memBar, [{ offset: 0n, len: 0x1000n }], { after: [{ type: otherType, expOps: {} }] });
    const a = dmaBufMappingAttach(d, [{ type: otherType }], { invalidateMappings: () => undefined });
    locked(a, () => dmaBufIovUnmapRanges(a, { barNumber: 2, nranges: 0, ranges: [] }));
    expect(k.warnings()).toEqual(["dma_buf_iov_unmap_ranges: NULL or non-IOV argument"]);
    expect(d.priv.log).toEqual([]);
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("asserts the resv lock", () => {
    const { k, vf, pf } = boot();
    const d = iovExporter(k, vf, GENERIC_SRIOV_PF.memBar, [{ offset: 0n, len: 0x1000n }]);
    const a = dmaBufMappingAttach(d, [dmaBufImappingIov(pf, GENERIC_SRIOV_PF.memBar)], { invalidateMappings: () => undefined });
    const r = locked(a, () => dmaBufIovMapRanges(a));
    dmaBufIovUnmapRanges(a, r);
    expect(k.lockdep.reports().map((x) => x.message)).toEqual([expect.stringContaining("at dma_buf_iov_unmap_ranges")]);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });
});
