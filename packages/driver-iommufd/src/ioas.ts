// drivers/iommu/iommufd/ioas.c: struct iommufd_ioas, an I/O address space and its map/unmap ioctls.
import { KernelError, PAGE_SIZE_N, dmaBufGet, dmaBufPut, isDmaBufFile, type DmaBuf } from "@dmabuf-sdk/dmabuf-core";
import type { IommufdHwptPaging } from "./device.js";
import { IoPagetable, ULONG_MAX, convIommuProt, type IoptArea } from "./io-pagetable.js";
import { IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE } from "./iommufd.js";
import { iommufdUcmdRespond, type IommufdCtx, type IommufdUcmd } from "./main.js";
import { MAX_NPFNS, claimIoptPagesAlloc, type IoptPages } from "./pages.js";

const ioptPagesAllocDmabuf = claimIoptPagesAlloc();

/** `struct iommufd_ioas`: an I/O address space with its page table of areas. @public */
export class IommufdIoas {
  readonly kind = "ioas";
  readonly iopt: IoPagetable;
  /** The auto-allocated paging domains of devices attached to it. */
  readonly hwpts: IommufdHwptPaging[] = [];

  constructor(
    readonly ictx: IommufdCtx,
    readonly id: number,
  ) {
    this.iopt = new IoPagetable(ictx.kernel);
  }

  /** `iommufd_ioas_destroy()`: unmaps every area. */
  destroy(): void {
    this.iopt.unmapAll();
    this.ictx.removeObject(this);
  }
}

/** `iommufd_get_ioas()`: `ENOENT` for an unknown id or an object that is not an IOAS. @public */
export function iommufdGetIoas(ictx: IommufdCtx, id: number): IommufdIoas {
  const obj = ictx.getObject(id);
  if (!obj || obj.kind !== "ioas") throw new KernelError("ENOENT", "iommufd_get_ioas", `id ${id}`);
  return obj;
}

/** `IOMMU_IOAS_ALLOC`: `flags` must be 0 (`EOPNOTSUPP`); writes the new id to `out_ioas_id`. */
export function iommufdIoasAlloc(ucmd: IommufdUcmd): number {
  const flags = ucmd.cmd.getUint32(4, true);
  if (flags) throw new KernelError("EOPNOTSUPP", "iommufd_ioas_alloc", "flags");
  ucmd.ictx.kernel.alloc.kzalloc("iommufd_ioas");
  const ioas = ucmd.ictx.addObject((id) => new IommufdIoas(ucmd.ictx, id)) as IommufdIoas;
  ucmd.cmd.setUint32(8, ioas.id, true);
  iommufdUcmdRespond(ucmd, 12);
  return 0;
}

/**
 * `IOMMU_DESTROY`: an IOAS in use by a device (`EBUSY`), an object the
 * user does not own (devices, auto domains: `EBUSY`), an unknown id
 * (`ENOENT`).
 */
export function iommufdDestroy(ucmd: IommufdUcmd): number {
  const id = ucmd.cmd.getUint32(4, true);
  const obj = ucmd.ictx.getObject(id);
  if (!obj) throw new KernelError("ENOENT", "iommufd_destroy", `id ${id}`);
  if (obj.kind !== "ioas" || obj.hwpts.length) throw new KernelError("EBUSY", "iommufd_destroy", `id ${id} is in use`);
  obj.destroy();
  return 0;
}

/**
 * `iopt_alloc_dmabuf_pages()` + `iopt_map_dmabuf()`: pages for
 * `[start, start + length)` of the buffer. `EINVAL` when the range reaches
 * past the buffer (`dmabuf->size <= start + length - 1`) or holds too many
 * pages; then the PAL import (its errno). The pages own the buffer
 * reference on success.
 */
function ioptAllocDmabufPages(ictx: IommufdCtx, dmabuf: DmaBuf, startByte: bigint, start: bigint, length: bigint, writable: boolean): IoptPages {
  if (dmabuf.size <= start + length - 1n || length / PAGE_SIZE_N >= MAX_NPFNS) throw new KernelError("EINVAL", "iopt_alloc_dmabuf_pages", "range beyond the dma-buf");
  ictx.kernel.alloc.kzalloc("iopt_pages");
  const npages = Number((length + startByte + PAGE_SIZE_N - 1n) / PAGE_SIZE_N);
  return ioptPagesAllocDmabuf(ictx.kernel, dmabuf, start - startByte, npages, writable);
}

