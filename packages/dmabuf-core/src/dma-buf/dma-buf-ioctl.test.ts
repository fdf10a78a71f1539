// The dma-buf file's ioctls and poll (drivers/dma-buf/dma-buf.c): errno tables in the kernel's order of checks, fence semantics, unwinding.
import { beforeEach, describe, expect, it } from "vitest";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SET_NAME_A,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  DmaFence,
  ERRNO,
  F_GETFL,
  Kernel,
  KernelError,
  LibSync,
  O_CLOEXEC,
  O_RDWR,
  POLLIN,
  POLLOUT,
  SpinLock,
  dmaBufDebugShow,
  dmaBufExport,
  dmaBufFd,
  dmaBufSync,
  dmaBufSyncFile,
  dmaFenceContextAlloc,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvFences,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  swSyncDebugfsInit,
  userMemory,
  type DmaBuf,
  type DmaBufOps,
  type DmaResvUsage,
  type Errno,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";

const E = (n: Errno): number => -ERRNO[n];
const OPS = { getDriverName: () => "test", getTimelineName: () => "ring" };

let k: Kernel;
let t: Task;
let lib: LibSync;
let log: string[];

/** A legacy exporter with CPU access hooks that log their direction; `fail` makes them refuse. */
function exportBuf(ops: Partial<DmaBufOps> = {}): { dmabuf: DmaBuf; fd: number } {
  const dmabuf = dmaBufExport(k, {
    owner: k.modules.vmlinux,
    expName: "test_exporter",
    ops: {
      mapDmaBuf: () => ({}),
      unmapDmaBuf: () => undefined,
      release: () => log.push("release"),
      beginCpuAccess: (_d, dir) => void log.push(`begin ${dir}`),
      endCpuAccess: (_d, dir) => void log.push(`end ${dir}`),
      ...ops,
    },
    size: 0x4000n,
    flags: O_RDWR,
    priv: {},
  });
  return { dmabuf, fd: k.runAs(t, () => dmaBufFd(dmabuf, O_CLOEXEC)) };
}

/** A fence added by a driver (as vgem_fence_attach does): kernel-side `dma_resv_add_fence()`. */
function attachFence(dmabuf: DmaBuf, usage: DmaResvUsage): DmaFence {
  const f = new DmaFence(k, OPS, new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "test fence lock"), dmaFenceContextAlloc(k, 1), 1n);
  dmaResvLock(dmabuf.resv);
  dmaResvReserveFences(dmabuf.resv, 1);
  dmaResvAddFence(dmabuf.resv, f, usage);
  dmaResvUnlock(dmabuf.resv);
  return f;
}

function finish(...fences: DmaFence[]): void {
  for (const f of fences) {
    if (!dmaFenceIsSignaled(f)) dmaFenceSignal(f);
    dmaFencePut(f);
  }
  k.exitTask(t, 0);
  k.clock.flush();
  expect(k.leakReport().text()).toBe("");
}

beforeEach(() => {
  k = new Kernel();
  swSyncDebugfsInit(k);
  t = k.fork({ comm: "dmabuf_test" });
  lib = new LibSync(k, t.sys);
  log = [];
});

