import { DmaFault, PAGE_SIZE, dmaReadInto, dmaWrite } from "@dmabuf-sdk/dmabuf-core";
import { sgtableDmaAddressAt, type SgTable } from "@dmabuf-sdk/map-sgt";
import { xeBoVramPage, type XeBo } from "./xe-bo.js";
import type { XeDevice } from "./xe-device.js";

/**
 * An address the GPU's copy engine can use: a device physical address in
 * its own VRAM (`dpa`, no IOMMU, no PCI), or a DMA address that goes out over
 * PCIe (`dma`: through the device's IOMMU domain, to RAM or a peer's BAR).
 */
export type XeGpuAddress = { readonly dpa: bigint } | { readonly dma: bigint };

function vramOffset(xe: XeDevice, dpa: bigint, len: number, write: boolean): number {
  const v = xe.vram;
  if (dpa < v.dpaBase || dpa + BigInt(len) > v.dpaBase + v.size) throw new DmaFault(xe.pdev, dpa, write, "unsupported-request");
  return Number(dpa - v.dpaBase);
}

/**
 * The GPU reads `dst.length` bytes at `addr`: by DPA straight from VRAM, by
 * DMA address through the platform (IOMMU, P2P routing). A DPA outside VRAM
 * or an unmapped DMA address faults (`DmaFault`).
 */
export function xeGpuDmaReadInto(xe: XeDevice, addr: XeGpuAddress, dst: Uint8Array): void {
  if ("dpa" in addr) xe.vram.read(vramOffset(xe, addr.dpa, dst.length, false), dst);
  else dmaReadInto(xe.pdev, addr.dma, dst);
}

/** {@link xeGpuDmaReadInto} into a new buffer. */
export function xeGpuDmaRead(xe: XeDevice, addr: XeGpuAddress, len: number): Uint8Array {
  const out = new Uint8Array(len);
  xeGpuDmaReadInto(xe, addr, out);
  return out;
}

/** The GPU writes `data` at `addr` (DPA into VRAM, or a DMA address). */
export function xeGpuDmaWrite(xe: XeDevice, addr: XeGpuAddress, data: Uint8Array): void {
  if ("dpa" in addr) xe.vram.write(vramOffset(xe, addr.dpa, data.length, true), data);
  else dmaWrite(xe.pdev, addr.dma, data);
}

/** One side of a copy: a BO's VRAM pages, or system pages by the GPU's DMA mapping. */
export type XeMigrateRes = { readonly vram: XeBo } | { readonly tt: SgTable };

function addrOf(res: XeMigrateRes, page: number): XeGpuAddress {
  if ("vram" in res) {
    const bo = res.vram;
    return { dpa: bo.xe.vram.dpaBase + BigInt(xeBoVramPage(bo, page)) * BigInt(PAGE_SIZE) };
  }
  return { dma: sgtableDmaAddressAt(res.tt, BigInt(page) * BigInt(PAGE_SIZE)).addr };
}

/**
 * `xe_migrate_copy()`: the copy engine moves every page of `bo` from `src`
 * to `dst` (VRAM by DPA, system memory by the GPU's DMA addresses).
 */
export function xeMigrateCopy(bo: XeBo, src: XeMigrateRes, dst: XeMigrateRes): void {
  const xe = bo.xe;
  const page = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < bo.npages; i++) {
    xeGpuDmaReadInto(xe, addrOf(src, i), page);
    xeGpuDmaWrite(xe, addrOf(dst, i), page);
  }
  xe.kernel.trace.emit("xe_migrate_copy", { bo: bo.id, pages: bo.npages, from: "vram" in src ? "vram" : "tt", to: "vram" in dst ? "vram" : "tt" });
}
