// The RFC's selftests (patch 5/5, reference C.7) and the dmabuf-heaps cases
// they extend, replayed as a user-space program would run them.
import { describe, expect, it } from "vitest";
import { MAP_SHARED, O_CLOEXEC, O_RDONLY, O_RDWR, PROT_READ, PROT_WRITE, errnoName, iowr, type Kernel, type Task } from "@dmabuf-sdk/dmabuf-core";
import { DmaHeapAllocationData, cgroupRead, dmaHeapAllocFd } from "@dmabuf-sdk/memcg-lsm";
import { boot, exitAll, spawn } from "@dmabuf-sdk/memcg-lsm/testing";

const ONE_MEG = 1024n * 1024n;

/** `cg_read_key_long(cgroup, "memory.stat", "dmabuf ")`. */
function cgReadKeyLong(k: Kernel, cg: string, file: "memory.stat", key: string): bigint {
  const line = cgroupRead(k, cg, file)
    .split("\n")
    .find((l) => l.startsWith(key));
  return line ? BigInt(line.slice(key.length)) : -1n;
}

/** `dmabuf_heap_alloc_fdflags()` of dmabuf-heap.c, with the RFC's charge_pid_fd. */
function dmabufHeapAlloc(t: Task, heapFd: number, len: bigint, opts: { fdFlags?: number; heapFlags?: bigint; chargePidFd?: number } = {}): number {
  const data = DmaHeapAllocationData.from({ len, fdFlags: opts.fdFlags ?? O_RDWR | O_CLOEXEC, heapFlags: opts.heapFlags ?? 0n, chargePidFd: opts.chargePidFd ?? 0 });
  const r = t.sys.ioctl(heapFd, data.ioctl, data.bytes);
  return r < 0 ? r : data.fd;
}

describe("selftests (reference C.7)", () => {
  describe("cgroup/test_memcontrol.c: test_memcg_dmabuf", () => {
    it.each([
      { desc: "charged to the child's cgroup through its pidfd", target: "child", charged: "/memcg_test_0/child" },
      { desc: "charged to the parent's own cgroup through its own pidfd", target: "self", charged: "/memcg_test_0" },
    ])("$desc; memory.stat dmabuf shows it until the buffer is freed", ({ target, charged }) => {
      const { k } = boot();
      const parent = spawn(k, "test_memcontrol", "u:r:unconfined_t:s0", "/memcg_test_0");
      const child = spawn(k, "child", "u:r:unconfined_t:s0", "/memcg_test_0/child", parent);
      const pidfd = parent.sys.pidfdOpen(target === "child" ? child.pid : parent.pid);
      const heapFd = parent.sys.open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
      const fd = dmabufHeapAlloc(parent, heapFd, ONE_MEG, { chargePidFd: pidfd });
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(cgReadKeyLong(k, charged, "memory.stat", "dmabuf ")).toBe(ONE_MEG);
      expect(cgReadKeyLong(k, "/memcg_test_0", "memory.stat", "dmabuf ")).toBe(ONE_MEG); // hierarchical
      if (charged !== "/memcg_test_0") expect(cgReadKeyLong(k, "/memcg_test_0", "memory.stat", "dmabuf ") - cgReadKeyLong(k, charged, "memory.stat", "dmabuf ")).toBe(0n);
      parent.sys.close(fd);
      expect(cgReadKeyLong(k, charged, "memory.stat", "dmabuf ")).toBe(0n);
      exitAll(k);
      expect(k.leakReport().text()).toBe("");
    });
  });

  describe("dmabuf-heaps/dmabuf-heap.c", () => {
    it("test_alloc_and_import / zeroed: a fresh buffer reads as zeros after a previous one was written and freed", () => {
      const { k } = boot();
      const t = spawn(k, "dmabuf-heap", "u:r:unconfined_t:s0", "/t");
      const heapFd = t.sys.open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
      for (let i = 0; i < 2; i++) {
        const fd = dmabufHeapAlloc(t, heapFd, ONE_MEG);
        const p = t.sys.mmap(ONE_MEG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
        expect(t.sys.peek(p + 4096n, 16)).toEqual(new Uint8Array(16));
        t.sys.poke(p + 4096n, new Uint8Array(16).fill(0xff));
        t.sys.munmap(p, ONE_MEG);
        t.sys.close(fd);
      }
      exitAll(k);
      expect(k.leakReport().text()).toBe("");
    });

    it.each([
      { desc: "older: a 16-byte struct", size: 16, garbage: false, errno: "ok" },
      { desc: "newer: a 48-byte struct with zeroed extra fields", size: 48, garbage: false, errno: "ok" },
      { desc: "newer with the mainline test's garbage (0xffffffff at offset 24 is charge_pid_fd under the RFC)", size: 48, garbage: true, errno: "EBADF" },
    ])("test_alloc_compat, $desc → $errno", ({ size, garbage, errno }) => {
      const { k } = boot();
      const t = spawn(k, "dmabuf-heap", "u:r:unconfined_t:s0", "/t");
      const heapFd = t.sys.open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
      const data = DmaHeapAllocationData.from({ len: ONE_MEG, fdFlags: O_RDWR | O_CLOEXEC }, size);
      if (garbage) [0xffffffffn, 0x88888888n, 0x11111111n].forEach((v, i) => new DataView(data.bytes.buffer).setBigUint64(24 + 8 * i, v, true));
      const r = t.sys.ioctl(heapFd, iowr(0x48, 0, size), data.bytes);
      expect(r === 0 ? "ok" : errnoName(r)).toBe(errno);
      exitAll(k);
      expect(k.leakReport().text()).toBe("");
    });

    it.each([
      { desc: "invalid fd_flags", opts: { fdFlags: ~(O_RDWR | O_CLOEXEC) }, errno: "EINVAL" },
      { desc: "invalid heap_flags", opts: { heapFlags: ~0n & ((1n << 64n) - 1n) }, errno: "EINVAL" },
      { desc: "invalid heap_flags and fd_flags", opts: { fdFlags: ~(O_RDWR | O_CLOEXEC), heapFlags: 1n }, errno: "EINVAL" },
      { desc: "charge_pid_fd that is not open", opts: { chargePidFd: 1000 }, errno: "EBADF" },
    ])("test_alloc_errors: $desc → $errno", ({ opts, errno }) => {
      const { k } = boot();
      const t = spawn(k, "dmabuf-heap", "u:r:unconfined_t:s0", "/t");
      const heapFd = t.sys.open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
      expect(errnoName(dmabufHeapAlloc(t, heapFd, ONE_MEG, opts))).toBe(errno);
    });

    it.each([
      { desc: "self pidfd", who: "self" },
      { desc: "child pidfd", who: "child" },
    ])("allocation with a $desc succeeds and is charged to that process's cgroup", ({ who }) => {
      const { k } = boot();
      const t = spawn(k, "dmabuf-heap", "u:r:unconfined_t:s0", "/self");
      const child = spawn(k, "child", "u:r:unconfined_t:s0", "/child", t);
      const pidfd = t.sys.pidfdOpen(who === "self" ? t.pid : child.pid);
      const fd = dmaHeapAllocFd(t, "system", ONE_MEG, { chargePidFd: pidfd });
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(cgReadKeyLong(k, who === "self" ? "/self" : "/child", "memory.stat", "dmabuf ")).toBe(ONE_MEG);
      t.sys.close(fd);
      exitAll(k);
      expect(k.leakReport().text()).toBe("");
    });
  });
});
