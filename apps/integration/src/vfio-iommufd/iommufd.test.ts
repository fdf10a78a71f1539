// Integration: the iommufd uAPI (drivers/iommu/iommufd/main.c, ioas.c, device.c) with a vfio-pci device and its dma-bufs.
import { describe, expect, it } from "vitest";
import { UserStruct, errnoName, io, type UserArg } from "@dmabuf-sdk/dmabuf-core";
import {
  IOMMUFD_TYPE,
  IOMMU_DESTROY,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP_FILE,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOAS_UNMAP,
  PfnReaderDmabuf,
  iommuDestroy,
  iommuIoasAlloc,
  iommuIoasMapFile,
  iommuIoasUnmap,
  iommufdCtxFromFd,
  iommufdCtxPut,
  iommufdDeviceAttach,
  iommufdDeviceBind,
  iommufdDeviceUnbind,
  type IommuIoasMapFile,
} from "@dmabuf-sdk/driver-iommufd";
import { vfioWriteCommand } from "@dmabuf-sdk/driver-vfio-pci";
import { expectErrno } from "@dmabuf-sdk/dmabuf-core/testing";
import { P, boot, teardown, vfioExport, type Env } from "./env.js";

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
const U64 = 1n << 64n;
const MiB = 1n << 20n;

interface Case {
  desc: string;
  cmd?: number;
  arg: (e: Env, fd: number) => UserArg;
  ret: string | "ok";
  setup?: (e: Env) => void;
}

const mapFile = (e: Env, fd: number, m: Partial<IommuIoasMapFile>): Uint8Array => iommuIoasMapFile({ flags: RW, ioasId: e.s.ioasId, fd, start: 0n, length: 16n * P, ...m });

/** The dispatch checks of iommufd_fops_ioctl() and the bounds checks of IOMMU_IOAS_MAP_FILE (reference §10.1), in order. */
const MAP_FILE: Case[] = [
  // iommufd_fops_ioctl()
  { desc: "a command below IOMMUFD_CMD_BASE (vfio compat, not modelled)", cmd: io(IOMMUFD_TYPE, 0x64), arg: () => new Uint8Array(8), ret: "ENOTTY" },
  { desc: "a command beyond iommufd's table", cmd: io(IOMMUFD_TYPE, 0xc0), arg: () => new Uint8Array(8), ret: "ENOTTY" },
  { desc: "NULL argument", arg: () => null, ret: "EFAULT" },
  { desc: "the right number with _IOWR encoding", cmd: 0xc0283b8f, arg: (e, fd) => mapFile(e, fd, {}), ret: "ENOTTY" },
  { desc: "size below the minimum", arg: (e, fd) => mapFile(e, fd, { size: 36 }), ret: "EINVAL" },
  { desc: "size larger than the buffer", arg: (e, fd) => mapFile(e, fd, { size: 48 }).subarray(0, 40), ret: "EFAULT" },
  { desc: "a larger struct with non-zero trailing bytes", arg: (e, fd) => (b => ((b[44] = 1), b))(mapFile(e, fd, { size: 48 })), ret: "E2BIG" },
  { desc: "a larger struct with zero trailing bytes", arg: (e, fd) => mapFile(e, fd, { size: 48 }), ret: "ok" },
  // iommufd_ioas_map_file()
  { desc: "an unknown flag", arg: (e, fd) => mapFile(e, fd, { flags: RW | (1 << 3) }), ret: "EOPNOTSUPP" },
  { desc: "an unknown flag and a bad IOAS: flags first", arg: (e, fd) => mapFile(e, fd, { flags: RW | (1 << 3), ioasId: 99 }), ret: "EOPNOTSUPP" },
  { desc: "iova = ULONG_MAX", arg: (e, fd) => mapFile(e, fd, { flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA, iova: U64 - 1n }), ret: "EOVERFLOW" },
  { desc: "length = ULONG_MAX", arg: (e, fd) => mapFile(e, fd, { length: U64 - 1n }), ret: "EOVERFLOW" },
  { desc: "neither readable nor writeable", arg: (e, fd) => mapFile(e, fd, { flags: 0 }), ret: "EINVAL" },
  { desc: "an unknown IOAS", arg: (e, fd) => mapFile(e, fd, { ioasId: 99 }), ret: "ENOENT" },
  { desc: "an id that is not an IOAS (the device)", arg: (e, fd) => mapFile(e, fd, { ioasId: e.s.idev.id }), ret: "ENOENT" },
  // iopt_map_file_pages()
  { desc: "length 0", arg: (e, fd) => mapFile(e, fd, { length: 0n }), ret: "EINVAL" },
  { desc: "start + length - 1 wraps 2^64", arg: (e, fd) => mapFile(e, fd, { start: U64 - P, length: 2n * P }), ret: "EOVERFLOW" },
  { desc: "an fd that is not open", arg: (e) => mapFile(e, 99, {}), ret: "EBADF" },
  { desc: "an fd that is not a dma-buf or memfd (the iommufd itself)", arg: (e) => mapFile(e, e.s.fd, {}), ret: "EINVAL" },
  // iopt_alloc_dmabuf_pages()
  { desc: "a range reaching past the dma-buf", arg: (e, fd) => mapFile(e, fd, { length: 17n * P }), ret: "EINVAL" },
  { desc: "a range starting at the dma-buf's end", arg: (e, fd) => mapFile(e, fd, { start: 16n * P, length: P }), ret: "EINVAL" },
  { desc: "the whole buffer", arg: (e, fd) => mapFile(e, fd, {}), ret: "ok" },
  { desc: "the last page", arg: (e, fd) => mapFile(e, fd, { start: 15n * P, length: P }), ret: "ok" },
  // iopt_map_dmabuf()
  { desc: "a revoked buffer (the exporter's attach refuses)", setup: (e) => void vfioWriteCommand(e.user, e.devFd, false), arg: (e, fd) => mapFile(e, fd, {}), ret: "ENODEV" },
  // iopt_insert_area() / IOVA
  { desc: "a start inside a page (sub-page offset)", arg: (e, fd) => mapFile(e, fd, { start: 0x800n, length: P }), ret: "EINVAL" },
  { desc: "a length that is not a page multiple maps whole pages", arg: (e, fd) => mapFile(e, fd, { length: P + 1n }), ret: "ok" },
  { desc: "FIXED_IOVA, aligned", arg: (e, fd) => mapFile(e, fd, { flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA, iova: 0x1000_0000n }), ret: "ok" },
  { desc: "FIXED_IOVA, unaligned", arg: (e, fd) => mapFile(e, fd, { flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA, iova: 0x1000_0800n }), ret: "EINVAL" },
  { desc: "FIXED_IOVA in the reserved MSI window", arg: (e, fd) => mapFile(e, fd, { flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA, iova: 0xfee0_0000n }), ret: "EINVAL" },
  { desc: "FIXED_IOVA wrapping 2^64", arg: (e, fd) => mapFile(e, fd, { flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA, iova: U64 - 2n * P }), ret: "EOVERFLOW" },
  {
    desc: "FIXED_IOVA over an existing area",
    setup: (e) => void e.s.mapDmaBuf(vfioExport(e, [{ offset: 0n, length: P }]).dmabuf, 0n, P),
    arg: (e, fd) => mapFile(e, fd, { flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA, iova: 0n }),
    ret: "EEXIST",
  },
];

