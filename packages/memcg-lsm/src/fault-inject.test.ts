// Tests: fault injection in the dma-heap allocation and charge path leaves errno returns and nothing leaked.
import { describe, expect, it } from "vitest";
import { errnoName, type AllocRecord, type Kernel, type Task } from "@dmabuf-sdk/dmabuf-core";
import { dmaHeapAllocFd } from "@dmabuf-sdk/memcg-lsm";
import { ALLOCATOR, ALLOW_CLIENT, CLIENT, boot, current, dmabuf, policy, spawn } from "@dmabuf-sdk/memcg-lsm/testing";

/** 1 MiB + 64 KiB + 4 KiB: one page of each order of the system heap. */
const LEN = (1024n + 64n + 4n) * 1024n;

type Path = "charge_pid_fd" | "mem_accounting";

/** A fresh machine for one run of the path. */
function setup(path: Path) {
  const { k } = boot(path === "mem_accounting" ? { memAccounting: true } : { selinux: true, policy: policy(ALLOW_CLIENT) });
  const allocator = spawn(k, "allocator", ALLOCATOR, "/svc/alloc");
  const client = spawn(k, "client", CLIENT, "/svc/client");
  const pidfd = allocator.sys.pidfdOpen(client.pid);
  const charged = path === "mem_accounting" ? "/svc/alloc" : "/svc/client";
  const run = (): number => dmaHeapAllocFd(allocator, "system", LEN, path === "charge_pid_fd" ? { chargePidFd: pidfd } : {});
  return { k, allocator, charged, run };
}

/** Every counter an allocation touches. */
function counters(k: Kernel, allocator: Task) {
  return {
    current: ["/svc", "/svc/alloc", "/svc/client"].map((p) => current(k, p)),
    dmabuf: ["/", "/svc", "/svc/alloc", "/svc/client"].map((p) => dmabuf(k, p)),
    buffers: k.dmaBuf.list.size,
    fds: allocator.files.fds().join(","),
    pages: k.platform.physmem.allocatedPages,
  };
}

/** The allocation attempts of one clean run of the path. */
function attempts(path: Path): readonly AllocRecord[] {
  const s = setup(path);
  s.k.faults.reset();
  const fd = s.run();
  if (fd < 0) throw new Error(`clean run failed: ${fd}`);
  return [...s.k.faults.records()];
}

describe("fault injection in the allocation path", () => {
  for (const path of ["charge_pid_fd", "mem_accounting"] as const) {
    const records = attempts(path);

    it(`${path}: the path allocates at every site the kernel's does, the charge after the pages and before the fd`, () => {
      const sites = records.map((r) => `${r.site}:${r.what}`);
      expect(sites.filter((s) => s.startsWith("alloc_pages")).length).toBe(3);
      for (const s of ["kzalloc:system_heap_buffer", "sg_alloc_table:sg_table[3]", "kzalloc:dma_buf_file", "kzalloc:dma_buf"]) expect(sites).toContain(s);
      const charge = sites.findIndex((s) => s.startsWith("memcg_charge"));
      expect(charge).toBeGreaterThan(sites.indexOf("kzalloc:dma_buf"));
      expect(sites[charge + 1]).toMatch(/^get_unused_fd/);
      expect(sites.at(-1)).toBe(sites[charge + 1]);
    });

    it.each(records.map((r) => ({ nth: r.nth, site: r.site, what: r.what })))(`${path}: failing attempt $nth ($site: $what) leaves every counter where it was`, ({ nth, site }) => {
      const s = setup(path);
      const before = counters(s.k, s.allocator);
      s.k.leaks.setBaseline();
      s.k.faults.reset();
      s.k.faults.failNth(nth);
      const ret = s.run();
      expect(s.k.faults.failures).toBe(1);
      const alloc = records.filter((r) => r.site === "alloc_pages");
      // A failed order-8 or order-4 page falls back to smaller pages; anything else fails the ioctl.
      const absorbed = site === "alloc_pages" && nth !== alloc.at(-1)!.nth;
      if (absorbed) {
        expect(ret).toBeGreaterThanOrEqual(0);
        expect(dmabuf(s.k, s.charged)).toBe(LEN);
        s.allocator.sys.close(ret);
      } else {
        expect(errnoName(ret)).toBe(site === "get_unused_fd" ? "EMFILE" : "ENOMEM");
      }
      expect(counters(s.k, s.allocator)).toEqual(before);
      expect(s.k.leakReport().text()).toBe("");
      expect(s.k.warnings()).toEqual([]);
      expect(s.k.oopses()).toEqual([]);
    });
  }
});