describe("DMA_BUF_IOCTL_SYNC (dma_buf_ioctl)", () => {
  it.each([
    { desc: "NULL struct", arg: null, ret: E("EFAULT"), calls: [] },
    { desc: "a struct cut short", arg: new Uint8Array(4), ret: E("EFAULT"), calls: [] },
    { desc: "an unknown flag (bit 3)", arg: dmaBufSync(DMA_BUF_SYNC_RW | 8), ret: E("EINVAL"), calls: [] },
    { desc: "a flag above 32 bits", arg: dmaBufSync((1n << 40n) | BigInt(DMA_BUF_SYNC_READ)), ret: E("EINVAL"), calls: [] },
    { desc: "START without a direction", arg: dmaBufSync(DMA_BUF_SYNC_START), ret: E("EINVAL"), calls: [] },
    { desc: "END without a direction", arg: dmaBufSync(DMA_BUF_SYNC_END), ret: E("EINVAL"), calls: [] },
    { desc: "START | READ", arg: dmaBufSync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ), ret: 0, calls: ["begin DMA_FROM_DEVICE"] },
    { desc: "START | WRITE", arg: dmaBufSync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE), ret: 0, calls: ["begin DMA_TO_DEVICE"] },
    { desc: "START | RW", arg: dmaBufSync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW), ret: 0, calls: ["begin DMA_BIDIRECTIONAL"] },
    { desc: "END | READ", arg: dmaBufSync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ), ret: 0, calls: ["end DMA_FROM_DEVICE"] },
    { desc: "END | RW", arg: dmaBufSync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW), ret: 0, calls: ["end DMA_BIDIRECTIONAL"] },
  ])("$desc → $ret, exporter calls $calls, nothing leaked", ({ arg, ret, calls }) => {
    const { fd } = exportBuf();
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, arg)).toBe(ret);
    expect(log).toEqual(calls);
    finish();
    expect(log).toEqual([...calls, "release"]);
  });

  it.each([
    { desc: "begin_cpu_access refuses", flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW, ret: E("EIO") },
    { desc: "end_cpu_access refuses", flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW, ret: E("EAGAIN") },
  ])("$desc: its errno reaches user space", ({ flags, ret }) => {
    const { fd } = exportBuf({
      beginCpuAccess: () => {
        throw new KernelError("EIO", "test_begin_cpu_access");
      },
      endCpuAccess: () => {
        throw new KernelError("EAGAIN", "test_end_cpu_access");
      },
    });
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(flags))).toBe(ret);
    finish();
  });

  it("an exporter without CPU access hooks (they are optional) only gets the fence wait", () => {
    const { fd } = exportBuf({ beginCpuAccess: undefined, endCpuAccess: undefined });
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW))).toBe(0);
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW))).toBe(0);
    expect(log).toEqual([]);
    finish();
  });

  it.each([
    { desc: "a CPU read waits for a writer", usage: "DMA_RESV_USAGE_WRITE", flags: DMA_BUF_SYNC_READ, waits: true },
    { desc: "a CPU read does not wait for a reader", usage: "DMA_RESV_USAGE_READ", flags: DMA_BUF_SYNC_READ, waits: false },
    { desc: "a CPU write waits for a reader", usage: "DMA_RESV_USAGE_READ", flags: DMA_BUF_SYNC_WRITE, waits: true },
    { desc: "a CPU write ignores bookkeeping fences", usage: "DMA_RESV_USAGE_BOOKKEEP", flags: DMA_BUF_SYNC_WRITE, waits: false },
    { desc: "a CPU read waits for a kernel fence", usage: "DMA_RESV_USAGE_KERNEL", flags: DMA_BUF_SYNC_READ, waits: true },
  ] as const)("START: $desc (dma_resv_usage_rw)", ({ usage, flags, waits }) => {
    const { dmabuf, fd } = exportBuf();
    const f = attachFence(dmabuf, usage);
    k.clock.schedule(2_000_000, () => dmaFenceSignal(f));
    const before = k.clock.nowNs;
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(DMA_BUF_SYNC_START | flags))).toBe(0);
    expect(dmaFenceIsSignaled(f)).toBe(waits);
    expect(k.clock.nowNs - before >= 2_000_000).toBe(waits);
    finish(f);
  });

  it("begin_cpu_access failing skips the wait", () => {
    const { dmabuf, fd } = exportBuf({
      beginCpuAccess: () => {
        throw new KernelError("EINTR", "test_begin_cpu_access");
      },
    });
    const f = attachFence(dmabuf, "DMA_RESV_USAGE_WRITE");
    k.clock.schedule(2_000_000, () => dmaFenceSignal(f));
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ))).toBe(E("EINTR"));
    expect(dmaFenceIsSignaled(f)).toBe(false);
    finish(f);
  });
});

