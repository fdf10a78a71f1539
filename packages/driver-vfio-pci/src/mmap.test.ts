// Tests: mmap of a vfio-pci dma-buf and VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR.
import { describe, expect, it } from "vitest";
import {
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  UserSignal,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_IO,
  VM_PFNMAP,
  dmaBufExport,
  dmaBufFd,
} from "@dmabuf-sdk/dmabuf-core";
import {
  VFIO_DEVICE_DMA_BUF_MEMATTR_NC,
  VFIO_DEVICE_DMA_BUF_MEMATTR_WC,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBufMemattr,
  vfioPciProbe,
} from "@dmabuf-sdk/driver-vfio-pci";
import { P, barRead, barWrite, boot, exportBuf, pattern, revokeRaw, setMemory, teardown, type Env } from "@dmabuf-sdk/driver-vfio-pci/testing";
import { expectErrno } from "@dmabuf-sdk/dmabuf-core/testing";

/** mmap()s a two-range buffer whose bytes are known: buffer [0, 2P) = BAR [8P, 10P), [2P, 3P) = BAR [0, P). */
function mapped(e: Env, prot = PROT_READ | PROT_WRITE) {
  const data = pattern(3 * 0x1000, 4);
  barWrite(e, 0, 8n * P, data.subarray(0, 0x2000));
  barWrite(e, 0, 0n, data.subarray(0x2000));
  const buf = exportBuf(e, [{ offset: 8n * P, length: 2n * P }, { offset: 0n, length: P }]);
  const addr = e.user.sys.mmap(3n * P, prot, MAP_SHARED, buf.fd);
  expect(addr > 0n).toBe(true);
  return { ...buf, addr, data };
}

const sigbus = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (x) {
    if (x instanceof UserSignal) return x.signal;
    throw x;
  }
  return undefined;
};

describe("mmap of a vfio-pci dma-buf (Matt Evans v2/v3 7/9)", () => {
  it("faults the BAR pages in lazily, across ranges; loads and stores reach the BAR", () => {
    const e = boot();
    const { addr, data } = mapped(e);
    const mm = e.user.mm!;
    expect(mm.ptes).toBe(0);
    expect(e.user.sys.peek(addr, data.length)).toEqual(data);
    expect(mm.ptes).toBe(3);
    expect(mm.ptePfn(addr)).toBe(Number((e.t.exporterSlot.bars[0]!.start + 8n * P) >> 12n));
    e.user.sys.poke(addr + 2n * P - 2n, Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd)); // straddles the ranges
    expect(barRead(e, 0, 10n * P - 2n, 2)).toEqual(Uint8Array.of(0xaa, 0xbb));
    expect(barRead(e, 0, 0n, 2)).toEqual(Uint8Array.of(0xcc, 0xdd));
    const vma = mm.findVma(addr)!;
    expect(vma.caching).toBe("uncached");
    expect(vma.flags & (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP)).toBe(VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
    teardown(e);
  });

  it("with a page offset into the buffer", () => {
    const e = boot();
    const { fd, data } = mapped(e);
    const addr = e.user.sys.mmap(P, PROT_READ, MAP_SHARED, fd, 2n * P);
    expect(e.user.sys.peek(addr, 16)).toEqual(data.subarray(0x2000, 0x2010));
    teardown(e);
  });

  it.each([
    { desc: "a private mapping", call: (e: Env, fd: number) => e.user.sys.mmap(P, PROT_READ, MAP_PRIVATE, fd), ret: "EINVAL" },
    { desc: "past the end of the buffer (the core's check)", call: (e: Env, fd: number) => e.user.sys.mmap(P, PROT_READ, MAP_SHARED, fd, 4n * P), ret: "EINVAL" },
    {
      desc: "a revoked buffer",
      call: (e: Env, fd: number) => {
        setMemory(e, false);
        return e.user.sys.mmap(P, PROT_READ, MAP_SHARED, fd);
      },
      ret: "ENODEV",
    },
  ])("mmap of $desc → $ret", ({ call, ret }) => {
    const e = boot();
    const { fd } = exportBuf(e);
    expectErrno(call(e, fd), ret);
    teardown(e);
  });

  it("memory disable zaps the PTEs: accesses SIGBUS until memory is back, then fault in again", () => {
    const e = boot();
    const { addr, data } = mapped(e);
    expect(e.user.sys.peek(addr, 4)).toEqual(data.subarray(0, 4));
    setMemory(e, false);
    expect(e.user.mm!.ptes).toBe(0);
    expect(sigbus(() => e.user.sys.peek(addr, 4))).toBe("SIGBUS");
    expect(sigbus(() => e.user.sys.poke(addr, Uint8Array.of(1)))).toBe("SIGBUS");
    setMemory(e, true);
    expect(e.user.sys.peek(addr, 4)).toEqual(data.subarray(0, 4));
    teardown(e);
  });

  it.each([
    { desc: "a permanent revoke", act: (e: Env, fd: number) => expect(revokeRaw(e, fd)).toBe(0) },
    { desc: "closing the device", act: (e: Env) => expect(e.user.sys.close(e.devFd)).toBe(0) },
  ])("after $desc every access SIGBUSes, for good", ({ act }) => {
    const e = boot();
    const { addr, fd, data } = mapped(e);
    expect(e.user.sys.peek(addr, 4)).toEqual(data.subarray(0, 4));
    act(e, fd);
    expect(e.user.mm!.ptes).toBe(0);
    expect(sigbus(() => e.user.sys.peek(addr, 4))).toBe("SIGBUS");
    if (e.user.files.lookup(e.devFd)) {
      setMemory(e, false);
      setMemory(e, true);
    }
    expect(sigbus(() => e.user.sys.peek(addr + P, 4))).toBe("SIGBUS");
    teardown(e);
  });

  it("the mapping keeps the dma-buf alive after its fd is closed; the fault path takes resv, then memory_lock, never both", () => {
    const e = boot();
    const { addr, fd, data } = mapped(e);
    e.user.sys.close(fd);
    expect(e.user.sys.peek(addr + P, 4)).toEqual(data.subarray(0x1000, 0x1004));
    expect(e.k.lockdep.dependencies()).not.toContain("reservation_ww_class_mutex -> &vdev->memory_lock");
    expect(e.user.sys.munmap(addr, 3n * P)).toBe(0);
    teardown(e);
  });
});

