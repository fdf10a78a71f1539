// Tests of Xe SR-IOV PF mode (xe_gt_sriov_pf_config.c) and the IOV import.
import { describe, expect, it } from "vitest";
import { DmaFault, buildTopology, dmaBufInvalidateMappings, dmaBufPut, dmaResvLock, dmaResvUnlock, type DmaBuf, type Errno, type Kernel, type PciDev } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufMappingIovType } from "@dmabuf-sdk/map-iov";
import { dmaBufMappingSgtType, dmaBufSgtRoute } from "@dmabuf-sdk/map-sgt";
import {
  LMEM_BAR,
  XE_SRIOV_PF,
  XE_PPGTT_PTE_DM,
  xeBoAddr,
  xeBoPut,
  xeBoValidateUnlocked,
  xeDeviceProbe,
  xeDeviceRemove,
  xeFindVfDev,
  xeGemPrimeImport,
  xeGpuDmaRead,
  xeGtSriovPfConfigGetLmem,
  xeGtSriovPfConfigSetLmem,
  xeSriovVfIdOf,
  xeVmBind,
  xeVmCreate,
  xeVmDestroy,
  xeVmRead,
  xeVmRebind,
  xeVmWrite,
  type XeBo,
  type XeDevice,
} from "@dmabuf-sdk/driver-xe";
import { bootSriov, bytes, teardown, vfExport, type VfExporterPriv, vfRevoke } from "@dmabuf-sdk/driver-xe/testing";

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const VA = 0x10_0000_0000n;

type Sriov = ReturnType<typeof bootSriov>;

/** The VF's guest writes into its LMEM through its own BAR (what the PF must then read). */
function vfWrite(k: Kernel, vf: PciDev, offset: bigint, data: Uint8Array): void {
  k.platform.physmem.write(vf.bars[LMEM_BAR]!.start + offset, data);
}
function vfRead(k: Kernel, vf: PciDev, offset: bigint, len: number): Uint8Array {
  return k.platform.physmem.read(vf.bars[LMEM_BAR]!.start + offset, len);
}

/** The PF's VF1 LMEM object (without taking a reference). */
function lmemObj(xe: XeDevice, vfid: number): XeBo {
  return xe.sriovPf!.configs[vfid]!.lmemObj!;
}

function importAndMap(m: Sriov, dmabuf: DmaBuf) {
  const bo = xeGemPrimeImport(m.xe, dmabuf);
  const vm = xeVmCreate(m.xe);
  const vma = xeVmBind(vm, bo, VA, 0n, bo.size);
  return {
    bo,
    vm,
    vma,
    done() {
      xeVmDestroy(vm);
      xeBoPut(bo);
    },
  };
}

function clean(k: Kernel): void {
  expect(teardown(k)).toBe("");
  expect([k.warnings(), k.lockdep.reports(), k.oopses()]).toEqual([[], [], []]);
}