describe("DMA_BUF_SET_NAME (dma_buf_set_name, strndup_user)", () => {
  const cstr = (s: string, extra = 0): Uint8Array => {
    const b = new Uint8Array(s.length + 1 + extra);
    b.set(new TextEncoder().encode(s));
    return b;
  };
  it.each([
    { desc: "a name", cmd: DMA_BUF_SET_NAME_B, arg: () => cstr("camera-preview"), ret: 0, name: "camera-preview" },
    { desc: "the 32-bit variant", cmd: DMA_BUF_SET_NAME_A, arg: () => cstr("scanout"), ret: 0, name: "scanout" },
    { desc: "31 bytes and the NUL (DMA_BUF_NAME_LEN)", cmd: DMA_BUF_SET_NAME_B, arg: () => cstr("x".repeat(31)), ret: 0, name: "x".repeat(31) },
    { desc: "the empty name", cmd: DMA_BUF_SET_NAME_B, arg: () => cstr(""), ret: 0, name: "" },
    { desc: "a name at a registered user address", cmd: DMA_BUF_SET_NAME_B, arg: () => userMemory(k).map(cstr("by-address")), ret: 0, name: "by-address" },
    { desc: "32 bytes without a NUL", cmd: DMA_BUF_SET_NAME_B, arg: () => new TextEncoder().encode("y".repeat(40)), ret: E("EINVAL"), name: null },
    { desc: "a string that runs into a fault before its NUL", cmd: DMA_BUF_SET_NAME_B, arg: () => new TextEncoder().encode("short"), ret: E("EFAULT"), name: null },
    { desc: "NULL", cmd: DMA_BUF_SET_NAME_B, arg: () => null, ret: E("EFAULT"), name: null },
    { desc: "an unmapped address", cmd: DMA_BUF_SET_NAME_A, arg: () => 0xdead_0000, ret: E("EFAULT"), name: null },
  ])("$desc → $ret", ({ cmd, arg, ret, name }) => {
    const { dmabuf, fd } = exportBuf();
    expect(t.sys.ioctl(fd, cmd, arg())).toBe(ret);
    expect(dmabuf.name).toBe(name);
    if (name !== null) expect(dmaBufDebugShow(k)).toContain(`\ttest_exporter\t${String(dmabuf.ino).padStart(8, "0")}\t${name}\n`);
    finish();
  });

  it("renaming replaces the name; a failed copy (ENOMEM) keeps the old one", () => {
    const { dmabuf, fd } = exportBuf();
    expect(t.sys.ioctl(fd, DMA_BUF_SET_NAME_B, cstr("first"))).toBe(0);
    k.faults.inject({ site: "kzalloc", what: "dma_buf_set_name copy", nth: 1 });
    expect(t.sys.ioctl(fd, DMA_BUF_SET_NAME_B, cstr("second"))).toBe(E("ENOMEM"));
    expect(dmabuf.name).toBe("first");
    expect(t.sys.ioctl(fd, DMA_BUF_SET_NAME_B, cstr("third"))).toBe(0);
    expect(dmabuf.name).toBe("third");
    finish();
  });
});