describe("VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR (Matt Evans v2/v3 9/9)", () => {
  const memattr = (e: Env, flags: number, fd: number, value = 0, argsz?: number): { ret: number; out: number } => {
    const arg = vfioDeviceFeature(flags | VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR, vfioDeviceFeatureDmaBufMemattr(fd, value), argsz);
    const ret = e.user.sys.ioctl(e.devFd, VFIO_DEVICE_FEATURE, arg);
    return { ret, out: new DataView(arg.buffer).getUint32(12, true) };
  };

  it("SET WC makes later mmaps write-combining; existing ones keep their attribute; GET reads it back", () => {
    const e = boot();
    const { fd, addr } = mapped(e);
    expect(memattr(e, VFIO_DEVICE_FEATURE_GET, fd, 7)).toEqual({ ret: 0, out: VFIO_DEVICE_DMA_BUF_MEMATTR_NC });
    expect(memattr(e, VFIO_DEVICE_FEATURE_SET, fd, VFIO_DEVICE_DMA_BUF_MEMATTR_WC).ret).toBe(0);
    expect(memattr(e, VFIO_DEVICE_FEATURE_GET, fd).out).toBe(VFIO_DEVICE_DMA_BUF_MEMATTR_WC);
    const wc = e.user.sys.mmap(P, PROT_READ, MAP_SHARED, fd);
    expect(e.user.mm!.findVma(wc)!.caching).toBe("write-combine");
    expect(e.user.mm!.findVma(addr)!.caching).toBe("uncached");
    teardown(e);
  });

  it.each([
    { desc: "a variant driver without get_dmabuf_phys", boot: { probe: { pciOps: null } }, flags: VFIO_DEVICE_FEATURE_SET, fd: () => 3, ret: "EOPNOTSUPP" },
    { desc: "neither GET nor SET", flags: 0, fd: () => 3, ret: "EINVAL" },
    { desc: "GET and SET (refused by vfio core)", flags: VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET, fd: () => 3, ret: "EINVAL" },
    { desc: "PROBE", flags: VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET, fd: () => 3, ret: 0 },
    { desc: "argsz - 8 < 8", flags: VFIO_DEVICE_FEATURE_SET, fd: () => 3, argsz: 15, ret: "EINVAL" },
    { desc: "SET of an unknown value (kernel-internal ENOTSUPP, 524)", flags: VFIO_DEVICE_FEATURE_SET, value: 2, fd: (e: Env) => exportBuf(e).fd, ret: "ENOTSUPP" },
    { desc: "SET of an unknown value is checked before the fd", flags: VFIO_DEVICE_FEATURE_SET, value: 2, fd: () => 99, ret: "ENOTSUPP" },
    { desc: "an fd that is not open", flags: VFIO_DEVICE_FEATURE_GET, fd: () => 99, ret: "EBADF" },
    { desc: "an fd that is not a dma-buf", flags: VFIO_DEVICE_FEATURE_GET, fd: (e: Env) => e.devFd, ret: "EINVAL" },
    {
      desc: "a dma-buf of another exporter",
      flags: VFIO_DEVICE_FEATURE_GET,
      fd: (e: Env) => e.k.runAs(e.user, () => dmaBufFd(dmaBufExport(e.k, { owner: e.k.modules.vmlinux, ops: { release: () => undefined, matchMapping: () => undefined }, size: P, flags: O_RDWR, priv: {} }), O_RDWR)),
      ret: "ENODEV",
    },
    {
      desc: "a dma-buf of another vfio device",
      flags: VFIO_DEVICE_FEATURE_GET,
      fd: (e: Env) => exportBuf(e, undefined, 0, e.user.sys.open(vfioPciProbe(e.k, e.t.importerSlot).cdevPath, O_RDWR)).fd,
      ret: "ENODEV",
    },
  ])("$desc → $ret", ({ boot: opts, flags, value, fd, argsz, ret }) => {
    const e = boot("same-switch", opts);
    const r = memattr(e, flags, fd(e), value ?? 0, argsz).ret;
    if (ret === 0) expect(r).toBe(0);
    else expectErrno(r, ret as string);
    teardown(e);
  });
});
