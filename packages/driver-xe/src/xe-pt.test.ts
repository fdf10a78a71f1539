// Tests of drivers/gpu/drm/xe/xe_pt.c: GPU page-table binds of VRAM, system and imported pages.
import { describe, expect, it } from "vitest";
import { DmaFault, O_RDWR, dmaBufPut, dmaResvLock, dmaResvUnlock, type DmaBuf, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc, compatExporterModule, sgtableDmaAddressAt } from "@dmabuf-sdk/map-sgt";
import {
  XE_PAGE_PRESENT,
  XE_PAGE_RW,
  XE_PL_TT,
  XE_PL_VRAM0,
  XE_PPGTT_PTE_DM,
  xeBoAddr,
  xeBoCreate,
  xeBoEvict,
  xeBoPut,
  xeBoWrite,
  xeGemPrimeExport,
  xeGemPrimeImport,
  xeVmBind,
  xeVmCreate,
  xeVmDestroy,
  xeVmRead,
  xeVmRebind,
  xeVmUnbind,
  type XeBindSource,
  type XeBo,
  type XeDevice,
  type XeVm,
} from "@dmabuf-sdk/driver-xe";
import { boot, bootSriov, bytes, teardown, vfExport, xeOn } from "@dmabuf-sdk/driver-xe/testing";

const VA = 0x2_0000_0000n;
const RW = XE_PAGE_PRESENT | XE_PAGE_RW;

interface Setup {
  k: Kernel;
  xe: XeDevice;
  bo: XeBo;
  /** The bytes the BO holds at offset 0. */
  data: Uint8Array;
  /** The expected PTE of BO page `i`. */
  pte(i: number): { addr: bigint; flags: number };
  /** An exporter-side move/invalidation. */
  invalidate(): void;
  release(): void;
}

function locked(bo: XeBo, fn: () => void): void {
  dmaResvLock(bo.resv);
  try {
    fn();
  } finally {
    dmaResvUnlock(bo.resv);
  }
}

const N = 4;
const SIZE = BigInt(N * 4096);

const setups: Record<XeBindSource, () => Setup> = {
  vram() {
    const { k, t } = boot("same-switch");
    const xe = xeOn(t.importerSlot);
    const bo = xeBoCreate(xe, SIZE, { placements: [XE_PL_VRAM0, XE_PL_TT] });
    const data = bytes(N * 4096, 1);
    xeBoWrite(bo, 0n, data);
    return { k, xe, bo, data, pte: (i) => ({ addr: xeBoAddr(bo, BigInt(i) * 4096n, 4096), flags: RW | XE_PPGTT_PTE_DM }), invalidate: () => locked(bo, () => xeBoEvict(bo)), release: () => xeBoPut(bo) };
  },
  tt() {
    const { k, t } = boot("cross-root");
    const xe = xeOn(t.importerSlot);
    const bo = xeBoCreate(xe, SIZE, { placements: [XE_PL_TT] });
    const data = bytes(N * 4096, 2);
    xeBoWrite(bo, 0n, data);
    return { k, xe, bo, data, pte: (i) => ({ addr: sgtableDmaAddressAt(bo.ttSgt!, BigInt(i) * 4096n).addr, flags: RW }), invalidate: () => locked(bo, () => xeBoEvict(bo)), release: () => xeBoPut(bo) };
  },
  sg() {
    const { k, t } = boot("cross-root");
    const xe = xeOn(t.importerSlot);
    const d = compatExporterAlloc(k, k.modprobe(compatExporterModule), SIZE);
    const data = bytes(N * 4096, 3);
    d.priv.pfns.forEach((p, i) => k.platform.physmem.write(BigInt(p) << 12n, data.subarray(i * 4096, (i + 1) * 4096)));
    const bo = xeGemPrimeImport(xe, d);
    return {
      k,
      xe,
      bo,
      data,
      pte: (i) => ({ addr: sgtableDmaAddressAt(bo.import!.sg!, BigInt(i) * 4096n).addr, flags: RW }),
      invalidate: () => locked(bo, () => xeBoEvict(bo)),
      release: () => (xeBoPut(bo), dmaBufPut(d)),
    };
  },
  dma_data() {
    const m = bootSriov();
    const vf = m.vfs[0]!;
    const d: DmaBuf = vfExport(m.k, vf, { ranges: [{ offset: 0x20_0000n, len: SIZE }] });
    const data = bytes(N * 4096, 4);
    m.k.platform.physmem.write(vf.bars[2]!.start + 0x20_0000n, data);
    const bo = xeGemPrimeImport(m.xe, d);
    const q = m.xe.sriovPf!.configs[1]!.lmemObj!;
    return {
      k: m.k,
      xe: m.xe,
      bo,
      data,
      pte: (i) => ({ addr: xeBoAddr(q, 0x20_0000n + BigInt(i) * 4096n, 4096), flags: RW | XE_PPGTT_PTE_DM }),
      invalidate: () => locked(bo, () => xeBoEvict(bo)),
      release: () => (xeBoPut(bo), dmaBufPut(d)),
    };
  },
};


