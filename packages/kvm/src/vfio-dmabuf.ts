// virt/kvm/vfio_dmabuf.c of Xu Yilun's RFC 06/12 and 10/12 (and their forms in the other designs): binding a dma-buf to a memslot, its pfns, and the zap on invalidate.
import {
  KernelError,
  PAGE_SHIFT,
  dmaBufDetach,
  dmaBufGet,
  dmaBufPut,
  dmaResvAssertHeld,
  isKernelError,
  type DmaBuf,
  type DmaBufAttachOps,
  type DmaBufAttachment,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufGetPfnUnlocked, dmaBufPfnAttach } from "./dma-buf-pfn.js";
import type { KvmMemorySlot, KvmMemslotBackend, SlotPfn } from "./kvm-host.js";
import type { Kvm } from "./kvm-main.js";
import { kvmPalAttach, kvmPalGetPfn, kvmPalRelease } from "./kvm-pal.js";
import { kvmChecksVfioData } from "./kvm-version.js";
import { kvmZapGfnRange } from "./mmu.js";

/** `struct vfio_dma_buf_data` (RFC 09/12): what vfio tells KVM about one of its buffers. @public */
export interface VfioDmaBufData {
  /** v1 only: exported by a device bound as private (TDI). */
  readonly isPrivate: boolean;
  /** The VM the device was associated with at export time (`KVM_DEV_VFIO_FILE_ADD`), or null. */
  readonly kvm: unknown;
}

/** `vfio_dma_buf_get_data()`: throws `EINVAL` for a buffer that is not vfio's. @public */
export type VfioDmaBufGetData = (dmabuf: DmaBuf) => VfioDmaBufData;

/** The symbol KVM looks up with `symbol_get()` (vfio may not be loaded). @public */
export const VFIO_DMA_BUF_GET_DATA = "vfio_dma_buf_get_data";

/** The importer's private data of a dma-buf slot (`struct kvm_vfio_dmabuf`). @public */
export interface KvmDmabufSlot {
  readonly kvm: Kvm;
  readonly dmabuf: DmaBuf;
  attach: DmaBufAttachment | null;
  /** Set once the memslot is published. */
  slot: KvmMemorySlot | null;
}

/**
 * `kv_dmabuf_move_notify()` (`invalidate_mappings` on a 7.x base), called by
 * the exporter with the resv lock held: zap the **whole slot** in both roots
 * under an invalidation (seq++). Nothing else: KVM forgets; the next fault
 * asks the exporter again.
 */
function kvmDmabufInvalidate(attach: DmaBufAttachment): void {
  const s = attach.importerPriv as KvmDmabufSlot;
  dmaResvAssertHeld(s.dmabuf.resv, "kvm_vfio_dmabuf_move_notify");
  const slot = s.slot;
  if (slot) kvmZapGfnRange(s.kvm, slot.baseGfn, slot.baseGfn + slot.npages);
  if (s.kvm.version === "maptype-pal") kvmPalRelease(s);
}

/** `kvm_vfio_dmabuf_ops`: a revocable, P2P-capable dynamic importer. @public */
export const kvmDmabufAttachOps: DmaBufAttachOps = { allowPeer2peer: true, invalidateMappings: kvmDmabufInvalidate };

/**
 * `kvm_vfio_dmabuf_get_data()` through `symbol_get(vfio_dma_buf_get_data)`:
 * `ENOENT` when vfio is not loaded; vfio's `EINVAL` for a foreign buffer.
 * (RFC 10/12 returns an uninitialised `ret` on this path; the model returns
 * the `PTR_ERR` the code meant.)
 */
function kvmVfioDmabufGetData(kvm: Kvm, dmabuf: DmaBuf): VfioDmaBufData {
  const loader = kvm.kernel.modules;
  const fn = loader.symbolGet(VFIO_DMA_BUF_GET_DATA, kvm.build.module) as VfioDmaBufGetData | undefined;
  if (!fn) throw new KernelError("ENOENT", "kvm_vfio_dmabuf_get_data", "vfio is not loaded");
  try {
    return fn(dmabuf);
  } finally {
    loader.symbolPut(VFIO_DMA_BUF_GET_DATA);
  }
}

