// A minimal MMIO exporter for tests: a slice of a PCI BAR exported with PAL (like vfio-pci), get_pfn (RFC 01/12), mmap, revoke and a private form.
import {
  KernelError,
  PAGE_SHIFT,
  VM_IO,
  VM_PFNMAP,
  dmaBufAttachRevocable,
  dmaBufExport,
  dmaBufInvalidateMappings,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvUnlock,
  unmapMappingRange,
  type DmaBuf,
  type DmaBufOps,
  type Kernel,
  type LoadedModule,
  type PciBar,
  type VmFault,
  type VmFaultResult,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufEmappingPal, type DmaBufMappingPalExpOps } from "../dma-buf-mapping-pal.js";

/** The private data of a test MMIO buffer. @public */
export class PalMmioBuffer {
  revoked = false;
  /** Lists handed out by `map_phys` and not given back. */
  outstanding = 0;
  /** What a vfio-like exporter would tell KVM (`struct vfio_dma_buf_data`). */
  sideData: { isPrivate: boolean; kvm: unknown } = { isPrivate: false, kvm: null };
  dmabuf!: DmaBuf<PalMmioBuffer>;
  constructor(
    /** CPU physical address of the first byte. */
    readonly paddr: bigint,
    readonly size: bigint,
    /** Private (confidential) MMIO: no PAL, no mmap; only `get_pfn`. */
    readonly isPrivate: boolean,
  ) {}
}

function priv(dmabuf: DmaBuf | null | undefined): PalMmioBuffer {
  return dmabuf!.priv as PalMmioBuffer;
}

const palOps: DmaBufMappingPalExpOps = {
  mapPhys(attach) {
    const p = priv(attach.dmabuf);
    dmaResvAssertHeld(attach.dmabuf!.resv, "pal_mmio_map_phys");
    if (p.revoked) throw new KernelError("ENODEV", "pal_mmio_map_phys", "revoked");
    p.outstanding++;
    return { length: 1, phys: [{ paddr: p.paddr, len: p.size }] };
  },
  unmapPhys(attach) {
    priv(attach.dmabuf).outstanding--;
  },
};

function getPfn(attach: Parameters<NonNullable<DmaBufOps["getPfn"]>>[0], pgoff: bigint): { pfn: bigint; maxOrder: number } {
  const p = priv(attach.dmabuf);
  dmaResvAssertHeld(attach.dmabuf!.resv, "pal_mmio_get_pfn");
  if (p.revoked) throw new KernelError("ENODEV", "pal_mmio_get_pfn", "revoked");
  if (pgoff << BigInt(PAGE_SHIFT) >= p.size) throw new KernelError("EINVAL", "pal_mmio_get_pfn", `page ${pgoff} past the end`);
  return { pfn: (p.paddr >> BigInt(PAGE_SHIFT)) + pgoff, maxOrder: 0 };
}

function fault(vmf: VmFault): VmFaultResult {
  const p = vmf.vma.privateData as PalMmioBuffer;
  if (p.revoked) return "VM_FAULT_SIGBUS";
  const pfn = (p.paddr >> BigInt(PAGE_SHIFT)) + vmf.pgoff;
  return vmf.vma.mm.vmfInsertPfn(vmf.vma, vmf.address, Number(pfn));
}

/** Shared MMIO: PAL for importers, `get_pfn`, and mmap (revocable importers only). @public */
export const palMmioSharedOps: DmaBufOps<PalMmioBuffer> = {
  singleExporterMatch: dmaBufEmappingPal(palOps),
  attach(dmabuf, attach) {
    if (dmabuf.priv.revoked) throw new KernelError("ENODEV", "pal_mmio_attach", "revoked");
    if (!dmaBufAttachRevocable(attach)) throw new KernelError("EOPNOTSUPP", "pal_mmio_attach", "importer is not revocable");
  },
  getPfn,
  release() {},
  mmap(dmabuf, vma) {
    if (dmabuf.priv.revoked) throw new KernelError("ENODEV", "pal_mmio_mmap", "revoked");
    vma.flags |= VM_IO | VM_PFNMAP;
    vma.ops = { name: "pal_mmio_vm_ops", fault };
    vma.privateData = dmabuf.priv;
  },
};

/** Private MMIO: only `get_pfn` (no mapping type, no mmap: never reachable from the host CPU). @public */
export const palMmioPrivateOps: DmaBufOps<PalMmioBuffer> = {
  attach: palMmioSharedOps.attach,
  getPfn,
  release() {},
};

/**
 * Exports `size` bytes of `bar` from `offset` (page aligned) as a dma-buf
 * owned by `owner`; the caller holds the one file reference.
 * @public
 */
export function palMmioExport(kernel: Kernel, owner: LoadedModule, bar: PciBar, offset: bigint, size: bigint, opts: { private?: boolean } = {}): DmaBuf<PalMmioBuffer> {
  if (offset + size > bar.size) throw new KernelError("EINVAL", "pal_mmio_export", "past the BAR");
  const p = new PalMmioBuffer(bar.start + offset, size, !!opts.private);
  p.sideData = { isPrivate: !!opts.private, kvm: null };
  const dmabuf = dmaBufExport(kernel, { owner, expName: "pal_mmio", ops: opts.private ? palMmioPrivateOps : palMmioSharedOps, size, flags: 2, priv: p });
  p.dmabuf = dmabuf;
  return dmabuf;
}

/**
 * Revokes (or restores) the buffer as vfio-pci does: under the resv lock flip
 * the state and invalidate every importer, then zap the CPU mappings.
 * @public
 */
export function palMmioSetRevoked(dmabuf: DmaBuf<PalMmioBuffer>, revoked: boolean): void {
  dmaResvLock(dmabuf.resv);
  try {
    dmabuf.priv.revoked = revoked;
    dmaBufInvalidateMappings(dmabuf);
  } finally {
    dmaResvUnlock(dmabuf.resv);
  }
  if (revoked) unmapMappingRange(dmabuf.kernel, dmabuf.file, 0n, dmabuf.priv.size);
}
