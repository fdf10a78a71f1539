// Tests: per-kernel state kept inside the kernel, found only by its private key.
import { describe, expect, it } from "vitest";
import { Kernel, KernelLocal, KernelWeakMap, Task } from "@dmabuf-sdk/dmabuf-core";

describe("KernelLocal", () => {
  it("keeps one value per kernel, like a WeakMap<Kernel, V>", () => {
    const a = new Kernel();
    const b = new Kernel();
    const l = new KernelLocal<{ n: number }>("test");
    expect(l.get(a)).toBeUndefined();
    expect(l.has(a)).toBe(false);
    const va = { n: 1 };
    expect(l.set(a, va)).toBe(l);
    expect(l.get(a)).toBe(va);
    expect(l.has(a)).toBe(true);
    expect(l.get(b)).toBeUndefined();
    l.set(b, { n: 2 });
    expect(l.get(a)!.n).toBe(1);
    expect(l.get(b)!.n).toBe(2);
    expect(l.delete(a)).toBe(true);
    expect(l.delete(a)).toBe(false);
    expect(l.get(a)).toBeUndefined();
    expect(l.get(b)!.n).toBe(2);
  });

  it("is keyed by the instance: another KernelLocal of the same name sees nothing", () => {
    const k = new Kernel();
    const mine = new KernelLocal<string>("same-name");
    const other = new KernelLocal<string>("same-name");
    mine.set(k, "secret");
    expect(other.get(k)).toBeUndefined();
    expect(other.has(k)).toBe(false);
  });

  it("leaves nothing on the kernel object that reflection can reach", () => {
    const k = new Kernel();
    const secret = () => "granted";
    new KernelLocal<() => string>("restricted").set(k, secret);
    const seen = new Set<unknown>();
    for (const key of Reflect.ownKeys(k)) seen.add((k as unknown as Record<PropertyKey, unknown>)[key]);
    expect(seen.has(secret)).toBe(false);
    expect(Object.getOwnPropertySymbols(k)).toEqual([]);
  });
});

describe("KernelWeakMap", () => {
  it("maps objects of a kernel, found through kernelOf, and keeps kernels apart", () => {
    const a = new Kernel();
    const b = new Kernel();
    const m = new KernelWeakMap<Task, number>("test", (t) => t.kernel);
    const ta = a.fork({ comm: "a" });
    const tb = b.fork({ comm: "b" });
    expect(m.get(ta)).toBeUndefined();
    expect(m.has(ta)).toBe(false);
    expect(m.delete(ta)).toBe(false);
    m.set(ta, 1).set(tb, 2);
    expect([m.get(ta), m.get(tb), m.has(ta)]).toEqual([1, 2, true]);
    expect(m.delete(ta)).toBe(true);
    expect([m.get(ta), m.get(tb)]).toEqual([undefined, 2]);
  });
});
