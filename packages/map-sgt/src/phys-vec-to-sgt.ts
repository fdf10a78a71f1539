// drivers/dma-buf/dma-buf-mapping.c: dma_buf_phys_vec_to_sgt() and dma_buf_free_sgt(), phys_vec ranges to a DMA-mapped SGT.
import {
  KernelWeakMap,
  DMA_ATTR_MMIO,
  KernelBug,
  KernelError,
  UINT_MAX,
  dmaIovaDestroy,
  dmaInfoToProt,
  dmaIovaLink,
  dmaIovaLinkSafe,
  dmaIovaState,
  dmaIovaSync,
  dmaIovaTryAlloc,
  dmaMapPhys,
  dmaMappingError,
  dmaResvAssertHeld,
  dmaUnmapPhys,
  dmaUseIova,
  pciP2pdmaMapType,
  type Device,
  type DmaBufAttachment,
  type DmaDataDirection,
  type DmaIovaState,
  type P2pdmaProvider,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufSgtDmaDevice } from "./sgt-mapping-type.js";
import { isPhysVecColumns, physVecAt, physVecColumnsCheck, physVecLength, type PhysVecInput } from "./phys-vec.js";
import { sgAllocTableFullyWritten, sgFreeTable, type SgTable } from "./scatterlist.js";

// The columnar fast path reads and writes u64 values as two u32 halves, low half first.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const TWO32 = 4294967296;


/** How a table from {@link dmaBufPhysVecToSgt} was mapped. @public */
export type DmaBufSgtRoute = "bus-addr" | "iova" | "per-range";

/** `struct dma_buf_dma`: what `dma_buf_free_sgt()` needs to undo the mapping. */
interface DmaBufDma {
  readonly dev: Device;
  readonly route: DmaBufSgtRoute;
  readonly state: DmaIovaState | null;
  readonly size: bigint;
  /** per-range route: each `dma_map_phys()` as it was made. */
  readonly ranges: { addr: bigint; len: bigint }[];
}

const DMA = new KernelWeakMap<SgTable, DmaBufDma>("DMA", (sgt) => sgt.kernel);
const UINT_MAX_N = BigInt(UINT_MAX);
const SAFE_N = 1n << 52n;
const SAFE_NUM = 2 ** 52;

/** Number of entries a range of `len` bytes takes when split at `UINT_MAX`. */
function entriesFor(len: bigint): number {
  return len <= UINT_MAX_N ? (len === 0n ? 0 : 1) : Number((len + UINT_MAX_N - 1n) / UINT_MAX_N);
}

/** `fill_sg_entry()`: `ceil(len / UINT_MAX)` entries at `addr`, `addr + UINT_MAX`, …; returns the next index. */
function fillSgEntry(sgt: SgTable, idx: number, length: bigint, addr: bigint): number {
  const a = sgt.dmaAddress;
  const l = sgt.dmaLength;
  if (length <= UINT_MAX_N) {
    if (length === 0n) return idx;
    a[idx] = addr;
    l[idx] = Number(length);
    return idx + 1;
  }
  let left = length;
  let k = 0n;
  while (left > 0n) {
    const len = left < UINT_MAX_N ? left : UINT_MAX_N;
    a[idx] = addr + k * UINT_MAX_N;
    l[idx] = Number(len);
    idx++;
    k++;
    left -= len;
  }
  return idx;
}

/**
 * Entries of `n` ranges whose lengths are all below 2^32 (one each, none
 * when empty), read from the u32 halves; -1 when a length needs the general
 * count (`DIV_ROUND_UP(len, UINT_MAX)`).
 */
function countEntriesHalves(lv: Uint32Array, n: number): number {
  let nents = 0;
  for (let i = 0; i < n; i++) {
    if (lv[2 * i + 1] !== 0) return -1;
    if (lv[2 * i] !== 0) nents++;
  }
  return nents;
}

