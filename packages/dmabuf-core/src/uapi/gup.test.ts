// Tests of mm/gup.c: anonymous memory and pin_user_pages/unpin_user_pages.
import { describe, expect, it } from "vitest";
import { Kernel, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, buildTopology, isKernelError, pinUserPages, unpinUserPages } from "@dmabuf-sdk/dmabuf-core";

function boot() {
  const k = new Kernel();
  buildTopology(k, "cross-root");
  const task = k.fork({ comm: "app" });
  return { k, task };
}

describe("anonymous memory and pin_user_pages (mm/gup.c)", () => {
  it("MAP_ANONYMOUS memory is zeroed, readable and writable, and freed at munmap", () => {
    const { k, task } = boot();
    const addr = task.sys.mmap(8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    expect(addr > 0n).toBe(true);
    expect([...task.sys.peek(addr + 4090n, 4)]).toEqual([0, 0, 0, 0]);
    task.sys.poke(addr + 4094n, Uint8Array.of(1, 2, 3, 4));
    expect([...task.sys.peek(addr + 4094n, 4)]).toEqual([1, 2, 3, 4]);
    expect(task.sys.munmap(addr, 8192)).toBe(0);
    expect(k.leakReport().empty).toBe(true);
  });

  it("a pinned page outlives munmap and is freed by the last unpin", () => {
    const { k, task } = boot();
    const addr = task.sys.mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    task.sys.poke(addr, Uint8Array.of(42));
    const pfns = pinUserPages(task.mm!, addr, 1);
    task.sys.munmap(addr, 4096);
    expect(k.platform.physmem.read(BigInt(pfns[0]!) << 12n, 1)[0]).toBe(42);
    expect(k.leakReport().empty).toBe(false);
    unpinUserPages(k, pfns);
    expect(k.leakReport().empty).toBe(true);
  });

  it("EFAULT for a hole in the range, with nothing left pinned", () => {
    const { k, task } = boot();
    const addr = task.sys.mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    let err: unknown;
    try {
      pinUserPages(task.mm!, addr, 2);
    } catch (e) {
      err = e;
    }
    expect(isKernelError(err) && err.errno).toBe("EFAULT");
    task.sys.munmap(addr, 4096);
    expect(k.leakReport().empty).toBe(true);
  });
});
