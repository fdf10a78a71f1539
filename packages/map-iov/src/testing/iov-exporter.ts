// Test kit of map-iov: an IOV exporter on a VF exporting ranges of one BAR, offering IOV first and whatever else the test adds.
import { KernelError, O_RDWR, dmaBufExport, dmaBufMatchMapping, type DmaBuf, type DmaBufMappingMatch, type Errno, type Kernel, type PciDev } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufEmappingIov, dmaBufIovAllocRanges, dmaBufIovFreeRanges, type DmaBufIovRanges, type DmaBufMappingIovExpOps } from "../index.js";

/** @public */
export interface IovExporterPriv {
  readonly vf: PciDev;
  readonly bar: number;
  /** What `mapRanges` returns: BAR offsets and lengths. */
  ranges: { offset: bigint; len: bigint }[];
  /** Make `mapRanges` fail with this errno. */
  failMap?: Errno;
  /** Make `mapRanges` claim this BAR number (a buggy exporter). */
  lieBar?: number;
  log: string[];
  outstanding: number;
}

/** @public */
export interface IovExporterOptions {
  /** Entries offered after IOV, in order. */
  readonly after?: readonly DmaBufMappingMatch[];
  /** Offer IOV for this device instead of `vf` (e.g. a PF). */
  readonly entryDev?: PciDev;
  readonly entryBar?: number;
}

/** Exports `ranges` of BAR `bar` of `vf`, offering [IOV(vf, bar), ...after]. @public */
export function iovExporter(kernel: Kernel, vf: PciDev, bar: number, ranges: { offset: bigint; len: bigint }[], opts: IovExporterOptions = {}): DmaBuf<IovExporterPriv> {
  const priv: IovExporterPriv = { vf, bar, ranges, log: [], outstanding: 0 };
  const ops: DmaBufMappingIovExpOps = {
    mapRanges(attach): DmaBufIovRanges {
      priv.log.push("map");
      if (priv.failMap) throw new KernelError(priv.failMap, "test_iov_map_ranges");
      const start = vf.bars[bar]!.start;
      const r = dmaBufIovAllocRanges(attach.kernel, priv.lieBar ?? bar, priv.ranges.map((x) => ({ paddr: start + x.offset, len: x.len })));
      priv.outstanding++;
      return r;
    },
    unmapRanges(attach, r) {
      priv.log.push("unmap");
      priv.outstanding--;
      dmaBufIovFreeRanges(attach.kernel, r);
    },
  };
  const size = ranges.reduce((a, r) => a + r.len, 0n);
  return dmaBufExport<IovExporterPriv>(kernel, {
    owner: kernel.modules.vmlinux,
    expName: "test_iov_exporter",
    ops: {
      matchMapping: (args) => dmaBufMatchMapping(args, [dmaBufEmappingIov(ops, opts.entryDev ?? vf, opts.entryBar ?? bar), ...(opts.after ?? [])]),
      release: () => undefined,
    },
    size,
    flags: O_RDWR,
    priv,
  });
}
