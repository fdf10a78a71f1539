// CPU mappings of Xe BOs through their dma-buf (xe_gem_prime_mmap → the TTM fault handler, ttm_bo_vm.c), and what they see after removal.
import { KernelError, VM_DONTDUMP, VM_DONTEXPAND, VM_IO, VM_PFNMAP, VM_SHARED, dmaResvLock, dmaResvUnlock, type DmaBuf, type VmArea, type VmFault, type VmFaultResult, type VmOperations } from "@dmabuf-sdk/dmabuf-core";
import type { DrmUnplugMmapPolicy } from "@dmabuf-sdk/drm";
import { XE_PL_SYSTEM, XE_PL_TT, XE_PL_VRAM0, xeBoMove, xeBoVramPage, type XeBo } from "./xe-bo.js";

interface XeBoVma {
  readonly bo: XeBo;
  /** The page `ttm_bo_vm_dummy_page()` maps after removal, allocated on the first such fault. */
  dummyPfn: number | null;
}

/**
 * What a CPU mapping of a removed device's buffer sees. The DRM uAPI
 * documentation ("Device Hot-Unplug") forbids SIGBUS and asks for a dummy
 * page (what TTM drivers do: `ttm_bo_vm_dummy_page()`); the dma-buf
 * maintainer's 2026 statement allows either. `"dummy-page"` is the default.
 * @public
 */
export function xeBoUnplugMmapPolicy(bo: XeBo): DrmUnplugMmapPolicy {
  return bo.xe.unplugMmap;
}

/**
 * The TTM fault handler for Xe BOs: a system BO is populated first, then the
 * page is the VRAM page behind the LMEM BAR or the BO's system page. After
 * removal (`drm_dev_enter()` fails): the whole VMA maps one dummy page, or
 * SIGBUS, per {@link xeBoUnplugMmapPolicy}.
 */
function xeBoVmFault(vmf: VmFault): VmFaultResult {
  const v = vmf.vma.privateData as XeBoVma;
  const bo = v.bo;
  const mm = vmf.vma.mm;
  if (bo.xe.vramGone) {
    if (xeBoUnplugMmapPolicy(bo) === "sigbus") return "VM_FAULT_SIGBUS";
    if (v.dummyPfn === null) {
      try {
        v.dummyPfn = bo.kernel.platform.physmem.allocPages(0, "ttm dummy page");
      } catch {
        return "VM_FAULT_SIGBUS"; // VM_FAULT_OOM in the kernel; the model has one signal
      }
    }
    return mm.vmfInsertPfn(vmf.vma, vmf.address, v.dummyPfn);
  }
  const i = Number(vmf.pgoff);
  if (i >= bo.npages) return "VM_FAULT_SIGBUS";
  dmaResvLock(bo.resv);
  try {
    if (bo.memType === XE_PL_SYSTEM) xeBoMove(bo, XE_PL_TT);
    const pfn = bo.memType === XE_PL_VRAM0 ? Number(bo.xe.lmemBar.start >> 12n) + xeBoVramPage(bo, i) : bo.ttPfns![i]!;
    return mm.vmfInsertPfn(vmf.vma, vmf.address, pfn);
  } catch {
    return "VM_FAULT_SIGBUS";
  } finally {
    dmaResvUnlock(bo.resv);
  }
}

/** `ttm_bo_vm_ops`. */
const xeBoVmOps: VmOperations = {
  name: "xe_gem_vm_ops",
  fault: xeBoVmFault,
  close(vma) {
    const v = vma.privateData as XeBoVma;
    if (v.dummyPfn !== null) v.bo.kernel.platform.physmem.freePages(v.dummyPfn, 0);
    v.dummyPfn = null;
  },
};

/**
 * `xe_gem_prime_mmap()` (`drm_gem_prime_mmap` → `drm_gem_mmap_obj`): a
 * shared mapping whose pages come from the fault handler. `ENODEV` once the
 * device is gone, `EINVAL` for a private mapping.
 * @public
 */
export function xeGemPrimeMmap(dmabuf: DmaBuf<XeBo>, vma: VmArea): void {
  const bo = dmabuf.priv;
  if (bo.xe.vramGone) throw new KernelError("ENODEV", "xe_gem_prime_mmap", `${bo.xe.pdev.name} was removed`);
  if (!(vma.flags & VM_SHARED)) throw new KernelError("EINVAL", "xe_gem_prime_mmap", "not a shared mapping");
  vma.flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  vma.caching = bo.memType === XE_PL_VRAM0 || bo.memType === XE_PL_TT ? "write-combine" : "cached";
  vma.ops = xeBoVmOps;
  vma.privateData = { bo, dummyPfn: null } satisfies XeBoVma;
}