function ptes(vm: XeVm, n: number, from = VA) {
  return Array.from({ length: n }, (_, i) => vm.ptes.get(Number(from >> 12n) + i));
}

describe("xe_pt", () => {
  it.each(Object.keys(setups) as XeBindSource[])("a bind of a BO whose pages are %s: the PTEs take those addresses, the GPU reads the bytes", (source) => {
    const s = setups[source]();
    const vm = xeVmCreate(s.xe);
    const vma = xeVmBind(vm, s.bo, VA, 0n, SIZE);
    expect(vma.source).toBe(source);
    expect(ptes(vm, N)).toEqual(Array.from({ length: N }, (_, i) => s.pte(i)));
    expect(xeVmRead(vm, VA, N * 4096)).toEqual(s.data);
    // A partial bind starts at its BO offset (for DPAs: the xe_res_first_dma cursor).
    const part = xeVmBind(vm, s.bo, VA + 0x10_0000n, 0x1000n, 0x2000n);
    expect(ptes(vm, 2, VA + 0x10_0000n)).toEqual([s.pte(1), s.pte(2)]);
    expect(xeVmRead(vm, VA + 0x10_0000n + 0x10n, 0x1000)).toEqual(s.data.subarray(0x1010, 0x2010));
    xeVmUnbind(part);
    xeVmDestroy(vm);
    s.release();
    expect(teardown(s.k)).toBe("");
    expect([s.k.warnings(), s.k.lockdep.reports()]).toEqual([[], []]);
  });

  it.each(Object.keys(setups) as XeBindSource[])("%s: a move or invalidation zaps the bind (the GPU faults there), a rebind restores it with the bytes", (source) => {
    const s = setups[source]();
    const vm = xeVmCreate(s.xe);
    const vma = xeVmBind(vm, s.bo, VA, 0n, SIZE);
    s.invalidate();
    expect([vma.bound, ptes(vm, N).every((p) => p === undefined)]).toEqual([false, true]);
    expect(() => xeVmRead(vm, VA, 16)).toThrow(DmaFault);
    xeVmRebind(vm);
    expect(vma.bound).toBe(true);
    expect(xeVmRead(vm, VA, N * 4096)).toEqual(s.data);
    xeVmDestroy(vm);
    s.release();
    expect(teardown(s.k)).toBe("");
    expect([s.k.warnings(), s.k.lockdep.reports()]).toEqual([[], []]);
  });

  it.each([
    { desc: "an unaligned GPU address", va: VA + 0x10n, off: 0n, size: 0x1000n },
    { desc: "a range past the BO", va: VA, off: 0x3000n, size: 0x2000n },
    { desc: "an empty range", va: VA, off: 0n, size: 0n },
    { desc: "an overlap with another VMA", va: VA + 0x1000n, off: 0n, size: 0x1000n },
  ])("xe_vm_bind refuses $desc with EINVAL and takes no reference", ({ va, off, size }) => {
    const s = setups.vram();
    const vm = xeVmCreate(s.xe);
    xeVmBind(vm, s.bo, VA, 0n, SIZE);
    expect(() => xeVmBind(vm, s.bo, va, off, size)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    expect(s.bo.kref.refcount).toBe(2);
    xeVmDestroy(vm);
    s.release();
    expect(teardown(s.k)).toBe("");
  });

  it("Xe ↔ Xe between two GPUs: the importing GPU binds the other's VRAM over P2P and reads it", () => {
    const { k, t } = boot("same-switch");
    const exp = xeOn(t.exporterSlot);
    const imp = xeOn(t.importerSlot);
    const bo = xeBoCreate(exp, SIZE, { placements: [XE_PL_VRAM0, XE_PL_TT] });
    xeBoWrite(bo, 0n, bytes(N * 4096, 5));
    const d = xeGemPrimeExport(bo, O_RDWR);
    xeBoPut(bo);
    const ibo = xeGemPrimeImport(imp, d);
    const vm = xeVmCreate(imp);
    const vma = xeVmBind(vm, ibo, VA, 0n, SIZE);
    expect([vma.source, bo.memType, vm.ptes.get(Number(VA >> 12n))!.addr]).toEqual(["sg", XE_PL_VRAM0, exp.lmemBar.start + BigInt(bo.vram![0]!.start) * 4096n]);
    expect(xeVmRead(vm, VA, N * 4096)).toEqual(bytes(N * 4096, 5));
    xeVmDestroy(vm);
    xeBoPut(ibo);
    dmaBufPut(d);
    expect(teardown(k)).toBe("");
  });
});
