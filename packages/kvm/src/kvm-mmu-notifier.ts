// virt/kvm/kvm_main.c (kvm_mmu_notifier_*, hva_to_pfn): mainline KVM's userspace-address slots, kept in sync with the VMM's page table.
import { PAGE_SHIFT, VM_WRITE, type Mm, type MmuNotifierOps } from "@dmabuf-sdk/dmabuf-core";
import type { KvmMemorySlot, KvmMemslotBackend, SlotPfn } from "./kvm-host.js";
import type { Kvm } from "./kvm-main.js";
import { KVM_MEM_READONLY } from "./kvm-uapi.js";
import { kvmMmuInvalidateBegin, kvmMmuInvalidateEnd, kvmUnmapGfnRange } from "./mmu.js";

/** The gfn ranges of `kvm`'s hva slots that [start, end) of the VMM's address space covers. */
function hvaToGfnRanges(kvm: Kvm, start: bigint, end: bigint): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const slots of kvm.memslots) {
    for (const s of slots.values()) {
      if (s.backend.kind !== "hva") continue;
      const sStart = s.userspaceAddr;
      const sEnd = s.userspaceAddr + (s.npages << BigInt(PAGE_SHIFT));
      const lo = start > sStart ? start : sStart;
      const hi = end < sEnd ? end : sEnd;
      if (lo >= hi) continue;
      out.push([s.baseGfn + ((lo - sStart) >> BigInt(PAGE_SHIFT)), s.baseGfn + ((hi - sStart + 0xfffn) >> BigInt(PAGE_SHIFT))]);
    }
  }
  return out;
}

/**
 * `kvm_mmu_notifier_ops`, registered on the VMM's mm at VM creation:
 * `invalidate_range_start` opens an invalidation and zaps the gfns behind the
 * range (under `mmu_lock`), `invalidate_range_end` closes it (seq++), so a
 * fault that followed the PTE before the zap retries. Returns the unregister.
 * @public
 */
export function kvmMmuNotifierRegister(kvm: Kvm): () => void {
  const open: number[] = [];
  const ops: MmuNotifierOps = {
    invalidateRangeStart(_mm: Mm, start: bigint, end: bigint) {
      const ranges = hvaToGfnRanges(kvm, start, end);
      open.push(ranges.length);
      if (!ranges.length) return;
      kvm.mmuLock.downWrite();
      try {
        for (const [s, e] of ranges) {
          kvmMmuInvalidateBegin(kvm, s, e);
          kvmUnmapGfnRange(kvm, s, e);
        }
      } finally {
        kvm.mmuLock.upWrite();
      }
    },
    invalidateRangeEnd() {
      const n = open.pop() ?? 0;
      if (!n) return;
      kvm.mmuLock.downWrite();
      try {
        for (let i = 0; i < n; i++) kvmMmuInvalidateEnd(kvm);
      } finally {
        kvm.mmuLock.upWrite();
      }
    },
  };
  kvm.mm.mmuNotifierRegister(ops);
  return () => kvm.mm.mmuNotifierUnregister(ops);
}

/**
 * A mainline memslot: pages come from the VMM's address space at
 * `userspace_addr`. `hva_to_pfn()`: the VMA (none → `EFAULT`), the PTE, and
 * when absent `fixup_user_fault()` through the VMA's fault handler (vfio
 * refuses while revoked: SIGBUS → `KVM_PFN_ERR_FAULT` → `EFAULT`).
 * @public
 */
export function kvmHvaBackend(kvm: Kvm, userspaceAddr: bigint): KvmMemslotBackend {
  return {
    kind: "hva",
    privateCapable: false,
    getPfn(slot: KvmMemorySlot, gfn: bigint, write: boolean): SlotPfn | "EFAULT" {
      const hva = userspaceAddr + ((gfn - slot.baseGfn) << BigInt(PAGE_SHIFT));
      const vma = kvm.mm.findVma(hva);
      if (!vma) return "EFAULT";
      let pfn = kvm.mm.ptePfn(hva);
      if (pfn === undefined) {
        if (kvm.mm.fixupUserFault(hva, write) !== 0) return "EFAULT";
        pfn = kvm.mm.ptePfn(hva);
        if (pfn === undefined) return "EFAULT";
      }
      return { pfn: BigInt(pfn), writable: (vma.flags & VM_WRITE) !== 0 && !(slot.flags & KVM_MEM_READONLY), maxOrder: 0 };
    },
    unbind() {},
    attachment: () => null,
    describe: () => `hva ${userspaceAddr.toString(16)}`,
  };
}