describe("IOMMU_IOAS_MAP_FILE", () => {
  it.each(MAP_FILE)("$desc → $ret", ({ cmd, arg, ret, setup }) => {
    const e = boot();
    setup?.(e);
    const { fd, dmabuf } = vfioExport(e, [{ offset: 0n, length: 16n * P }]);
    const before = dmabuf.attachments.length;
    const a = arg(e, fd);
    const r = e.user.sys.ioctl(e.s.fd, cmd ?? IOMMU_IOAS_MAP_FILE, a);
    if (ret === "ok") {
      expect(r).toBe(0);
      const iova = new DataView((a as Uint8Array).buffer).getBigUint64(32, true);
      expect(e.s.area(iova)!.pages.dmabuf).toBe(dmabuf);
      expect(dmabuf.attachments).toHaveLength(before + 1);
    } else {
      expectErrno(r, ret);
      expect(dmabuf.attachments).toHaveLength(before);
    }
    expect(e.k.warnings()).toEqual([]);
    teardown(e);
  });

  it("IOVAs are allocated lowest first, aligned to the length rounded to a power of two (at most 2 MiB), around the MSI window", () => {
    const e = boot();
    const { dmabuf } = vfioExport(e, [{ offset: 0n, length: 8n * MiB }]);
    expect(e.s.mapDmaBuf(dmabuf, 0n, P)).toBe(0n);
    expect(e.s.mapDmaBuf(dmabuf, 0n, 3n * P)).toBe(0x4000n); // aligned to 16 KiB
    expect(e.s.mapDmaBuf(dmabuf, 0n, 4n * MiB)).toBe(2n * MiB); // 2 MiB at most
    const fixed = iommuIoasMapFile({ flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA, ioasId: e.s.ioasId, fd: e.user.files.fds().at(-1)!, start: 0n, length: P, iova: 0xfed0_0000n });
    expect(e.user.sys.ioctl(e.s.fd, IOMMU_IOAS_MAP_FILE, fixed)).toBe(0);
    teardown(e);
  });
});

