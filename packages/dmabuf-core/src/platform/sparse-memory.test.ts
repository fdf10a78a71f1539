// Tests: sparse page storage reads zeros until written and again after a discard, one page or a range at a time.
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, SparseMemory } from "@dmabuf-sdk/dmabuf-core";

const fill = (m: SparseMemory, page: number, byte: number): void => m.write(page * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(byte));
const bytesOf = (m: SparseMemory, page: number): Uint8Array => {
  const out = new Uint8Array(PAGE_SIZE).fill(0xee);
  m.read(page * PAGE_SIZE, out);
  return out;
};
const allBe = (a: Uint8Array, v: number): boolean => a.every((b) => b === v);

describe("SparseMemory", () => {
  it("a page reads as zeros before it is written and is materialised by the write", () => {
    const m = new SparseMemory();
    expect(allBe(bytesOf(m, 7), 0)).toBe(true);
    expect(m.page(7, false)).toBeUndefined();
    fill(m, 7, 0x5a);
    expect(allBe(bytesOf(m, 7), 0x5a)).toBe(true);
    expect(m.residentPages).toBe(1);
  });

  it("a discarded page reads as zeros, also once it is materialised again beside live pages of its chunk", () => {
    const m = new SparseMemory();
    fill(m, 0, 0x11);
    fill(m, 1, 0x22);
    m.discard(1);
    expect(m.residentPages).toBe(1);
    expect(m.page(1, false)).toBeUndefined();
    expect(allBe(bytesOf(m, 1), 0)).toBe(true);
    // Materialised by a partial write: the rest of the page must be zeros, not the old 0x22.
    m.write(PAGE_SIZE + 100, new Uint8Array([9]));
    const p = bytesOf(m, 1);
    expect(p[100]).toBe(9);
    expect(p.filter((b, i) => i !== 100 && b !== 0).length).toBe(0);
    expect(allBe(bytesOf(m, 0), 0x11)).toBe(true);
  });

  it("the last page of a chunk going drops the chunk; a page materialised there later is zeros", () => {
    const m = new SparseMemory();
    fill(m, 64, 0x33);
    m.discard(64);
    expect(m.residentPages).toBe(0);
    expect(allBe(m.page(64, true)!, 0)).toBe(true);
  });

  it.each([
    { name: "inside one chunk", first: 3, count: 5 },
    { name: "a whole chunk", first: 64, count: 64 },
    { name: "across chunks, partial at both ends", first: 60, count: 140 },
    { name: "over untouched chunks", first: 1000, count: 500 },
  ])("discardRange $name drops exactly those pages", ({ first, count }) => {
    const m = new SparseMemory();
    const written = [0, 3, 7, 8, 59, 60, 63, 64, 100, 127, 128, 199, 200, 255, 1100];
    for (const p of written) fill(m, p, (p % 250) + 1);
    m.discardRange(first, count);
    const gone = written.filter((p) => p >= first && p < first + count);
    expect(m.residentPages).toBe(written.length - gone.length);
    for (const p of written) {
      const want = gone.includes(p) ? 0 : (p % 250) + 1;
      expect(allBe(bytesOf(m, p), want), `page ${p}`).toBe(true);
      expect(m.page(p, false) === undefined).toBe(gone.includes(p));
    }
    // Each discarded page, materialised again, starts as zeros.
    for (const p of gone) expect(allBe(m.page(p, true)!, 0), `page ${p} again`).toBe(true);
  });
});