describe("SR-IOV PF mode", () => {
  it("the PF provisions each VF's LMEM out of its VRAM and maps the VF's LMEM BAR onto it (VF ids 1-based)", () => {
    const m = bootSriov();
    const { k, xe, vfs } = m;
    expect([xe.sriovMode, xe.vram.size, vfs.map(xeSriovVfIdOf), [1, 2].map((id) => xeGtSriovPfConfigGetLmem(xe, id))]).toEqual(["XE_SRIOV_MODE_PF", 4n * GiB, [1, 2], [GiB, GiB]]);
    // The LMTT sits in VRAM first, so VF1's quota does not start at DPA 0: BAR offsets and DPAs differ.
    expect(xeBoAddr(lmemObj(xe, 1), 0n, 4096)).toBe(2n * MiB);
    vfWrite(k, vfs[1]!, 0x3000n, bytes(64, 2));
    expect(xeGpuDmaRead(xe, { dpa: xeBoAddr(lmemObj(xe, 2), 0x3000n, 4096) }, 64)).toEqual(bytes(64, 2));
    expect(vfRead(k, vfs[0]!, 0x3000n, 64)).toEqual(new Uint8Array(64)); // VF1 does not see VF2's memory
    xeGtSriovPfConfigSetLmem(xe, 2, 0n);
    expect(vfRead(k, vfs[1]!, 0x3000n, 4)).toEqual(Uint8Array.of(0xff, 0xff, 0xff, 0xff)); // unprovisioned: nothing answers
    expect(() => xeGtSriovPfConfigSetLmem(xe, 0, MiB)).toThrow(expect.objectContaining({ errno: "EINVAL" })); // 0 is the PF
    expect(() => xeGtSriovPfConfigSetLmem(xe, 1, 2n * GiB)).toThrow(expect.objectContaining({ errno: "EINVAL" })); // beyond the VF LMEM BAR
    clean(k);
  });

  it("xe_find_vf_dev: the whole LMEM BAR of a VF counts, including its last page (the posted bound left it out)", () => {
    const m = bootSriov();
    const bar = m.vfs[0]!.bars[LMEM_BAR]!;
    expect([bar.start, bar.start + bar.size - 4096n, bar.start + bar.size - 1n].map((a) => xeFindVfDev(m.pf, a))).toEqual([m.vfs[0], m.vfs[0], m.vfs[0]]);
    expect([xeFindVfDev(m.pf, bar.start + bar.size), xeFindVfDev(m.pf, m.pf.bars[LMEM_BAR]!.start), xeFindVfDev(m.pf, 0x100000n)]).toEqual([m.vfs[1], null, null]);
    clean(m.k);
  });
});

