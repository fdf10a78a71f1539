// Test kit of xe: an exporter on a VF in the shape of vfio-pci's VFIO_DEVICE_FEATURE_DMA_BUF of a VF BAR: [IOV(vf, bar), SGT_P2P(vf)], revocable.
import {
  KernelError,
  O_RDWR,
  dmaBufAttachRevocable,
  dmaBufExport,
  dmaBufInvalidateMappings,
  dmaBufMatchMapping,
  dmaBufPut,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvUnlock,
  pcimP2pdmaInit,
  pcimP2pdmaProvider,
  type DmaBuf,
  type DmaBufMappingMatch,
  type ExportedBuffer,
  type ExporterFixture,
  type Kernel,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufEmappingIov, dmaBufIovAllocRanges, dmaBufIovFreeRanges, type DmaBufIovPhys, type DmaBufMappingIovExpOps } from "@dmabuf-sdk/map-iov";
import { dmaBufEmappingSgtP2p, dmaBufFreeSgt, dmaBufPhysVecToSgt, type DmaBufMappingSgtExpOps, type PhysVec } from "@dmabuf-sdk/map-sgt";

/** @public */
export interface VfExporterPriv {
  readonly vf: PciDev;
  readonly bar: number;
  readonly physVec: PhysVec[];
  readonly size: bigint;
  revoked: boolean;
  /** What `map_ranges` hands out instead of the real ranges (a malicious or buggy VF/VMM). */
  iovPhys: DmaBufIovPhys[] | null;
  log: string[];
  /** Mappings handed out and not given back. */
  outstanding: number;
}

/** @public */
export interface VfExportOptions {
  readonly bar?: number;
  /** BAR offsets and lengths (page aligned). */
  readonly ranges: readonly { offset: bigint; len: bigint }[];
  readonly offers?: readonly ("IOV" | "SGT_P2P")[];
  readonly iovPhys?: DmaBufIovPhys[];
}

/** Exports ranges of a VF BAR as vfio-pci would once it offers IOV: [IOV(vf, bar), SGT_P2P(vf)]. @public */
export function vfExport(kernel: Kernel, vf: PciDev, opts: VfExportOptions): DmaBuf<VfExporterPriv> {
  const bar = opts.bar ?? 2;
  const start = vf.bars[bar]!.start;
  pcimP2pdmaInit(kernel.alloc, vf);
  const provider = pcimP2pdmaProvider(vf, bar);
  const physVec = opts.ranges.map((r) => ({ paddr: start + r.offset, len: r.len }));
  const size = physVec.reduce((a, r) => a + r.len, 0n);
  const priv: VfExporterPriv = { vf, bar, physVec, size, revoked: false, iovPhys: opts.iovPhys ?? null, log: [], outstanding: 0 };
  const sgtOps: DmaBufMappingSgtExpOps = {
    mapDmaBuf(attach, dir) {
      priv.log.push("map_dma_buf");
      if (priv.revoked) throw new KernelError("ENODEV", "vf_test_map_dma_buf", "revoked");
      const sgt = dmaBufPhysVecToSgt(attach, provider, physVec, physVec.length, size, dir);
      priv.outstanding++;
      return sgt;
    },
    unmapDmaBuf(attach, sgt, dir) {
      priv.log.push("unmap_dma_buf");
      dmaBufFreeSgt(attach, sgt, dir);
      priv.outstanding--;
    },
  };
  const iovOps: DmaBufMappingIovExpOps = {
    mapRanges(attach) {
      priv.log.push("map_ranges");
      dmaResvAssertHeld(attach.dmabuf!.resv, "vf_test_map_ranges");
      if (priv.revoked) throw new KernelError("ENODEV", "vf_test_map_ranges", "revoked");
      const r = dmaBufIovAllocRanges(attach.kernel, bar, priv.iovPhys ?? physVec);
      priv.outstanding++;
      return r;
    },
    unmapRanges(attach, r) {
      priv.log.push("unmap_ranges");
      dmaBufIovFreeRanges(attach.kernel, r);
      priv.outstanding--;
    },
  };
  const offers = opts.offers ?? ["IOV", "SGT_P2P"];
  const entries = (): DmaBufMappingMatch[] => offers.map((o) => (o === "IOV" ? dmaBufEmappingIov(iovOps, vf, bar) : dmaBufEmappingSgtP2p(sgtOps, vf)));
  return dmaBufExport<VfExporterPriv>(kernel, {
    owner: kernel.modules.vmlinux,
    expName: "vf_test_exporter",
    ops: {
      matchMapping: (args) => dmaBufMatchMapping(args, entries()),
      attach(dmabuf, attach) {
        if (dmabuf.priv.revoked) throw new KernelError("ENODEV", "vf_test_attach", "revoked");
        if (!dmaBufAttachRevocable(attach)) throw new KernelError("EOPNOTSUPP", "vf_test_attach", "importer is not revocable");
      },
      release: () => undefined,
    },
    size,
    flags: O_RDWR,
    priv,
  });
}

/** Revokes (or restores) the buffer: importers are told under the resv lock, maps fail with ENODEV meanwhile. @public */
export function vfRevoke(dmabuf: DmaBuf<VfExporterPriv>, revoked: boolean): void {
  dmaResvLock(dmabuf.resv);
  try {
    dmabuf.priv.revoked = revoked;
    dmaBufInvalidateMappings(dmabuf);
  } finally {
    dmaResvUnlock(dmabuf.resv);
  }
}

/**
 * The test exporter as a conformance fixture on the `sriov` exporter slot
 * (VF 0, LMEM BAR): what vfio-pci on a VF will look like once it offers IOV.
 * `invalidate()` is a revoke (maps fail with ENODEV until `restore()`).
 * @public
 */
export const vfExporterFixture: ExporterFixture = {
  name: "vf-test",
  description: "test-only VF exporter offering [IOV(vf, LMEM BAR), SGT_P2P(vf)], revocable",
  modules: [],
  placeable: (t) => t.name === "sriov",
  export(ctx, size): ExportedBuffer {
    const vf = ctx.topology.exporterSlot;
    const start = vf.bars[2]!.start;
    const dmabuf = vfExport(ctx.kernel, vf, { ranges: [{ offset: 0x10_0000n, len: size }] });
    const mem = ctx.kernel.platform.physmem;
    return {
      dmabuf,
      write: (offset, data) => mem.write(start + 0x10_0000n + offset, data),
      read: (offset, len) => mem.read(start + 0x10_0000n + offset, len),
      invalidate: () => (vfRevoke(dmabuf, true), { kind: "revoke", remap: "ENODEV" }),
      restore: () => vfRevoke(dmabuf, false),
      release: () => dmaBufPut(dmabuf),
    };
  },
};
