// Tests of the kernel base: kref, fault injection, seeded randomness, WARN and oops handling.
import { describe, expect, it } from "vitest";
import { ERRNO, Kernel, KernelError, Kref, errnoName, isKernelError } from "@dmabuf-sdk/dmabuf-core";

describe("kernel base", () => {
  it.each([
    ["EPERM", 1],
    ["ENOENT", 2],
    ["ESRCH", 3],
    ["EBADF", 9],
    ["ENOMEM", 12],
    ["EACCES", 13],
    ["EFAULT", 14],
    ["EBUSY", 16],
    ["ENODEV", 19],
    ["EINVAL", 22],
    ["EMFILE", 24],
    ["ENOTTY", 25],
    ["EOVERFLOW", 75],
    ["EBADFD", 77],
    ["EOPNOTSUPP", 95],
    ["ENOTSUPP", 524],
  ] as const)("%s is %d", (name, n) => {
    expect(ERRNO[name]).toBe(n);
    expect(errnoName(-n)).toBe(name);
    expect(new KernelError(name, "op").code).toBe(-n);
  });

  it("KernelError carries errno and operation", () => {
    const e = new KernelError("EINVAL", "dma_buf_export", "missing ops");
    expect(isKernelError(e, "EINVAL")).toBe(true);
    expect(isKernelError(e, "ENOMEM")).toBe(false);
    expect(e.message).toBe("dma_buf_export: EINVAL (missing ops)");
  });

  describe("kref", () => {
    it("releases on the last put, exactly once", () => {
      let released = 0;
      const warns: string[] = [];
      const r = new Kref(() => released++, (m) => warns.push(m));
      r.get();
      expect(r.put()).toBe(false);
      expect(r.put()).toBe(true);
      expect(released).toBe(1);
      expect(r.put()).toBe(false);
      r.get();
      expect(released).toBe(1);
      expect(warns).toEqual(["refcount_t: underflow; use-after-free.", "refcount_t: addition on 0; use-after-free."]);
      expect(r.getUnlessZero()).toBe(false);
    });
  });

  describe("fault injection", () => {
    it("fails the nth attempt at a site, records every attempt, then stops", () => {
      const k = new Kernel();
      k.faults.inject({ site: "kzalloc", nth: 2 });
      const results = [0, 1, 2, 3].map(() => {
        try {
          k.alloc.kzalloc("thing");
          return "ok";
        } catch (e) {
          return (e as KernelError).errno;
        }
      });
      expect(results).toEqual(["ok", "ENOMEM", "ok", "ok"]);
      expect(k.faults.records().map((r) => r.failed)).toEqual([false, true, false, false]);
      expect(k.faults.failures).toBe(1);
    });

    it.each([
      { site: "get_unused_fd" as const, errno: "EMFILE" },
      { site: "kvmalloc" as const, errno: "ENOMEM" },
    ])("defaults the errno per site ($site → $errno)", ({ site, errno }) => {
      const k = new Kernel();
      k.faults.inject({ site });
      expect(() => k.alloc.attempt(site, "x")).toThrow(expect.objectContaining({ errno }));
    });

    it("filters by name and honours times", () => {
      const k = new Kernel();
      k.faults.inject({ what: /^phys/, times: 2 });
      expect(() => k.alloc.kzalloc("attachment")).not.toThrow();
      expect(() => k.alloc.kvmalloc("phys_vec")).toThrow();
      expect(() => k.alloc.kvmalloc("phys_list")).toThrow();
      expect(() => k.alloc.kvmalloc("phys_list")).not.toThrow();
    });

    it("probability mode is repeatable for a seed", () => {
      const run = (seed: number): boolean[] => {
        const k = new Kernel({ seed });
        k.faults.inject({ probability: 0.5 });
        return Array.from({ length: 32 }, () => {
          try {
            k.alloc.kzalloc("x");
            return true;
          } catch {
            return false;
          }
        });
      };
      expect(run(7)).toEqual(run(7));
      expect(run(7)).not.toEqual(run(8));
      expect(run(7).filter(Boolean).length).toBeGreaterThan(4);
    });
  });

  describe("randomness", () => {
    it("the same seed gives the same stream", () => {
      const a = new Kernel({ seed: 42 }).random;
      const b = new Kernel({ seed: 42 }).random;
      expect([a.getRandomU32(), a.getRandomU64(), [...a.getRandomBytes(7)]]).toEqual([b.getRandomU32(), b.getRandomU64(), [...b.getRandomBytes(7)]]);
      const seen = new Set(Array.from({ length: 1000 }, () => a.getRandomU32Below(10)));
      expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  });

  describe("clock", () => {
    it("runs timers in time order when a waiter advances time", () => {
      const k = new Kernel();
      const order: string[] = [];
      k.clock.schedule(2_000_000, () => order.push("b"));
      k.clock.schedule(1_000_000, () => order.push("a"));
      const t = k.clock.schedule(1_500_000, () => order.push("cancelled"));
      t.cancel();
      expect(k.clock.waitUntil(() => order.length === 2, 10_000_000)).toBeGreaterThan(0);
      expect(order).toEqual(["a", "b"]);
      expect(k.clock.nowNs).toBe(2_000_000);
      expect(k.clock.waitUntil(() => false, 1_000_000)).toBe(0);
      expect(k.clock.nowNs).toBe(3_000_000);
      expect(k.clock.jiffies).toBe(3);
    });
  });

  it("two kernels share nothing", () => {
    const a = new Kernel();
    const b = new Kernel();
    a.loadModule({ name: "m", license: "GPL" });
    expect(b.modules.find("m")).toBeUndefined();
    expect(a.container).not.toBe(b.container);
    expect(a.container.resolve(Kernel)).toBe(a);
    expect(b.container.resolve(Kernel)).toBe(b);
  });

  it("WARN is logged and recorded; panicOnWarn throws", () => {
    const k = new Kernel();
    k.warnOnce("site", "first");
    k.warnOnce("site", "second");
    expect(k.warnings()).toEqual(["first"]);
    expect(k.printk.contains("WARNING: CPU: 0 PID: 1 first")).toBe(true);
    expect(() => new Kernel({ panicOnWarn: true }).warn("boom")).toThrow(/WARN: boom/);
  });
});
