// Tests of drivers/dma-buf/dma-heap.c: DMA_HEAP_IOCTL_ALLOC validation, the ioctl copy, and which cgroup is charged.
import { describe, expect, it } from "vitest";
import {
  ERRNO,
  KernelError,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PIDFD_SELF_THREAD,
  PIDFD_SELF_THREAD_GROUP,
  U64_MAX,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufPut,
  errnoName,
  getDmaBuf,
  ior,
  iow,
  iowr,
  securityContextType,
  type Cred,
  type Device,
  type DmaBuf,
  type Kernel,
  type KernelModule,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";
import {
  DMA_HEAP_ALLOCATION_DATA_SIZE_V1,
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_IOCTL_ALLOC_V1,
  DmaHeapAllocationData,
  cgroupRead,
  cgroupWrite,
  dmaBufMemcg,
  dmaHeapAdd,
  dmaHeapAllocFd,
  dmaHeapList,
  dmaHeapMemAccounting,
  dmaHeapModule,
  memcgMemoryEvents,
  memCgroupFromCgroup,
  securityAddHooks,
  securityModule,
  selinuxAuditRecords,
} from "@dmabuf-sdk/memcg-lsm";
import { dmaBufImappingSgt, dmaBufSgtMapAttachmentUnlocked, dmaBufSgtUnmapAttachmentUnlocked } from "@dmabuf-sdk/map-sgt";
import { ALLOCATOR, ALLOW_CLIENT, CLIENT, boot, dmabuf, exitAll, policy, spawn } from "@dmabuf-sdk/memcg-lsm/testing";

const SZ = 64n * 1024n;
const err = (ret: number): string => (ret >= 0 ? "ok" : errnoName(ret)!);

/** An allocator process in /alloc and a client in /client; the allocator holds a pidfd for the client. */
function pair(k: Kernel, clientParent?: "allocator") {
  const allocator = spawn(k, "allocator", ALLOCATOR, "/alloc");
  const client = spawn(k, "client", CLIENT, "/client", clientParent ? allocator : undefined);
  const pidfd = allocator.sys.pidfdOpen(client.pid);
  return { allocator, client, pidfd };
}

/** Everything a failed allocation must leave as it was. */
function snapshot(k: Kernel, t: Task) {
  return {
    buffers: k.dmaBuf.list.size,
    fds: t.files.fds().join(","),
    root: dmabuf(k, "/"),
    pages: k.platform.physmem.allocatedPages,
  };
}

/** A test LSM recording what `dma_heap_alloc` saw, refusing with `verdict`. */
function recordingLsm(seen: { from: string; to: string; allocsBefore: number }[], verdict?: "EPERM" | "EACCES"): KernelModule {
  return {
    name: "lsm_recorder",
    license: "GPL",
    requires: [securityModule],
    init(ctx) {
      securityAddHooks(
        ctx,
        {
          dmaHeapAlloc(from: Cred, to: Cred) {
            seen.push({ from: securityContextType(from.security), to: securityContextType(to.security), allocsBefore: ctx.kernel.faults.attempts });
            if (verdict) throw new KernelError(verdict, "recorder_dma_heap_alloc");
          },
        },
        { name: "recorder", id: 999 },
      );
    },
  };
}

describe("dma-heap", () => {
  describe("DMA_HEAP_IOCTL_ALLOC validation, in the kernel's order (the first failing check decides)", () => {
    it.each([
      { desc: "a valid request", fields: {}, errno: "ok" },
      { desc: "fd not 0", fields: { fd: 3 }, errno: "EINVAL" },
      { desc: "fd_flags with O_NONBLOCK", fields: { fdFlags: O_RDWR | O_NONBLOCK }, errno: "EINVAL" },
      { desc: "fd_flags O_WRONLY (inside O_ACCMODE)", fields: { fdFlags: O_WRONLY | O_CLOEXEC }, errno: "ok" },
      { desc: "fd_flags 0 (O_RDONLY)", fields: { fdFlags: O_RDONLY }, errno: "ok" },
      { desc: "heap_flags bit 0", fields: { heapFlags: 1n }, errno: "EINVAL" },
      { desc: "heap_flags bit 63", fields: { heapFlags: 1n << 63n }, errno: "EINVAL" },
      { desc: "charge_pid_fd not an open fd", fields: { chargePidFd: 77 }, errno: "EBADF" },
      { desc: "charge_pid_fd an open fd that is not a pidfd", fields: { chargePidFd: "heap" }, errno: "EBADF" },
      { desc: "charge_pid_fd of a reaped process", fields: { chargePidFd: "reaped" }, errno: "ESRCH" },
      { desc: "LSM refuses", fields: { chargePidFd: "client", lsm: "EACCES" }, errno: "EACCES" },
      { desc: "len 0", fields: { len: 0n }, errno: "EINVAL" },
      { desc: "len 2^64-1 (PAGE_ALIGN wraps to 0)", fields: { len: U64_MAX }, errno: "EINVAL" },
      { desc: "len 1 (rounded up to a page)", fields: { len: 1n }, errno: "ok" },
      { desc: "len beyond RAM", fields: { len: 1n << 50n }, errno: "ENOMEM" },
      { desc: "over the target's memory.max", fields: { chargePidFd: "client", limit: true }, errno: "ENOMEM" },
      // Two bad fields: the earlier check wins.
      { desc: "fd not 0 and a bad pidfd → EINVAL (fd is checked first)", fields: { fd: 1, chargePidFd: 77 }, errno: "EINVAL" },
      { desc: "bad heap_flags and an LSM refusal → EINVAL (flags before the pidfd)", fields: { heapFlags: 2n, chargePidFd: "client", lsm: "EACCES" }, errno: "EINVAL" },
      { desc: "bad pidfd and an LSM that would refuse → EBADF (the hook runs after the pidfd)", fields: { chargePidFd: "heap", lsm: "EACCES" }, errno: "EBADF" },
      { desc: "reaped target and len 0 → ESRCH (len is checked after the pidfd)", fields: { chargePidFd: "reaped", len: 0n }, errno: "ESRCH" },
      { desc: "LSM refusal and len 0 → EACCES (the hook runs before len is looked at)", fields: { chargePidFd: "client", lsm: "EACCES", len: 0n }, errno: "EACCES" },
      { desc: "LSM refusal and over the limit → EACCES (nothing is allocated or charged)", fields: { chargePidFd: "client", lsm: "EACCES", limit: true }, errno: "EACCES" },
      { desc: "len 0 and over the limit → EINVAL (len before the allocation and the charge)", fields: { chargePidFd: "client", len: 0n, limit: true }, errno: "EINVAL" },
    ] as { desc: string; fields: Record<string, unknown>; errno: string }[])("$desc → $errno", ({ fields, errno }) => {
      const { k } = boot();
      const seen: { from: string; to: string; allocsBefore: number }[] = [];
      k.loadModule(recordingLsm(seen, fields.lsm as "EACCES" | undefined));
      const { allocator, client, pidfd } = pair(k);
      const reaped = spawn(k, "gone", CLIENT, "/client");
      const reapedFd = allocator.sys.pidfdOpen(reaped.pid);
      k.exitTask(reaped, 0);
      const heapFd = allocator.sys.open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
      if (fields.limit) cgroupWrite(k, "/client", "memory.max", "32K");
      const pid = fields.chargePidFd;
      const chargePidFd = pid === "client" ? pidfd : pid === "heap" ? heapFd : pid === "reaped" ? reapedFd : ((pid as number | undefined) ?? 0);
      const data = DmaHeapAllocationData.from({ len: SZ, fdFlags: O_RDWR | O_CLOEXEC, ...(fields as object), chargePidFd });
      const before = snapshot(k, allocator);
      const ret = allocator.sys.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, data.bytes);
      expect(err(ret)).toBe(errno);
      if (ret === 0) {
        expect(allocator.files.lookup(data.fd)?.fops.name).toBe("dmabuf");
        allocator.sys.close(data.fd);
      } else {
        expect(snapshot(k, allocator)).toEqual(before);
        expect(data.fd).toBe((fields.fd as number | undefined) ?? 0);
      }
      if (errno === "EACCES") expect(seen).toEqual([{ from: "allocator_app_t", to: "client_app_t", allocsBefore: seen[0]!.allocsBefore }]);
      if (errno === "EBADF" || errno === "ESRCH" || (errno === "EINVAL" && pid !== "client")) expect(seen).toEqual([]);
      for (const fd of [heapFd, reapedFd, pidfd]) allocator.sys.close(fd);
      for (const t of [allocator, client]) k.exitTask(t, 0);
      expect(k.leakReport().text()).toBe("");
      expect(k.oopses()).toEqual([]);
    });

    it("the LSM hook runs after the pidfd is resolved and before anything is allocated", () => {
      const { k } = boot();
      const seen: { from: string; to: string; allocsBefore: number }[] = [];
      k.loadModule(recordingLsm(seen));
      const { allocator, pidfd } = pair(k);
      k.faults.reset();
      const fd = dmaHeapAllocFd(allocator, "system", SZ, { chargePidFd: pidfd });
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(seen).toEqual([{ from: "allocator_app_t", to: "client_app_t", allocsBefore: 1 }]); // only the heap's open() so far
      expect(k.faults.records()[0]!.site).toBe("get_unused_fd");
      expect(k.faults.records().slice(1).map((r) => r.site)).toContain("alloc_pages");
      allocator.sys.close(fd);
    });
  });

  describe("the size-agnostic ioctl copy", () => {
    it.each([
      { desc: "the RFC's 32-byte struct", size: 32, cmd: DMA_HEAP_IOCTL_ALLOC, charged: true },
      { desc: "the 24-byte struct of older user space: charge_pid_fd reads as 0, so no charge and no LSM call", size: DMA_HEAP_ALLOCATION_DATA_SIZE_V1, cmd: DMA_HEAP_IOCTL_ALLOC_V1, charged: false },
      { desc: "the selftest's 16-byte 'older' struct: heap_flags zero-filled", size: 16, cmd: iowr(0x48, 0, 16), charged: false },
      { desc: "a 48-byte 'newer' struct with zeros past the RFC's fields", size: 48, cmd: iowr(0x48, 0, 48), charged: true },
    ])("$desc", ({ size, cmd, charged }) => {
      const { k } = boot({ selinux: true, policy: policy() });
      const { allocator, pidfd } = pair(k);
      const heapFd = allocator.sys.open("/dev/dma_heap/system", O_RDONLY);
      const data = DmaHeapAllocationData.from({ len: SZ, fdFlags: O_RDWR, chargePidFd: pidfd }, size);
      const ret = allocator.sys.ioctl(heapFd, cmd, data.bytes);
      // With charge_pid_fd visible, the policy (no rule) refuses; without it, nothing asks the LSM.
      expect(err(ret)).toBe(charged ? "EACCES" : "ok");
      expect(selinuxAuditRecords(k).length).toBe(charged ? 1 : 0);
      if (!charged) {
        expect(data.fd).toBeGreaterThan(0);
        expect(dmaBufMemcg(allocator.files.lookup(data.fd)!.privateData as DmaBuf)).toBeNull();
        allocator.sys.close(data.fd);
      }
      allocator.sys.close(heapFd);
    });

    it("bytes past the RFC's struct are ignored, __padding is not checked, and the user's size is copied back", () => {
      const { k } = boot();
      const { allocator } = pair(k);
      const heapFd = allocator.sys.open("/dev/dma_heap/system", O_RDONLY);
      const data = DmaHeapAllocationData.from({ len: SZ, fdFlags: O_RDWR, padding: 0xdeadbeef }, 40);
      data.bytes.fill(0x5a, 32);
      expect(allocator.sys.ioctl(heapFd, data.ioctl, data.bytes)).toBe(0);
      expect(data.padding).toBe(0xdeadbeef);
      expect([...data.bytes.subarray(32)]).toEqual(Array(8).fill(0x5a));
      allocator.sys.close(data.fd);
      allocator.sys.close(heapFd);
    });

    it("a 'newer' struct whose extra bytes land on charge_pid_fd is read as a pidfd: the mainline selftest's garbage 0xffffffff at offset 24 gives EBADF", () => {
      const { k } = boot();
      const { allocator } = pair(k);
      const heapFd = allocator.sys.open("/dev/dma_heap/system", O_RDONLY);
      const data = DmaHeapAllocationData.from({ len: SZ, fdFlags: O_RDWR | O_CLOEXEC }, 48);
      new DataView(data.bytes.buffer).setBigUint64(24, 0xffffffffn, true); // garbage1
      new DataView(data.bytes.buffer).setBigUint64(32, 0x88888888n, true); // garbage2
      new DataView(data.bytes.buffer).setBigUint64(40, 0x11111111n, true); // garbage3
      expect(err(allocator.sys.ioctl(heapFd, data.ioctl, data.bytes))).toBe("EBADF");
      allocator.sys.close(heapFd);
    });

    it.each([
      { desc: "_IOC_NR past the command table", cmd: iowr(0x48, 1, 32), arg: "data", errno: "EINVAL" },
      { desc: "another ioctl type with nr 0 is dispatched as ALLOC (the type is not checked)", cmd: iowr(0x58, 0, 32), arg: "data", errno: "ok" },
      { desc: "_IOR: nothing copied in, so len reads 0", cmd: ior(0x48, 0, 32), arg: "data", errno: "EINVAL" },
      { desc: "NULL argument", cmd: DMA_HEAP_IOCTL_ALLOC, arg: null, errno: "EFAULT" },
      { desc: "user buffer shorter than the command's size", cmd: DMA_HEAP_IOCTL_ALLOC, arg: "short", errno: "EFAULT" },
    ])("$desc → $errno", ({ cmd, arg, errno }) => {
      const { k } = boot();
      const { allocator } = pair(k);
      const heapFd = allocator.sys.open("/dev/dma_heap/system", O_RDONLY);
      const data = DmaHeapAllocationData.from({ len: SZ, fdFlags: O_RDWR });
      const ret = allocator.sys.ioctl(heapFd, cmd, arg === "data" ? data.bytes : arg === "short" ? data.bytes.subarray(0, 16) : null);
      expect(err(ret)).toBe(errno);
      if (ret === 0) allocator.sys.close(data.fd);
      allocator.sys.close(heapFd);
      exitAll(k);
      expect(k.leakReport().text()).toBe("");
    });

    it("the kernel copy is written back even when the command fails: an _IOR caller gets its struct zeroed with EINVAL", () => {
      const { k } = boot();
      const { allocator } = pair(k);
      const heapFd = allocator.sys.open("/dev/dma_heap/system", O_RDONLY);
      const data = DmaHeapAllocationData.from({ len: SZ, fdFlags: O_RDWR, padding: 7 });
      expect(err(allocator.sys.ioctl(heapFd, ior(0x48, 0, 32), data.bytes))).toBe("EINVAL");
      expect([...data.bytes]).toEqual(Array(32).fill(0));
      allocator.sys.close(heapFd);
    });

    it("_IOW (no copy back): the buffer is allocated and its fd installed, but user space never learns it (as in the kernel)", () => {
      const { k } = boot();
      const { allocator } = pair(k);
      const heapFd = allocator.sys.open("/dev/dma_heap/system", O_RDONLY);
      const data = DmaHeapAllocationData.from({ len: SZ, fdFlags: O_RDWR });
      const fdsBefore = allocator.files.fds();
      expect(allocator.sys.ioctl(heapFd, iow(0x48, 0, 32), data.bytes)).toBe(0);
      expect(data.fd).toBe(0);
      const extra = allocator.files.fds().filter((fd) => !fdsBefore.includes(fd));
      expect(extra.map((fd) => allocator.files.lookup(fd)!.fops.name)).toEqual(["dmabuf"]);
      allocator.sys.close(extra[0]!);
      allocator.sys.close(heapFd);
    });

    it("a user size above 128 bytes makes the kernel kmalloc its copy (an allocation that can fail)", () => {
      const { k } = boot();
      const { allocator } = pair(k);
      const heapFd = allocator.sys.open("/dev/dma_heap/system", O_RDONLY);
      const data = DmaHeapAllocationData.from({ len: SZ, fdFlags: O_RDWR }, 256);
      k.faults.inject({ site: "kzalloc", what: "dma_heap_ioctl kdata", nth: 1 });
      expect(err(allocator.sys.ioctl(heapFd, data.ioctl, data.bytes))).toBe("ENOMEM");
      expect(allocator.sys.ioctl(heapFd, data.ioctl, data.bytes)).toBe(0);
      allocator.sys.close(data.fd);
      allocator.sys.close(heapFd);
    });
  });

  describe("which cgroup is charged (C.3)", () => {
    it.each([
      { desc: "no pidfd, mem_accounting off (default): nobody", memAccounting: false, pidfd: "none", charged: null, lsm: false },
      { desc: "no pidfd, mem_accounting on: the caller", memAccounting: true, pidfd: "none", charged: "/alloc", lsm: false },
      { desc: "pidfd of another process, mem_accounting off: the target (the pidfd path ignores the parameter)", memAccounting: false, pidfd: "client", charged: "/client", lsm: true },
      { desc: "pidfd of another process, mem_accounting on: the target", memAccounting: true, pidfd: "client", charged: "/client", lsm: true },
      { desc: "pidfd of self: the caller, and the LSM hook still runs", memAccounting: false, pidfd: "self", charged: "/alloc", lsm: true },
      { desc: "PIDFD_SELF_THREAD_GROUP as u32 ((u32)-20000): the caller, hook runs", memAccounting: false, pidfd: "self-group", charged: "/alloc", lsm: true },
      { desc: "PIDFD_SELF_THREAD as u32 ((u32)-10000): the caller, hook runs", memAccounting: false, pidfd: "self-thread", charged: "/alloc", lsm: true },
      { desc: "pidfd of a zombie (exited, not reaped): no mm, so the caller", memAccounting: false, pidfd: "zombie", charged: "/alloc", lsm: true },
    ])("$desc", ({ memAccounting, pidfd, charged, lsm }) => {
      const { k } = boot({ memAccounting });
      expect(dmaHeapMemAccounting(k)).toBe(memAccounting);
      const seen: { from: string; to: string; allocsBefore: number }[] = [];
      k.loadModule(recordingLsm(seen));
      const { allocator, client, pidfd: clientFd } = pair(k, "allocator");
      const selfFd = allocator.sys.pidfdOpen(allocator.pid);
      if (pidfd === "zombie") k.exitTask(client, 0);
      const chargePidFd = { none: 0, client: clientFd, zombie: clientFd, self: selfFd, "self-group": PIDFD_SELF_THREAD_GROUP >>> 0, "self-thread": PIDFD_SELF_THREAD >>> 0 }[pidfd]!;
      const fd = dmaHeapAllocFd(allocator, "system", SZ, { chargePidFd });
      expect(fd).toBeGreaterThanOrEqual(0);
      const memcg = dmaBufMemcg(allocator.files.lookup(fd)!.privateData as DmaBuf);
      expect(memcg?.cgroup.path ?? null).toBe(charged);
      for (const p of ["/alloc", "/client"]) expect(dmabuf(k, p)).toBe(p === charged ? SZ : 0n);
      expect(dmabuf(k, "/")).toBe(charged ? SZ : 0n);
      expect(seen.length).toBe(lsm ? 1 : 0);
      if (lsm) expect(seen[0]!.from).toBe("allocator_app_t");
      allocator.sys.close(fd);
      expect(dmabuf(k, "/")).toBe(0n);
      exitAll(k);
      expect(k.leakReport().text()).toBe("");
      expect(k.warnings()).toEqual([]);
    });

    it("a client five levels deep: the buffer counts in memory.current and memory.stat of every level and in the root's stat", () => {
      const { k } = boot({ selinux: true, policy: policy(ALLOW_CLIENT) });
      const allocator = spawn(k, "allocator", ALLOCATOR, "/svc");
      const client = spawn(k, "client", CLIENT, "/l1/l2/l3/l4/l5");
      const pidfd = allocator.sys.pidfdOpen(client.pid);
      const levels = ["/l1", "/l1/l2", "/l1/l2/l3", "/l1/l2/l3/l4", "/l1/l2/l3/l4/l5"];
      const fd = dmaHeapAllocFd(allocator, "system", SZ, { chargePidFd: pidfd });
      expect(levels.map((p) => [cgroupRead(k, p, "memory.current"), cgroupRead(k, p, "memory.stat")])).toEqual(levels.map(() => [`${SZ}\n`, `dmabuf ${SZ}\n`]));
      expect(dmabuf(k, "/")).toBe(SZ);
      expect(dmabuf(k, "/svc")).toBe(0n);
      allocator.sys.close(fd);
      expect(levels.map((p) => cgroupRead(k, p, "memory.current"))).toEqual(levels.map(() => "0\n"));
      exitAll(k);
      expect(k.leakReport().text()).toBe("");
    });

    it("memcg disabled (cgroup_disable=memory): the pidfd and the LSM are still checked, nothing is charged", () => {
      const { k } = boot({ memcgDisabled: true, selinux: true, policy: policy(ALLOW_CLIENT) });
      const { allocator, pidfd } = pair(k);
      const fd = dmaHeapAllocFd(allocator, "system", SZ, { chargePidFd: pidfd });
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(dmaBufMemcg(allocator.files.lookup(fd)!.privateData as DmaBuf)).toBeNull();
      expect(err(dmaHeapAllocFd(allocator, "system", SZ, { chargePidFd: 99 }))).toBe("EBADF");
      allocator.sys.close(fd);
      exitAll(k);
      expect(k.leakReport().text()).toBe("");
    });
  });

  describe("cross-cgroup charging gated by the LSM", () => {
    it("a denied cross-cgroup allocation leaves no buffer, no charge, no fd and no page; the denial is audited", () => {
      const { k } = boot({ selinux: true, policy: policy("allow allocator_app_t self:dma_heap charge_to;") });
      const { allocator, client, pidfd } = pair(k);
      k.leaks.setBaseline();
      const before = snapshot(k, allocator);
      k.faults.reset();
      expect(err(dmaHeapAllocFd(allocator, "system", SZ, { chargePidFd: pidfd }))).toBe("EACCES");
      expect(snapshot(k, allocator)).toEqual(before);
      expect(k.faults.records().filter((r) => r.site !== "get_unused_fd")).toEqual([]); // only the heap's open()
      expect([dmabuf(k, "/alloc"), dmabuf(k, "/client")]).toEqual([0n, 0n]);
      expect(k.leakReport().text()).toBe("");
      const rec = selinuxAuditRecords(k).at(-1)!;
      expect(rec.text).toBe(`avc:  denied  { charge_to } for  pid=${allocator.pid} comm="allocator" scontext=${ALLOCATOR} tcontext=${CLIENT} tclass=dma_heap permissive=0`);
      expect(client.state).toBe("running");
    });

    it("permissive mode logs the denial (permissive=1) and charges the client", () => {
      const { k } = boot({ selinux: "permissive", policy: policy() });
      const { allocator, pidfd } = pair(k);
      const fd = dmaHeapAllocFd(allocator, "system", SZ, { chargePidFd: pidfd });
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(dmabuf(k, "/client")).toBe(SZ);
      expect(selinuxAuditRecords(k).map((r) => r.permissive)).toEqual([1]);
      expect(k.printk.contains("tclass=dma_heap permissive=1")).toBe(true);
      allocator.sys.close(fd);
    });

    it("another LSM stacked before SELinux refuses first, with its own errno; SELinux is not asked", () => {
      const { k } = boot();
      const seen: { from: string; to: string; allocsBefore: number }[] = [];
      k.loadModule(recordingLsm(seen, "EPERM"));
      const { allocator, pidfd } = pair(k);
      expect(err(dmaHeapAllocFd(allocator, "system", SZ, { chargePidFd: pidfd }))).toBe("EPERM");
      expect(seen.length).toBe(1);
    });
  });

  describe("the charge lives as long as the buffer, wherever its fds go", () => {
    const scenarios: { desc: string; hold: (k: Kernel, w: ReturnType<typeof pair>, fd: number, dev: Device) => () => void }[] = [
      {
        desc: "closed by the allocator right away",
        hold: () => () => undefined,
      },
      {
        desc: "passed to the client (SCM_RIGHTS); the client closes it",
        hold: (_k, w, fd) => {
          const cfd = w.allocator.sys.sendFd(w.client, fd);
          return () => void w.client.sys.close(cfd);
        },
      },
      {
        desc: "taken with pidfd_getfd() by a third process; that process exits",
        hold: (k, w, fd) => {
          const third = spawn(k, "compositor", "u:r:comp_t:s0", "/comp");
          const pfd = third.sys.pidfdOpen(w.allocator.pid);
          expect(third.sys.pidfdGetfd(pfd, fd)).toBeGreaterThanOrEqual(0);
          third.sys.close(pfd);
          return () => k.exitTask(third, 0);
        },
      },
      {
        desc: "passed to the client, which exits (the charged process is gone) while a copy lives on in a third process",
        hold: (k, w, fd) => {
          const third = spawn(k, "compositor", "u:r:comp_t:s0", "/comp");
          w.allocator.sys.sendFd(w.client, fd);
          w.allocator.sys.sendFd(third, fd);
          k.exitTask(w.client, 0);
          return () => k.exitTask(third, 0);
        },
      },
      {
        desc: "passed to the client; the client exits and its cgroup is removed; a forked child keeps a copy",
        hold: (k, w, fd) => {
          w.allocator.sys.sendFd(w.client, fd);
          const child = k.fork({ comm: "child", parent: w.client, cgroup: k.cgroups.mkdirP("/other") });
          k.exitTask(w.client, 0);
          k.cgroups.rmdir(k.cgroups.lookup("/client")!);
          return () => k.exitTask(child, 0);
        },
      },
      {
        desc: "mmapped by the allocator (the VMA holds the file)",
        hold: (_k, w, fd) => {
          const addr = w.allocator.sys.mmap(SZ, 3, 1, fd, 0n);
          expect(addr).toBeGreaterThan(0n);
          return () => void w.allocator.sys.munmap(addr, SZ);
        },
      },
      {
        desc: "imported by a driver (attached and mapped through SGT)",
        hold: (_k, w, fd, dev) => importSgt(w.allocator.files.lookup(fd)!.privateData as DmaBuf, dev),
      },
    ];

    it.each(scenarios)("$desc", ({ hold }) => {
      const { k, t } = boot({ selinux: true, policy: policy(ALLOW_CLIENT) });
      const w = pair(k);
      const fd = dmaHeapAllocFd(w.allocator, "system", SZ, { chargePidFd: w.pidfd });
      const d = w.allocator.files.lookup(fd)!.privateData as DmaBuf;
      const memcg = dmaBufMemcg(d)!;
      expect(memcg.cgroup.path).toBe("/client");
      const release = hold(k, w, fd, t.importerSlot);
      w.allocator.sys.close(fd);
      const alive = k.dmaBuf.list.has(d);
      // Still referenced somewhere (or not): the charge follows the buffer, never moves.
      expect(memcg.memory.usage).toBe(alive ? 16 : 0);
      expect(dmabuf(k, "/")).toBe(alive ? SZ : 0n);
      if (alive) expect(dmaBufMemcg(d)).toBe(memcg);
      release();
      expect(k.dmaBuf.list.has(d)).toBe(false);
      expect(memcg.memory.usage).toBe(0);
      expect(dmabuf(k, "/")).toBe(0n);
      k.exitTask(w.allocator, 0);
      if (w.client.state === "running") k.exitTask(w.client, 0);
      expect(k.leakReport().text()).toBe("");
      expect(k.warnings()).toEqual([]); // no page_counter or css underflow: released exactly once
    });
  });

  describe("memcg limits through the heap", () => {
    it("a small charge over the client's limit OOM-kills the client, whose buffers are released, and then succeeds", () => {
      const { k } = boot({ selinux: true, policy: policy(ALLOW_CLIENT) });
      const w = pair(k);
      cgroupWrite(k, "/client", "memory.max", String(SZ));
      const held = dmaHeapAllocFd(w.allocator, "system", SZ, { chargePidFd: w.pidfd });
      w.allocator.sys.sendFd(w.client, held);
      w.allocator.sys.close(held);
      expect(dmabuf(k, "/client")).toBe(SZ);
      const fd = dmaHeapAllocFd(w.allocator, "system", 32768n, { chargePidFd: w.pidfd });
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(w.client.state).not.toBe("running");
      expect(dmabuf(k, "/client")).toBe(32768n);
      expect(memcgMemoryEvents(memCgroupFromCgroup(k, k.cgroups.lookup("/client")!)!)).toMatchObject({ oom: 1, oom_kill: 1 });
      expect(k.printk.contains(`Memory cgroup out of memory: Killed process ${w.client.pid} (client)`)).toBe(true);
      w.allocator.sys.close(fd);
      k.exitTask(w.allocator, 0);
      expect(k.leakReport().text()).toBe("");
    });

    it("an allocation charged to the caller's own full cgroup OOM-kills the caller itself: ENOMEM, and the caller is gone", () => {
      const { k } = boot({ memAccounting: true });
      const alone = spawn(k, "alone", ALLOCATOR, "/solo");
      cgroupWrite(k, "/solo", "memory.max", "4096");
      expect(err(dmaHeapAllocFd(alone, "system", 8192n))).toBe("ENOMEM");
      expect(alone.state).not.toBe("running");
      expect(k.dmaBuf.list.size).toBe(0);
      expect(k.leakReport().text()).toBe("");
    });

    it("a costly charge over the limit fails with ENOMEM without killing anyone", () => {
      const { k } = boot({ selinux: true, policy: policy(ALLOW_CLIENT) });
      const w = pair(k);
      cgroupWrite(k, "/client", "memory.max", "1M");
      const before = snapshot(k, w.allocator);
      expect(err(dmaHeapAllocFd(w.allocator, "system", 2n << 20n, { chargePidFd: w.pidfd }))).toBe("ENOMEM");
      expect(snapshot(k, w.allocator)).toEqual(before);
      expect(w.client.state).toBe("running");
      expect(memcgMemoryEvents(memCgroupFromCgroup(k, k.cgroups.lookup("/client")!)!)).toMatchObject({ max: 18, oom: 0, oom_kill: 0 });
    });
  });

  describe("the heap device and dma_heap_add()", () => {
    it("/dev/dma_heap/system exists; an open heap or a live buffer pins the system_heap module", () => {
      const { k } = boot();
      expect(k.devfs.paths()).toContain("dma_heap/system");
      expect(dmaHeapList(k).map((h) => [h.name, h.minor])).toEqual([["system", 0]]);
      const t = spawn(k, "t", ALLOCATOR, "/t");
      const heapFd = t.sys.open("/dev/dma_heap/system", O_RDONLY);
      expect(() => k.unloadModule("system_heap")).toThrow(expect.objectContaining({ errno: "EAGAIN" }));
      const fd = dmaHeapAllocFd(t, "system", SZ);
      t.sys.close(heapFd);
      expect(() => k.unloadModule("system_heap")).toThrow(expect.objectContaining({ errno: "EAGAIN" }));
      t.sys.close(fd);
      k.unloadModule("system_heap");
      expect(k.devfs.paths()).not.toContain("dma_heap/system");
      expect(t.sys.open("/dev/dma_heap/system", O_RDONLY)).toBe(-ERRNO.ENOENT);
    });

    it.each([
      { desc: "no name", info: { name: "", ops: { allocate: () => null } }, errno: "EINVAL", message: "dma_heap: Cannot add heap without a name" },
      { desc: "no allocate op", info: { name: "x", ops: {} }, errno: "EINVAL", message: "dma_heap: Cannot add heap with invalid ops struct" },
      { desc: "a name already taken (device_create() finds the sysfs entry)", info: { name: "system", ops: { allocate: () => null } }, errno: "EEXIST", message: "dma_heap: Unable to create device" },
    ])("dma_heap_add with $desc → $errno", ({ info, errno, message }) => {
      const { k } = boot();
      const mod: KernelModule = {
        name: "bad_heap",
        license: "GPL",
        importNs: ["DMA_BUF_HEAP"],
        uses: ["dma_heap_add"],
        init: (ctx) => void dmaHeapAdd(ctx, info as never),
      };
      expect(() => k.loadModule(mod)).toThrow(expect.objectContaining({ errno }));
      expect(k.printk.contains(message)).toBe(true);
      expect(dmaHeapList(k).map((h) => h.name)).toEqual(["system"]);
    });

    it("a heap module must import DMA_BUF_HEAP to use dma_heap_add", () => {
      const { k } = boot();
      expect(() => k.loadModule({ name: "no_ns", license: "GPL", uses: ["dma_heap_add"] })).toThrow(expect.objectContaining({ errno: "EINVAL" }));
      expect(k.printk.contains("no_ns: module uses symbol (dma_heap_add) from namespace DMA_BUF_HEAP, but does not import it.")).toBe(true);
    });

    it("mem_accounting is read-only and off by default", () => {
      const { k } = boot();
      expect(dmaHeapMemAccounting(k)).toBe(false);
      // The loader keeps a frozen snapshot of the descriptor it read, not the object itself.
      const desc = k.modules.find("dma_heap")!.descriptor;
      expect([desc.name, desc.license, Object.isFrozen(desc)]).toEqual([dmaHeapModule.name, dmaHeapModule.license, true]);
    });
  });
});

/** A driver importing the buffer: `dma_buf_get()`, attach and map through SGT; returns the teardown. */
function importSgt(d: DmaBuf, dev: Device): () => void {
  getDmaBuf(d);
  const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(dev, false)]);
  const sgt = dmaBufSgtMapAttachmentUnlocked(a, "DMA_BIDIRECTIONAL");
  return () => {
    dmaBufSgtUnmapAttachmentUnlocked(a, sgt, "DMA_BIDIRECTIONAL");
    dmaBufDetach(d, a);
    dmaBufPut(d);
  };
}