describe("IOV import", () => {
  it("end to end on sriov: the VF exports its LMEM, the PF negotiates IOV and its GPU reads and writes the VF's bytes by DPA", () => {
    const m = bootSriov();
    const { k, xe, vfs } = m;
    const vf = vfs[0]!;
    const d = vfExport(k, vf, { ranges: [{ offset: 4n * MiB, len: 0x10000n }, { offset: 0n, len: 0x3000n }] });
    vfWrite(k, vf, 4n * MiB, bytes(0x10000, 1));
    vfWrite(k, vf, 0n, bytes(0x3000, 2));
    const imp = importAndMap(m, d);
    const { bo, vm, vma } = imp;
    expect(bo.import!.attach!.mapType!.type).toBe(dmaBufMappingIovType);
    // The translation: each range becomes entries of 2^order pages, DPAs inside VF1's own quota.
    const q = lmemObj(xe, 1);
    expect(bo.dmaData.dmaAddr).toEqual([
      { addr: xeBoAddr(q, 4n * MiB, 4096), proto: "XE_INTERCONNECT_VRAM", order: 4, dir: "DMA_BIDIRECTIONAL" },
      { addr: xeBoAddr(q, 0n, 4096), proto: "XE_INTERCONNECT_VRAM", order: 1, dir: "DMA_BIDIRECTIONAL" },
      { addr: xeBoAddr(q, 0x2000n, 4096), proto: "XE_INTERCONNECT_VRAM", order: 0, dir: "DMA_BIDIRECTIONAL" },
    ]);
    expect([bo.dmaData.lmemObj, q.kref.refcount, d.priv.outstanding, d.priv.log]).toEqual([q, 2, 1, ["map_ranges"]]);
    // The copy engine by DPA, and a shader through the bind (DM PTEs).
    expect(xeGpuDmaRead(xe, { dpa: bo.dmaData.dmaAddr![0]!.addr }, 0x10000)).toEqual(bytes(0x10000, 1));
    expect([vma.source, vm.ptes.get(Number(VA >> 12n))]).toEqual(["dma_data", { addr: xeBoAddr(q, 4n * MiB, 4096), flags: 0b11 | XE_PPGTT_PTE_DM }]);
    expect(xeVmRead(vm, VA, 0x13000)).toEqual(Uint8Array.from([...bytes(0x10000, 1), ...bytes(0x3000, 2)]));
    xeVmWrite(vm, VA + 0x12000n, bytes(0x1000, 9));
    expect(vfRead(k, vf, 0x2000n, 0x1000)).toEqual(bytes(0x1000, 9));
    // A second import, mapped without a bind, translates to the same DPAs and holds its own references.
    const plain = xeGemPrimeImport(xe, d);
    xeBoValidateUnlocked(plain);
    expect([plain.dmaData.dmaAddr, q.kref.refcount, d.priv.outstanding]).toEqual([bo.dmaData.dmaAddr, 3, 2]);
    xeBoPut(plain);
    imp.done();
    // Every reference is given back: the ranges, the DPA array, the LMEM object's.
    expect([d.priv.outstanding, d.priv.log, q.kref.refcount, k.objects.count("drm_pagemap_addr"), k.objects.count("dma_buf_iov_ranges")]).toEqual([0, ["map_ranges", "map_ranges", "unmap_ranges", "unmap_ranges"], 1, 0, 0]);
    dmaBufPut(d);
    clean(k);
  });

  type Bad = {
    desc: string;
    /** The exporter's ranges (BAR offsets); default one 16 KiB range at 0. */
    ranges?: { offset: bigint; len: bigint }[];
    /** What `map_ranges` hands out instead, from the VFs' LMEM BARs and the machine. */
    iov?: (m: Sriov) => { paddr: bigint; len: bigint }[];
    setup?: (m: Sriov, d: DmaBuf<VfExporterPriv>) => void;
    errno: Errno | "none";
    operation?: string;
    /** The exporter's calls: map_ranges failed, or the translation failed after it. */
    log: "iov" | "map-failed" | "translate-failed";
    /** The VF's BAR has nothing behind it: the SGT data path faults too. */
    noData?: boolean;
  };
  const lmem = (vf: PciDev) => vf.bars[LMEM_BAR]!.start;
  const T = "xe_bo_translate_io_addr_to_dpa";
  it.each<Bad>([
    { desc: "ranges inside the exporting VF's quota: IOV", errno: "none", log: "iov" },
    { desc: "the last page of the VF's LMEM BAR (quota = BAR): IOV", ranges: [{ offset: GiB - 0x1000n, len: 0x1000n }], errno: "none", log: "iov" },
    { desc: "system RAM: EINVAL", iov: () => [{ paddr: 0x10_0000n, len: 0x4000n }], errno: "EINVAL", log: "translate-failed" },
    { desc: "a range that ends in system RAM: EINVAL", iov: () => [{ paddr: 0x7fff_e000n, len: 0x4000n }], errno: "EINVAL", log: "translate-failed" },
    { desc: "the PF's own LMEM BAR (no VF's window): EINVAL", iov: (m) => [{ paddr: lmem(m.pf), len: 0x4000n }], errno: "EINVAL", log: "translate-failed" },
    { desc: "the exporting VF's BAR 0 (not LMEM): EINVAL", iov: (m) => [{ paddr: m.vfs[0]!.bars[0]!.start, len: 0x4000n }], errno: "EINVAL", log: "translate-failed" },
    { desc: "an address nothing decodes: EINVAL", iov: () => [{ paddr: 0x7000_0000_0000n, len: 0x4000n }], errno: "EINVAL", log: "translate-failed" },
    { desc: "another VF's LMEM window: EPERM (the malicious-VF check)", iov: (m) => [{ paddr: lmem(m.vfs[1]!), len: 0x4000n }], errno: "EPERM", log: "translate-failed" },
    { desc: "a second range in another VF's window: EPERM", iov: (m) => [{ paddr: lmem(m.vfs[0]!), len: 0x1000n }, { paddr: lmem(m.vfs[1]!) + 0x5000n, len: 0x3000n }], errno: "EPERM", log: "translate-failed" },
    { desc: "a range running from the VF's window into the next VF's: EPERM", iov: (m) => [{ paddr: lmem(m.vfs[0]!) + GiB - 0x1000n, len: 0x4000n }], errno: "EPERM", log: "translate-failed" },
    { desc: "beyond the VF's provisioned quota: EINVAL", setup: (m) => xeGtSriovPfConfigSetLmem(m.xe, 1, 8n * MiB), iov: (m) => [{ paddr: lmem(m.vfs[0]!) + 16n * MiB, len: 0x4000n }], errno: "EINVAL", log: "translate-failed" },
    { desc: "a range that is not page aligned: EINVAL", iov: (m) => [{ paddr: lmem(m.vfs[0]!) + 0x800n, len: 0x4000n }], errno: "EINVAL", log: "translate-failed" },
    { desc: "ranges that do not cover the buffer: EINVAL", iov: (m) => [{ paddr: lmem(m.vfs[0]!), len: 0x1000n }], errno: "EINVAL", log: "translate-failed" },
    { desc: "a VF with no LMEM provisioned: EINVAL (and its BAR answers nothing)", setup: (m) => xeGtSriovPfConfigSetLmem(m.xe, 1, 0n), errno: "EINVAL", log: "translate-failed", noData: true },
    { desc: "the DPA array cannot be allocated: ENOMEM", setup: (m) => void m.k.faults.inject({ site: "kvmalloc", what: "drm_pagemap_addr", nth: 1 }), errno: "ENOMEM", operation: "kvmalloc", log: "translate-failed" },
    { desc: "the exporter cannot allocate the ranges: ENOMEM at map", setup: (m) => void m.k.faults.inject({ site: "kvmalloc", what: "dma_buf_iov_ranges", nth: 1 }), errno: "ENOMEM", operation: "kvmalloc", log: "map-failed" },
    {
      desc: "the PF driver is not in SR-IOV PF mode: EINVAL",
      setup: (m) => {
        xeDeviceRemove(m.xe);
        Object.assign(m, { xe: xeDeviceProbe(m.pf, { sriov: false }) });
      },
      errno: "EINVAL",
      log: "translate-failed",
    },
  ])("$desc; any failure falls back to SGT for good and every reference is given back", ({ ranges, iov, setup, errno, operation, log, noData }) => {
    const m = bootSriov();
    const { k, vfs } = m;
    const vf = vfs[0]!;
    const rs = ranges ?? [{ offset: 0n, len: 0x4000n }];
    const d = vfExport(k, vf, { ranges: rs, iovPhys: iov?.(m) });
    setup?.(m, d);
    vfWrite(k, vf, rs[0]!.offset, bytes(0x4000, 3).subarray(0, Number(rs[0]!.len)));
    const imp = importAndMap(m, d);
    const { bo, vm } = imp;
    const fellBack = errno !== "none";
    expect(bo.import!.attach!.mapType!.type).toBe(fellBack ? dmaBufMappingSgtType : dmaBufMappingIovType);
    expect(bo.import!.iovFallback).toEqual(fellBack ? { errno, operation: operation ?? T } : null);
    expect(k.trace.events("xe_iov_fallback").map((e) => e.fields.errno)).toEqual(fellBack ? [errno] : []);
    expect(d.priv.log).toEqual({ iov: ["map_ranges"], "map-failed": ["map_ranges", "map_dma_buf"], "translate-failed": ["map_ranges", "unmap_ranges", "map_dma_buf"] }[log]);
    // Nothing of the failed attempt is kept: no DPA array, no LMEM reference, no ranges.
    if (fellBack) {
      expect([bo.dmaData, bo.import!.ranges, k.objects.count("drm_pagemap_addr"), k.objects.count("dma_buf_iov_ranges")]).toEqual([{ dmaAddr: null, lmemObj: null }, null, 0, 0]);
      expect(dmaBufSgtRoute(bo.import!.sg!)).toBe("bus-addr");
    }
    for (const vfid of [1, 2]) {
      const o = m.xe.sriovPf?.configs[vfid]!.lmemObj;
      if (o) expect(o.kref.refcount).toBe(!fellBack && vfid === 1 ? 2 : 1);
    }
    // Either way the PF's GPU reads what the VF wrote.
    const len = Number(rs[0]!.len);
    if (noData) expect(() => xeVmRead(vm, VA, len)).toThrow(DmaFault);
    else expect(xeVmRead(vm, VA, len)).toEqual(bytes(0x4000, 3).subarray(0, len));
    imp.done();
    expect(d.priv.outstanding).toBe(0);
    dmaBufPut(d);
    clean(k);
  });

  it.each([
    {
      desc: "an Xe PF of another SR-IOV device",
      importer: (m: Sriov) => {
        const t2 = buildTopology(m.k, "sriov", { sriovPf: XE_SRIOV_PF, mem64Base: 0x80_0000_0000n });
        return xeDeviceProbe(t2.sriov!.pf);
      },
      bar: LMEM_BAR,
      route: "iova",
    },
    { desc: "an export of the VF's BAR 0 (not the LMEM BAR)", importer: (m: Sriov) => m.xe, bar: 0, route: "bus-addr" },
  ])("IOV does not match for $desc: SGT from the start, no IOV attempt", ({ importer, bar, route }) => {
    const m = bootSriov();
    const { k, vfs } = m;
    const xe = importer(m);
    const d = vfExport(k, vfs[0]!, { bar, ranges: [{ offset: 0n, len: 0x2000n }] });
    k.platform.physmem.write(vfs[0]!.bars[bar]!.start, bytes(0x2000, 4));
    const bo = xeGemPrimeImport(xe, d);
    expect(bo.import!.attach!.mapType!.type).toBe(dmaBufMappingSgtType);
    const vm = xeVmCreate(xe);
    xeVmBind(vm, bo, VA, 0n, bo.size);
    expect([bo.import!.iovFallback, d.priv.log, dmaBufSgtRoute(bo.import!.sg!)]).toEqual([null, ["map_dma_buf"], route]);
    expect(xeVmRead(vm, VA, 0x2000)).toEqual(bytes(0x2000, 4));
    xeVmDestroy(vm);
    xeBoPut(bo);
    dmaBufPut(d);
    clean(k);
  });

  it("the fallback is sticky: after invalidations the import stays on SGT even once the ranges are good; a new import tries IOV again", () => {
    const m = bootSriov();
    const { k, vfs } = m;
    const vf = vfs[0]!;
    const d = vfExport(k, vf, { ranges: [{ offset: 0n, len: 0x2000n }], iovPhys: [{ paddr: lmem(vfs[1]!), len: 0x2000n }] });
    vfWrite(k, vf, 0n, bytes(0x2000, 5));
    const imp = importAndMap(m, d);
    expect(imp.bo.import!.iovFallback?.errno).toBe("EPERM");
    d.priv.iovPhys = null; // the exporter behaves from now on
    for (let i = 0; i < 2; i++) {
      dmaResvLock(d.resv);
      dmaBufInvalidateMappings(d);
      dmaResvUnlock(d.resv);
      expect([imp.vma.bound, imp.bo.import!.sg]).toEqual([false, null]);
      xeVmRebind(imp.vm);
      expect(imp.bo.import!.attach!.mapType!.type).toBe(dmaBufMappingSgtType);
      expect(xeVmRead(imp.vm, VA, 0x2000)).toEqual(bytes(0x2000, 5));
    }
    expect(d.priv.log.filter((x) => x === "map_ranges")).toEqual(["map_ranges"]);
    const again = importAndMap(m, d);
    expect([again.bo.import!.attach!.mapType!.type, again.vma.source]).toEqual([dmaBufMappingIovType, "dma_data"]);
    again.done();
    imp.done();
    dmaBufPut(d);
    clean(k);
  });

  it("a revoke invalidates the IOV mapping (the GPU faults at the old address); mapping while revoked fails with ENODEV and demotes the import to SGT; after restore it maps over SGT", () => {
    const m = bootSriov();
    const { k, vfs } = m;
    const vf = vfs[0]!;
    const d = vfExport(k, vf, { ranges: [{ offset: 0n, len: 0x2000n }] });
    vfWrite(k, vf, 0n, bytes(0x2000, 6));
    const imp = importAndMap(m, d);
    expect(imp.vma.source).toBe("dma_data");
    vfRevoke(d, true);
    expect([imp.bo.dmaData.dmaAddr, imp.vma.bound, d.priv.outstanding, lmemObj(m.xe, 1).kref.refcount]).toEqual([null, false, 0, 1]);
    expect(() => xeVmRead(imp.vm, VA, 64)).toThrow(DmaFault);
    expect(() => xeVmRebind(imp.vm)).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    expect([imp.bo.import!.attach, imp.bo.import!.iovFallback?.errno]).toEqual([null, "ENODEV"]);
    vfRevoke(d, false);
    xeVmRebind(imp.vm);
    expect([imp.bo.import!.attach!.mapType!.type, imp.vma.source]).toEqual([dmaBufMappingSgtType, "sg"]);
    expect(xeVmRead(imp.vm, VA, 0x2000)).toEqual(bytes(0x2000, 6));
    imp.done();
    dmaBufPut(d);
    clean(k);
  });

  it("the stored LMEM reference keeps a VF's old quota alive while the PF still uses DPAs into it (the posted code never stored it)", () => {
    const m = bootSriov();
    const { k, xe, vfs } = m;
    const vf = vfs[0]!;
    const d = vfExport(k, vf, { ranges: [{ offset: 0n, len: 0x2000n }] });
    vfWrite(k, vf, 0n, bytes(0x2000, 7));
    const imp = importAndMap(m, d);
    const old = lmemObj(xe, 1);
    const oldBlocks = old.vram;
    xeGtSriovPfConfigSetLmem(xe, 1, 64n * MiB); // re-provisioned while imported
    const fresh = lmemObj(xe, 1);
    expect([old.kref.refcount, fresh === old, k.objects.isLive(old)]).toEqual([1, false, true]);
    expect(fresh.vram!.some((b) => oldBlocks!.some((o) => b.start < o.start + o.pages && o.start < b.start + b.pages))).toBe(false);
    expect(xeVmRead(imp.vm, VA, 0x2000)).toEqual(bytes(0x2000, 7)); // still the old quota's bytes
    expect(vfRead(k, vf, 0n, 16)).toEqual(new Uint8Array(16)); // the VF sees its new, cleared LMEM
    dmaResvLock(d.resv);
    dmaBufInvalidateMappings(d);
    dmaResvUnlock(d.resv);
    expect(k.objects.isLive(old)).toBe(false); // the last reference went with the mapping
    imp.done();
    dmaBufPut(d);
    clean(k);
  });

  it("fault injection over import + IOV map + translate + bind: each failure ends in IOV, the SGT fallback or ENOMEM, never a leak", () => {
    const run = (m: Sriov) => {
      const d = vfExport(m.k, m.vfs[0]!, { ranges: [{ offset: 0n, len: 0x3000n }, { offset: 8n * MiB, len: 0x1000n }] });
      vfWrite(m.k, m.vfs[0]!, 0n, bytes(0x3000, 8));
      try {
        const bo = xeGemPrimeImport(m.xe, d);
        try {
          const vm = xeVmCreate(m.xe);
          try {
            xeVmBind(vm, bo, VA, 0n, bo.size);
            expect(xeVmRead(vm, VA, 0x3000)).toEqual(bytes(0x3000, 8));
            return bo.import!.iovFallback ? "fallback" : "iov";
          } finally {
            xeVmDestroy(vm);
          }
        } finally {
          xeBoPut(bo);
        }
      } finally {
        dmaBufPut(d);
      }
    };
    const probe = bootSriov();
    probe.k.faults.reset();
    expect(run(probe)).toBe("iov");
    const n = probe.k.faults.attempts;
    const outcomes = new Set<string>();
    for (let i = 1; i <= n; i++) {
      const m = bootSriov();
      m.k.faults.reset();
      m.k.faults.failNth(i);
      try {
        outcomes.add(run(m));
      } catch (e) {
        expect(e).toMatchObject({ errno: "ENOMEM" });
        outcomes.add("ENOMEM");
      }
      expect(teardown(m.k)).toBe("");
      expect([m.k.warnings(), m.k.lockdep.reports(), m.k.oopses()]).toEqual([[], [], []]);
    }
    expect([...outcomes].sort()).toEqual(["ENOMEM", "fallback"]);
  });
});
