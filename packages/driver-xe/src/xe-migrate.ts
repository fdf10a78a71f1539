// drivers/gpu/drm/xe/xe_migrate.c: the copy engine moving buffer contents between VRAM and system memory.
import { DmaFault, KernelError, PAGE_SIZE, dmaReadInto, dmaWrite } from "@dmabuf-sdk/dmabuf-core";
import { sgtableDmaAddressAt, type SgTable } from "@dmabuf-sdk/map-sgt";
import { xeBoVramPage, type XeBo } from "./xe-bo.js";
import type { XeDevice } from "./xe-device.js";
import { xeSchedJobRun, type XeExecQueue } from "./xe-sched-job.js";

/**
 * An address the GPU's copy engine can use: a device physical address in
 * its own VRAM (`dpa`, no IOMMU, no PCI), or a DMA address that goes out over
 * PCIe (`dma`: through the device's IOMMU domain, to RAM or a peer's BAR).
 * @public
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
 * @public
 */
export function xeGpuDmaReadInto(xe: XeDevice, addr: XeGpuAddress, dst: Uint8Array): void {
  if ("dpa" in addr) xe.vram.read(vramOffset(xe, addr.dpa, dst.length, false), dst);
  else dmaReadInto(xe.pdev, addr.dma, dst);
}

/** {@link xeGpuDmaReadInto} into a new buffer. @public */
export function xeGpuDmaRead(xe: XeDevice, addr: XeGpuAddress, len: number): Uint8Array {
  const out = new Uint8Array(len);
  xeGpuDmaReadInto(xe, addr, out);
  return out;
}

/** The GPU writes `data` at `addr` (DPA into VRAM, or a DMA address). @public */
export function xeGpuDmaWrite(xe: XeDevice, addr: XeGpuAddress, data: Uint8Array): void {
  if ("dpa" in addr) xe.vram.write(vramOffset(xe, addr.dpa, data.length, true), data);
  else dmaWrite(xe.pdev, addr.dma, data);
}

/** One side of a copy: a BO's VRAM pages, or system pages by the GPU's DMA mapping. @public */
export type XeMigrateRes = { readonly vram: XeBo } | { readonly tt: SgTable };

function addrOf(res: XeMigrateRes, page: number): XeGpuAddress {
  if ("vram" in res) {
    const bo = res.vram;
    return { dpa: bo.xe.vram.dpaBase + BigInt(xeBoVramPage(bo, page)) * BigInt(PAGE_SIZE) };
  }
  return { dma: sgtableDmaAddressAt(res.tt, BigInt(page) * BigInt(PAGE_SIZE)).addr };
}

/**
 * `xe_migrate_copy()`: a job on the migration queue (through drm_sched)
 * whose batch makes the copy engine move every page of `bo` from `src` to
 * `dst` (VRAM by DPA, system memory by the GPU's DMA addresses); waits for
 * its fence. Addresses are resolved when the job is built, as the batch is.
 * @public
 */
export function xeMigrateCopy(bo: XeBo, src: XeMigrateRes, dst: XeMigrateRes): void {
  const xe = bo.xe;
  const pairs = Array.from({ length: bo.npages }, (_, i) => [addrOf(src, i), addrOf(dst, i)] as const);
  xeSchedJobRun(migrateQueue(xe), "migrate-copy", () => {
    const page = new Uint8Array(PAGE_SIZE);
    for (const [from, to] of pairs) {
      xeGpuDmaReadInto(xe, from, page);
      xeGpuDmaWrite(xe, to, page);
    }
  });
  xe.kernel.trace.emit("xe_migrate_copy", { bo: bo.id, pages: bo.npages, from: "vram" in src ? "vram" : "tt", to: "vram" in dst ? "vram" : "tt" });
}

/** `xe_migrate_clear()`: a job whose batch fills the BO's VRAM with zeros (new VRAM placements are cleared). @public */
export function xeMigrateClear(bo: XeBo): void {
  const xe = bo.xe;
  const blocks = [...(bo.vram ?? [])];
  xeSchedJobRun(migrateQueue(xe), "migrate-clear", () => xe.vram.clear(blocks));
  xe.kernel.trace.emit("xe_migrate_clear", { bo: bo.id, pages: bo.npages });
}

/** `xe_migrate_update_pgtables()`: a bind job whose batch writes the page-table entries. @public */
export function xeMigrateUpdatePgtables(xe: XeDevice, write: () => void): void {
  xeSchedJobRun(migrateQueue(xe), "bind", write);
}

function migrateQueue(xe: XeDevice): XeExecQueue {
  if (!xe.migrateQ) throw new KernelError("ENODEV", "xe_migrate", `${xe} has no migration queue`);
  return xe.migrateQ;
}
