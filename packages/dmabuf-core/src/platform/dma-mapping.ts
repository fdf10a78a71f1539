// kernel/dma/mapping.c and include/linux/dma-mapping.h: dma_map_phys, the IOVA API (dma_iova_*) and DMA attributes.
import { KernelBug, KernelError } from "../kernel/kernel-error.js";
import type { Device } from "./device.js";
import { IOMMU_CACHE, IOMMU_MMIO, IOMMU_READ, IOMMU_WRITE } from "./io-pgtable.js";
import { iommuIsDmaDomain, type IommuDomain } from "./iommu.js";
import { iommuDmaIsFq, iommuDmaQueueIova, iommuDmaStats } from "./dma-iommu.js";
import { U64_MAX, hex } from "./page.js";

/** `enum dma_data_direction`. @public */
export type DmaDataDirection = "DMA_BIDIRECTIONAL" | "DMA_TO_DEVICE" | "DMA_FROM_DEVICE" | "DMA_NONE";

/** `DMA_ATTR_MMIO`: the physical address is MMIO, not RAM. @public */
export const DMA_ATTR_MMIO = 1 << 10;
/** `DMA_ATTR_SKIP_CPU_SYNC`. @public */
export const DMA_ATTR_SKIP_CPU_SYNC = 1 << 5;
/** `DMA_MAPPING_ERROR`: the sentinel the DMA API returns on failure. @public */
export const DMA_MAPPING_ERROR = U64_MAX;
/** `DMA_IOVA_USE_SWIOTLB`: bit 63 of `dma_iova_state.__size` (callers may not use it). @public */
export const DMA_IOVA_USE_SWIOTLB = 1n << 63n;

const GRANULE = 4096n;
const SAFE_N = 1n << 52n;
const MASK32 = (1n << 32n) - 1n;

/** `dma_info_to_prot()`. @public */
export function dmaInfoToProt(dir: DmaDataDirection, coherent: boolean, attrs: number): number {
  let prot = coherent ? IOMMU_CACHE : 0;
  if (attrs & DMA_ATTR_MMIO) prot |= IOMMU_MMIO;
  switch (dir) {
    case "DMA_BIDIRECTIONAL":
      return prot | IOMMU_READ | IOMMU_WRITE;
    case "DMA_TO_DEVICE":
      return prot | IOMMU_READ;
    case "DMA_FROM_DEVICE":
      return prot | IOMMU_WRITE;
    default:
      return 0;
  }
}

/** `use_dma_iommu()`: the device's DMA API goes through its DMA domain. @public */
export function useDmaIommu(dev: Device): boolean {
  const g = dev.iommuGroup;
  return !!g && iommuIsDmaDomain(g.defaultDomain.type);
}

/** `iommu_get_dma_domain()`. */
function dmaDomain(dev: Device): IommuDomain {
  return dev.iommuGroup!.defaultDomain;
}

/** `dma_mapping_error()`. @public */
export function dmaMappingError(_dev: Device, addr: bigint): boolean {
  return addr === DMA_MAPPING_ERROR;
}

/**
 * `iommu_dma_alloc_iova()`: an IOVA range of `size` bytes (granule aligned) in
 * the device's DMA domain, trying the 32-bit space first for PCI devices, then
 * the full mask. Returns 0 when the space is exhausted.
 * @throws KernelError `ENOMEM` when the `struct iova` allocation fails (injectable).
 * @public
 */
export function iommuDmaAllocIova(dev: Device, size: bigint): bigint {
  return allocIova(dev, dmaDomain(dev), size);
}

/** `iommu_dma_free_iova()`: gives back the range starting at `iova`. @public */
export function iommuDmaFreeIova(dev: Device, iova: bigint): void {
  if (!dmaDomain(dev).iovad!.freeIova(Number(iova >> 12n))) dev.kernel.warn(`${dev.name}: iommu_dma_free_iova(${hex(iova)}): no IOVA allocated there`);
  else iommuDmaStats(dev).iovaFree++;
}

/**
 * `iommu_map()` on behalf of the DMA API (`__iommu_dma_map()`,
 * `iommu_map_sg()`, `dma_iova_link()`): counted in {@link iommuDmaStats}.
 * @throws KernelError from `iommu_map`.
 * @public
 */
