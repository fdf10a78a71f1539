// Tests of drivers/gpu/drm/xe/xe_bo.c: placement, pin, migration and eviction of buffer objects.
import { describe, expect, it } from "vitest";
import { DmaFault, dmaResvLock, dmaResvUnlock, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import {
  XE_PL_SYSTEM,
  XE_PL_TT,
  XE_PL_VRAM0,
  xeBoAddr,
  xeBoCreate,
  xeBoEvict,
  xeBoMigrate,
  xeBoPin,
  xeBoPut,
  xeBoRead,
  xeBoUnpin,
  xeBoValidate,
  xeBoVramPage,
  xeBoWrite,
  xeGpuDmaRead,
  xeGpuDmaWrite,
  type XeBo,
  type XeBoPlacement,
  type XeMemType,
} from "@dmabuf-sdk/driver-xe";
import { boot, bytes, teardown, xeOn } from "@dmabuf-sdk/driver-xe/testing";

const MiB = 1n << 20n;

function gpu() {
  const m = boot("same-switch");
  const xe = xeOn(m.t.exporterSlot);
  return { ...m, xe };
}

function locked<T>(bo: XeBo, fn: () => T): T {
  dmaResvLock(bo.resv);
  try {
    return fn();
  } finally {
    dmaResvUnlock(bo.resv);
  }
}

function clean(k: Kernel): void {
  expect(teardown(k)).toBe("");
  expect([k.warnings(), k.lockdep.reports()]).toEqual([[], []]);
}

describe("xe_bo", () => {
  it("the device: VRAM is the LMEM BAR, and the BAR decodes onto VRAM", () => {
    const { k, xe } = gpu();
    expect([xe.vram.size, xe.lmemBar.index, xe.sriovMode, xe.pdev.driver]).toEqual([16n * MiB, 2, "XE_SRIOV_MODE_NONE", "xe"]);
    const bo = xeBoCreate(xe, 0x2000n, { placements: [XE_PL_VRAM0] });
    xeBoWrite(bo, 0x1000n, bytes(16, 3));
    // A CPU access through the BAR reaches the same VRAM page.
    expect(k.platform.physmem.read(xe.lmemBar.start + BigInt(xeBoVramPage(bo, 1)) * 4096n, 16)).toEqual(bytes(16, 3));
    xeBoPut(bo);
    clean(k);
  });

  type MoveCase = { desc: string; placements: XeBoPlacement[]; ops: ("tt" | "vram" | "evict" | "validate")[]; want: XeMemType[] };
  it.each<MoveCase>([
    { desc: "VRAM → TT → VRAM by migration", placements: [XE_PL_VRAM0, XE_PL_TT], ops: ["tt", "vram"], want: [XE_PL_TT, XE_PL_VRAM0] },
    { desc: "eviction VRAM → TT → swapped out, validate brings it back to VRAM", placements: [XE_PL_VRAM0, XE_PL_TT], ops: ["evict", "evict", "validate"], want: [XE_PL_TT, XE_PL_SYSTEM, XE_PL_VRAM0] },
    { desc: "a VRAM-only BO is evicted to TT too, and validated back", placements: [XE_PL_VRAM0], ops: ["evict", "validate"], want: [XE_PL_TT, XE_PL_VRAM0] },
    { desc: "a system BO swaps out and is repopulated", placements: [XE_PL_TT], ops: ["evict", "validate", "validate"], want: [XE_PL_SYSTEM, XE_PL_TT, XE_PL_TT] },
    { desc: "a system BO that may use VRAM moves there on request", placements: [XE_PL_TT, XE_PL_VRAM0], ops: ["vram", "evict", "validate"], want: [XE_PL_VRAM0, XE_PL_TT, XE_PL_TT] },
  ])("$desc, the bytes follow", ({ placements, ops, want }) => {
    const { k, xe } = gpu();
    const bo = xeBoCreate(xe, 0x4000n, { placements });
    expect(bo.memType).toBe(placements[0]);
    const data = bytes(0x4000, 5);
    xeBoWrite(bo, 0n, data);
    const seen: XeMemType[] = [];
    for (const op of ops) {
      locked(bo, () => {
        if (op === "tt") xeBoMigrate(bo, XE_PL_TT);
        else if (op === "vram") xeBoMigrate(bo, XE_PL_VRAM0);
        else if (op === "evict") xeBoEvict(bo);
        else xeBoValidate(bo);
      });
      seen.push(bo.memType);
      expect(xeBoRead(bo, 0n, 0x4000)).toEqual(data);
    }
    expect(seen).toEqual(want);
    // Every move between VRAM and system pages went through the GPU copy engine.
    expect(k.trace.events("xe_migrate_copy").length).toBe(k.trace.events("xe_bo_move").filter((e) => [e.fields.from, e.fields.to].includes(XE_PL_VRAM0)).length);
    xeBoPut(bo);
    clean(k);
  });

  it.each([
    { desc: "a pinned BO cannot migrate (EBUSY)", op: (bo: XeBo) => xeBoMigrate(bo, XE_PL_TT), errno: "EBUSY" },
    { desc: "a pinned BO cannot be evicted (EBUSY)", op: (bo: XeBo) => xeBoEvict(bo), errno: "EBUSY" },
    { desc: "a BO cannot migrate where it may not be placed (EINVAL)", op: (bo: XeBo) => (bo.pinCount = 0, xeBoMigrate(bo, XE_PL_TT)), errno: "EINVAL", placements: [XE_PL_VRAM0] as XeBoPlacement[] },
  ])("$desc", ({ op, errno, placements }) => {
    const { k, xe } = gpu();
    const bo = xeBoCreate(xe, 0x1000n, { placements: placements ?? [XE_PL_VRAM0, XE_PL_TT] });
    locked(bo, () => xeBoPin(bo));
    expect(() => locked(bo, () => op(bo))).toThrow(expect.objectContaining({ errno }));
    expect(bo.memType).toBe(XE_PL_VRAM0);
    locked(bo, () => {
      xeBoValidate(bo); // pinned: stays
      if (bo.pinCount) xeBoUnpin(bo);
    });
    xeBoPut(bo);
    clean(k);
  });

  it("VRAM pressure evicts the least recently placed unpinned BO, never a pinned one; a VRAM-only BO then gets ENOSPC", () => {
    const { k, xe } = gpu(); // 16 MiB of VRAM
    const a = xeBoCreate(xe, 6n * MiB, { placements: [XE_PL_VRAM0, XE_PL_TT], name: "a" });
    const pinned = xeBoCreate(xe, 4n * MiB, { placements: [XE_PL_VRAM0], pinned: true, name: "pinned" });
    const b = xeBoCreate(xe, 4n * MiB, { placements: [XE_PL_VRAM0, XE_PL_TT], name: "b" });
    xeBoWrite(a, 0n, bytes(4096, 1));
    const c = xeBoCreate(xe, 4n * MiB, { placements: [XE_PL_VRAM0], name: "c" });
    expect([a.memType, pinned.memType, b.memType, c.memType]).toEqual([XE_PL_TT, XE_PL_VRAM0, XE_PL_VRAM0, XE_PL_VRAM0]);
    expect(xeBoRead(a, 0n, 4096)).toEqual(bytes(4096, 1));
    expect(k.trace.events("xe_bo_evict").map((e) => e.fields.bo)).toEqual([a.id]);
    // Now: c 4, pinned 4 and b 4 MiB in VRAM. A VRAM-only 13 MiB BO evicts b, then c, and still does not fit.
    expect(() => xeBoCreate(xe, 13n * MiB, { placements: [XE_PL_VRAM0], name: "d" })).toThrow(expect.objectContaining({ errno: "ENOSPC" }));
    expect(k.trace.events("xe_bo_evict").map((e) => e.fields.bo)).toEqual([a.id, b.id, c.id]);
    expect([b.memType, c.memType]).toEqual([XE_PL_TT, XE_PL_TT]);
    // With a system fallback the same request lands in TT.
    const e = xeBoCreate(xe, 14n * MiB, { placements: [XE_PL_VRAM0, XE_PL_TT], name: "e" });
    expect(e.memType).toBe(XE_PL_TT);
    for (const bo of [a, pinned, b, c, e]) xeBoPut(bo);
    clean(k);
  });

  it("xe_bo_addr: the DPA of a byte follows the BO's blocks; outside VRAM it WARNs with EINVAL", () => {
    const { k, xe } = gpu();
    const hole = xeBoCreate(xe, 0x2000n, { placements: [XE_PL_VRAM0], name: "hole" });
    const keep = xeBoCreate(xe, 0x1000n, { placements: [XE_PL_VRAM0], name: "keep" });
    xeBoPut(hole);
    const bo = xeBoCreate(xe, 0x4000n, { placements: [XE_PL_VRAM0, XE_PL_TT] }); // pages 0-1, then 3-4
    expect(bo.vram).toEqual([{ start: 0, pages: 2 }, { start: 3, pages: 2 }]);
    expect([0n, 0x1fffn, 0x2000n, 0x3004n].map((o) => xeBoAddr(bo, o, 4096))).toEqual([0n, 0x1fffn, 0x3000n, 0x4004n]);
    locked(bo, () => xeBoEvict(bo));
    expect(() => xeBoAddr(bo, 0n, 4096)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    expect(k.warnings()).toEqual([`xe_bo_addr: bo offset 0 not in VRAM`]);
    xeBoPut(bo);
    xeBoPut(keep);
    expect(teardown(k)).toBe("");
  });

  it("the GPU reaches VRAM by DPA; a DPA outside VRAM faults", () => {
    const { k, xe } = gpu();
    xeGpuDmaWrite(xe, { dpa: 0x5000n }, bytes(8, 2));
    expect(xeGpuDmaRead(xe, { dpa: 0x5000n }, 8)).toEqual(bytes(8, 2));
    expect(() => xeGpuDmaRead(xe, { dpa: xe.vram.size - 4n }, 8)).toThrow(DmaFault);
    clean(k);
  });

  it("fault injection: every allocation of create + evict + validate fails cleanly, the BO keeps its bytes", () => {
    const run = (k: Kernel, xe: ReturnType<typeof gpu>["xe"]) => {
      const bo = xeBoCreate(xe, 0x3000n, { placements: [XE_PL_VRAM0, XE_PL_TT] });
      try {
        xeBoWrite(bo, 0n, bytes(0x3000, 9));
        for (const op of [xeBoEvict, xeBoEvict, xeBoValidate]) {
          const before = bo.memType;
          try {
            locked(bo, () => op(bo));
          } catch (e) {
            // A failed hop leaves the BO where it was, or in TT after the first hop of a multihop move (as TTM does).
            expect([before, XE_PL_TT]).toContain(bo.memType);
            expect(xeBoRead(bo, 0n, 0x3000)).toEqual(bytes(0x3000, 9));
            throw e;
          }
        }
        expect(bo.memType).toBe(XE_PL_VRAM0);
        expect(xeBoRead(bo, 0n, 0x3000)).toEqual(bytes(0x3000, 9));
      } finally {
        xeBoPut(bo);
      }
      expect(k).toBeDefined();
    };
    const probe = gpu();
    probe.k.faults.reset();
    run(probe.k, probe.xe);
    const n = probe.k.faults.attempts;
    expect(n).toBeGreaterThan(10);
    for (let i = 1; i <= n; i++) {
      const { k, xe } = gpu();
      k.faults.reset();
      k.faults.failNth(i);
      expect(() => run(k, xe)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
      expect(teardown(k)).toBe("");
      expect([k.warnings(), k.lockdep.reports()]).toEqual([[], []]);
    }
  });
});