describe("IOMMU_IOAS_ALLOC, IOMMU_IOAS_UNMAP, IOMMU_DESTROY", () => {
  it.each([
    { desc: "IOAS_ALLOC: flags", cmd: IOMMU_IOAS_ALLOC, arg: () => iommuIoasAlloc(1), ret: "EOPNOTSUPP" },
    { desc: "IOAS_ALLOC: size below 12", cmd: IOMMU_IOAS_ALLOC, arg: () => iommuIoasAlloc(0, 8), ret: "EINVAL" },
    { desc: "IOAS_ALLOC: returns the next id", cmd: IOMMU_IOAS_ALLOC, arg: () => iommuIoasAlloc(), ret: "ok" },
    { desc: "UNMAP: unknown IOAS", cmd: IOMMU_IOAS_UNMAP, arg: () => iommuIoasUnmap(99, 0n, P), ret: "ENOENT" },
    { desc: "UNMAP: nothing there", cmd: IOMMU_IOAS_UNMAP, arg: (e: Env) => iommuIoasUnmap(e.s.ioasId, 0x100_0000n, P), ret: "ENOENT" },
    { desc: "UNMAP: length 0", cmd: IOMMU_IOAS_UNMAP, arg: (e: Env) => iommuIoasUnmap(e.s.ioasId, 0n, 0n), ret: "EINVAL" },
    { desc: "UNMAP: part of an area", cmd: IOMMU_IOAS_UNMAP, arg: (e: Env) => iommuIoasUnmap(e.s.ioasId, 0n, P), ret: "ENOENT" },
    { desc: "UNMAP: iova = ULONG_MAX", cmd: IOMMU_IOAS_UNMAP, arg: (e: Env) => iommuIoasUnmap(e.s.ioasId, U64 - 1n, P), ret: "EOVERFLOW" },
    { desc: "UNMAP: wrapping 2^64", cmd: IOMMU_IOAS_UNMAP, arg: (e: Env) => iommuIoasUnmap(e.s.ioasId, U64 - 2n * P, 4n * P), ret: "EOVERFLOW" },
    { desc: "UNMAP: the whole area", cmd: IOMMU_IOAS_UNMAP, arg: (e: Env) => iommuIoasUnmap(e.s.ioasId, 0n, 2n * P), ret: "ok" },
    { desc: "UNMAP: everything (0, U64_MAX)", cmd: IOMMU_IOAS_UNMAP, arg: (e: Env) => iommuIoasUnmap(e.s.ioasId, 0n, U64 - 1n), ret: "ok" },
    { desc: "DESTROY: the IOAS a device is attached to", cmd: IOMMU_DESTROY, arg: (e: Env) => iommuDestroy(e.s.ioasId), ret: "EBUSY" },
    { desc: "DESTROY: the device", cmd: IOMMU_DESTROY, arg: (e: Env) => iommuDestroy(e.s.idev.id), ret: "EBUSY" },
    { desc: "DESTROY: an unknown id", cmd: IOMMU_DESTROY, arg: () => iommuDestroy(99), ret: "ENOENT" },
  ])("$desc → $ret", ({ cmd, arg, ret }) => {
    const e = boot();
    const { dmabuf } = vfioExport(e, [{ offset: 0n, length: 2n * P }]);
    expect(e.s.mapDmaBuf(dmabuf)).toBe(0n);
    const a = arg(e) as Uint8Array;
    const r = e.user.sys.ioctl(e.s.fd, cmd, a);
    if (ret === "ok") expect(r).toBe(0);
    else expectErrno(r, ret);
    if (cmd === IOMMU_IOAS_UNMAP && ret === "ok") {
      expect(new DataView(a.buffer).getBigUint64(16, true)).toBe(2n * P);
      expect(dmabuf.attachments).toEqual([]);
    }
    if (cmd === IOMMU_IOAS_ALLOC && ret === "ok") expect(new DataView(a.buffer).getUint32(8, true)).toBe(4); // ioas 1, device 2, hwpt 3
    teardown(e);
  });

  it("an IOAS without devices can be destroyed, and takes its mappings with it", () => {
    const e = boot();
    const a = iommuIoasAlloc();
    expect(e.user.sys.ioctl(e.s.fd, IOMMU_IOAS_ALLOC, a)).toBe(0);
    const id = new DataView(a.buffer).getUint32(8, true);
    const { fd, dmabuf } = vfioExport(e, [{ offset: 0n, length: P }]);
    expect(e.user.sys.ioctl(e.s.fd, IOMMU_IOAS_MAP_FILE, iommuIoasMapFile({ flags: RW, ioasId: id, fd, start: 0n, length: P }))).toBe(0);
    expect(dmabuf.attachments).toHaveLength(1);
    expect(e.user.sys.ioctl(e.s.fd, IOMMU_DESTROY, iommuDestroy(id))).toBe(0);
    expect(dmabuf.attachments).toHaveLength(0);
    expect(dmabuf.priv.outstandingMaps).toBe(0);
    teardown(e);
  });

  it("unmapping an empty IOAS with (0, U64_MAX) succeeds with 0 bytes", () => {
    const e = boot();
    const u = iommuIoasUnmap(e.s.ioasId, 0n, U64 - 1n);
    expect(e.user.sys.ioctl(e.s.fd, IOMMU_IOAS_UNMAP, u)).toBe(0);
    expect(new DataView(u.buffer).getBigUint64(16, true)).toBe(0n);
    teardown(e);
  });
});