export function iommuDmaMap(dev: Device, iova: bigint, phys: bigint, size: bigint, prot: number): void {
  dev.kernel.platform.iommu!.map(dmaDomain(dev), iova, phys, size, prot);
  const s = iommuDmaStats(dev);
  s.map++;
  s.mapPages += Number(size >> 12n);
}

/**
 * `__iommu_dma_unmap()`: clears the IOPTEs of [iova, iova+size) and gives
 * the IOVA range starting at `iova` back. Strict (DMA) domains invalidate
 * the IOTLB synchronously and free the IOVA at once; lazy (DMA_FQ) domains
 * queue the IOVA in the flush queue, which frees it after the next full
 * IOTLB flush. Returns the bytes unmapped.
 * @public
 */
export function iommuDmaUnmap(dev: Device, iova: bigint, size: bigint): bigint {
  const domain = dmaDomain(dev);
  const unmapped = unmapCounted(dev, domain, iova, size);
  if (iommuDmaIsFq(domain)) iommuDmaQueueIova(dev, domain, Number(iova >> 12n));
  else {
    iommuDmaStats(dev).iotlbSync++;
    iommuDmaFreeIova(dev, iova);
  }
  return unmapped;
}

function unmapCounted(dev: Device, domain: IommuDomain, iova: bigint, size: bigint): bigint {
  const unmapped = dev.kernel.platform.iommu!.unmap(domain, iova, size);
  const s = iommuDmaStats(dev);
  s.unmap++;
  s.unmapPages += Number(unmapped >> 12n);
  return unmapped;
}

/**
 * `dma_sync_single_for_device()` / `dma_sync_single_for_cpu()`: cache
 * maintenance, a no-op on the model's cache-coherent platform without
 * bounce buffers; counted because drivers that keep long-lived mappings
 * still call it per I/O.
 * @public
 */
export function dmaSyncSingleForDevice(dev: Device, _addr: bigint, _size: bigint, _dir: DmaDataDirection): void {
  iommuDmaStats(dev).dmaSync++;
}

/** `dma_sync_single_for_cpu()`: see {@link dmaSyncSingleForDevice}. @public */
export function dmaSyncSingleForCpu(dev: Device, _addr: bigint, _size: bigint, _dir: DmaDataDirection): void {
  iommuDmaStats(dev).dmaSync++;
}

function allocIova(dev: Device, domain: IommuDomain, size: bigint): bigint {
  const iovad = domain.iovad!;
  const len = Number(size >> 12n);
  let limit = dev.dmaMask < domain.geometry.apertureEnd ? dev.dmaMask : domain.geometry.apertureEnd;
  const pci32 = PCI_32BIT_WORKAROUND.get(dev) ?? dev.busType === "pci";
  if (limit > MASK32 && pci32) {
    const iova = iovad.allocIova(len, Number(MASK32 >> 12n), "dma");
    if (iova) {
      iommuDmaStats(dev).iovaAlloc++;
      return BigInt(iova.pfnLo) << 12n;
    }
    PCI_32BIT_WORKAROUND.set(dev, false);
    dev.kernel.printk.info(`${dev.name}: Using ${limit.toString(2).length}-bit DMA addresses`);
  }
  if (limit < GRANULE) limit = GRANULE;
  const iova = iovad.allocIova(len, Number(limit >> 12n), "dma");
  if (!iova) return 0n;
  iommuDmaStats(dev).iovaAlloc++;
  return BigInt(iova.pfnLo) << 12n;
}
const PCI_32BIT_WORKAROUND = new WeakMap<Device, boolean>();

function iovaAlign(size: bigint): bigint {
  return (size + GRANULE - 1n) & ~(GRANULE - 1n);
}

/**
 * `dma_map_phys(dev, phys, size, dir, attrs)`: one physically contiguous
 * range. Through a DMA domain it allocates an IOVA and maps it; with
 * dma-direct the DMA address is the physical address. Returns
 * {@link DMA_MAPPING_ERROR} on failure, as the kernel does.
 * @public
 */
