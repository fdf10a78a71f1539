// The DMA engine of a device: page-by-page routing through P2P windows, the IOMMU and the host bridge.
import { KernelError } from "../kernel/kernel-error.js";
import type { Device } from "./device.js";
import { IOMMU_READ, IOMMU_WRITE, type IoPageTable } from "./io-pgtable.js";
import type { PhysRegion } from "./phys-mem.js";
import { PAGE_SIZE, U64_LIMIT, hex } from "./page.js";
import { PciDev, findParentPciDev, pciBarDecodes, pciBusAddress, type PciBar } from "./pci.js";
import { calcMapTypeAndDist, pciHostBridgeRoutesP2p } from "./p2pdma.js";

/** Why a DMA transaction failed. @public */
export type DmaFaultReason =
  | "iommu-not-present" // no IOPTE for the address
  | "iommu-read" // IOPTE without read permission
  | "iommu-write" // IOPTE without write permission
  | "iommu-blocked" // device attached to a blocking domain
  | "unsupported-request" // nothing decodes the address (master abort)
  | "p2p-host-bridge" // a peer BAR the root complex will not forward to
  | "address-overflow"; // the request runs past 2^64

/**
 * A failed DMA: what the IOMMU reports as a fault or the fabric as an
 * Unsupported Request. Carries errno `EIO`, what a driver would see.
 * @public
 */
export class DmaFault extends KernelError {
  constructor(
    readonly dev: Device,
    readonly addr: bigint,
    readonly write: boolean,
    readonly reason: DmaFaultReason,
  ) {
    super("EIO", write ? "dma_write" : "dma_read", `${dev.name} ${reason} at ${hex(addr)}`);
  }
}

const VTD_REASON: Partial<Record<DmaFaultReason, string>> = {
  "iommu-not-present": "[fault reason 0x06] PTE Read access is not set",
  "iommu-read": "[fault reason 0x06] PTE Read access is not set",
  "iommu-write": "[fault reason 0x05] PTE Write access is not set",
  "iommu-blocked": "[fault reason 0x02] Present bit in context entry is clear",
};

interface Window {
  readonly lo: number;
  readonly hi: number; // exclusive page numbers of the bus range
  readonly bar: PciBar;
}

/**
 * Peer BAR windows the requester reaches directly (the switch routes the TLP
 * without going upstream): those whose owner is at map type `BUS_ADDR`.
 */
function directWindows(dev: Device): Window[] {
  const requester = findParentPciDev(dev);
  if (!requester) return [];
  const out: Window[] = [];
  for (const peer of dev.kernel.platform.pciDevices()) {
    if (peer.bars.every((b) => !b || b.type !== "mem")) continue;
    if (calcMapTypeAndDist(peer, requester).mapType !== "PCI_P2PDMA_MAP_BUS_ADDR") continue;
    for (const b of peer.bars) {
      if (!b || b.type !== "mem") continue;
      const bus = pciBusAddress(b);
      out.push({ lo: Number(bus >> 12n), hi: Number((bus + b.size) >> 12n), bar: b });
    }
  }
  return out;
}

function fault(dev: Device, addr: bigint, write: boolean, reason: DmaFaultReason): never {
  const k = dev.kernel;
  const bdf = dev instanceof PciDev ? dev.name.slice(5) : dev.name;
  const vtd = VTD_REASON[reason];
  if (vtd) k.printk.err(`DMAR: [DMA ${write ? "Write" : "Read"} NO_PASID] Request device [${bdf}] fault addr ${hex(addr)} ${vtd}`);
  else k.printk.err(`${dev.name}: DMA ${write ? "write" : "read"} at ${hex(addr)}: ${reason}`);
  k.trace.emit("io_page_fault", { device: dev.name, iova: addr, write, reason });
  throw new DmaFault(dev, addr, write, reason);
}

/** What one DMA transaction resolves once: the requester's windows, its IOMMU domain, the last RAM/MMIO region checked. */
interface Route {
  readonly dev: Device;
  readonly windows: Window[];
  readonly write: boolean;
  /** `IOMMU_READ` or `IOMMU_WRITE`. */
  readonly need: number;
  readonly blocked: boolean;
  readonly pgtable: IoPageTable | undefined;
  /** The region whose routing checks passed in this transaction (they cannot change within it). */
  region: PhysRegion | undefined;
}

function route(dev: Device, write: boolean): Route {
  const domain = dev.iommuGroup?.domain;
  return {
    dev,
    windows: directWindows(dev),
    write,
    need: write ? IOMMU_WRITE : IOMMU_READ,
    blocked: domain?.type === "IOMMU_DOMAIN_BLOCKED",
    pgtable: domain?.pgtable,
    region: undefined,
  };
}

const at = (pfn: number, off: number): bigint => (BigInt(pfn) << 12n) + BigInt(off);

