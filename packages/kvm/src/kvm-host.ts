// include/linux/kvm_host.h: the memslot and stage-2 entry types the rest of the model shares.
import type { DmaBufAttachment, Errno } from "@dmabuf-sdk/dmabuf-core";

/** A stage-2 leaf (`SPTE`): one 4 KiB guest page mapped to a host pfn. @public */
export interface Spte {
  readonly pfn: bigint;
  readonly writable: boolean;
  /** In the private (Secure EPT mirror) root. */
  readonly private: boolean;
  /** MMIO (`kvm_is_mmio_pfn()`: not RAM): uncached memory type. */
  readonly mmio: boolean;
}

/** The pfn a slot's backend resolves a gfn to. @public */
export interface SlotPfn {
  readonly pfn: bigint;
  readonly writable: boolean;
  readonly maxOrder: number;
}

/**
 * Where a memslot's pages come from: the VMM's address space (`userspace_addr`,
 * mainline) or a dma-buf (`KVM_MEM_VFIO_DMABUF`, in the version's form).
 * @public
 */
export interface KvmMemslotBackend {
  readonly kind: "hva" | "dmabuf";
  /** `kvm_slot_can_be_private()`: gmem or (RFC) vfio dma-buf slots. */
  readonly privateCapable: boolean;
  /**
   * Resolves the page at `gfn` of `slot`. Returns an errno (`EIO` for a
   * dma-buf slot whatever the exporter said; `EFAULT` for an hva the VMA
   * cannot fault in) instead of throwing.
   */
  getPfn(slot: KvmMemorySlot, gfn: bigint, write: boolean): SlotPfn | Errno;
  /** The slot is published (CREATE or MOVE): invalidations zap its range from now on. */
  setSlot?(slot: KvmMemorySlot): void;
  /** `kvm_vfio_dmabuf_unbind()` and friends: detach and drop the buffer. Stage-2 is already zapped. */
  unbind(): void;
  /** The dma-buf attachment of a dma-buf slot (null for hva slots). */
  attachment(): DmaBufAttachment | null;
  /** One line for reports. */
  describe(): string;
}

/** `struct kvm_memory_slot`. @public */
export interface KvmMemorySlot {
  readonly asId: number;
  readonly id: number;
  baseGfn: bigint;
  readonly npages: bigint;
  flags: number;
  readonly userspaceAddr: bigint;
  backend: KvmMemslotBackend;
}
