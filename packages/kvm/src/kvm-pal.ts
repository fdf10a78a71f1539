// The hypothetical KVM importer of the PAL mapping type (Jason Gunthorpe's mapping-type RFC, "real users are VFIO→KVM"): dma_buf_pal_map_phys() under resv, pfns from the list.
import {
  KernelWeakMap,
  KernelLocal,
  KernelError,
  PAGE_SHIFT,
  dmaBufMappingAttach,
  dmaResvLock,
  dmaResvUnlock,
  type DmaBufAttachOps,
  type DmaBufAttachment,
  type Kernel,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingPal, dmaBufPalUnmapPhys, type DmaBufPalMapPhys, type DmaBufPhysList } from "@dmabuf-sdk/map-pal";
import type { DmaBufPfn } from "./dma-buf-pfn.js";
import type { KvmDmabufSlot } from "./vfio-dmabuf.js";

/** `dma_buf_pal_map_phys` as the loader linked it into this kernel's `kvm` module. */
const MAP_PHYS = new KernelLocal<DmaBufPalMapPhys>("MAP_PHYS");
/** The list each slot holds between a fault and the next invalidation. */
const LISTS = new KernelWeakMap<KvmDmabufSlot, DmaBufPhysList>("LISTS", (s) => s.kvm.kernel);

/** @internal Called from the module's `init`/exit with what `ctx.symbol()` gave. */
export function _setKvmPalMapPhys(kernel: Kernel, fn: DmaBufPalMapPhys | null): void {
  if (fn) MAP_PHYS.set(kernel, fn);
  else MAP_PHYS.delete(kernel);
}

/** Attaches offering only `DMA_BUF_IMAPPING_PAL()`: `EINVAL` when the exporter offers no PAL. */
export function kvmPalAttach(s: KvmDmabufSlot, ops: DmaBufAttachOps): DmaBufAttachment {
  return dmaBufMappingAttach(s.dmabuf, [dmaBufImappingPal()], ops, s);
}

/**
 * The pfn at `pgoff`: under the resv lock, the slot's list (from
 * `dma_buf_pal_map_phys()` on first use after an invalidation; the
 * exporter's `ENODEV` while revoked), walked to the page. Past the list:
 * `EINVAL`. The exporter gives no page-size hint: order 0.
 */
export function kvmPalGetPfn(s: KvmDmabufSlot, pgoff: bigint): DmaBufPfn {
  const attach = s.attach!;
  const mapPhys = MAP_PHYS.get(s.kvm.kernel);
  if (!mapPhys) throw new KernelError("ENOENT", "kvm_pal_get_pfn", "dma_buf_pal_map_phys not linked");
  dmaResvLock(s.dmabuf.resv);
  try {
    let list = LISTS.get(s);
    if (!list) {
      list = mapPhys(attach);
      LISTS.set(s, list);
    }
    let off = pgoff << BigInt(PAGE_SHIFT);
    for (let i = 0; i < list.length; i++) {
      const v = list.phys[i]!;
      if (off < v.len) return { pfn: (v.paddr + off) >> BigInt(PAGE_SHIFT), maxOrder: 0 };
      off -= v.len;
    }
    throw new KernelError("EINVAL", "kvm_pal_get_pfn", `page ${pgoff} beyond the list`);
  } finally {
    dmaResvUnlock(s.dmabuf.resv);
  }
}

/**
 * Gives the list back (`dma_buf_pal_unmap_phys()`), from `invalidate_mappings`
 * (resv held by the exporter) or at unbind (`lock`: take resv here), so a
 * revoke that waits for every mapping completes.
 */
export function kvmPalRelease(s: KvmDmabufSlot, lock = false): void {
  const list = LISTS.get(s);
  if (!list || !s.attach) return;
  if (lock) dmaResvLock(s.dmabuf.resv);
  try {
    LISTS.delete(s);
    dmaBufPalUnmapPhys(s.attach, list);
  } finally {
    if (lock) dmaResvUnlock(s.dmabuf.resv);
  }
}