export function dmaMapPhys(dev: Device, phys: bigint, size: bigint, dir: DmaDataDirection, attrs: number): bigint {
  if (dir === "DMA_NONE") throw new KernelBug("BUG", "dma_map_phys with DMA_NONE");
  if (!useDmaIommu(dev)) {
    // dma_direct_map_phys(): dma_capable() against the mask.
    if (phys + size - 1n > dev.dmaMask) {
      dev.kernel.printk.err(`${dev.name}: DMA addr ${hex(phys)}+${size} overflow (mask ${hex(dev.dmaMask)})`);
      return DMA_MAPPING_ERROR;
    }
    return phys;
  }
  const domain = dmaDomain(dev);
  const off = phys & (GRANULE - 1n);
  const len = iovaAlign(size + off);
  let iova: bigint;
  try {
    iova = allocIova(dev, domain, len);
  } catch {
    return DMA_MAPPING_ERROR;
  }
  if (!iova) return DMA_MAPPING_ERROR;
  try {
    iommuDmaMap(dev, iova, phys - off, len, dmaInfoToProt(dir, true, attrs));
  } catch {
    iommuDmaFreeIova(dev, iova);
    return DMA_MAPPING_ERROR;
  }
  return iova + off;
}

/** `dma_unmap_phys()`. @public */
export function dmaUnmapPhys(dev: Device, addr: bigint, size: bigint, _dir: DmaDataDirection, _attrs: number): void {
  if (!useDmaIommu(dev)) return;
  const off = addr & (GRANULE - 1n);
  const base = addr - off;
  const len = iovaAlign(size + off);
  if (!dmaDomain(dev).iovad!.findIova(Number(base >> 12n))) {
    dev.kernel.warn(`${dev.name}: dma_unmap_phys(${hex(addr)}): no IOVA allocated there`);
    return;
  }
  const unmapped = iommuDmaUnmap(dev, base, len);
  if (unmapped !== len) dev.kernel.warn(`${dev.name}: dma_unmap_phys(${hex(addr)}, ${size}) unmapped ${unmapped} bytes`);
}

/** `struct dma_iova_state`. @public */
export interface DmaIovaState {
  addr: bigint;
  /** Requested size; bit 63 is DMA_IOVA_USE_SWIOTLB. 0 = no IOVA in use. */
  size: bigint;
  /** `addr` as a number when below 2^52 (NaN otherwise), for the number paths. */
  addrNum: number;
}

/** A fresh, unused `dma_iova_state`. @public */
export function dmaIovaState(): DmaIovaState {
  return { addr: 0n, size: 0n, addrNum: 0 };
}

/** `dma_use_iova()`. @public */
export function dmaUseIova(state: DmaIovaState): boolean {
  return state.size !== 0n;
}

/**
 * `dma_iova_try_alloc()`: reserves one IOVA range for `size` bytes when the
 * device translates through a DMA domain. False (state unused) with
 * dma-direct, for size 0, or when the IOVA space is exhausted; the caller
 * then maps range by range.
 * @public
 */
export function dmaIovaTryAlloc(dev: Device, state: DmaIovaState, phys: bigint, size: bigint): boolean {
  state.addr = 0n;
  state.addrNum = 0;
  state.size = 0n;
  if (!useDmaIommu(dev)) return false;
  if (size === 0n) {
    dev.kernel.warnOnce("dma_iova_try_alloc:size", `${dev.name}: dma_iova_try_alloc with size 0`);
    return false;
  }
  if (size & DMA_IOVA_USE_SWIOTLB) {
    dev.kernel.warnOnce("dma_iova_try_alloc:swiotlb", `${dev.name}: dma_iova_try_alloc size has DMA_IOVA_USE_SWIOTLB`);
    return false;
  }
  const domain = dmaDomain(dev);
  const off = phys & (GRANULE - 1n);
  let addr: bigint;
  try {
    addr = allocIova(dev, domain, iovaAlign(size + off));
  } catch {
    return false;
  }
  if (!addr) return false;
  state.addr = addr + off;
  state.addrNum = state.addr < SAFE_N ? Number(state.addr) : NaN;
  state.size = size;
  return true;
}

/**
 * `dma_iova_link()`: maps `size` bytes of `phys` at `state.addr + offset`.
 * Like the kernel, it does not check that the range lies inside the
 * allocation. @throws KernelError from `iommu_map` (`EEXIST`, `ENOMEM`, …).
 * @public
 */