describe("device bind and attach", () => {
  /** The ctx behind the session's fd (the reference is dropped at once: the fd keeps it). */
  function ctxOf(e: Env) {
    const c = e.k.runAs(e.user, () => iommufdCtxFromFd(e.k, e.s.fd));
    iommufdCtxPut(c);
    return c;
  }

  it("binding a device whose group another owner has → EBUSY", () => {
    const e = boot();
    const other = e.t.builder.endpoint(e.t.importerSlot.bus, 0x01);
    const g = other.iommuGroup!;
    g.owner = "a vfio container";
    g.ownerCount = 1;
    expect(() => iommufdDeviceBind(ctxOf(e), other)).toThrow(expect.objectContaining({ errno: "EBUSY" }));
    g.owner = undefined;
    g.ownerCount = 0;
    teardown(e);
  });

  it("attaching to an unknown IOAS → ENOENT, and nothing is attached", () => {
    const e = boot();
    const other = e.t.builder.endpoint(e.t.importerSlot.bus, 0x01);
    const idev = iommufdDeviceBind(ctxOf(e), other);
    expect(() => iommufdDeviceAttach(idev, 99)).toThrow(expect.objectContaining({ errno: "ENOENT" }));
    expect(other.iommuGroup!.domain).toBe(other.iommuGroup!.defaultDomain);
    iommufdDeviceUnbind(idev);
    teardown(e);
  });

  it("attaching twice → EINVAL", () => {
    const e = boot();
    expect(() => iommufdDeviceAttach(e.s.idev, e.s.ioasId)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    teardown(e);
  });

  it("a device is bound to the ctx's id table and owns its group; unbind gives it back", () => {
    const e = boot();
    const g = e.t.importerSlot.iommuGroup!;
    expect(g.owner).toBe(e.s.idev.ictx);
    expect(e.s.idev.ictx.objects().map((o) => o.kind)).toEqual(["ioas", "device", "hwpt_paging"]);
    teardown(e);
    expect(g.owner).toBeUndefined();
    expect(g.domain).toBe(g.defaultDomain);
  });

  it("iommufd_ctx_from_fd: EBADFD for a file that is not an iommufd", () => {
    const e = boot();
    expect(() => e.k.runAs(e.user, () => iommufdCtxFromFd(e.k, e.devFd))).toThrow(expect.objectContaining({ errno: "EBADFD" }));
    expect(errnoName(-77)).toBe("EBADFD");
    teardown(e);
  });
});

describe("PFN reader (patch 24) bounds", () => {
  it("refuses a revoked import and a fill past the list (WARN, EINVAL)", () => {
    const e = boot();
    const { dmabuf } = vfioExport(e, [{ offset: 0n, length: 2n * P }]);
    const iova = e.s.mapDmaBuf(dmabuf);
    const pages = e.s.area(iova)!.pages;
    const reader = new PfnReaderDmabuf(pages);
    const runs: [number, number][] = [];
    reader.fill(0, 1, (pfn, n) => void runs.push([pfn, n]));
    expect(runs).toEqual([[Number((e.t.exporterSlot.bars[0]!.start) >> 12n), 2]]);
    expect(() => new PfnReaderDmabuf(pages).fill(0, 2, () => undefined)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    expect(vfioWriteCommand(e.user, e.devFd, false)).toBe(2);
    expect(() => new PfnReaderDmabuf(pages)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    expect(e.k.warnings()).toEqual([expect.stringMatching(/fill past entry 1/), "pfn_reader_dmabuf_init on a revoked dma-buf"]);
    teardown(e);
  });

  it("UserStruct sanity", () => {
    expect(UserStruct.alloc(4).setU32(0, 7).u32(0)).toBe(7);
  });
});