describe("DMA_BUF_IOCTL_EXPORT_SYNC_FILE / DMA_BUF_IOCTL_IMPORT_SYNC_FILE", () => {
  it.each([
    { desc: "NULL struct", arg: () => null, ret: E("EFAULT") },
    { desc: "a struct cut short", arg: () => new Uint8Array(7), ret: E("EFAULT") },
    { desc: "no direction", arg: () => dmaBufSyncFile(0), ret: E("EINVAL") },
    { desc: "DMA_BUF_SYNC_END is no sync_file flag", arg: () => dmaBufSyncFile(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ), ret: E("EINVAL") },
    { desc: "an unknown flag", arg: () => dmaBufSyncFile(0x8000_0000 | DMA_BUF_SYNC_RW), ret: E("EINVAL") },
  ])("EXPORT_SYNC_FILE: $desc → $ret, no fd used", ({ arg, ret }) => {
    const { fd } = exportBuf();
    const fds = t.files.fds().length;
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg())).toBe(ret);
    expect(t.files.fds().length).toBe(fds);
    finish();
  });

  it.each([
    { desc: "the sync_file allocation", rule: { site: "kzalloc", what: "sync_file" }, errno: "ENOMEM" },
    { desc: "the fence list of dma_resv_get_fences", rule: { site: "kvmalloc", what: "dma_resv_get_fences array" }, errno: "ENOMEM" },
    { desc: "the dma_fence_array of the singleton", rule: { site: "kzalloc", what: "dma_fence_array" }, errno: "ENOMEM" },
    { desc: "the fd", rule: { site: "get_unused_fd", errno: "EMFILE" }, errno: "EMFILE" },
  ] as const)("EXPORT_SYNC_FILE: $desc fails → $errno, no fd and no fence reference left behind", ({ rule, errno }) => {
    const { dmabuf, fd } = exportBuf();
    const f1 = attachFence(dmabuf, "DMA_RESV_USAGE_READ");
    const f2 = attachFence(dmabuf, "DMA_RESV_USAGE_WRITE");
    const fds = t.files.fds().length;
    k.faults.inject({ ...rule, nth: 1 });
    const arg = dmaBufSyncFile(DMA_BUF_SYNC_WRITE);
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg)).toBe(E(errno));
    expect(t.files.fds().length).toBe(fds);
    expect(new DataView(arg.buffer).getInt32(4, true)).toBe(-1);
    finish(f1, f2);
  });

  it.each([
    { desc: "READ with no fences: the signaled stub", attach: [], flags: DMA_BUF_SYNC_READ, busy: false, fences: 1 },
    { desc: "READ waits for writers only", attach: ["DMA_RESV_USAGE_READ"], flags: DMA_BUF_SYNC_READ, busy: false, fences: 1 },
    { desc: "WRITE waits for readers", attach: ["DMA_RESV_USAGE_READ"], flags: DMA_BUF_SYNC_WRITE, busy: true, fences: 1 },
    { desc: "RW is WRITE: readers and writers, as one array", attach: ["DMA_RESV_USAGE_READ", "DMA_RESV_USAGE_WRITE"], flags: DMA_BUF_SYNC_RW, busy: true, fences: 2 },
    { desc: "bookkeeping fences are never exported", attach: ["DMA_RESV_USAGE_BOOKKEEP"], flags: DMA_BUF_SYNC_RW, busy: false, fences: 1 },
  ] as const)("EXPORT_SYNC_FILE: $desc", ({ attach, flags, busy, fences }) => {
    const { dmabuf, fd } = exportBuf();
    const fs = attach.map((u) => attachFence(dmabuf, u));
    const arg = dmaBufSyncFile(flags);
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg)).toBe(0);
    const sf = new DataView(arg.buffer).getInt32(4, true);
    expect(sf).toBeGreaterThan(fd);
    expect(t.files.cloexec(sf)).toBe(true);
    expect(lib.wait(sf, 0) === 0).toBe(busy);
    const info = lib.fileInfo(sf);
    expect(typeof info !== "number" && info.numFences).toBe(fences);
    expect(t.sys.close(sf)).toBe(0);
    finish(...fs);
  });

  it.each([
    { desc: "NULL struct", arg: () => null, ret: E("EFAULT") },
    { desc: "no direction", arg: () => dmaBufSyncFile(0, 3), ret: E("EINVAL") },
    { desc: "an unknown flag", arg: () => dmaBufSyncFile(DMA_BUF_SYNC_READ | 0x10, 3), ret: E("EINVAL") },
    { desc: "fd -1", arg: () => dmaBufSyncFile(DMA_BUF_SYNC_READ, -1), ret: E("EINVAL") },
    { desc: "an fd that is not a sync_file (the dma-buf itself)", arg: (self: number) => dmaBufSyncFile(DMA_BUF_SYNC_READ, self), ret: E("EINVAL") },
  ])("IMPORT_SYNC_FILE: $desc → $ret, resv untouched", ({ arg, ret }) => {
    const { dmabuf, fd } = exportBuf();
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, arg(fd))).toBe(ret);
    expect(dmabuf.resv.fences).toHaveLength(0);
    finish();
  });

  it("IMPORT_SYNC_FILE: reserving the slots fails → ENOMEM, nothing added, the fence reference dropped", () => {
    const { dmabuf, fd } = exportBuf();
    const tl = lib.timelineCreate();
    const sf = lib.createFence(tl, 1);
    k.faults.inject({ site: "dma_resv_reserve_fences", nth: 1 });
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, dmaBufSyncFile(DMA_BUF_SYNC_WRITE, sf))).toBe(E("ENOMEM"));
    expect(dmabuf.resv.fences).toHaveLength(0);
    finish();
  });

  it("IMPORT_SYNC_FILE unwraps a merged sync_file into its fences, each at the usage asked for", () => {
    const { dmabuf, fd } = exportBuf();
    const [tl1, tl2] = [lib.timelineCreate(), lib.timelineCreate()];
    const merged = lib.merge(lib.createFence(tl1, 1), lib.createFence(tl2, 1));
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, dmaBufSyncFile(DMA_BUF_SYNC_READ, merged))).toBe(0);
    expect(dmabuf.resv.fences.map((e) => e.usage)).toEqual(["DMA_RESV_USAGE_READ", "DMA_RESV_USAGE_READ"]);
    expect(dmaResvFences(dmabuf.resv, "DMA_RESV_USAGE_WRITE")).toHaveLength(0);
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, dmaBufSyncFile(DMA_BUF_SYNC_RW, merged))).toBe(0);
    expect(dmabuf.resv.fences.map((e) => e.usage)).toEqual(["DMA_RESV_USAGE_WRITE", "DMA_RESV_USAGE_WRITE"]);
    finish();
  });

  it("an unknown dma-buf ioctl is ENOTTY", () => {
    const { fd } = exportBuf();
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC + 0x100, dmaBufSync(DMA_BUF_SYNC_RW))).toBe(E("ENOTTY"));
    expect(t.sys.fcntl(fd, F_GETFL)).toBe(O_RDWR);
    finish();
  });
});

