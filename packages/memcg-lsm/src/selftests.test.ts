// The RFC's selftests (patch 5/5, reference C.7) and the dmabuf-heaps cases
// they extend, replayed as a user-space program would run them.
import { describe, expect, it } from "vitest";
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  dmaBufSync,
  errnoName,
  iowr,
  type Kernel,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";
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

/** `dmabuf_sync()` of dmabuf-heap.c: `DMA_BUF_IOCTL_SYNC` with `start_stop | DMA_BUF_SYNC_RW`. */
function dmabufSync(t: Task, fd: number, startStop: number): number {
  return t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(startStop | DMA_BUF_SYNC_RW));
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

    it("test_alloc_and_import: CPU writes bracketed by DMA_BUF_IOCTL_SYNC start/end (vgem absent: the import is skipped, as the selftest does)", () => {
      const { k } = boot();
      const t = spawn(k, "dmabuf-heap", "u:r:unconfined_t:s0", "/t");
      const heapFd = t.sys.open("/dev/dma_heap/system", O_RDWR);
      const fd = dmabufHeapAlloc(t, heapFd, ONE_MEG);
      expect(fd).toBeGreaterThanOrEqual(0);
      const p = t.sys.mmap(ONE_MEG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
      expect(p).toBeGreaterThan(0n);
      expect(dmabufSync(t, fd, DMA_BUF_SYNC_START)).toBe(0);
      t.sys.poke(p, new Uint8Array(Number(ONE_MEG / 2n)).fill(1));
      t.sys.poke(p + ONE_MEG / 2n, new Uint8Array(Number(ONE_MEG / 2n)));
      expect(dmabufSync(t, fd, DMA_BUF_SYNC_END)).toBe(0);
      // open_vgem(): no /dev/dri/card* with the vgem driver on this machine.
      expect(t.sys.open("/dev/dri/card0", O_RDWR)).toBeLessThan(0);
      expect(dmabufSync(t, fd, DMA_BUF_SYNC_START)).toBe(0);
      t.sys.poke(p, new Uint8Array(Number(ONE_MEG)).fill(0xff));
      expect(dmabufSync(t, fd, DMA_BUF_SYNC_END)).toBe(0);
      expect(t.sys.peek(p + ONE_MEG - 16n, 16)).toEqual(new Uint8Array(16).fill(0xff));
      expect(t.sys.munmap(p, ONE_MEG)).toBe(0);
      expect(t.sys.close(fd)).toBe(0);
      expect(t.sys.close(heapFd)).toBe(0);
      exitAll(k);
      expect(k.leakReport().text()).toBe("");
    });

    it.each([{ size: 4n * 4096n }, { size: ONE_MEG }])("test_alloc_zeroed($size): 32 buffers written under SYNC start/end and freed, then 32 new ones read as zeros under SYNC", ({ size }) => {
      const { k } = boot();
      const t = spawn(k, "dmabuf-heap", "u:r:unconfined_t:s0", "/t");
      const heapFd = t.sys.open("/dev/dma_heap/system", O_RDWR);
      const round = (write: boolean): number[] =>
        Array.from({ length: 32 }, () => {
          const fd = dmabufHeapAlloc(t, heapFd, size);
          expect(fd).toBeGreaterThanOrEqual(0);
          const p = t.sys.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
          expect(p).toBeGreaterThan(0n);
          expect(dmabufSync(t, fd, DMA_BUF_SYNC_START)).toBe(0);
          if (write) t.sys.poke(p, new Uint8Array(Number(size)).fill(0xff));
          else expect(t.sys.peek(p, Number(size)).every((b) => b === 0)).toBe(true);
          expect(dmabufSync(t, fd, DMA_BUF_SYNC_END)).toBe(0);
          expect(t.sys.munmap(p, size)).toBe(0);
          return fd;
        });
      for (const fd of round(true)) expect(t.sys.close(fd)).toBe(0);
      for (const fd of round(false)) expect(t.sys.close(fd)).toBe(0);
      expect(t.sys.close(heapFd)).toBe(0);
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
