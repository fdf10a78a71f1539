// Tests of drivers/gpu/drm/xe/xe_ttm_vram_mgr.c: VRAM allocation in buddy blocks.
import { describe, expect, it } from "vitest";
import { Kernel } from "@dmabuf-sdk/dmabuf-core";
import { XeVram, type XeVramAllocOptions, type XeVramBlock } from "@dmabuf-sdk/driver-xe";

const MiB = 1n << 20n;

describe("xe_ttm_vram_mgr", () => {
  type Step = { alloc: number; opts?: XeVramAllocOptions; want: XeVramBlock[] | string } | { free: number };
  it.each<{ desc: string; size: bigint; steps: Step[]; freeAfter: number }>([
    { desc: "first fit from the lowest address", size: 1n * MiB, steps: [{ alloc: 3, want: [{ start: 0, pages: 3 }] }, { alloc: 2, want: [{ start: 3, pages: 2 }] }], freeAfter: 251 },
    {
      desc: "a freed hole is reused first, and a bigger request spans blocks (not contiguous)",
      size: 1n * MiB,
      steps: [{ alloc: 4, want: [{ start: 0, pages: 4 }] }, { alloc: 4, want: [{ start: 4, pages: 4 }] }, { free: 0 }, { alloc: 6, want: [{ start: 0, pages: 4 }, { start: 8, pages: 2 }] }],
      freeAfter: 246,
    },
    {
      desc: "contiguous skips a hole too small",
      size: 1n * MiB,
      steps: [{ alloc: 4, want: [{ start: 0, pages: 4 }] }, { alloc: 4, want: [{ start: 4, pages: 4 }] }, { free: 0 }, { alloc: 6, opts: { contiguous: true }, want: [{ start: 8, pages: 6 }] }],
      freeAfter: 246,
    },
    {
      desc: "2 MiB granules (NEEDS_2M) round up and align",
      size: 8n * MiB,
      steps: [{ alloc: 1, want: [{ start: 0, pages: 1 }] }, { alloc: 600, opts: { alignPages: 512 }, want: [{ start: 512, pages: 1024 }] }],
      freeAfter: 2048 - 1025,
    },
    { desc: "not enough VRAM: ENOSPC, nothing taken", size: 1n * MiB, steps: [{ alloc: 200, want: [{ start: 0, pages: 200 }] }, { alloc: 57, want: "ENOSPC" }], freeAfter: 56 },
    {
      desc: "enough in total but not in one piece: contiguous ENOSPC",
      size: 1n * MiB,
      steps: [{ alloc: 128, want: [{ start: 0, pages: 128 }] }, { alloc: 1, want: [{ start: 128, pages: 1 }] }, { free: 0 }, { alloc: 200, opts: { contiguous: true }, want: "ENOSPC" }],
      freeAfter: 255,
    },
  ])("$desc", ({ size, steps, freeAfter }) => {
    const v = new XeVram(new Kernel(), size);
    const got: XeVramBlock[][] = [];
    for (const s of steps) {
      if ("free" in s) v.free(got[s.free]!);
      else if (typeof s.want === "string") expect(() => v.alloc(s.alloc, s.opts)).toThrow(expect.objectContaining({ errno: s.want }));
      else {
        const b = v.alloc(s.alloc, s.opts);
        expect(b).toEqual(s.want);
        got.push(b);
      }
    }
    expect(v.freePages).toBe(freeAfter);
  });

  it("freeing merges neighbours back into one extent, and freed pages read as zeros", () => {
    const v = new XeVram(new Kernel(), 1n * MiB);
    const a = v.alloc(2);
    const b = v.alloc(2);
    const c = v.alloc(2);
    v.write(4096 * 2, Uint8Array.of(7, 7));
    v.free(a);
    v.free(c);
    v.free(b);
    expect(v.freeExtents()).toEqual([{ start: 0, pages: 256 }]);
    const out = new Uint8Array(2);
    v.read(4096 * 2, out);
    expect(out).toEqual(Uint8Array.of(0, 0));
  });

  it("a double free is a bug; the bookkeeping allocation is injectable", () => {
    const k = new Kernel();
    const v = new XeVram(k, 1n * MiB);
    const a = v.alloc(2);
    v.free(a);
    expect(() => v.free(a)).toThrow(/double free/);
    k.faults.failNth(1, "kzalloc");
    expect(() => v.alloc(1)).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
    expect(v.freePages).toBe(256);
  });
});
