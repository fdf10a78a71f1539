// drivers/gpu/drm/xe/xe_pt.c: the GPU page table and its PTE bits.
import { DmaFault, KernelError, PAGE_SIZE, dmaResvAssertHeld, dmaResvUnlock, hex } from "@dmabuf-sdk/dmabuf-core";
import { sgtableDmaAddressAt } from "@dmabuf-sdk/map-sgt";
import { XE_PL_VRAM0, xeBoAddr, xeBoGet, xeBoPut, type DrmPagemapAddr, type XeBo } from "./xe-bo.js";
import { xeBoLockAndValidate } from "./xe-dma-buf.js";
import { XE_PAGE_SIZE, type XeDevice } from "./xe-device.js";
import { xeGpuDmaReadInto, xeGpuDmaWrite, xeMigrateUpdatePgtables } from "./xe-migrate.js";

/** `XE_PAGE_PRESENT`. @public */
export const XE_PAGE_PRESENT = 1 << 0;
/** `XE_PAGE_RW`. @public */
export const XE_PAGE_RW = 1 << 1;
/** `XE_PPGTT_PTE_DM`: the address is a device physical address in VRAM, not a DMA address. @public */
export const XE_PPGTT_PTE_DM = 1 << 11;

/** A leaf GPU page-table entry of the PPGTT. @public */
export interface XePte {
  /** A DPA (with `XE_PPGTT_PTE_DM`) or a DMA address. */
  readonly addr: bigint;
  /** `XE_PAGE_PRESENT | XE_PAGE_RW | XE_PPGTT_PTE_DM` … */
  readonly flags: number;
}

/** How the last bind of a VMA found the BO's addresses (for tests and reports). @public */
export type XeBindSource = "vram" | "dma_data" | "sg" | "tt";

/** A GPU virtual address space (`struct xe_vm`): a PPGTT of 4 KiB entries. @public */
export class XeVm {
  /** Tracking id. */
  readonly id: number;
  /** Leaf entries by GPU page number. */
  readonly ptes = new Map<number, XePte>();
  /** The VMAs bound in it. */
  readonly vmas = new Set<XeVma>();
  /** Set by {@link xeVmDestroy}. */
  closed = false;

  /** @internal use {@link xeVmCreate} */
  constructor(
    /** The device whose GPU uses the address space. */
    readonly xe: XeDevice,
  ) {
    this.id = xe.kernel.objects.track("xe_vm", this, () => `xe_vm of ${xe.pdev.name} with ${this.vmas.size} VMA(s)`);
  }
}

/** A mapping of part of a BO at a GPU virtual address (`struct xe_vma`); holds a BO reference. @public */
export class XeVma {
  /** The PTEs are present (false after an invalidation zapped them, until the next rebind). */
  bound = false;
  /** Where the last bind took the addresses from. */
  source: XeBindSource | null = null;

  /** @internal use {@link xeVmBind} */
  constructor(
    /** The address space. */
    readonly vm: XeVm,
    /** The mapped BO (a reference is held). */
    readonly bo: XeBo,
    /** First GPU virtual address. */
    readonly start: bigint,
    /** Bytes mapped. */
    readonly size: bigint,
    /** Offset in the BO of the first byte. */
    readonly boOffset: bigint,
  ) {}

  /** `xe_vm_invalidate_vma()`: removes the VMA's PTEs; the GPU faults there until a rebind. */
  zap(): void {
    if (!this.bound) return;
    const first = Number(this.start / BigInt(PAGE_SIZE));
    const n = Number(this.size / BigInt(PAGE_SIZE));
    for (let i = 0; i < n; i++) this.vm.ptes.delete(first + i);
    this.bound = false;
    this.vm.xe.kernel.trace.emit("xe_vma_invalidate", { vm: this.vm.id, start: this.start, size: this.size });
  }
}

/** `xe_vm_create()`. @public */
export function xeVmCreate(xe: XeDevice): XeVm {
  xe.kernel.alloc.kzalloc("xe_vm");
  return new XeVm(xe);
}

