// Tests of the uAPI base: ioctl numbers, syscall-style returns for any input, and the fd table.
import { beforeEach, describe, expect, it } from "vitest";
import {
  ERRNO,
  Kernel,
  KernelError,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDONLY,
  O_RDWR,
  PIDFD_SELF_THREAD_GROUP,
  PROT_READ,
  PROT_WRITE,
  UserSignal,
  UserStruct,
  copyFromUser,
  io,
  iocDir,
  iocNr,
  iocSize,
  iocType,
  ior,
  iow,
  iowr,
  pidfdGetTask,
  unmapMappingRange,
  type FileOperations,
  type VmFault,
} from "@dmabuf-sdk/dmabuf-core";

const E = (n: keyof typeof ERRNO) => -ERRNO[n];

describe("uapi", () => {
  let k: Kernel;
  beforeEach(() => {
    k = new Kernel();
  });

  describe("ioctl numbers", () => {
    it.each([
      { desc: "DMA_HEAP_IOCTL_ALLOC (32-byte struct)", cmd: iowr(0x48, 0x0, 32), value: 0xc0204800 },
      { desc: "DMA_HEAP_IOCTL_ALLOC (24-byte struct)", cmd: iowr(0x48, 0x0, 24), value: 0xc0184800 },
      { desc: "VFIO_DEVICE_FEATURE = _IO(';', 100 + 17)", cmd: io(0x3b, 117), value: 0x3b75 },
      { desc: "DMA_BUF_SET_NAME_B = _IOW('b', 1, u64)", cmd: iow(0x62, 1, 8), value: 0x40086201 },
      { desc: "_IOR", cmd: ior(0x62, 2, 8), value: 0x80086202 },
    ])("$desc", ({ cmd, value }) => {
      expect(cmd).toBe(value);
    });

    it("decodes fields", () => {
      const c = iowr(0x48, 7, 32);
      expect([iocDir(c), iocType(c), iocNr(c), iocSize(c)]).toEqual([3, 0x48, 7, 32]);
    });
  });

  describe("syscalls return what a syscall returns, whatever the input", () => {
    const fops: FileOperations = {
      name: "mock",
      unlockedIoctl(_f, cmd, arg) {
        if (cmd === 1) return copyFromUser(arg, 0, 8).getUint32(4, true);
        if (cmd === 2) throw new Error("model bug");
        throw new KernelError("ENOTTY", "mock_ioctl");
      },
    };
    beforeEach(() => {
      k.devfs.register("mock", { fops });
    });

    it.each([
      { desc: "open of a missing node", call: (kk: Kernel) => kk.init.sys.open("/dev/none", O_RDWR), ret: E("ENOENT") },
      { desc: "close of a bad fd", call: (kk: Kernel) => kk.init.sys.close(99), ret: E("EBADF") },
      { desc: "ioctl on a bad fd", call: (kk: Kernel) => kk.init.sys.ioctl(99, 1, null), ret: E("EBADF") },
      { desc: "ioctl with a NULL argument", call: (kk: Kernel) => kk.init.sys.ioctl(kk.init.sys.open("/dev/mock", O_RDWR), 1, null), ret: E("EFAULT") },
      { desc: "ioctl with a short buffer", call: (kk: Kernel) => kk.init.sys.ioctl(kk.init.sys.open("/dev/mock", O_RDWR), 1, new Uint8Array(4)), ret: E("EFAULT") },
      { desc: "ioctl reading a struct", call: (kk: Kernel) => kk.init.sys.ioctl(kk.init.sys.open("/dev/mock", O_RDWR), 1, UserStruct.alloc(8).setU32(4, 7).bytes), ret: 7 },
      { desc: "unknown ioctl", call: (kk: Kernel) => kk.init.sys.ioctl(kk.init.sys.open("/dev/mock", O_RDWR), 9, null), ret: E("ENOTTY") },
      { desc: "ioctl on a file without ioctl", call: (kk: Kernel) => kk.init.sys.ioctl(kk.init.sys.pidfdOpen(1), 1, null), ret: E("ENOTTY") },
      { desc: "a model bug becomes an oops and EFAULT", call: (kk: Kernel) => kk.init.sys.ioctl(kk.init.sys.open("/dev/mock", O_RDWR), 2, null), ret: E("EFAULT") },
    ])("$desc → $ret", ({ call, ret }) => {
      expect(call(k)).toBe(ret);
    });

    it("an oops is recorded", () => {
      k.init.sys.ioctl(k.init.sys.open("/dev/mock", O_RDWR), 2, null);
      expect(k.oopses()).toHaveLength(1);
      expect(k.printk.contains("BUG: ioctl: model bug")).toBe(true);
    });
  });

  describe("fd table", () => {
    it("hands out the lowest free fd and fails with EMFILE at RLIMIT_NOFILE", () => {
      k.devfs.register("null", { fops: { name: "null" } });
      const t = k.fork({ comm: "p" });
      t.files.nofile = 3;
      expect([0, 1, 2].map(() => t.sys.open("/dev/null", O_RDONLY))).toEqual([0, 1, 2]);
      expect(t.sys.open("/dev/null", O_RDONLY)).toBe(E("EMFILE"));
      t.sys.close(1);
      expect(t.sys.open("/dev/null", O_RDONLY)).toBe(1);
      expect(t.sys.dup(0)).toBe(E("EMFILE"));
    });

    it("a failing open does not consume an fd or leak the file", () => {
      k.devfs.register("busy", {
        fops: { name: "busy" },
        open() {
          throw new KernelError("EBUSY", "busy_open");
        },
      });
      expect(k.init.sys.open("/dev/busy", O_RDWR)).toBe(E("EBUSY"));
      expect(k.init.files.fds()).toEqual([]);
      expect(k.leakReport().empty).toBe(true);
    });

    it("fork copies the table; exit closes it; the file is released after the last close", () => {
      let released = 0;
      k.devfs.register("x", { fops: { name: "x", release: () => released++ } });
      const parent = k.fork({ comm: "parent" });
      const fd = parent.sys.open("/dev/x", O_RDWR);
      const child = k.fork({ comm: "child", parent });
      expect(child.files.lookup(fd)).toBe(parent.files.lookup(fd));
      k.exitTask(parent, 0);
      expect(released).toBe(0);
      k.exitTask(child, 0);
      expect(released).toBe(1);
      expect(k.leakReport().empty).toBe(true);
    });

    it("SCM_RIGHTS passes the same file to another process", () => {
      k.devfs.register("x", { fops: { name: "x" } });
      const a = k.fork({ comm: "a" });
      const b = k.fork({ comm: "b" });
      const fd = a.sys.open("/dev/x", O_RDWR);
      const got = a.sys.sendFd(b, fd);
      expect(b.files.lookup(got)).toBe(a.files.lookup(fd));
      expect(a.files.lookup(fd)!.count).toBe(2);
    });
  });

  describe("pidfd", () => {
    it.each([
      { desc: "pidfd of a live process", setup: (kk: Kernel) => ({ fd: kk.init.sys.pidfdOpen(kk.fork({ comm: "t" }).pid) }), want: "task" },
      { desc: "not an open fd", setup: () => ({ fd: 77 }), want: "EBADF" },
      {
        desc: "an open fd that is not a pidfd",
        setup: (kk: Kernel) => {
          kk.devfs.register("null", { fops: { name: "null" } });
          return { fd: kk.init.sys.open("/dev/null", O_RDWR) };
        },
        want: "EBADF",
      },
      {
        desc: "the process exited and was reaped",
        setup: (kk: Kernel) => {
          const t = kk.fork({ comm: "t" });
          const fd = kk.init.sys.pidfdOpen(t.pid);
          kk.exitTask(t, 0);
          return { fd };
        },
        want: "ESRCH",
      },
      { desc: "PIDFD_SELF_THREAD_GROUP", setup: () => ({ fd: PIDFD_SELF_THREAD_GROUP }), want: "self" },
    ])("pidfd_get_task: $desc → $want", ({ setup, want }) => {
      const { fd } = setup(k);
      let got: string;
      try {
        const { task } = pidfdGetTask(k, fd);
        got = task === k.init ? "self" : "task";
      } catch (e) {
        got = (e as KernelError).errno;
      }
      expect(got).toBe(want);
    });

    it("a zombie still has a task but no mm", () => {
      const parent = k.fork({ comm: "parent" });
      const child = k.fork({ comm: "child", parent });
      const fd = k.init.sys.pidfdOpen(child.pid);
      k.exitTask(child, 3);
      const { task } = pidfdGetTask(k, fd);
      expect(task.state).toBe("zombie");
      expect(task.mm).toBeNull();
      k.reap(child);
      expect(() => pidfdGetTask(k, fd)).toThrow(expect.objectContaining({ errno: "ESRCH" }));
    });

    it.each([
      { desc: "bad flags", pid: 1, flags: 1, ret: E("EINVAL") },
      { desc: "pid 0", pid: 0, flags: 0, ret: E("EINVAL") },
      { desc: "no such pid", pid: 4242, flags: 0, ret: E("ESRCH") },
    ])("pidfd_open: $desc → $ret", ({ pid, flags, ret }) => {
      expect(k.init.sys.pidfdOpen(pid, flags)).toBe(ret);
    });

    it("pidfd_getfd needs ptrace rights", () => {
      k.devfs.register("x", { fops: { name: "x" } });
      const victim = k.fork({ comm: "victim", cred: { uid: 1000, euid: 1000 } });
      const fd = victim.sys.open("/dev/x", O_RDWR);
      const other = k.fork({ comm: "other", cred: { uid: 1001, euid: 1001 } });
      const pfd = other.sys.pidfdOpen(victim.pid);
      expect(other.sys.pidfdGetfd(pfd, fd)).toBe(E("EPERM"));
      expect(other.sys.pidfdGetfd(pfd, fd, 1)).toBe(E("EINVAL"));
      const rootPfd = k.init.sys.pidfdOpen(victim.pid);
      const got = k.init.sys.pidfdGetfd(rootPfd, fd);
      expect(k.init.files.lookup(got)).toBe(victim.files.lookup(fd));
      expect(k.init.sys.pidfdGetfd(rootPfd, 99)).toBe(E("EBADF"));
    });
  });

  describe("cgroups", () => {
    it("mkdir, migrate, rmdir with the kernel's errnos", () => {
      const a = k.cgroups.mkdirP("/a/b");
      expect(a.path).toBe("/a/b");
      expect(a.level).toBe(2);
      expect(() => k.cgroups.mkdir(a.parent!, "b")).toThrow(expect.objectContaining({ errno: "EEXIST" }));
      const t = k.fork({ comm: "t" });
      k.cgroups.migrate(t, a);
      expect(t.cgroup).toBe(a);
      expect(a.procs()).toEqual([t]);
      expect(() => k.cgroups.rmdir(a)).toThrow(expect.objectContaining({ errno: "EBUSY" }));
      expect(() => k.cgroups.rmdir(a.parent!)).toThrow(expect.objectContaining({ errno: "EBUSY" }));
      k.cgroups.migrate(t, k.cgroups.root);
      k.cgroups.rmdir(a);
      expect(a.removed).toBe(true);
      expect(k.cgroups.lookup("/a/b")).toBeUndefined();
      expect(() => k.cgroups.migrate(t, a)).toThrow(expect.objectContaining({ errno: "ENOENT" }));
      expect([...a.ancestors()].map((c) => c.path)).toEqual(["/a/b", "/a", "/"]);
    });
  });

  describe("mmap and faults", () => {
    it("faults pages in through the VMA handler, delivers SIGBUS when it refuses, and zaps on unmap_mapping_range", () => {
      const phys = 0x40_0000n;
      k.platform.physmem.addRam(0n, 0x1000_0000n);
      k.platform.physmem.write(phys, Uint8Array.of(9, 8, 7));
      let allow = true;
      const faults: VmFault[] = [];
      k.devfs.register("mem", {
        fops: {
          name: "mem",
          mmap(_f, vma) {
            vma.caching = "write-combine";
            vma.ops = {
              name: "mem_vm_ops",
              fault(vmf) {
                faults.push(vmf);
                if (!allow) return "VM_FAULT_SIGBUS";
                return vmf.vma.mm.vmfInsertPfn(vmf.vma, vmf.address, Number(phys >> 12n) + Number(vmf.pgoff));
              },
            };
          },
        },
      });
      const t = k.fork({ comm: "user" });
      const fd = t.sys.open("/dev/mem", O_RDWR);
      expect(t.sys.mmap(0x2000, PROT_READ | PROT_WRITE, 0, fd)).toBe(BigInt(E("EINVAL")));
      const addr = t.sys.mmap(0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      expect(t.mm!.findVma(addr)!.caching).toBe("write-combine");
      expect(t.sys.peek(addr, 3)).toEqual(Uint8Array.of(9, 8, 7));
      t.sys.poke(addr + 0x1000n, Uint8Array.of(1));
      expect(k.platform.physmem.read(phys + 0x1000n, 1)).toEqual(Uint8Array.of(1));
      expect(faults).toHaveLength(2);
      allow = false;
      unmapMappingRange(k, t.files.lookup(fd)!, 0n, 0n);
      expect(t.mm!.ptes).toBe(0);
      expect(() => t.sys.peek(addr, 1)).toThrow(UserSignal);
      expect(() => t.sys.peek(addr, 1)).toThrow(/SIGBUS/);
      expect(() => t.sys.peek(0x1000n, 1)).toThrow(/SIGSEGV/);
      expect(t.sys.munmap(addr, 0x2000)).toBe(0);
      t.sys.close(fd);
      expect(k.leakReport().empty).toBe(true);
    });

    it.each([
      { desc: "read mapping of a write-only file", flags: 1, prot: PROT_READ, type: MAP_SHARED, ret: E("EACCES") },
      { desc: "shared writable mapping of a read-only file", flags: O_RDONLY, prot: PROT_READ | PROT_WRITE, type: MAP_SHARED, ret: E("EACCES") },
      { desc: "private writable mapping of a read-only file", flags: O_RDONLY, prot: PROT_READ | PROT_WRITE, type: MAP_PRIVATE, ret: "ok" },
    ])("mmap permission: $desc", ({ flags, prot, type, ret }) => {
      k.devfs.register("m", { fops: { name: "m", mmap: () => undefined } });
      const fd = k.init.sys.open("/dev/m", flags);
      const r = k.init.sys.mmap(0x1000, prot, type, fd);
      if (ret === "ok") expect(r > 0n).toBe(true);
      else expect(r).toBe(BigInt(ret));
    });

    it("mmap of a file without mmap is ENODEV", () => {
      k.devfs.register("n", { fops: { name: "n" } });
      expect(k.init.sys.mmap(0x1000, PROT_READ, MAP_SHARED, k.init.sys.open("/dev/n", O_RDWR))).toBe(BigInt(E("ENODEV")));
    });
  });

  describe("pread64 / pwrite64", () => {
    const store = new Uint8Array(16);
    beforeEach(() => {
      store.fill(0);
      k.devfs.register("rw", {
        fops: {
          name: "rw",
          read: (_f, buf, pos) => {
            if (pos >= BigInt(store.length)) throw new KernelError("EINVAL", "rw_read");
            const n = Math.min(buf.length, store.length - Number(pos));
            buf.set(store.subarray(Number(pos), Number(pos) + n));
            return n;
          },
          write: (_f, data, pos) => {
            store.set(data, Number(pos));
            return data.length;
          },
        },
      });
      k.devfs.register("none", { fops: { name: "none" } });
    });

    it("write then read at an offset", () => {
      const fd = k.init.sys.open("/dev/rw", O_RDWR);
      expect(k.init.sys.pwrite(fd, Uint8Array.of(1, 2, 3), 4n)).toBe(3);
      const buf = new Uint8Array(4);
      expect(k.init.sys.pread(fd, buf, 3)).toBe(4);
      expect(buf).toEqual(Uint8Array.of(0, 1, 2, 3));
    });

    it.each([
      { desc: "pread of a bad fd", call: (kk: Kernel) => kk.init.sys.pread(99, new Uint8Array(1), 0), ret: E("EBADF") },
      { desc: "pread of a write-only file", call: (kk: Kernel) => kk.init.sys.pread(kk.init.sys.open("/dev/rw", 1), new Uint8Array(1), 0), ret: E("EBADF") },
      { desc: "pwrite of a read-only file", call: (kk: Kernel) => kk.init.sys.pwrite(kk.init.sys.open("/dev/rw", O_RDONLY), new Uint8Array(1), 0), ret: E("EBADF") },
      { desc: "pread at a negative offset", call: (kk: Kernel) => kk.init.sys.pread(kk.init.sys.open("/dev/rw", O_RDWR), new Uint8Array(1), -1), ret: E("EINVAL") },
      { desc: "pread of a file without read", call: (kk: Kernel) => kk.init.sys.pread(kk.init.sys.open("/dev/none", O_RDWR), new Uint8Array(1), 0), ret: E("EINVAL") },
      { desc: "pwrite of a file without write", call: (kk: Kernel) => kk.init.sys.pwrite(kk.init.sys.open("/dev/none", O_RDWR), new Uint8Array(1), 0), ret: E("EINVAL") },
      { desc: "the driver's errno", call: (kk: Kernel) => kk.init.sys.pread(kk.init.sys.open("/dev/rw", O_RDWR), new Uint8Array(1), 99), ret: E("EINVAL") },
    ])("$desc → $ret", ({ call, ret }) => {
      expect(call(k)).toBe(ret);
    });
  });
});
