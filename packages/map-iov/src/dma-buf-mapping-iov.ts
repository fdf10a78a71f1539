// The IOV mapping type (dma_buf_mapping_iov): struct range lists of the exporter's BAR, and its match.
import {
  KernelError,
  U64_LIMIT,
  hex,
  pciPhysfn,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufMappingExpOps,
  type DmaBufMappingMatch,
  type DmaBufMappingType,
  type DmaBufMatchArgs,
  type Kernel,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";

/**
 * `struct range` (include/linux/range.h): one range of CPU physical
 * addresses inside the exported BAR, with an **inclusive** `end`, as the
 * IOV interconnect of RFC v2 hands them out. Use {@link rangeLen} for its
 * length.
 * @public
 */
export interface DmaBufIovRange {
  /** First byte (CPU physical address inside the VF's BAR). */
  readonly start: bigint;
  /** Last byte, inclusive (`start + len - 1`). */
  readonly end: bigint;
}

/** `range_len()`: the number of bytes of an inclusive range. @public */
export function rangeLen(r: DmaBufIovRange): bigint {
  return r.end - r.start + 1n;
}

/**
 * What the exporter's `mapRanges` returns: the typed list Jason Gunthorpe asked
 * for in review ("`map(attach, unsigned int *bar_number, size_t *nelms)`
 * returning a typed array"), instead of RFC v2's xarray of untyped entries.
 * The exporter allocates it ({@link dmaBufIovAllocRanges}) and frees it in
 * its `unmapRanges`.
 * @public
 */
export interface DmaBufIovRanges {
  /** The BAR every range lies in (`*bar_number`): the BAR that was matched. */
  readonly barNumber: number;
  /** Number of ranges (`*nelms`). */
  readonly nranges: number;
  /** The ranges, in buffer order: byte 0 of the buffer is `ranges[0].start`. */
  readonly ranges: readonly DmaBufIovRange[];
}

/**
 * IOV match data (the type's member of the `dma_buf_mapping_match` union):
 * the device and BAR of one side. An exporter entry names the VF and the BAR
 * it exports; an importer entry names the PF and the BAR it can translate
 * (Xe: `LMEM_BAR`). The negotiated result keeps the exporter's pair.
 * @public
 */
export interface DmaBufIovData {
  /** Exporter: the VF whose BAR is exported. Importer: the PF that imports. */
  readonly dev: PciDev;
  /** The BAR index (`region_index` on the exporter side, `LMEM_BAR` on the Xe side). */
  readonly bar: number;
}

/** An IOV candidate or the negotiated IOV result. @public */
export type DmaBufIovMatch = DmaBufMappingMatch<DmaBufIovData>;

/**
 * `struct dma_buf_mapping_iov_exp_ops`: the exporter's IOV functions, reached
 * through `attach.mapType.expOps` once IOV was negotiated.
 * @public
 */
export interface DmaBufMappingIovExpOps extends DmaBufMappingExpOps {
  /**
   * `map_ranges`: called by `dmaBufIovMapRanges()` with the resv lock held,
   * for a dynamic importer. Returns the CPU physical ranges of the buffer
   * inside the matched BAR ({@link DmaBufIovRanges.barNumber} must be that
   * BAR), which the importer may use until it calls `unmapRanges` or until an
   * invalidation, after which it must give them back in bounded time. Throw a
   * `KernelError` to refuse (`ENOMEM`, `ENODEV` when revoked).
   */
  mapRanges(attach: DmaBufAttachment): DmaBufIovRanges;
  /**
   * `unmap_ranges`: called by `dmaBufIovUnmapRanges()` with the resv lock
   * held; gives the list back (the exporter frees it).
   */
  unmapRanges(attach: DmaBufAttachment, ranges: DmaBufIovRanges): void;
}

function iovData(m: DmaBufMappingMatch): DmaBufIovData | undefined {
  return m.data as DmaBufIovData | undefined;
}

/**
 * `dma_buf_mapping_iov_type`: the virtual link between an SR-IOV physical
 * function and its virtual functions (RFC v2's `iov_interconnect`, as a
 * mapping type). Its `match` accepts only when the importer's device is the
 * physical function of the exporting VF (`pci_physfn()`) and both name the
 * same BAR; anything else is "not compatible, try the next entry"
 * (`-EOPNOTSUPP`), so an SGT entry later in either list still works. Unlike
 * the posted `vfio_pci_match_interconnect()`, an exporter entry on a function
 * that is not a VF never matches (`pci_physfn()` of a PF is the PF itself, so
 * the posted rule would pair a PF with itself). `finish_match` records the
 * exporter's VF and BAR.
 * @public
 */
export const dmaBufMappingIovType: DmaBufMappingType<DmaBufIovData> = {
  name: "IOV Interconnect",
  shortName: "IOV",
  match(dmabuf: DmaBuf, exp: DmaBufIovMatch, imp: DmaBufIovMatch): boolean {
    const e = iovData(exp);
    const i = iovData(imp);
    if (!e || !i) {
      dmabuf.kernel.warn("dma_buf_iov_match: IOV entry without a device and BAR");
      return false;
    }
    if (!e.dev.isVirtfn) return false;
    return i.dev === pciPhysfn(e.dev) && i.bar === e.bar;
  },
  finishMatch(args: DmaBufMatchArgs, exp: DmaBufIovMatch): void {
    if (!args.attach) return;
    const e = iovData(exp)!;
    const data: DmaBufIovData = { dev: e.dev, bar: e.bar };
    args.attach.mapType = { type: dmaBufMappingIovType, expOps: exp.expOps, data } as DmaBufMappingMatch;
  },
  debugfsDump(attach: DmaBufAttachment): string {
    const d = iovData(attach.mapType!)!;
    return ` ${d.dev.name} BAR${d.bar}`;
  },
};

/**
 * `DMA_BUF_IMAPPING_IOV(pf_dev, bar)`: an importer entry. `pf` is the
 * physical function that will translate the VF's BAR addresses, `bar` the BAR
 * it knows how to translate (Xe: `LMEM_BAR`).
 * @public
 */
export function dmaBufImappingIov(pf: PciDev, bar: number): DmaBufMappingMatch {
  const data: DmaBufIovData = { dev: pf, bar };
  return { type: dmaBufMappingIovType, data } as DmaBufMappingMatch;
}

/**
 * `DMA_BUF_EMAPPING_IOV(exp_ops, vf_dev, bar)`: an exporter entry for BAR
 * `bar` of the VF `vf` (vfio-pci: `region_index` of the export request).
 * @public
 */
export function dmaBufEmappingIov(expOps: DmaBufMappingIovExpOps, vf: PciDev, bar: number): DmaBufMappingMatch {
  const data: DmaBufIovData = { dev: vf, bar };
  return { type: dmaBufMappingIovType, expOps, data } as DmaBufMappingMatch;
}

/** True when the attachment negotiated IOV. @public */
export function dmaBufAttachmentIsIov(attach: DmaBufAttachment | null): boolean {
  return !!attach && attach.mapType?.type === (dmaBufMappingIovType as DmaBufMappingType);
}

/**
 * The negotiated IOV pair of an attachment: the exporting VF and its BAR
 * (what RFC v2 kept in `attach->ic_match`), or null for a non-IOV attachment.
 * The importer needs the VF for its same-VF check.
 * @public
 */
export function dmaBufIovMatchData(attach: DmaBufAttachment | null): DmaBufIovData | null {
  return dmaBufAttachmentIsIov(attach) ? (iovData(attach!.mapType!) ?? null) : null;
}

/** `dma_buf_get_iov_ops()`: the exporter's IOV ops of an IOV attachment, else null. @public */
export function dmaBufGetIovOps(attach: DmaBufAttachment | null): DmaBufMappingIovExpOps | null {
  return dmaBufAttachmentIsIov(attach) ? ((attach!.mapType!.expOps as DmaBufMappingIovExpOps | undefined) ?? null) : null;
}

/** A CPU physical range as an exporter keeps it (`struct phys_vec`). @public */
export interface DmaBufIovPhys {
  /** CPU physical address of the first byte. */
  readonly paddr: bigint;
  /** Length in bytes. */
  readonly len: bigint;
}

/**
 * For exporters: allocates the list their `mapRanges` returns
 * (`kvmalloc_array()` of `struct range`, injectable site `kvmalloc`), one
 * inclusive range per physical range, `[paddr, paddr + len - 1]`. The list is
 * tracked until {@link dmaBufIovFreeRanges}, so a list never given back shows
 * in `kernel.leakReport()`.
 * @throws KernelError `EINVAL` for an empty list or a zero-length range,
 * `EOVERFLOW` for a range that wraps 2^64, `ENOMEM`.
 * @public
 */
export function dmaBufIovAllocRanges(kernel: Kernel, barNumber: number, phys: readonly DmaBufIovPhys[]): DmaBufIovRanges {
  if (phys.length === 0) throw new KernelError("EINVAL", "dma_buf_iov_alloc_ranges", "no ranges");
  for (const p of phys) {
    if (p.len === 0n) throw new KernelError("EINVAL", "dma_buf_iov_alloc_ranges", `empty range at ${hex(p.paddr)}`);
    if (p.paddr + p.len > U64_LIMIT) throw new KernelError("EOVERFLOW", "dma_buf_iov_alloc_ranges", `${hex(p.paddr)}+${hex(p.len)} wraps 2^64`);
  }
  kernel.alloc.kvmalloc("dma_buf_iov_ranges");
  const ranges: DmaBufIovRanges = {
    barNumber,
    nranges: phys.length,
    ranges: phys.map((p) => ({ start: p.paddr, end: p.paddr + p.len - 1n })),
  };
  kernel.objects.track("dma_buf_iov_ranges", ranges, () => `IOV ranges: ${ranges.nranges} range(s) of BAR${barNumber} from ${hex(ranges.ranges[0]!.start)}`);
  return ranges;
}

/** For exporters: frees a list from {@link dmaBufIovAllocRanges} (`kvfree()`); a second free WARNs. @public */
export function dmaBufIovFreeRanges(kernel: Kernel, ranges: DmaBufIovRanges): void {
  if (!kernel.objects.untrack(ranges)) kernel.warn("dma_buf_iov_free_ranges: list not allocated or already freed");
}