export function dmaIovaLink(dev: Device, state: DmaIovaState, phys: bigint, offset: bigint, size: bigint, dir: DmaDataDirection, attrs: number): void {
  if (phys < SAFE_N && offset < SAFE_N && size < SAFE_N && state.addrNum === state.addrNum) {
    dmaIovaLinkSafe(dev, state, Number(phys), Number(offset), Number(size), dmaInfoToProt(dir, true, attrs));
    return;
  }
  const pad = phys & (GRANULE - 1n);
  if (pad && offset > 0n) linkPadError(dev);
  iommuDmaMap(dev, state.addr + offset - pad, phys - pad, iovaAlign(size + pad), dmaInfoToProt(dir, true, attrs));
}

/**
 * {@link dmaIovaLink} with the physical address, offset and size as numbers
 * below 2^52 and the IOMMU protection precomputed (`dmaInfoToProt()`): the
 * form hot loops over many ranges use. `state.addr` must be below 2^52 too
 * (`state.addrNum` not NaN).
 * @public
 */
export function dmaIovaLinkSafe(dev: Device, state: DmaIovaState, phys: number, offset: number, size: number, prot: number): void {
  // `>>> 0` is the value mod 2^32 (exact for integers below 2^53) and much
  // cheaper than `%` on a double beyond 2^31.
  const pad = (phys >>> 0) & 4095;
  if (pad && offset > 0) linkPadError(dev);
  const end = size + pad + 4095;
  const len = end - ((end >>> 0) & 4095);
  dev.kernel.platform.iommu!.mapSafe(dev.iommuGroup!.defaultDomain, state.addrNum + offset - pad, phys - pad, len, prot);
  const s = iommuDmaStats(dev);
  s.map++;
  s.mapPages += len / 4096;
}

function linkPadError(dev: Device): never {
  dev.kernel.warnOnce("dma_iova_link:pad", `${dev.name}: dma_iova_link unaligned phys with offset`);
  throw new KernelError("EIO", "dma_iova_link", "unaligned start with offset");
}

/** `dma_iova_sync()`: flushes the IOTLB for the linked range; cannot fail in the model. @public */
export function dmaIovaSync(_dev: Device, _state: DmaIovaState, _offset: bigint, _size: bigint): void {}

/**
 * `dma_iova_unlink()`: unmaps [offset, offset+size) of the state's IOVA and
 * invalidates the IOTLB synchronously in either mode: the IOVA stays
 * allocated, so there is nothing to defer (`__iommu_dma_iova_unlink(…, free_iova = false)`).
 * @public
 */
export function dmaIovaUnlink(dev: Device, state: DmaIovaState, offset: bigint, size: bigint, _dir: DmaDataDirection, _attrs: number): void {
  const domain = dmaDomain(dev);
  const start = state.addr + offset;
  const pad = start & (GRANULE - 1n);
  unmapCounted(dev, domain, start - pad, iovaAlign(size + pad));
  iommuDmaStats(dev).iotlbSync++;
}

/** `dma_iova_free()`: releases the IOVA range (nothing may still be linked). @public */
export function dmaIovaFree(dev: Device, state: DmaIovaState): void {
  const pad = state.addr & (GRANULE - 1n);
  iommuDmaFreeIova(dev, state.addr - pad);
  state.addr = 0n;
  state.addrNum = 0;
  state.size = 0n;
}

/**
 * `dma_iova_destroy()`: unlinks the first `mappedLen` bytes and frees the
 * IOVA; in a lazy domain the IOVA goes to the flush queue instead of an
 * IOTLB sync (`__iommu_dma_iova_unlink(…, free_iova = true)`).
 * @public
 */
export function dmaIovaDestroy(dev: Device, state: DmaIovaState, mappedLen: bigint, dir: DmaDataDirection, attrs: number): void {
  const domain = dmaDomain(dev);
  if (!mappedLen || !iommuDmaIsFq(domain)) {
    if (mappedLen) dmaIovaUnlink(dev, state, 0n, mappedLen, dir, attrs);
    dmaIovaFree(dev, state);
    return;
  }
  const pad = state.addr & (GRANULE - 1n);
  unmapCounted(dev, domain, state.addr - pad, iovaAlign(mappedLen + pad));
  iommuDmaQueueIova(dev, domain, Number((state.addr - pad) >> 12n));
  state.addr = 0n;
  state.addrNum = 0;
  state.size = 0n;
}
