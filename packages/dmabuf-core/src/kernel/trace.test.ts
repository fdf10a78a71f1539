// Tests of kernel/trace/ring_buffer.c: the bounded trace ring buffer and its overwrite of the oldest event.
import { describe, expect, it } from "vitest";
import { Trace } from "@dmabuf-sdk/dmabuf-core";

function trace(limit: number): Trace {
  let t = 0;
  const tr = new Trace(() => t++, () => "test");
  tr.limit = limit;
  return tr;
}

describe("trace ring buffer", () => {
  it.each([
    [4, 3, [0, 1, 2]],
    [4, 4, [0, 1, 2, 3]],
    [4, 5, [1, 2, 3, 4]],
    [4, 11, [7, 8, 9, 10]],
    [1, 3, [2]],
  ])("limit %i after %i events keeps the newest, oldest first", (limit, n, seqs) => {
    const tr = trace(limit);
    for (let i = 0; i < n; i++) tr.emit(i % 2 ? "odd" : "even", { i });
    expect(tr.events().map((e) => e.seq)).toEqual(seqs);
    expect(tr.events("odd").map((e) => e.seq)).toEqual(seqs.filter((s) => s % 2));
    expect(tr.text().split("\n").map((l) => Number(/i=(\d+)/.exec(l)![1]))).toEqual(seqs);
  });

  it.each([
    [2, [8, 9]],
    [10, [3, 4, 5, 6, 7, 8, 9]],
    [0, []],
  ])("a wrapped ring of 6 set to limit %i keeps the newest, in order", (next, seqs) => {
    const tr = trace(6);
    for (let i = 0; i < 9; i++) tr.emit("e");
    tr.limit = next;
    tr.emit("e");
    expect(tr.events().map((e) => e.seq)).toEqual(seqs);
  });

  it("clear empties a wrapped ring and recording restarts", () => {
    const tr = trace(3);
    for (let i = 0; i < 7; i++) tr.emit("e");
    tr.clear();
    expect(tr.events()).toEqual([]);
    tr.emit("e");
    expect(tr.events().map((e) => e.seq)).toEqual([7]);
  });
});