/** `xe_vm_close_and_put()`: unbinds every VMA. @public */
export function xeVmDestroy(vm: XeVm): void {
  for (const vma of [...vm.vmas]) xeVmUnbind(vma);
  vm.closed = true;
  vm.xe.kernel.objects.untrack(vm);
}

/**
 * `xe_res_first_dma()` walk of `bo->dma_data.dma_addr`: calls `fn` with the
 * DPA and length of each contiguous piece of `[start, start + size)`.
 */
function walkDmaAddr(entries: readonly DrmPagemapAddr[], start: bigint, size: bigint, fn: (dpa: bigint, len: bigint) => void): void {
  let base = 0n;
  let left = size;
  let at = start;
  for (const e of entries) {
    if (left === 0n) return;
    const len = BigInt(PAGE_SIZE) << BigInt(e.order);
    if (at < base + len) {
      const off = at - base;
      const n = len - off < left ? len - off : left;
      fn(e.addr + off, n);
      at += n;
      left -= n;
    }
    base += len;
  }
  if (left > 0n) throw new KernelError("EINVAL", "xe_res_first_dma", `${left} bytes beyond the translated addresses`);
}

/**
 * `xe_pt_stage_bind()` (resv held, asserted): fills the VMA's PTEs from
 * where the BO is. In the kernel's order: a BO in VRAM gives DPAs of its
 * blocks; a BO imported over IOV (`bo->dma_data.dma_addr` set) gives its
 * translated DPAs with `dma_offset` 0; otherwise the DMA addresses of its
 * scatter-gather table (an imported SGT, or its own system pages). DPAs get
 * `XE_PPGTT_PTE_DM`. @throws KernelError `EINVAL` when the BO has no pages.
 * @public
 */
export function xePtStageBind(vma: XeVma): void {
  const bo = vma.bo;
  dmaResvAssertHeld(bo.resv, "xe_pt_stage_bind");
  const vm = vma.vm;
  const first = Number(vma.start / BigInt(PAGE_SIZE));
  const pages = Number(vma.size / BigInt(PAGE_SIZE));
  const staged: [number, XePte][] = [];
  const set = (i: number, addr: bigint, dm: boolean) => void staged.push([first + i, { addr, flags: XE_PAGE_PRESENT | XE_PAGE_RW | (dm ? XE_PPGTT_PTE_DM : 0) }]);
  const ps = BigInt(PAGE_SIZE);
  let source: XeBindSource;
  if (bo.type === "ttm_bo_type_device" && bo.memType === XE_PL_VRAM0) {
    source = "vram";
    for (let i = 0; i < pages; i++) set(i, xeBoAddr(bo, vma.boOffset + BigInt(i) * ps, XE_PAGE_SIZE), true);
  } else if (bo.dmaData.dmaAddr) {
    source = "dma_data";
    let i = 0;
    walkDmaAddr(bo.dmaData.dmaAddr, vma.boOffset, vma.size, (dpa, len) => {
      for (let o = 0n; o < len; o += ps) set(i++, dpa + o, true);
    });
  } else {
    const sgt = bo.type === "ttm_bo_type_sg" ? bo.import!.sg : bo.ttSgt;
    if (!sgt) throw new KernelError("EINVAL", "xe_pt_stage_bind", `${bo.name} has no pages (${bo.memType})`);
    source = bo.type === "ttm_bo_type_sg" ? "sg" : "tt";
    for (let i = 0; i < pages; i++) set(i, sgtableDmaAddressAt(sgt, vma.boOffset + BigInt(i) * ps).addr, false);
  }
  // The PTE writes go to the GPU as a bind job on the migration queue.
  xeMigrateUpdatePgtables(vm.xe, () => {
    for (const [i, pte] of staged) vm.ptes.set(i, pte);
  });
  vma.bound = true;
  vma.source = source;
  bo.kernel.trace.emit("xe_vma_bind", { vm: vm.id, start: vma.start, size: vma.size, bo: bo.id, source });
}

/** Validates the VMA's BO (mapping an import, re-attaching on an IOV fallback) and stages its PTEs. */
function bindVma(vma: XeVma): void {
  const bo = vma.bo;
  xeBoLockAndValidate(bo);
  try {
    xePtStageBind(vma);
  } finally {
    dmaResvUnlock(bo.resv);
  }
}

