// arch/x86/kvm/mmu/mmu.c and virt/kvm/kvm_main.c (mmu_invalidate_*): the stage-2 table, its invalidation sequence and the fault path.
import { KernelBug, PAGE_SHIFT, type Errno } from "@dmabuf-sdk/dmabuf-core";
import type { Spte } from "./kvm-host.js";
import type { Kvm } from "./kvm-main.js";
import { KVM_MEMORY_EXIT_FLAG_PRIVATE, KVM_MEMORY_ATTRIBUTE_PRIVATE } from "./kvm-uapi.js";

/** `struct kvm_memory_exit` of `KVM_EXIT_MEMORY_FAULT`. @public */
export interface KvmMemoryFault {
  readonly flags: bigint;
  readonly gpa: bigint;
  readonly size: bigint;
}

/** What `kvm_mmu_page_fault()` ends with. @public */
export type KvmFaultResult =
  | { readonly ret: "RET_PF_FIXED" }
  | { readonly ret: "RET_PF_RETRY" }
  /** No slot: the access is emulated MMIO (`KVM_EXIT_MMIO`). */
  | { readonly ret: "RET_PF_EMULATE" }
  /** `KVM_RUN` fails with `errno`; `memoryFault` set when `kvm_prepare_memory_fault_exit()` ran. */
  | { readonly ret: "error"; readonly errno: Errno; readonly memoryFault?: KvmMemoryFault };

/** The points of the fault path where another task may run (the model's preemption points). @public */
export type KvmFaultPoint = "after_get_pfn";

/** `PG_LEVEL_*` for `max_order` (`level_for_order`): ≥18 → 1 GiB, ≥9 → 2 MiB, else 4 KiB. @public */
export function kvmLevelForOrder(order: number): "4K" | "2M" | "1G" {
  return order >= 18 ? "1G" : order >= 9 ? "2M" : "4K";
}

/**
 * `kvm_mmu_invalidate_begin()`: one more invalidation in progress; the range
 * grows to cover [start, end). Caller holds `mmu_lock` for write.
 * @public
 */
export function kvmMmuInvalidateBegin(kvm: Kvm, start: bigint, end: bigint): void {
  kvm.mmuLock.assertHeldWrite("kvm_mmu_invalidate_begin");
  if (kvm.mmuInvalidateInProgress++ === 0) {
    kvm.mmuInvalidateRangeStart = start;
    kvm.mmuInvalidateRangeEnd = end;
  } else {
    if (start < kvm.mmuInvalidateRangeStart) kvm.mmuInvalidateRangeStart = start;
    if (end > kvm.mmuInvalidateRangeEnd) kvm.mmuInvalidateRangeEnd = end;
  }
}

/**
 * `kvm_mmu_invalidate_end()`: bumps `mmu_invalidate_seq` (so a fault that
 * looked up its pfn before retries) and closes one invalidation.
 * @public
 */
export function kvmMmuInvalidateEnd(kvm: Kvm): void {
  kvm.mmuLock.assertHeldWrite("kvm_mmu_invalidate_end");
  kvm.mmuInvalidateSeq++;
  if (kvm.mmuInvalidateInProgress === 0) throw new KernelBug("kvm", "mmu_invalidate_in_progress underflow");
  if (--kvm.mmuInvalidateInProgress === 0) {
    kvm.mmuInvalidateRangeStart = -1n;
    kvm.mmuInvalidateRangeEnd = -1n;
  }
}

/**
 * `mmu_invalidate_retry_gfn()`: the fault must retry when an invalidation
 * covering `gfn` is open, or one finished since `mmuSeq` was read.
 * @public
 */
export function mmuInvalidateRetryGfn(kvm: Kvm, mmuSeq: bigint, gfn: bigint): boolean {
  if (kvm.mmuInvalidateInProgress > 0 && gfn >= kvm.mmuInvalidateRangeStart && gfn < kvm.mmuInvalidateRangeEnd) return true;
  return kvm.mmuInvalidateSeq !== mmuSeq;
}

/**
 * `kvm_unmap_gfn_range()` over both roots: drops every SPTE in [start, end).
 * Private entries go with `TDH.MMIO.BLOCK` + `TDH.MMIO.UNMAP` on TDX.
 * Returns whether anything was zapped (a remote TLB flush follows).
 * @public
 */
export function kvmUnmapGfnRange(kvm: Kvm, start: bigint, end: bigint): boolean {
  kvm.mmuLock.assertHeldWrite("kvm_unmap_gfn_range");
  let flush = false;
  for (const root of [kvm.sharedRoot, kvm.privateRoot]) {
    for (const gfn of [...root.keys()]) {
      if (gfn < start || gfn >= end) continue;
      const spte = root.get(gfn)!;
      root.delete(gfn);
      flush = true;
      if (spte.private && spte.mmio) kvm.kernel.trace.emit("tdh_mmio_unmap", { gpa: gfn << BigInt(PAGE_SHIFT), pfn: spte.pfn });
    }
  }
  if (flush) kvm.kernel.trace.emit("kvm_flush_remote_tlbs", { start, end });
  return flush;
}