/**
 * Resolves one page of a DMA from `dev` at bus/DMA page `pfn` to the bytes it
 * reaches: a direct P2P window, else upstream through the IOMMU (or the
 * identity, or no IOMMU), then RAM or an MMIO BAR behind the host bridge.
 */
function routePage(r: Route, pfn: number, off: number): Uint8Array {
  const { dev, write } = r;
  const windows = r.windows;
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i]!;
    if (pfn >= w.lo && pfn < w.hi) {
      if (!pciBarDecodes(w.bar)) fault(dev, at(pfn, off), write, "unsupported-request");
      const page = w.bar.backing.page(pfn - w.lo, write);
      if (!page) fault(dev, at(pfn, off), write, "unsupported-request");
      return page;
    }
  }
  let physPfn = pfn;
  if (r.blocked) fault(dev, at(pfn, off), write, "iommu-blocked");
  const pt = r.pgtable;
  if (pt) {
    // One walk for presence and permission.
    physPfn = pt.translate(pfn, r.need);
    if (physPfn === -1) fault(dev, at(pfn, off), write, "iommu-not-present");
    if (physPfn === -2) fault(dev, at(pfn, off), write, write ? "iommu-write" : "iommu-read");
  }
  let region = r.region;
  if (!region || physPfn < region.startPfn || physPfn >= region.endPfn) {
    region = dev.kernel.platform.physmem.regionAt(physPfn);
    if (!region) fault(dev, at(pfn, off), write, "unsupported-request");
    if (region.kind === "mmio") {
      const bar = region.owner as PciBar | undefined;
      const requester = findParentPciDev(dev);
      if (bar && requester && bar.dev !== requester && !pciHostBridgeRoutesP2p(bar.dev, requester)) fault(dev, at(pfn, off), write, "p2p-host-bridge");
      if (!region.decodes()) fault(dev, at(pfn, off), write, "unsupported-request");
    }
    r.region = region;
  }
  const page = region.backing.page(physPfn - region.startPfn, write);
  if (!page) fault(dev, at(pfn, off), write, "unsupported-request");
  return page;
}

const LAST_PFN = Number((U64_LIMIT - 1n) >> 12n);

/**
 * Copies between the DMA address space and `buf` page by page (read: into
 * `buf`; write: from it). Whole pages that lie in order in one backing
 * buffer (a `SparseMemory` chunk) are copied as one run; a fault
 * copies the run so far first, so what reached memory before it is the same.
 */
function transfer(dev: Device, addr: bigint, buf: Uint8Array, write: boolean): void {
  if (addr < 0n || addr >= U64_LIMIT) fault(dev, addr, write, "address-overflow");
  const r = route(dev, write);
  const len = buf.length;
  let pfn = Number(addr >> 12n);
  let off = Number(addr & 0xfffn);
  let pos = 0;
  let runBuf: ArrayBufferLike | undefined;
  let runOff = 0;
  let runPos = 0;
  let runLen = 0;
  const flush = (): void => {
    if (runLen === 0) return;
    const mem = new Uint8Array(runBuf!, runOff, runLen);
    if (write) mem.set(buf.subarray(runPos, runPos + runLen));
    else buf.set(mem, runPos);
    runLen = 0;
  };
  while (pos < len) {
    if (pfn > LAST_PFN) {
      flush();
      fault(dev, addr + BigInt(pos), write, "address-overflow");
    }
    const n = Math.min(PAGE_SIZE - off, len - pos);
    let page: Uint8Array;
    try {
      page = routePage(r, pfn, off);
    } catch (e) {
      flush();
      throw e;
    }
    if (n === PAGE_SIZE && page.length === PAGE_SIZE) {
      if (runLen !== 0 && page.buffer === runBuf && page.byteOffset === runOff + runLen) runLen += PAGE_SIZE;
      else {
        flush();
        runBuf = page.buffer;
        runOff = page.byteOffset;
        runPos = pos;
        runLen = PAGE_SIZE;
      }
    } else {
      flush();
      if (write) page.set(buf.subarray(pos, pos + n), off);
      else buf.set(page.subarray(off, off + n), pos);
    }
    pos += n;
    off = 0;
    pfn++;
  }
  flush();
}

/**
 * Device `dev` reads `len` bytes at DMA address `addr`, as its DMA engine
 * would: translated by its IOMMU domain, routed peer-to-peer by switches,
 * forwarded (or not) by the host bridge. @throws DmaFault.
 * @public
 */
export function dmaRead(dev: Device, addr: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  dmaReadInto(dev, addr, out);
  return out;
}

/** {@link dmaRead} into a caller's buffer. @public */
export function dmaReadInto(dev: Device, addr: bigint, dst: Uint8Array): void {
  transfer(dev, addr, dst, false);
}

/** Device `dev` writes `data` at DMA address `addr`. @throws DmaFault. @public */
export function dmaWrite(dev: Device, addr: bigint, data: Uint8Array): void {
  transfer(dev, addr, data, true);
}