/**
 * `iopt_map_file_pages()`: `EINVAL` for length 0, `EOVERFLOW` when
 * `start + length - 1` wraps; a dma-buf fd is imported (`dma_buf_get`), any
 * other open file would be pinned as memfd pages (not modelled: `EINVAL`, as
 * `memfd_pin_folios()` gives for a file that is not a memfd), a closed fd is
 * `EBADF`; then the area is inserted and every domain filled.
 */
function ioptMapFilePages(ictx: IommufdCtx, ioas: IommufdIoas, fd: number, start: bigint, length: bigint, prot: number, fixedIova: bigint | null): IoptArea {
  if (!length) throw new KernelError("EINVAL", "iopt_map_file_pages", "length 0");
  if (start + length - 1n > ULONG_MAX) throw new KernelError("EOVERFLOW", "iopt_map_file_pages");
  const startByte = start % PAGE_SIZE_N;
  const k = ictx.kernel;
  const file = k.current.files.lookup(fd);
  if (!file) throw new KernelError("EBADF", "iopt_map_file_pages", `fd ${fd}`);
  if (!isDmaBufFile(file)) throw new KernelError("EINVAL", "memfd_pin_folios", `fd ${fd} is a ${file.fops.name}, not a memfd`);
  const dmabuf = dmaBufGet(k, fd);
  let pages: IoptPages;
  try {
    pages = ioptAllocDmabufPages(ictx, dmabuf, startByte, start, length, (prot & 2) !== 0);
  } catch (e) {
    dmaBufPut(dmabuf);
    throw e;
  }
  try {
    return ioas.iopt.mapPages(pages, length, prot, fixedIova, startByte);
  } catch (e) {
    pages.release();
    throw e;
  }
}

/**
 * `IOMMU_IOAS_MAP_FILE`: maps `[start, start + length)` of a file (here: a
 * dma-buf) into an IOAS. In order: unknown flags `EOPNOTSUPP`; `iova` or
 * `length` ≥ `ULONG_MAX` `EOVERFLOW`; neither READABLE nor WRITEABLE
 * `EINVAL`; the IOAS (`ENOENT`); then {@link ioptMapFilePages} and the IOVA
 * (allocated, or checked with FIXED_IOVA: unaligned/reserved `EINVAL`,
 * overlapping `EEXIST`). Writes the IOVA back.
 */
export function iommufdIoasMapFile(ucmd: IommufdUcmd): number {
  const c = ucmd.cmd;
  const flags = c.getUint32(4, true);
  const ioasId = c.getUint32(8, true);
  const fd = c.getInt32(12, true);
  const start = c.getBigUint64(16, true);
  const length = c.getBigUint64(24, true);
  const iova = c.getBigUint64(32, true);
  if (flags & ~(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) throw new KernelError("EOPNOTSUPP", "iommufd_ioas_map_file", "flags");
  if (iova >= ULONG_MAX || length >= ULONG_MAX) throw new KernelError("EOVERFLOW", "iommufd_ioas_map_file");
  if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) throw new KernelError("EINVAL", "iommufd_ioas_map_file", "neither readable nor writeable");
  const ioas = iommufdGetIoas(ucmd.ictx, ioasId);
  const area = ioptMapFilePages(ucmd.ictx, ioas, fd, start, length, convIommuProt(flags), flags & IOMMU_IOAS_MAP_FIXED_IOVA ? iova : null);
  c.setBigUint64(32, area.iova, true);
  iommufdUcmdRespond(ucmd, 40);
  return 0;
}

/**
 * `IOMMU_IOAS_UNMAP`: `iova == 0 && length == U64_MAX` unmaps everything;
 * otherwise `EOVERFLOW` for values ≥ `ULONG_MAX`, then `iopt_unmap_iova()`
 * (`EINVAL`, `ENOENT`). Writes the unmapped length back.
 */
export function iommufdIoasUnmap(ucmd: IommufdUcmd): number {
  const c = ucmd.cmd;
  const ioas = iommufdGetIoas(ucmd.ictx, c.getUint32(4, true));
  const iova = c.getBigUint64(8, true);
  const length = c.getBigUint64(16, true);
  let unmapped: bigint;
  if (iova === 0n && length === ULONG_MAX) unmapped = ioas.iopt.unmapAll();
  else {
    if (iova >= ULONG_MAX || length >= ULONG_MAX) throw new KernelError("EOVERFLOW", "iommufd_ioas_unmap");
    unmapped = ioas.iopt.unmapIova(iova, length);
  }
  c.setBigUint64(16, unmapped, true);
  iommufdUcmdRespond(ucmd, 24);
  return 0;
}