/**
 * One whole invalidation of [start, end): `mmu_lock` for write,
 * `invalidate_begin`, zap, `invalidate_end`. What a dma-buf slot's
 * `invalidate_mappings`, an mmu notifier, an attribute change and slot
 * deletion all do.
 * @public
 */
export function kvmZapGfnRange(kvm: Kvm, start: bigint, end: bigint): boolean {
  kvm.mmuLock.downWrite();
  try {
    kvmMmuInvalidateBegin(kvm, start, end);
    const flushed = kvmUnmapGfnRange(kvm, start, end);
    kvmMmuInvalidateEnd(kvm);
    return flushed;
  } finally {
    kvm.mmuLock.upWrite();
  }
}

/** `kvm_mem_is_private()`: the gfn's attribute. @public */
export function kvmMemIsPrivate(kvm: Kvm, gfn: bigint): boolean {
  return ((kvm.memAttributes.get(gfn) ?? 0n) & KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0n;
}

/** `kvm_prepare_memory_fault_exit()`. */
function memoryFault(gpa: bigint, isPrivate: boolean): KvmMemoryFault {
  return { flags: isPrivate ? KVM_MEMORY_EXIT_FLAG_PRIVATE : 0n, gpa: gpa & ~0xfffn, size: 4096n };
}

/**
 * `kvm_mmu_page_fault()` → `kvm_tdp_page_fault()` for a stage-2 miss at
 * `gpa`. In order:
 * 1. the slot (`kvm_vcpu_gfn_to_memslot`); `mmu_seq` is read **before** the pfn;
 * 2. access attribute ≠ gfn attribute: memory-fault exit, `EFAULT`;
 * 3. no slot: private → memory-fault exit, `EFAULT`; shared → emulated MMIO;
 * 4. private access to a slot that cannot be private: memory-fault exit, `EFAULT`;
 * 5. the backend's pfn; on error a private access also gets the memory-fault
 *    exit (RFC 07/12), a shared one only the errno (`EIO` for dma-buf slots);
 * 6. a write to a read-only slot: emulated (`KVM_EXIT_MMIO`);
 * 7. `mmu_lock`; `mmu_invalidate_retry_gfn()` → `RET_PF_RETRY` (a revoke ran
 *    since step 1: never install what get_pfn said before it);
 * 8. install the SPTE (private entries: `TDH.MMIO.MAP`, 4 KiB only).
 * @public
 */
export function kvmMmuPageFault(kvm: Kvm, gpa: bigint, isPrivate: boolean, write: boolean): KvmFaultResult {
  const gfn = gpa >> BigInt(PAGE_SHIFT);
  const slot = kvm.gfnToMemslot(0, gfn);
  const mmuSeq = kvm.mmuInvalidateSeq;
  if (kvm.hasPrivateMem && isPrivate !== kvmMemIsPrivate(kvm, gfn)) return { ret: "error", errno: "EFAULT", memoryFault: memoryFault(gpa, isPrivate) };
  if (!slot) return isPrivate ? { ret: "error", errno: "EFAULT", memoryFault: memoryFault(gpa, true) } : { ret: "RET_PF_EMULATE" };
  if (isPrivate && !slot.backend.privateCapable) return { ret: "error", errno: "EFAULT", memoryFault: memoryFault(gpa, true) };
  const r = slot.backend.getPfn(slot, gfn, write);
  if (typeof r === "string") return isPrivate ? { ret: "error", errno: r, memoryFault: memoryFault(gpa, true) } : { ret: "error", errno: r, ...(slot.backend.kind === "hva" ? { memoryFault: memoryFault(gpa, false) } : {}) };
  if (write && !r.writable) return { ret: "RET_PF_EMULATE" };
  kvm.preempt("after_get_pfn");
  kvm.mmuLock.downWrite();
  try {
    if (mmuInvalidateRetryGfn(kvm, mmuSeq, gfn)) {
      kvm.kernel.trace.emit("kvm_mmu_fault_retry", { gfn, seq: kvm.mmuInvalidateSeq, was: mmuSeq });
      return { ret: "RET_PF_RETRY" };
    }
    const mmio = !kvm.kernel.platform.physmem.pageIsRam(Number(r.pfn));
    const spte: Spte = { pfn: r.pfn, writable: r.writable, private: isPrivate, mmio };
    (isPrivate ? kvm.privateRoot : kvm.sharedRoot).set(gfn, spte);
    if (isPrivate && mmio) kvm.kernel.trace.emit("tdh_mmio_map", { gpa: gfn << BigInt(PAGE_SHIFT), pfn: r.pfn });
    kvm.kernel.trace.emit("kvm_mmu_map", { gfn, pfn: r.pfn, level: isPrivate ? "4K" : kvmLevelForOrder(r.maxOrder), private: isPrivate, slot: slot.id });
    return { ret: "RET_PF_FIXED" };
  } finally {
    kvm.mmuLock.upWrite();
  }
}
