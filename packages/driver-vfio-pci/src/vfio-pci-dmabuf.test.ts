// Tests of drivers/vfio/pci/vfio_pci_dmabuf.c: the feature ioctl, what the exporter offers and accepts, SGT importers.
import { describe, expect, it } from "vitest";
import {
  O_CLOEXEC,
  O_RDWR,
  UserStruct,
  dmaBufAttach,
  dmaBufDebugShow,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufPin,
  dmaBufUnpin,
  dmaResvLock,
  dmaResvUnlock,
  errnoName,
  type DmaBufAttachOps,
  type UserArg,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingPal, dmaBufMappingPalType } from "@dmabuf-sdk/map-pal";
import { CompatDynamicImporter, dmaBufImappingSgt, dmaBufMappingSgtType, dmaBufSgtP2pAllowed, dmaBufSgtRoute, sgtDmaRead, sgtDmaWrite } from "@dmabuf-sdk/map-sgt";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioPciDmaBufOffers,
  type VfioDeviceFeatureDmaBuf,
} from "@dmabuf-sdk/driver-vfio-pci";
import { P, barRead, barWrite, boot, exportBuf, pattern, setMemory, teardown, type Env } from "@dmabuf-sdk/driver-vfio-pci/testing";
import { expectErrno } from "@dmabuf-sdk/dmabuf-core/testing";

const GiB = 1n << 30n;
const GET_DMA_BUF = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
const U64 = 1n << 64n;

const req = (r: Partial<VfioDeviceFeatureDmaBuf> = {}): Uint8Array => vfioDeviceFeatureDmaBuf({ regionIndex: 0, openFlags: O_RDWR | O_CLOEXEC, ranges: [{ offset: 0n, length: P }], ...r });
const feature = (payload: Uint8Array, flags = GET_DMA_BUF, argsz?: number): Uint8Array => vfioDeviceFeature(flags, payload, argsz);
const range = (offset: bigint, length: bigint) => ({ offset, length });

interface Case {
  desc: string;
  arg: (e: Env) => UserArg;
  ret: string | "fd" | 0;
  boot?: Parameters<typeof boot>[1];
  setup?: (e: Env) => void;
}

