// The designs argued over in "[RFC PATCH 01/12] dma-buf: Introduce dma_buf_get_pfn_unlocked() kAPI" and after, as one version axis.

/**
 * Which design KVM is built from when it maps device MMIO:
 * - `mainline-vma`: today's KVM. The VMM mmaps the BAR (or the dma-buf) and
 *   registers the range as an ordinary memslot; KVM follows the PTE and
 *   stays in sync through mmu notifiers.
 * - `yilun-v1`: RFC 00/12 (2025-01-07): `KVM_MEM_VFIO_DMABUF` slots,
 *   `dma_buf_get_pfn_unlocked()`, only *private* VFIO buffers of this VM bind.
 * - `yilun-v2`: RFC 00/30 (2025-05-29): same slot; any VFIO buffer of this VM.
 * - `pfn-attachment`: Simona Vetter's separate, device-less pfn access with
 *   resv/invalidate rules (an idea, never code); any exporter with `get_pfn`.
 * - `maptype-pal`: KVM as a mapping-type importer of PAL, calling
 *   `dma_buf_pal_map_phys()`, which the loader gives only to the modules the
 *   export names.
 * @public
 */
export type KvmPfnVersion = "mainline-vma" | "yilun-v1" | "yilun-v2" | "pfn-attachment" | "maptype-pal";

/** Every version, in the order of the argument. @public */
export const KVM_PFN_VERSIONS: readonly KvmPfnVersion[] = ["mainline-vma", "yilun-v1", "yilun-v2", "pfn-attachment", "maptype-pal"];

/** True when the version has the dma-buf-backed memslot (`KVM_MEM_VFIO_DMABUF` in `guest_memfd`). @public */
export function kvmHasDmabufSlots(version: KvmPfnVersion): boolean {
  return version !== "mainline-vma";
}

/** True when the bind asks vfio for its side data (`vfio_dma_buf_get_data`), as RFC 10/12 does. @public */
export function kvmChecksVfioData(version: KvmPfnVersion): boolean {
  return version === "yilun-v1" || version === "yilun-v2";
}