/** {@link fillBusAddrHalves} of ranges `0..n` already known to take one entry each. */
function fillBusAddrHalvesAll(out: Uint32Array, l: Uint32Array, pv: Uint32Array, lv: Uint32Array, n: number, offLo: number, offHi: number): void {
  if (offLo === 0 && offHi === 0) {
    // No host-bridge translation (pci_bus_address() == the CPU address, as on x86): the DMA
    // addresses are the paddrs, one copy of the column.
    out.set(pv.subarray(0, 2 * n));
    for (let i = 0; i < n; i++) l[i] = lv[2 * i]!;
    return;
  }
  for (let i = 0; i < n; i++) {
    const i2 = 2 * i;
    const lo = pv[i2]! + offLo;
    out[i2] = lo;
    out[i2 + 1] = pv[i2 + 1]! + offHi + (lo >= TWO32 ? 1 : 0);
    l[i] = lv[i2]!;
  }
}

/**
 * The `BUS_ADDR` fill over u32 halves: from range `from`, one entry per
 * range of 1 to 2^32 - 1 bytes at `paddr + off` (a u64 add with carry,
 * wrapping at 2^64 as a u64 store does). Stops at the first other range;
 * returns how many ranges (= entries) it filled.
 */
function fillBusAddrHalves(out: Uint32Array, l: Uint32Array, idx: number, pv: Uint32Array, lv: Uint32Array, from: number, to: number, offLo: number, offHi: number): number {
  let i = from;
  let o = 2 * idx;
  for (; i < to; i++) {
    const i2 = 2 * i;
    const llo = lv[i2]!;
    if (lv[i2 + 1] !== 0 || llo === 0) break;
    const lo = pv[i2]! + offLo;
    out[o] = lo;
    out[o + 1] = pv[i2 + 1]! + offHi + (lo >= TWO32 ? 1 : 0);
    l[idx++] = llo;
    o += 2;
  }
  return i - from;
}

/**
 * `dma_buf_phys_vec_to_sgt(attach, provider, phys_vec, nr_ranges, size, dir)`:
 * maps MMIO ranges of `provider` for the attachment's SGT DMA device and
 * returns a page-less table (`orig_nents` 0, DMA list only). The caller
 * holds the resv lock (asserted). By `pci_p2pdma_map_type()`:
 * - `BUS_ADDR`: each range's DMA address is its bus address
 *   (`pci_p2pdma_bus_addr_map()`), no IOVA;
 * - `THRU_HOST_BRIDGE`: one IOVA range for `size` bytes with every range
 *   linked at its running offset, or — when no IOVA can be allocated
 *   (dma-direct, exhausted) — `dma_map_phys()` per range;
 * - anything else: `EINVAL`.
 * Ranges longer than `UINT_MAX` are split into `UINT_MAX`-byte entries.
 * @throws KernelError `EINVAL` (WARN: no dmabuf or provider; unsupported
 * route; no entries), `ENOMEM` (allocations, IOVA/page tables, a failed
 * per-range map). On failure nothing stays mapped or allocated.
 * @public
 */