describe("poll on a dma-buf (dma_buf_poll)", () => {
  const pollOnce = (fd: number, events: number): number => {
    const fds = [{ fd, events, revents: 0 }];
    t.sys.poll(fds, 0);
    return fds[0]!.revents;
  };

  it.each([
    { desc: "no fences: readable and writable", attach: [], events: POLLIN | POLLOUT, revents: POLLIN | POLLOUT },
    { desc: "a reader: readable, not writable", attach: ["DMA_RESV_USAGE_READ"], events: POLLIN | POLLOUT, revents: POLLIN },
    { desc: "a writer: neither", attach: ["DMA_RESV_USAGE_WRITE"], events: POLLIN | POLLOUT, revents: 0 },
    { desc: "a bookkeeping fence: both", attach: ["DMA_RESV_USAGE_BOOKKEEP"], events: POLLIN | POLLOUT, revents: POLLIN | POLLOUT },
    { desc: "nothing asked: nothing reported", attach: [], events: 0, revents: 0 },
    { desc: "only POLLOUT asked", attach: [], events: POLLOUT, revents: POLLOUT },
  ] as const)("$desc", ({ attach, events, revents }) => {
    const { dmabuf, fd } = exportBuf();
    const fs = attach.map((u) => attachFence(dmabuf, u));
    expect(pollOnce(fd, events)).toBe(revents);
    for (const f of fs) dmaFenceSignal(f);
    expect(pollOnce(fd, events)).toBe(events & (POLLIN | POLLOUT));
    finish(...fs);
  });

  it("a pending poll callback keeps the buffer alive after close until its fence signals", () => {
    const { dmabuf, fd } = exportBuf();
    const f = attachFence(dmabuf, "DMA_RESV_USAGE_WRITE");
    expect(pollOnce(fd, POLLIN | POLLOUT)).toBe(0);
    expect(dmabuf.pollCb.in.active).toBe(POLLIN);
    expect(dmabuf.pollCb.out.active).toBe(POLLOUT);
    expect(t.sys.close(fd)).toBe(0);
    k.clock.flush();
    expect(log).toEqual([]);
    dmaFenceSignal(f);
    k.clock.flush();
    expect(log).toEqual(["release"]);
    finish(f);
  });

  it("poll with a timeout returns once the writer fence signals", () => {
    const { dmabuf, fd } = exportBuf();
    const f = attachFence(dmabuf, "DMA_RESV_USAGE_WRITE");
    k.clock.schedule(3_000_000, () => dmaFenceSignal(f));
    const fds = [{ fd, events: POLLIN, revents: 0 }];
    expect(t.sys.poll(fds, 100)).toBe(1);
    expect(fds[0]!.revents).toBe(POLLIN);
    finish(f);
  });
});
