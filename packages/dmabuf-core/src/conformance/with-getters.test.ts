// Tests: withGetters() gives a per-case object live read-only properties without an accessor of its own.
import { describe, expect, it } from "vitest";
import { withGetters } from "@dmabuf-sdk/dmabuf-core";

describe("withGetters", () => {
  it("reads each getter on every access and keeps the object's own properties", () => {
    let mapped = false;
    const o = withGetters({ map: () => (mapped = true), attachment: null }, { mapped: () => mapped });
    expect(o.mapped).toBe(false);
    o.map();
    expect(o.mapped).toBe(true);
    expect(o.attachment).toBeNull();
    expect(Object.keys(o).sort()).toEqual(["attachment", "map"]);
  });

  it("puts no accessor on the object itself: the getters live on one prototype per set of names", () => {
    const a = withGetters({}, { mapped: () => 1, attachment: () => 2 });
    const b = withGetters({}, { attachment: () => 3, mapped: () => 4 });
    const c = withGetters({}, { mapped: () => 5 });
    for (const o of [a, b, c]) for (const key of Reflect.ownKeys(o)) expect(Object.getOwnPropertyDescriptor(o, key)!.get).toBeUndefined();
    expect(Object.getPrototypeOf(a)).toBe(Object.getPrototypeOf(b));
    expect(Object.getPrototypeOf(a)).not.toBe(Object.getPrototypeOf(c));
    expect([a.mapped, a.attachment, b.mapped, b.attachment, c.mapped]).toEqual([1, 2, 4, 3, 5]);
  });

  it("the computed properties are read-only", () => {
    const o = withGetters({}, { mapped: () => true });
    expect(() => {
      (o as { mapped: boolean }).mapped = false;
    }).toThrow(TypeError);
    expect(o.mapped).toBe(true);
  });
});