/** Every check of VFIO_DEVICE_FEATURE and VFIO_DEVICE_FEATURE_DMA_BUF, in the kernel's order. */
const CASES: Case[] = [
  // vfio_ioctl_device_feature()
  { desc: "NULL argument", arg: () => null, ret: "EFAULT" },
  { desc: "argument shorter than {argsz, flags}", arg: () => new Uint8Array(6), ret: "EFAULT" },
  { desc: "argsz < 8", arg: () => feature(req(), GET_DMA_BUF, 7), ret: "EINVAL" },
  { desc: "an unknown flag bit", arg: () => feature(req(), GET_DMA_BUF | (1 << 19)), ret: "EINVAL" },
  { desc: "GET and SET without PROBE", arg: () => feature(req(), GET_DMA_BUF | VFIO_DEVICE_FEATURE_SET), ret: "EINVAL" },
  { desc: "a feature vfio-pci does not have", arg: () => feature(req(), VFIO_DEVICE_FEATURE_GET | 99), ret: "ENOTTY" },
  // vfio_pci_core_feature_dma_buf() 1: get_dmabuf_phys
  { desc: "a variant driver without get_dmabuf_phys", arg: () => feature(req()), boot: { probe: { pciOps: null } }, ret: "EOPNOTSUPP" },
  { desc: "a variant driver without get_dmabuf_phys, PROBE", arg: () => feature(req(), GET_DMA_BUF | VFIO_DEVICE_FEATURE_PROBE), boot: { probe: { pciOps: {} } }, ret: "EOPNOTSUPP" },
  // 2: vfio_check_feature(GET, 16)
  { desc: "SET", arg: () => feature(req(), VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF), ret: "EINVAL" },
  { desc: "PROBE with SET (unsupported op even when probing)", arg: () => feature(req(), VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF), ret: "EINVAL" },
  { desc: "PROBE with GET and SET", arg: () => feature(req(), VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | GET_DMA_BUF), ret: "EINVAL" },
  { desc: "PROBE with GET", arg: () => feature(new Uint8Array(0), VFIO_DEVICE_FEATURE_PROBE | GET_DMA_BUF), ret: 0 },
  { desc: "PROBE alone, no payload", arg: () => feature(new Uint8Array(0), VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_DMA_BUF), ret: 0 },
  { desc: "neither GET nor SET", arg: () => feature(req(), VFIO_DEVICE_FEATURE_DMA_BUF), ret: "EINVAL" },
  { desc: "argsz - 8 < 16", arg: () => feature(req(), GET_DMA_BUF, 8 + 15), ret: "EINVAL" },
  // 3: copy of the header
  { desc: "argsz claims a header the buffer does not have", arg: () => feature(new Uint8Array(8), GET_DMA_BUF, 8 + 16 + 16), ret: "EFAULT" },
  // 4
  { desc: "nr_ranges 0", arg: () => feature(req({ ranges: [] })), ret: "EINVAL" },
  { desc: "flags not 0 (v1's WC attribute bits [31:28])", arg: () => feature(req({ flags: 1 << 28 })), ret: "EINVAL" },
  { desc: "nr_ranges 0 and a region that is not a BAR: nr_ranges first", arg: () => feature(req({ ranges: [], regionIndex: 7 })), ret: "EINVAL" },
  // 5
  { desc: "region 6 (ROM)", arg: () => feature(req({ regionIndex: 6 })), ret: "ENODEV" },
  { desc: "region 7 (config)", arg: () => feature(req({ regionIndex: 7 })), ret: "ENODEV" },
  { desc: "region 0xffffffff", arg: () => feature(req({ regionIndex: 0xffff_ffff })), ret: "ENODEV" },
  { desc: "absent BAR1 (upper half of 64-bit BAR0)", arg: () => feature(req({ regionIndex: 1 })), ret: "ENODEV" },
  { desc: "absent BAR3", arg: () => feature(req({ regionIndex: 3 })), ret: "ENODEV" },
  { desc: "absent BAR5", arg: () => feature(req({ regionIndex: 5 })), ret: "ENODEV" },
  { desc: "BAR0 whose resources another driver holds (not claimed by vfio)", arg: () => feature(req()), boot: { beforeOpen: (t) => void (t.exporterSlot.bars[0]!.claimed = true) }, ret: "ENODEV" },
  { desc: "absent BAR with too many ranges: the region first", arg: () => feature(req({ regionIndex: 1, nrRanges: 0x4_0001 })), ret: "ENODEV" },
  // 6: memdup_array_user()
  { desc: "nr_ranges * 16 beyond KMALLOC_MAX_SIZE (262145 ranges)", arg: () => feature(req({ nrRanges: 0x4_0001 })), ret: "ENOMEM" },
  { desc: "nr_ranges 0xffffffff (the buffer is short too: kmalloc fails first)", arg: () => feature(req({ nrRanges: 0xffff_ffff })), ret: "ENOMEM" },
  { desc: "nr_ranges beyond the user buffer", arg: () => feature(req({ nrRanges: 3, ranges: [range(0n, P), range(P, P)] })), ret: "EFAULT" },
  { desc: "argsz is not checked against nr_ranges (it covers only the header)", arg: () => feature(req({ ranges: [range(0n, P), range(P, P)] }), GET_DMA_BUF, 8 + 16), ret: "fd" },
  // 7: validate_dmabuf_input()
  { desc: "a range of length 0", arg: () => feature(req({ ranges: [range(0n, P), range(P, 0n)] })), ret: "EINVAL" },
  { desc: "an offset not page aligned", arg: () => feature(req({ ranges: [range(0x800n, P)] })), ret: "EINVAL" },
  { desc: "a length not page aligned", arg: () => feature(req({ ranges: [range(0n, P + 1n)] })), ret: "EINVAL" },
  { desc: "lengths adding up to 2^64 (validated before the wrap of step 9)", arg: () => feature(req({ ranges: [range(U64 - P, 1n << 63n), range(0n, 1n << 63n)] })), ret: "EINVAL" },
  { desc: "lengths adding up past 2^64", arg: () => feature(req({ ranges: [range(U64 - P, U64 - P), range(0n, 2n * P)] })), ret: "EINVAL" },
  { desc: "a total length with bit 63 (DMA_IOVA_USE_SWIOTLB)", arg: () => feature(req({ ranges: [range(U64 - P, 1n << 62n), range(0n, 1n << 62n)] })), ret: "EINVAL" },
  { desc: "a total length just below bit 63 reaches step 9", arg: () => feature(req({ ranges: [range(U64 - P, 1n << 62n), range(0n, (1n << 62n) - P)] })), ret: "EOVERFLOW" },
  { desc: "an unaligned range on the I/O-port BAR: validation before the provider", arg: () => feature(req({ regionIndex: 4, ranges: [range(0x10n, P)] })), ret: "EINVAL" },
  // 9: get_dmabuf_phys
  { desc: "the I/O-port BAR4 (no p2pdma provider)", arg: () => feature(req({ regionIndex: 4 })), ret: "EINVAL" },
  { desc: "the I/O-port BAR4 with an offset wrapping 2^64: the provider first", arg: () => feature(req({ regionIndex: 4, ranges: [range(U64 - P, P)] })), ret: "EINVAL" },
  { desc: "BAR start + offset wraps 2^64", arg: () => feature(req({ ranges: [range(U64 - P, P)] })), ret: "EOVERFLOW" },
  { desc: "BAR start + offset + length wraps 2^64", arg: (e) => feature(req({ ranges: [range(U64 - e.t.exporterSlot.bars[0]!.start - P, 2n * P)] })), ret: "EOVERFLOW" },
  { desc: "a range one page past the BAR end", arg: () => feature(req({ ranges: [range(GiB - P, 2n * P)] })), ret: "EINVAL" },
  { desc: "a range starting at the BAR end", arg: () => feature(req({ ranges: [range(GiB, P)] })), ret: "EINVAL" },
  { desc: "past the BAR, then wrapping: the first bad range decides", arg: () => feature(req({ ranges: [range(GiB, P), range(U64 - P, P)] })), ret: "EINVAL" },
  { desc: "wrapping, then past the BAR: the first bad range decides", arg: () => feature(req({ ranges: [range(U64 - P, P), range(GiB, P)] })), ret: "EOVERFLOW" },
  { desc: "a range ending exactly at the BAR end", arg: () => feature(req({ ranges: [range(GiB - P, P)] })), ret: "fd" },
  { desc: "overlapping, aliasing, out-of-order ranges", arg: () => feature(req({ ranges: [range(8n * P, 2n * P), range(0n, P), range(8n * P, 2n * P)] })), ret: "fd" },
  { desc: "the 16 MiB 32-bit BAR2", arg: () => feature(req({ regionIndex: 2, ranges: [range(0n, 16n << 20n)] })), ret: "fd" },
  { desc: "the whole 1 GiB BAR0", arg: () => feature(req({ ranges: [range(0n, GiB)] })), ret: "fd" },
  // 13: dma_buf_fd()
  { desc: "the process is at RLIMIT_NOFILE", arg: () => feature(req()), setup: (e) => void (e.user.files.nofile = e.user.files.fds().length), ret: "EMFILE" },
];