/**
 * `kvm_vfio_dmabuf_bind(kvm, slot, fd)`, in order:
 * 1. `dma_buf_get(fd)`: `EBADF`, `EINVAL` (not a dma-buf);
 * 2. slot size ≠ buffer size: `EINVAL` (the slot maps the whole buffer);
 * 3. (v1/v2) vfio's data: `ENOENT`/`EINVAL`;
 * 4. v1: not private, or another VM's: `EINVAL`; v2: another VM's: `EINVAL`;
 * 5. the importer's private data (`ENOMEM`);
 * 6. the attach of the version: dev-less (v1/v2), a pfn attachment, or a
 *    PAL mapping-type attach (`EINVAL` when the exporter offers no PAL);
 * 7. the file reference of step 1 is kept for the slot's life.
 * On failure nothing is left behind.
 * @public
 */
export function kvmDmabufBind(kvm: Kvm, npages: bigint, fd: number): KvmMemslotBackend {
  const op = "kvm_vfio_dmabuf_bind";
  const k = kvm.kernel;
  const version = kvm.version;
  const dmabuf = dmaBufGet(k, fd);
  const s: KvmDmabufSlot = { kvm, dmabuf, attach: null, slot: null };
  try {
    if (npages << BigInt(PAGE_SHIFT) !== dmabuf.size) throw new KernelError("EINVAL", op, `slot ${npages << BigInt(PAGE_SHIFT)} bytes, dma-buf ${dmabuf.size}`);
    if (kvmChecksVfioData(version)) {
      const data = kvmVfioDmabufGetData(kvm, dmabuf);
      if (version === "yilun-v1" && !data.isPrivate) throw new KernelError("EINVAL", op, "v1 binds private vfio buffers only");
      if (data.kvm !== kvm) throw new KernelError("EINVAL", op, "the vfio device is not associated with this VM");
    }
    k.alloc.kzalloc("kvm_vfio_dmabuf");
    s.attach = version === "maptype-pal" ? kvmPalAttach(s, kvmDmabufAttachOps) : dmaBufPfnAttach(dmabuf, kvmDmabufAttachOps, s, version);
  } catch (e) {
    dmaBufPut(dmabuf);
    throw e;
  }
  k.trace.emit("kvm_vfio_dmabuf_bind", { kvm: kvm.id, ino: dmabuf.ino, version });
  return {
    kind: "dmabuf",
    privateCapable: version !== "maptype-pal",
    setSlot(slot: KvmMemorySlot) {
      s.slot = slot;
    },
    getPfn(slot: KvmMemorySlot, gfn: bigint): SlotPfn | "EIO" | "EFAULT" {
      return kvmDmabufGetPfn(s, gfn - slot.baseGfn);
    },
    unbind() {
      kvmDmabufUnbind(s);
    },
    attachment: () => s.attach,
    describe: () => `dma-buf ino ${dmabuf.ino} (${dmabuf.expName}, ${version})`,
  };
}

/**
 * `kvm_vfio_dmabuf_get_pfn()`: no attachment → WARN, `EFAULT`; any exporter
 * error (revoked `ENODEV`, out of range `EINVAL`, no op) → `EIO` on purpose
 * ("`EFAULT` would make userspace try an attribute conversion").
 * @public
 */
export function kvmDmabufGetPfn(s: KvmDmabufSlot, pgoff: bigint): SlotPfn | "EIO" | "EFAULT" {
  if (!s.attach) {
    s.kvm.kernel.warn("kvm_vfio_dmabuf_get_pfn: slot without attachment");
    return "EFAULT";
  }
  try {
    const r = s.kvm.version === "maptype-pal" ? kvmPalGetPfn(s, pgoff) : dmaBufGetPfnUnlocked(s.attach, pgoff);
    return { pfn: r.pfn, writable: true, maxOrder: r.maxOrder };
  } catch (e) {
    if (!isKernelError(e)) throw e;
    s.kvm.kernel.trace.emit("kvm_vfio_dmabuf_get_pfn_error", { pgoff, errno: e.errno });
    return "EIO";
  }
}

/**
 * `kvm_vfio_dmabuf_unbind()`: (PAL: give the list back under resv) detach,
 * free, `dma_buf_put` — the last reference runs the exporter's `release`.
 * The slot's stage-2 entries are already gone.
 */
function kvmDmabufUnbind(s: KvmDmabufSlot): void {
  if (!s.attach) {
    s.kvm.kernel.warn("kvm_vfio_dmabuf_unbind: no attachment");
    return;
  }
  try {
    if (s.kvm.version === "maptype-pal") kvmPalRelease(s, true);
    dmaBufDetach(s.dmabuf, s.attach);
  } finally {
    s.attach = null;
    s.slot = null;
    dmaBufPut(s.dmabuf);
  }
}