export function dmaBufPhysVecToSgt(
  attach: DmaBufAttachment,
  provider: P2pdmaProvider | null,
  physVec: PhysVecInput,
  nrRanges: number,
  size: bigint,
  dir: DmaDataDirection,
): SgTable {
  if (!attach?.dmabuf) throw new KernelBug("oops", "BUG: kernel NULL pointer dereference in dma_buf_phys_vec_to_sgt");
  const k = attach.kernel;
  const cols = isPhysVecColumns(physVec) ? physVec : null;
  if (cols) physVecColumnsCheck(cols, "dma_buf_phys_vec_to_sgt");
  if (nrRanges > physVecLength(physVec)) throw new KernelBug("oops", `dma_buf_phys_vec_to_sgt: nr_ranges ${nrRanges} beyond the ${physVecLength(physVec)}-entry array`);
  // u32 views of the columns (fast paths); null for the object form or a big-endian host.
  const pv = cols && LITTLE_ENDIAN ? new Uint32Array(cols.paddr.buffer, cols.paddr.byteOffset, 2 * cols.paddr.length) : null;
  const lv = cols && LITTLE_ENDIAN ? new Uint32Array(cols.len.buffer, cols.len.byteOffset, 2 * cols.len.length) : null;
  dmaResvAssertHeld(attach.dmabuf.resv, "dma_buf_phys_vec_to_sgt");
  if (!provider) {
    k.warn("dma_buf_phys_vec_to_sgt: no p2pdma provider (MMIO only)");
    throw new KernelError("EINVAL", "dma_buf_phys_vec_to_sgt", "no provider");
  }
  k.alloc.kzalloc("dma_buf_dma");
  const dev = dmaBufSgtDmaDevice(attach);
  const mapType = dev ? pciP2pdmaMapType(provider, dev, k.printk) : "PCI_P2PDMA_MAP_NOT_SUPPORTED";
  let state: DmaIovaState | null = null;
  switch (mapType) {
    case "PCI_P2PDMA_MAP_BUS_ADDR":
      break;
    case "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE":
      k.alloc.kzalloc("dma_iova_state");
      state = dmaIovaState();
      dmaIovaTryAlloc(dev!, state, 0n, size);
      break;
    default:
      throw new KernelError("EINVAL", "dma_buf_phys_vec_to_sgt", `${dev?.name ?? "no SGT device"}: P2P ${mapType}`);
  }
  const useIova = state !== null && dmaUseIova(state);
  const route: DmaBufSgtRoute = state === null ? "bus-addr" : useIova ? "iova" : "per-range";

  let nents = 0;
  // Every length is in 1..2^32-1 (one entry a range). Not the same as
  // nents === nrRanges: an empty range and a split one can cancel out.
  let oneEntryEach = false;
  if (useIova) nents = entriesFor(size);
  else if (lv) {
    nents = countEntriesHalves(lv, nrRanges);
    oneEntryEach = nents === nrRanges;
    if (nents < 0) {
      nents = 0;
      for (let i = 0; i < nrRanges; i++) nents += entriesFor(cols!.len[i]!);
    }
  } else for (let i = 0; i < nrRanges; i++) nents += entriesFor(physVecAt(physVec, i).len);

  let sgt: SgTable;
  try {
    sgt = sgAllocTableFullyWritten(k, nents);
  } catch (e) {
    // The posted err_free_state path only kfree()s the state, leaking the IOVA range.
    if (useIova) dmaIovaDestroy(dev!, state!, 0n, dir, DMA_ATTR_MMIO);
    throw e;
  }

  const ranges: { addr: bigint; len: bigint }[] = [];
  let mappedLen = 0n;
  let fastLen = 0; // bytes linked by the number path, not yet in mappedLen
  let idx = 0;
  try {
    if (route === "bus-addr" && pv && lv) {
      // Columnar hot path: u64 adds as two u32 halves with a carry (wrapping
      // at 2^64 as the bigint store does), no bigint per range.
      const off = BigInt.asUintN(64, provider.busOffset);
      const offLo = Number(off & 0xffff_ffffn);
      const offHi = Number(off >> 32n);
      const out = new Uint32Array(sgt.dmaAddress.buffer, sgt.dmaAddress.byteOffset, 2 * sgt.capacity);
      let i = 0;
      if (oneEntryEach) {
        // The count saw every length in 1..2^32-1: one entry per range, no checks left.
        fillBusAddrHalvesAll(out, sgt.dmaLength, pv, lv, nrRanges, offLo, offHi);
        idx = i = nrRanges;
      }
      while (i < nrRanges) {
        const done = fillBusAddrHalves(out, sgt.dmaLength, idx, pv, lv, i, nrRanges, offLo, offHi);
        idx += done;
        i += done;
        // A range of 0 or >= 2^32 bytes: the general fill.
        if (i < nrRanges) idx = fillSgEntry(sgt, idx, cols!.len[i]!, cols!.paddr[i]! + provider.busOffset);
        i++;
      }
    } else if (route === "bus-addr") {
      // Hot path: a bigint add and two stores per range that fits one entry
      // (cheaper than converting the bigints to numbers).
      const off = provider.busOffset;
      const a = sgt.dmaAddress;
      const l = sgt.dmaLength;
      const vec = physVec as readonly { paddr: bigint; len: bigint }[];
      for (let i = 0; i < nrRanges; i++) {
        const v = vec[i]!;
        const len = v.len;
        if (len <= UINT_MAX_N && len !== 0n) {
          a[idx] = v.paddr + off;
          l[idx++] = Number(len);
        } else idx = fillSgEntry(sgt, idx, len, v.paddr + off);
      }
    } else if (route === "iova") {
      // The posted code links every range at offset 0 (a defect); each range goes after the previous one.
      const prot = dmaInfoToProt(dir, true, DMA_ATTR_MMIO);
      let i = 0;
      if (size < SAFE_N && state!.addr < SAFE_N) {
        // Number path while every value is below 2^52 (sums stay exact); a
        // bigint beyond converts to a number that is still >= 2^52.
        for (; i < nrRanges; i++) {
          let paddr: number;
          let len: number;
          if (pv && lv) {
            paddr = pv[2 * i + 1]! * TWO32 + pv[2 * i]!;
            len = lv[2 * i + 1]! * TWO32 + lv[2 * i]!;
          } else {
            const v = physVecAt(physVec, i);
            paddr = Number(v.paddr);
            len = Number(v.len);
          }
          if (paddr >= SAFE_NUM || len >= SAFE_NUM || fastLen >= SAFE_NUM) break;
          dmaIovaLinkSafe(dev!, state!, paddr, fastLen, len, prot);
          fastLen += len;
        }
        mappedLen = BigInt(fastLen);
        fastLen = 0;
      }
      for (; i < nrRanges; i++) {
        const v = physVecAt(physVec, i);
        dmaIovaLink(dev!, state!, v.paddr, mappedLen, v.len, dir, DMA_ATTR_MMIO);
        mappedLen += v.len;
      }
      if (mappedLen !== size) k.warnOnce("dma_buf_phys_vec_to_sgt:size", `dma_buf_phys_vec_to_sgt: ranges add up to ${mappedLen}, size is ${size}`);
      dmaIovaSync(dev!, state!, 0n, mappedLen);
      idx = fillSgEntry(sgt, idx, mappedLen, state!.addr);
    } else {
      for (let i = 0; i < nrRanges; i++) {
        const v = physVecAt(physVec, i);
        const addr = dmaMapPhys(dev!, v.paddr, v.len, dir, DMA_ATTR_MMIO);
        if (dmaMappingError(dev!, addr)) throw new KernelError("ENOMEM", "dma_buf_phys_vec_to_sgt", `dma_map_phys of range ${i} failed`);
        ranges.push({ addr, len: v.len });
        idx = fillSgEntry(sgt, idx, v.len, addr);
      }
    }
  } catch (e) {
    // err_unmap_dma: undo exactly what was mapped (the posted code unmaps every
    // table entry, including unfilled zero ones, and a split range by entry).
    if (route === "iova") dmaIovaDestroy(dev!, state!, mappedLen + BigInt(fastLen), dir, DMA_ATTR_MMIO);
    else for (const r of ranges) dmaUnmapPhys(dev!, r.addr, r.len, dir, DMA_ATTR_MMIO);
    sgFreeTable(sgt);
    throw e;
  }
  if (idx !== nents) k.warnOnce("dma_buf_phys_vec_to_sgt:nents", `dma_buf_phys_vec_to_sgt: filled ${idx} of ${nents} entries`);
  sgt.origNents = 0; // no CPU list: importers use nents only
  DMA.set(sgt, { dev: dev!, route, state, size, ranges });
  return sgt;
}

/**
 * `dma_buf_free_sgt(attach, sgt, dir)`: undoes {@link dmaBufPhysVecToSgt}
 * (resv held, asserted): destroys the IOVA range, or unmaps each range that
 * was mapped, then frees the table.
 * @public
 */
export function dmaBufFreeSgt(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): void {
  const dma = DMA.get(sgt);
  dmaResvAssertHeld(attach.dmabuf!.resv, "dma_buf_free_sgt");
  if (!dma) {
    attach.kernel.warn("dma_buf_free_sgt: table did not come from dma_buf_phys_vec_to_sgt");
    return;
  }
  DMA.delete(sgt);
  if (dma.route === "iova") dmaIovaDestroy(dma.dev, dma.state!, dma.size, dir, DMA_ATTR_MMIO);
  else if (dma.route === "per-range") for (const r of dma.ranges) dmaUnmapPhys(dma.dev, r.addr, r.len, dir, DMA_ATTR_MMIO);
  sgFreeTable(sgt);
}

/** How a table from {@link dmaBufPhysVecToSgt} was mapped, or undefined for other tables. @public */
export function dmaBufSgtRoute(sgt: SgTable): DmaBufSgtRoute | undefined {
  return DMA.get(sgt)?.route;
}
