// Tests of the IOV mapping type: its match rules and dma_buf_iov_alloc_ranges.
import { beforeEach, describe, expect, it } from "vitest";
import {
  Kernel,
  GENERIC_SRIOV_PF,
  buildTopology,
  dmaBufDebugShow,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufPut,
  topologyKernelOptions,
  type DmaBufMappingMatch,
  type DmaBufMappingType,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import {
  dmaBufAttachmentIsIov,
  dmaBufEmappingIov,
  dmaBufGetIovOps,
  dmaBufImappingIov,
  dmaBufIovAllocRanges,
  dmaBufIovFreeRanges,
  dmaBufIovMatchData,
  dmaBufMappingIovType,
  rangeLen,
} from "@dmabuf-sdk/map-iov";
import { iovExporter } from "@dmabuf-sdk/map-iov/testing";

/** A second mapping type, offered after IOV on both sides: where a refused IOV match must land. */
const nextType: DmaBufMappingType = {
  name: "Next Mapping Type",
  shortName: "NEXT",
  finishMatch(args, exp) {
    if (args.attach) args.attach.mapType = { type: nextType, expOps: exp.expOps };
  },
};
const nextEntry: DmaBufMappingMatch = { type: nextType, expOps: {} };

interface Machine {
  k: Kernel;
  pf: PciDev;
  vfs: readonly PciDev[];
  otherPf: PciDev;
  otherVf: PciDev;
}

/** Two SR-IOV devices (two host bridges): the `sriov` topology and a second PF with its VFs. */
function boot(): Machine {
  const k = new Kernel(topologyKernelOptions("sriov"));
  const t = buildTopology(k, "sriov", { numVfs: 3 });
  const t2 = buildTopology(k, "sriov", { mem64Base: 0x80_0000_0000n });
  return { k, pf: t.sriov!.pf, vfs: t.sriov!.vfs, otherPf: t2.sriov!.pf, otherVf: t2.sriov!.vfs[0]! };
}

describe("dma-buf-mapping-iov", () => {
  let m: Machine;
  beforeEach(() => {
    m = boot();
  });

  type Row = { desc: string; exp: (m: Machine) => PciDev; expBar: number; imp: (m: Machine) => PciDev; impBar: number; want: "IOV" | "NEXT" };
  const LMEM = GENERIC_SRIOV_PF.memBar;
  it.each<Row>([
    { desc: "the PF of the exporting VF, both on the LMEM BAR: IOV", exp: (x) => x.vfs[0]!, expBar: LMEM, imp: (x) => x.pf, impBar: LMEM, want: "IOV" },
    { desc: "another VF of the same PF, its PF: IOV", exp: (x) => x.vfs[2]!, expBar: LMEM, imp: (x) => x.pf, impBar: LMEM, want: "IOV" },
    { desc: "the BARs agree on BAR 0: IOV (the type compares BARs, the importer decides which it offers)", exp: (x) => x.vfs[0]!, expBar: 0, imp: (x) => x.pf, impBar: 0, want: "IOV" },
    { desc: "the PF of another SR-IOV device: not compatible", exp: (x) => x.vfs[0]!, expBar: LMEM, imp: (x) => x.otherPf, impBar: LMEM, want: "NEXT" },
    { desc: "the right PF offering another BAR: not compatible", exp: (x) => x.vfs[0]!, expBar: LMEM, imp: (x) => x.pf, impBar: 0, want: "NEXT" },
    { desc: "the exporter exports BAR 0, the PF offers the LMEM BAR: not compatible", exp: (x) => x.vfs[0]!, expBar: 0, imp: (x) => x.pf, impBar: LMEM, want: "NEXT" },
    { desc: "the exporting VF itself as importer: not compatible", exp: (x) => x.vfs[0]!, expBar: LMEM, imp: (x) => x.vfs[0]!, impBar: LMEM, want: "NEXT" },
    { desc: "a sibling VF as importer: not compatible", exp: (x) => x.vfs[0]!, expBar: LMEM, imp: (x) => x.vfs[1]!, impBar: LMEM, want: "NEXT" },
    { desc: "a VF of another device with the PF of the first: not compatible", exp: (x) => x.otherVf, expBar: LMEM, imp: (x) => x.pf, impBar: LMEM, want: "NEXT" },
    { desc: "an exporter entry on a PF (not a VF) with that PF as importer: not compatible (pci_physfn(pf) == pf)", exp: (x) => x.pf, expBar: LMEM, imp: (x) => x.pf, impBar: LMEM, want: "NEXT" },
  ])("$desc", ({ exp, expBar, imp, impBar, want }) => {
    const { k } = m;
    const d = iovExporter(k, m.vfs[0]!, LMEM, [{ offset: 0n, len: 0x1000n }], { entryDev: exp(m), entryBar: expBar, after: [nextEntry] });
    const a = dmaBufMappingAttach(d, [dmaBufImappingIov(imp(m), impBar), { type: nextType }], { invalidateMappings: () => undefined });
    expect(a.mapType!.type.shortName).toBe(want);
    expect(dmaBufAttachmentIsIov(a)).toBe(want === "IOV");
    expect(k.warnings()).toEqual([]);
    dmaBufDetach(d, a);
    dmaBufPut(d);
    expect(k.leakReport().text()).toBe("");
  });

  it.each([
    { desc: "a refused IOV pair with nothing else offered fails the attach with EINVAL", imp: (x: Machine) => x.otherPf },
    { desc: "a copy of the IOV type is another type: EINVAL", imp: (x: Machine) => x.pf, copy: true },
  ])("$desc", ({ imp, copy }) => {
    const d = iovExporter(m.k, m.vfs[0]!, LMEM, [{ offset: 0n, len: 0x1000n }]);
    const entry = dmaBufImappingIov(imp(m), LMEM);
    const offered = copy ? { ...entry, type: { ...dmaBufMappingIovType } } : entry;
    expect(() => dmaBufMappingAttach(d, [offered], { invalidateMappings: () => undefined })).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    dmaBufPut(d);
    expect(m.k.leakReport().text()).toBe("");
  });

  it("exporter priority: an IOV entry first wins over a NEXT entry the importer lists first", () => {
    const d = iovExporter(m.k, m.vfs[0]!, LMEM, [{ offset: 0n, len: 0x1000n }], { after: [nextEntry] });
    const a = dmaBufMappingAttach(d, [{ type: nextType }, dmaBufImappingIov(m.pf, LMEM)], { invalidateMappings: () => undefined });
    expect(a.mapType!.type).toBe(dmaBufMappingIovType);
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("an entry without data WARNs and is not compatible (never aborts the match)", () => {
    const d = iovExporter(m.k, m.vfs[0]!, LMEM, [{ offset: 0n, len: 0x1000n }], { after: [nextEntry] });
    const a = dmaBufMappingAttach(d, [{ type: dmaBufMappingIovType } as DmaBufMappingMatch, { type: nextType }], { invalidateMappings: () => undefined });
    expect(a.mapType!.type).toBe(nextType);
    expect(m.k.warnings()).toEqual(["dma_buf_iov_match: IOV entry without a device and BAR"]);
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("finish_match records the exporter's VF, BAR and ops; the accessors see them, bufinfo names the VF", () => {
    const vf = m.vfs[1]!;
    const d = iovExporter(m.k, vf, LMEM, [{ offset: 0n, len: 0x1000n }]);
    const a = dmaBufMappingAttach(d, [dmaBufImappingIov(m.pf, LMEM)], { invalidateMappings: () => undefined });
    expect(dmaBufIovMatchData(a)).toEqual({ dev: vf, bar: LMEM });
    expect(dmaBufGetIovOps(a)).toBe(a.mapType!.expOps);
    expect(typeof dmaBufGetIovOps(a)!.mapRanges).toBe("function");
    expect(dmaBufDebugShow(m.k)).toContain(`\tIOV Interconnect: ${vf.name} BAR2\n`);
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("the accessors answer null/false for another type's attachment", () => {
    const d = iovExporter(m.k, m.vfs[0]!, LMEM, [{ offset: 0n, len: 0x1000n }], { after: [nextEntry] });
    const a = dmaBufMappingAttach(d, [{ type: nextType }], { invalidateMappings: () => undefined });
    expect([dmaBufAttachmentIsIov(a), dmaBufIovMatchData(a), dmaBufGetIovOps(a), dmaBufAttachmentIsIov(null)]).toEqual([false, null, null, false]);
    dmaBufDetach(d, a);
    dmaBufPut(d);
  });

  it("entry constructors: the importer entry has no ops, the exporter entry carries them", () => {
    const ops = { mapRanges: () => ({ barNumber: 2, nranges: 0, ranges: [] }), unmapRanges: () => undefined };
    expect(dmaBufImappingIov(m.pf, 2)).toEqual({ type: dmaBufMappingIovType, data: { dev: m.pf, bar: 2 } });
    expect(dmaBufEmappingIov(ops, m.vfs[0]!, 2)).toEqual({ type: dmaBufMappingIovType, expOps: ops, data: { dev: m.vfs[0], bar: 2 } });
  });
});

describe("dma_buf_iov_alloc_ranges", () => {
  const U64 = 1n << 64n;
  it.each([
    { desc: "one page: inclusive end", phys: [{ paddr: 0x1000n, len: 0x1000n }], want: [{ start: 0x1000n, end: 0x1fffn }] },
    { desc: "two ranges in buffer order", phys: [{ paddr: 0x8000n, len: 0x2000n }, { paddr: 0x1000n, len: 1n }], want: [{ start: 0x8000n, end: 0x9fffn }, { start: 0x1000n, end: 0x1000n }] },
    { desc: "a range ending at the last byte of the 64-bit space", phys: [{ paddr: U64 - 0x1000n, len: 0x1000n }], want: [{ start: U64 - 0x1000n, end: U64 - 1n }] },
    { desc: "above 2^53, exact", phys: [{ paddr: (1n << 60n) + 1n, len: 3n }], want: [{ start: (1n << 60n) + 1n, end: (1n << 60n) + 3n }] },
  ])("$desc", ({ phys, want }) => {
    const k = new Kernel();
    const r = dmaBufIovAllocRanges(k, 2, phys);
    expect([r.barNumber, r.nranges, r.ranges]).toEqual([2, want.length, want]);
    expect(r.ranges.map(rangeLen)).toEqual(phys.map((p) => p.len));
    expect(k.leakReport().entries.map((e) => e.kind)).toEqual(["dma_buf_iov_ranges"]);
    dmaBufIovFreeRanges(k, r);
    expect(k.leakReport().empty).toBe(true);
  });

  it.each([
    { desc: "no ranges", phys: [], errno: "EINVAL" },
    { desc: "a zero-length range", phys: [{ paddr: 0x1000n, len: 0n }], errno: "EINVAL" },
    { desc: "a range past 2^64", phys: [{ paddr: U64 - 0x1000n, len: 0x1001n }], errno: "EOVERFLOW" },
  ])("refuses $desc with $errno and allocates nothing", ({ phys, errno }) => {
    const k = new Kernel();
    expect(() => dmaBufIovAllocRanges(k, 2, phys)).toThrow(expect.objectContaining({ errno }));
    expect(k.faults.attempts).toBe(0);
  });

  it("fails with ENOMEM when the kvmalloc fails, and a double free WARNs", () => {
    const k = new Kernel();
    k.faults.failNth(1, "kvmalloc");
    expect(() => dmaBufIovAllocRanges(k, 2, [{ paddr: 0n, len: 1n }])).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
    expect(k.leakReport().empty).toBe(true);
    const r = dmaBufIovAllocRanges(k, 2, [{ paddr: 0n, len: 1n }]);
    dmaBufIovFreeRanges(k, r);
    dmaBufIovFreeRanges(k, r);
    expect(k.warnings()).toEqual(["dma_buf_iov_free_ranges: list not allocated or already freed"]);
  });
});