describe("VFIO_DEVICE_FEATURE_DMA_BUF", () => {
  it.each(CASES)("$desc → $ret", ({ arg, ret, boot: opts, setup }) => {
    const e = boot("same-switch", opts);
    setup?.(e);
    const r = e.user.sys.ioctl(e.devFd, VFIO_DEVICE_FEATURE, arg(e));
    if (ret === "fd") {
      expect(r).toBeGreaterThan(e.devFd);
      expect(e.user.files.lookup(r)!.fops.name).toBe("dmabuf");
      expect(e.vdev.dmabufs).toHaveLength(1);
      expect(e.vdev.registrations).toBe(3); // registered + the open file + the buffer
    } else if (ret === 0) {
      expect(r).toBe(0);
    } else {
      expectErrno(r, ret);
      expect(e.vdev.dmabufs).toHaveLength(0);
      expect(e.vdev.registrations).toBe(2);
      expect(e.k.dmaBuf.list.size).toBe(0);
    }
    expect(e.k.warnings()).toEqual([]);
    teardown(e);
  });

  it("the buffer: size is the sum of the ranges, phys_vec the BAR addresses in order, the fd's flags as asked", () => {
    const e = boot();
    const bar = e.t.exporterSlot.bars[0]!;
    const { fd, dmabuf, priv } = exportBuf(e, [range(8n * P, 2n * P), range(0n, P)]);
    expect(dmabuf.size).toBe(3n * P);
    expect(priv.physVec).toEqual([
      { paddr: bar.start + 8n * P, len: 2n * P },
      { paddr: bar.start, len: P },
    ]);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    expect(e.user.files.cloexec(fd)).toBe(true);
    expect(dmabuf.file.flags & O_RDWR).toBe(O_RDWR);
    expect(dmaBufDebugShow(e.k)).toMatch(/vfio_pci_core/);
    teardown(e);
  });

  it("addresses above 2^53 stay exact", () => {
    const e = boot("same-switch", { topo: { mem64Base: 1n << 56n } });
    const bar = e.t.exporterSlot.bars[0]!;
    expect(bar.start >= 1n << 56n).toBe(true);
    const { priv } = exportBuf(e, [range(GiB - P, P)]);
    expect(priv.physVec[0]!.paddr).toBe(bar.start + GiB - P);
    expect(priv.physVec[0]!.paddr - bar.start).toBe(GiB - P);
    teardown(e);
  });

  it("a buffer exported while memory decode is off starts revoked, and comes back when it is enabled", () => {
    const e = boot();
    setMemory(e, false);
    const { priv, dmabuf } = exportBuf(e);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_TEMP_REVOKED");
    expect(() => new CompatDynamicImporter(e.t.importerSlot, dmabuf)).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    setMemory(e, true);
    expect(priv.status).toBe("VFIO_PCI_DMA_BUF_OK");
    const imp = new CompatDynamicImporter(e.t.importerSlot, dmabuf);
    imp.detach();
    teardown(e);
  });

  it("the fd-allocation failure unwinds through dma_buf_put() alone: no double free, no registration leaked", () => {
    const e = boot();
    e.k.faults.inject({ site: "get_unused_fd", nth: 1 });
    expectErrno(e.user.sys.ioctl(e.devFd, VFIO_DEVICE_FEATURE, feature(req())), "EMFILE");
    expect(e.k.faults.failures).toBe(1);
    expect(e.k.warnings()).toEqual([]); // the buggy form underflows refcounts here
    expect(e.vdev.registrations).toBe(2);
    expect(e.vdev.dmabufs).toEqual([]);
    expect(e.k.dmaBuf.list.size).toBe(0);
    teardown(e);
  });

  it("the dma-buf holds the module: vfio-pci cannot be unloaded while a buffer lives", () => {
    const e = boot();
    const { fd } = exportBuf(e);
    e.user.sys.close(e.devFd);
    expect(() => e.k.unloadModule("vfio-pci")).toThrow(expect.objectContaining({ errno: "EAGAIN" }));
    e.user.sys.close(fd);
    e.k.clock.flush();
    e.k.unloadModule("vfio-pci");
    expect(e.k.devfs.paths().filter((p) => p.startsWith("vfio"))).toEqual([]);
    expect(e.t.exporterSlot.driver).toBeUndefined();
  });
});

