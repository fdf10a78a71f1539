// The Xlink GPU driver module: exporter and importer of the Xlink mapping type.
import {
  ConformanceFixtures,
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  dmaBufDetach,
  dmaBufExport,
  dmaBufInvalidateMappings,
  dmaBufMappingAttach,
  dmaBufMatchMapping,
  dmaBufPut,
  dmaResvLock,
  dmaResvUnlock,
  pcimP2pdmaInit,
  pcimP2pdmaProvider,
  withGetters,
  type ConformanceExpectation,
  type DmaBuf,
  type ExportedBuffer,
  type ExporterFixture,
  type ImportedBuffer,
  type ImporterFixture,
  type KernelModule,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import {
  dmaBufEmappingSgtP2p,
  dmaBufFreeSgt,
  dmaBufImappingSgt,
  dmaBufPhysVecToSgt,
  dmaBufSgtMapAttachment,
  dmaBufSgtModule,
  dmaBufSgtRoute,
  dmaBufSgtUnmapAttachment,
  sgtDmaRead,
  sgtDmaWrite,
  type DmaBufMappingSgtExpOps,
  type SgTable,
} from "@dmabuf-sdk/map-sgt";
import { XLINK_DRIVER, dmaBufEmappingXlink, dmaBufImappingXlink, dmaBufMappingXlinkType, type XlinkExpOps, type XlinkRanges } from "./xlink-type.js";

/** The Xlink GPU driver module. */
export const xlinkModule: KernelModule = {
  name: "xlink",
  license: "GPL",
  description: "Example out-of-tree driver: a GPU with a private Xlink interconnect",
  importNs: ["DMA_BUF"],
  uses: ["dma_buf_export", "dma_buf_mapping_attach", "dma_buf_match_mapping", "dma_buf_invalidate_mappings", "dma_buf_phys_vec_to_sgt", "dma_buf_free_sgt"],
  requires: [dmaBufSgtModule],
  init(ctx) {
    ctx.provide(ConformanceFixtures, xlinkFixtures);
  },
};

/** Private data of an Xlink buffer: where it lives in the device memory (BAR0). */
interface XlinkBuffer {
  readonly pdev: PciDev;
  /** Current offset in device memory (moves on migration). */
  offset: bigint;
  readonly size: bigint;
}

/** Allocator of device memory (a bump allocator over BAR0, enough for the example). */
const NEXT = new WeakMap<PciDev, bigint>();
function vramAlloc(pdev: PciDev, size: bigint): bigint {
  const bar = pdev.bars[0]!;
  const at = NEXT.get(pdev) ?? 0n;
  if (at + size > bar.size) throw new KernelError("ENOMEM", "xlink_vram_alloc", "device memory exhausted");
  NEXT.set(pdev, at + size);
  return at;
}

const sgtOps: DmaBufMappingSgtExpOps = {
  mapDmaBuf(attach, dir) {
    const b = attach.dmabuf!.priv as XlinkBuffer;
    const bar = b.pdev.bars[0]!;
    return dmaBufPhysVecToSgt(attach, pcimP2pdmaProvider(b.pdev, 0), [{ paddr: bar.start + b.offset, len: b.size }], 1, b.size, dir);
  },
  unmapDmaBuf(attach, sgt, dir) {
    dmaBufFreeSgt(attach, sgt, dir);
  },
};

const xlinkOps: XlinkExpOps = {
  mapXlink(attach) {
    const b = attach.dmabuf!.priv as XlinkBuffer;
    return { peer: b.pdev, ranges: [{ offset: b.offset, len: b.size }] };
  },
  unmapXlink() {},
};

/** Exports `size` bytes of the device's memory, offering [XLINK, SGT_P2P]. */
export function xlinkExport(pdev: PciDev, size: bigint): DmaBuf<XlinkBuffer> {
  const k = pdev.kernel;
  pdev.driver = XLINK_DRIVER;
  pcimP2pdmaInit(k.alloc, pdev);
  const priv: XlinkBuffer = { pdev, offset: vramAlloc(pdev, size), size };
  return dmaBufExport<XlinkBuffer>(k, {
    owner: k.modules.find(xlinkModule.name)!,
    expName: "xlink",
    ops: {
      matchMapping: (args) => dmaBufMatchMapping(args, [dmaBufEmappingXlink(xlinkOps, pdev), dmaBufEmappingSgtP2p(sgtOps, pdev)]),
      release: () => undefined,
    },
    size,
    flags: O_RDWR | O_CLOEXEC,
    priv,
  });
}

/** Migrates the buffer to new device memory: copy, then invalidate every importer under resv. */
export function xlinkMigrate(dmabuf: DmaBuf<XlinkBuffer>): void {
  const b = dmabuf.priv;
  const mem = dmabuf.kernel.platform.physmem;
  const bar = b.pdev.bars[0]!;
  dmaResvLock(dmabuf.resv);
  try {
    const to = vramAlloc(b.pdev, b.size);
    mem.write(bar.start + to, mem.read(bar.start + b.offset, Number(b.size)));
    b.offset = to;
    dmaBufInvalidateMappings(dmabuf);
  } finally {
    dmaResvUnlock(dmabuf.resv);
  }
}

/** Conformance fixture: the Xlink GPU as an exporter (not a VF, so not on `sriov`). */
export const xlinkExporterFixture: ExporterFixture = {
  name: "xlink-gpu",
  description: "example plugin: GPU device memory offered as [XLINK, SGT_P2P]; migrates on invalidate",
  modules: [xlinkModule],
  placeable: (t) => t.name !== "sriov",
  export(ctx, size): ExportedBuffer {
    const pdev = ctx.topology.exporterSlot;
    const dmabuf = xlinkExport(pdev, size);
    const base = () => pdev.bars[0]!.start + dmabuf.priv.offset;
    const mem = ctx.kernel.platform.physmem;
    return {
      dmabuf,
      write: (offset, data) => mem.write(base() + offset, data),
      read: (offset, len) => mem.read(base() + offset, len),
      invalidate: () => (xlinkMigrate(dmabuf), { kind: "migrate", remap: "remap" }),
      release: () => dmaBufPut(dmabuf),
    };
  },
};

/**
 * Conformance fixture: the Xlink GPU as a dynamic importer offering
 * [XLINK, SGT(ACCEPTS_P2P)]; over XLINK it reads the peer's device memory
 * directly, over SGT through its DMA engine.
 */
export const xlinkImporterFixture: ImporterFixture = {
  name: "xlink-gpu",
  description: "example plugin: GPU importer offering [XLINK, SGT(accepts P2P)], dynamic",
  modules: [xlinkModule],
  placeable: (t) => t.name !== "sriov",
  import(ctx, buffer): ImportedBuffer {
    const dev = ctx.topology.importerSlot;
    dev.driver = XLINK_DRIVER;
    const mem = ctx.kernel.platform.physmem;
    let sgt: SgTable | null = null;
    let link: XlinkRanges | null = null;
    const attachment = dmaBufMappingAttach(buffer.dmabuf, [dmaBufImappingXlink(dev), dmaBufImappingSgt(dev, true)], {
      allowPeer2peer: true,
      invalidateMappings(a) {
        if (sgt) dmaBufSgtUnmapAttachment(a, sgt, "DMA_BIDIRECTIONAL");
        if (link) (a.mapType!.expOps as XlinkExpOps).unmapXlink(a, link);
        sgt = null;
        link = null;
      },
    });
    const isXlink = attachment.mapType!.type === dmaBufMappingXlinkType;
    const locked = <T>(fn: () => T): T => {
      dmaResvLock(buffer.dmabuf.resv);
      try {
        return fn();
      } finally {
        dmaResvUnlock(buffer.dmabuf.resv);
      }
    };
    const linkAddr = (offset: bigint): bigint => link!.peer.bars[0]!.start + link!.ranges[0]!.offset + offset;
    // The harness's view; `mapped` goes through withGetters(), not a getter in this literal
    // (under V8 11 a literal with an accessor keeps the whole case alive through scavenges).
    const view: Omit<ImportedBuffer, "mapped"> = {
      attachment,
      map() {
        locked(() => {
          if (isXlink) link ??= (attachment.mapType!.expOps as XlinkExpOps).mapXlink(attachment);
          else sgt ??= dmaBufSgtMapAttachment(attachment, "DMA_BIDIRECTIONAL");
        });
      },
      route: () => (sgt ? (dmaBufSgtRoute(sgt) === "bus-addr" ? "BUS_ADDR" : dmaBufSgtRoute(sgt) ? "THRU_HOST_BRIDGE" : undefined) : undefined),
      dmaRead(offset, len) {
        if (link) return mem.read(linkAddr(offset), len);
        if (sgt) return sgtDmaRead(dev, sgt, offset, len);
        throw new KernelError("ENXIO", "xlink_dma_read", "not mapped");
      },
      dmaWrite(offset, data) {
        if (link) return mem.write(linkAddr(offset), data);
        if (sgt) return sgtDmaWrite(dev, sgt, offset, data);
        throw new KernelError("ENXIO", "xlink_dma_write", "not mapped");
      },
      unmap() {
        if (!sgt && !link) return;
        locked(() => {
          if (sgt) dmaBufSgtUnmapAttachment(attachment, sgt, "DMA_BIDIRECTIONAL");
          if (link) (attachment.mapType!.expOps as XlinkExpOps).unmapXlink(attachment, link);
        });
        sgt = null;
        link = null;
      },
      detach() {
        view.unmap();
        dmaBufDetach(buffer.dmabuf, attachment);
      },
    };
    return withGetters(view, { mapped: () => sgt !== null || link !== null });
  },
};

const P2P_WHY = "SGT_P2P needs an importer that accepts P2P and a P2P route (mapping-types §5.4); the route is the topology's pci_p2pdma_map_type";

/** The P2P route between the exporter and importer slots of each topology where the plugin is placed (DESIGN.md). */
const ROUTE = { "same-switch": "BUS_ADDR", "same-switch-acs": "THRU_HOST_BRIDGE", "cross-root": "THRU_HOST_BRIDGE", "iommu-off": "THRU_HOST_BRIDGE", "cross-root-no-p2p": null } as const;

/** Rows for a pair that ends on SGT_P2P: the route per topology; `noP2p` where the distance is negative. */
function p2pRows(exporter: string, importer: string, noP2p: ConformanceExpectation["expect"], why: string): ConformanceExpectation[] {
  return Object.entries(ROUTE).map(([topology, p2p]) => ({
    exporter,
    importer,
    topology: topology as keyof typeof ROUTE,
    expect: p2p ? { mapType: "SGT", p2p } : noP2p,
    why: p2p ? `${why}; ${P2P_WHY}` : `${why}; pci_p2pdma_distance() < 0, so SGT_P2P is skipped`,
  }));
}

const PAGES = "a page-backed exporter offering plain SGT; the Xlink importer's SGT entry matches, no P2P route applies";
const NO_PAL = "iommufd offers only [PAL] and the Xlink exporter offers [XLINK, SGT_P2P]: nothing matches, -EINVAL (mapping-types §3, §10.1)";

/** What this plugin expects of its cases, reviewed against the reference. */
const expectations: ConformanceExpectation[] = [
  { exporter: "xlink-gpu", importer: "xlink-gpu", topology: "*", expect: { mapType: "XLINK", p2p: null }, why: "both ends are Xlink devices: the exporter's first entry matches" },
  { exporter: "xlink-gpu", importer: "compat-static-importer", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: "dma_buf_attach() offers SGT(dev, NO_P2P); the exporter offers only XLINK and SGT_P2P: nothing matches (§3, §5.4)" },
  ...p2pRows("xlink-gpu", "compat-dynamic-importer", { errno: "EINVAL", step: "attach" }, "the RDMA-style importer accepts P2P"),
  ...p2pRows("xlink-gpu", "xe", { errno: "EINVAL", step: "attach" }, "Xe imports with [IOV, SGT(dev, ACCEPTS_P2P)]; IOV meets no IOV entry"),
  { exporter: "xlink-gpu", importer: "iommufd", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: NO_PAL },
  ...p2pRows("xlink-gpu", "nvme", { errno: "EINVAL", step: "attach" }, "nvme-pci registers a dma-buf with dma_buf_dynamic_attach(allow_peer2peer): SGT(dev, ACCEPTS_P2P); the registration fails with the attach errno"),
  { exporter: "compat-exporter", importer: "xlink-gpu", topology: "*", expect: { mapType: "SGT", p2p: null }, why: "the compat exporter offers plain SGT of system memory; the importer's SGT entry matches" },
  { exporter: "system-heap", importer: "xlink-gpu", topology: "*", expect: { mapType: "SGT", p2p: null }, why: PAGES },
  { exporter: "xe-system", importer: "xlink-gpu", topology: "*", expect: { mapType: "SGT", p2p: null }, why: PAGES },
  ...p2pRows("vfio-pci", "xlink-gpu", { errno: "EINVAL", step: "attach" }, "vfio-pci offers [PAL, SGT_P2P]; the Xlink importer has no PAL entry and accepts P2P"),
  ...p2pRows("xe-vram", "xlink-gpu", { mapType: "SGT", p2p: null }, "an Xe VRAM BO offers [SGT_P2P, SGT]: P2P where reachable, otherwise it migrates and plain SGT serves pages"),
  // The kvm columns (one per design of KVM mapping device MMIO, kvm-pfn.md): the Xlink exporter has no mmap and no get_pfn, and is not vfio's.
  { exporter: "xlink-gpu", importer: "kvm", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: "mainline KVM maps only what the VMM can mmap; the exporter has no mmap: dma_buf_mmap_internal() -EINVAL" },
  ...["kvm-yilun-v1", "kvm-yilun-v2"].map((importer): ConformanceExpectation => ({ exporter: "xlink-gpu", importer, topology: "*", expect: { errno: "ENOENT", step: "attach" }, why: "v1/v2 look up vfio_dma_buf_get_data with symbol_get; vfio is not loaded: -ENOENT" })),
  { exporter: "xlink-gpu", importer: "kvm-pfn-attachment", topology: "*", expect: { errno: "EOPNOTSUPP", step: "attach" }, why: "no get_pfn: the pfn access method is not offered" },
  { exporter: "xlink-gpu", importer: "kvm-maptype-pal-iommufd", topology: "*", expect: { errno: "EINVAL", step: "load" }, why: "dma_buf_pal_map_phys is for module iommufd only: the loader refuses the PAL-importing kvm" },
  { exporter: "xlink-gpu", importer: "kvm-maptype-pal-iommufd+kvm", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: "KVM offers only [PAL] and the exporter [XLINK, SGT_P2P]: nothing matches" },
];

/** What the plugin offers the conformance matrix. */
export const xlinkFixtures: ConformanceFixtures = {
  package: "@dmabuf-sdk-examples/plugin-xlink",
  exporters: [xlinkExporterFixture],
  importers: [xlinkImporterFixture],
  expectations,
};