/**
 * `DRM_XE_VM_BIND_OP_MAP`: maps `size` bytes of `bo` from `boOffset` at GPU
 * address `va` (page aligned, inside the BO, not overlapping another VMA:
 * `EINVAL`), validating the BO first. The VMA holds a BO reference.
 * @public
 */
export function xeVmBind(vm: XeVm, bo: XeBo, va: bigint, boOffset: bigint, size: bigint): XeVma {
  const ps = BigInt(PAGE_SIZE);
  if (vm.closed || bo.xe !== vm.xe) throw new KernelError("EINVAL", "xe_vm_bind", "closed VM or foreign BO");
  if (va % ps || boOffset % ps || size % ps || size <= 0n || boOffset + size > bo.size) throw new KernelError("EINVAL", "xe_vm_bind", `bad range ${hex(va)}+${hex(size)} @ ${hex(boOffset)}`);
  for (const o of vm.vmas) if (va < o.start + o.size && o.start < va + size) throw new KernelError("EINVAL", "xe_vm_bind", `${hex(va)} overlaps a VMA`);
  vm.xe.kernel.alloc.kzalloc("xe_vma");
  const vma = new XeVma(vm, xeBoGet(bo), va, size, boOffset);
  vm.vmas.add(vma);
  bo.vmas.add(vma);
  try {
    bindVma(vma);
  } catch (e) {
    vm.vmas.delete(vma);
    bo.vmas.delete(vma);
    xeBoPut(bo);
    throw e;
  }
  return vma;
}

/** `DRM_XE_VM_BIND_OP_UNMAP`: removes the VMA and drops its BO reference. @public */
export function xeVmUnbind(vma: XeVma): void {
  vma.zap();
  vma.vm.vmas.delete(vma);
  vma.bo.vmas.delete(vma);
  xeBoPut(vma.bo);
}

/** `xe_vm_rebind()` (before an exec): binds again every VMA an invalidation zapped. @public */
export function xeVmRebind(vm: XeVm): void {
  for (const vma of vm.vmas) if (!vma.bound) bindVma(vma);
}

function gpuAccess(vm: XeVm, va: bigint, len: number, write: boolean, fn: (pte: XePte, off: bigint, pos: number, n: number) => void): void {
  let pos = 0;
  while (pos < len) {
    const a = va + BigInt(pos);
    const page = Number(a / BigInt(PAGE_SIZE));
    const off = Number(a % BigInt(PAGE_SIZE));
    const n = Math.min(PAGE_SIZE - off, len - pos);
    const pte = vm.ptes.get(page);
    if (!pte) {
      vm.xe.kernel.printk.err(`xe ${vm.xe.pdev.name}: [drm] GPU page fault: ${write ? "write" : "read"} at ${hex(a)} (vm ${vm.id}): no PTE`);
      throw new DmaFault(vm.xe.pdev, a, write, "iommu-not-present");
    }
    fn(pte, BigInt(off), pos, n);
    pos += n;
  }
}

/**
 * The GPU reads through its page tables (what a shader or the copy engine in
 * a user VM does): a `DM` entry reaches VRAM by DPA, any other goes out as a
 * DMA address. A missing entry is a GPU page fault (`DmaFault`).
 * @public
 */
export function xeVmRead(vm: XeVm, va: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  gpuAccess(vm, va, len, false, (pte, off, pos, n) => {
    const dst = out.subarray(pos, pos + n);
    xeGpuDmaReadInto(vm.xe, pte.flags & XE_PPGTT_PTE_DM ? { dpa: pte.addr + off } : { dma: pte.addr + off }, dst);
  });
  return out;
}

/** The GPU writes through its page tables. @public */
export function xeVmWrite(vm: XeVm, va: bigint, data: Uint8Array): void {
  gpuAccess(vm, va, data.length, true, (pte, off, pos, n) => {
    const src = data.subarray(pos, pos + n);
    xeGpuDmaWrite(vm.xe, pte.flags & XE_PPGTT_PTE_DM ? { dpa: pte.addr + off } : { dma: pte.addr + off }, src);
  });
}