describe("vfio-pci exporter: what it offers and whom it accepts", () => {
  const revocable: DmaBufAttachOps = { allowPeer2peer: true, invalidateMappings: () => undefined };

  it("on a PF, offers PAL first, then SGT for P2P importers of the device (no IOV entry: that is for VFs)", () => {
    const e = boot();
    const { priv } = exportBuf(e);
    const offers = vfioPciDmaBufOffers.map((o) => o(priv));
    expect(offers.map((o) => o?.type.shortName ?? null)).toEqual([null, "PAL", "SGT"]);
    expect((offers[2]!.data as { exportingP2pDevice: unknown }).exportingP2pDevice).toBe(e.t.exporterSlot);
    teardown(e);
  });

  it.each([
    { desc: "[PAL], revocable", imp: () => [dmaBufImappingPal()], ops: revocable, result: "PAL" },
    { desc: "[SGT accepting P2P], revocable", imp: (e: Env) => [dmaBufImappingSgt(e.t.importerSlot, true)], ops: revocable, result: "SGT p2p" },
    { desc: "[SGT, PAL]: the exporter's priority", imp: (e: Env) => [dmaBufImappingSgt(e.t.importerSlot, true), dmaBufImappingPal()], ops: revocable, result: "PAL" },
    { desc: "[SGT without P2P]", imp: (e: Env) => [dmaBufImappingSgt(e.t.importerSlot, false)], ops: revocable, result: "EINVAL" },
    { desc: "[PAL] without invalidate_mappings (not revocable)", imp: () => [dmaBufImappingPal()], ops: { allowPeer2peer: true }, result: "EOPNOTSUPP" },
    { desc: "[PAL] as a static importer (no ops)", imp: () => [dmaBufImappingPal()], ops: null, result: "EOPNOTSUPP" },
    { desc: "[SGT accepting P2P] without invalidate_mappings", imp: (e: Env) => [dmaBufImappingSgt(e.t.importerSlot, true)], ops: { allowPeer2peer: true }, result: "EOPNOTSUPP" },
  ])("attach with $desc → $result", ({ imp, ops, result }) => {
    const e = boot();
    const { dmabuf } = exportBuf(e);
    let got: string;
    try {
      const a = dmaBufMappingAttach(dmabuf, imp(e), ops);
      got = a.mapType!.type === dmaBufMappingPalType ? "PAL" : a.mapType!.type === dmaBufMappingSgtType && dmaBufSgtP2pAllowed(a) ? "SGT p2p" : "?";
      dmaBufDetach(dmabuf, a);
    } catch (err) {
      got = (err as { errno: string }).errno;
    }
    expect(got).toBe(result);
    teardown(e);
  });

  it("a static importer (dma_buf_attach) cannot reach P2P MMIO: EINVAL from matching", () => {
    const e = boot();
    const { dmabuf } = exportBuf(e);
    expect(() => dmaBufAttach(dmabuf, e.t.importerSlot)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    teardown(e);
  });

  it("pinning is allowed for revocable importers (no pin op since 'Permit VFIO to work with pinned importers')", () => {
    const e = boot();
    const { dmabuf } = exportBuf(e);
    expect(dmabuf.ops.pin).toBeUndefined();
    const a = dmaBufMappingAttach(dmabuf, [dmaBufImappingPal()], revocable);
    dmaResvLock(dmabuf.resv);
    dmaBufPin(a);
    dmaBufUnpin(a);
    dmaResvUnlock(dmabuf.resv);
    dmaBufDetach(dmabuf, a);
    expect(e.k.warnings()).toEqual([]);
    teardown(e);
  });

  it.each([
    { desc: "revoked (memory off)", act: (e: Env) => setMemory(e, false) },
    { desc: "cleaned up (device closed)", act: (e: Env) => void e.user.sys.close(e.devFd) },
  ])("a $desc buffer still matches, and its attach refuses with ENODEV", ({ act }) => {
    const e = boot();
    const { dmabuf } = exportBuf(e);
    act(e);
    expect(() => dmaBufMappingAttach(dmabuf, [dmaBufImappingPal()], revocable)).toThrow(expect.objectContaining({ errno: "ENODEV", operation: "vfio_pci_dma_buf_attach" }));
    teardown(e);
  });
});

describe("vfio-pci → an unconverted SGT importer (RDMA umem style) on each topology", () => {
  it.each([
    { topo: "same-switch" as const, route: "bus-addr", p2p: "PCI_P2PDMA_MAP_BUS_ADDR" },
    { topo: "same-switch-acs" as const, route: "iova", p2p: "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE" },
    { topo: "cross-root" as const, route: "iova", p2p: "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE" },
    { topo: "iommu-off" as const, route: "per-range", p2p: "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE" },
    { topo: "sriov" as const, route: "bus-addr", p2p: "PCI_P2PDMA_MAP_BUS_ADDR" },
  ])("$topo: negotiates SGT_P2P, maps $route, and moves the BAR's bytes both ways", ({ topo, route, p2p }) => {
    const e = boot(topo);
    expect(e.t.p2pMapType).toBe(p2p);
    const bar = e.t.exporterSlot.bars[0]!;
    const data = pattern(3 * 0x1000, 7);
    barWrite(e, bar.index, 5n * P, data.subarray(0, 0x2000)); // buffer [0, 2P) = BAR [5P, 7P)
    barWrite(e, bar.index, 0n, data.subarray(0x2000)); // buffer [2P, 3P) = BAR [0, P)
    const { dmabuf, priv } = exportBuf(e, [range(5n * P, 2n * P), range(0n, P)]);
    const imp = new CompatDynamicImporter(e.t.importerSlot, dmabuf);
    expect(imp.attachment?.mapType!.type).toBe(dmaBufMappingSgtType);
    expect(dmaBufSgtP2pAllowed(imp.attachment)).toBe(true);
    const sgt = imp.ensureMapped();
    expect(dmaBufSgtRoute(sgt)).toBe(route);
    expect(priv.outstandingMaps).toBe(1);
    expect(sgtDmaRead(e.t.importerSlot, sgt, 0n, data.length)).toEqual(data);
    sgtDmaWrite(e.t.importerSlot, sgt, 0x1ff0n, pattern(0x20, 9)); // straddles the two ranges
    expect(barRead(e, bar.index, 5n * P + 0x1ff0n, 0x10)).toEqual(pattern(0x20, 9).subarray(0, 0x10));
    expect(barRead(e, bar.index, 0n, 0x10)).toEqual(pattern(0x20, 9).subarray(0x10));
    imp.detach();
    expect(priv.outstandingMaps).toBe(0);
    teardown(e);
  });

  it("cross-root-no-p2p: the distance check refuses SGT_P2P, so the attach fails with EINVAL", () => {
    const e = boot("cross-root-no-p2p");
    const { dmabuf } = exportBuf(e);
    let err: unknown;
    try {
      new CompatDynamicImporter(e.t.importerSlot, dmabuf);
    } catch (x) {
      err = x;
    }
    expect(err).toMatchObject({ errno: "EINVAL", operation: "dma_buf_match_mapping" });
    expect(e.k.printk.contains("do not share an upstream bridge or whitelisted host bridge")).toBe(true);
    expect(errnoName(-22)).toBe("EINVAL");
    teardown(e);
  });

  it("BAR reads go through the device fd only while memory decode is on (EIO otherwise)", () => {
    const e = boot();
    barWrite(e, 0, 0n, Uint8Array.of(1, 2, 3));
    setMemory(e, false);
    expectErrno(e.user.sys.pread(e.devFd, new Uint8Array(3), 0n), "EIO");
    setMemory(e, true);
    expect(barRead(e, 0, 0n, 3)).toEqual(Uint8Array.of(1, 2, 3));
    expect(UserStruct.alloc(1).bytes.length).toBe(1);
    teardown(e);
  });
});
