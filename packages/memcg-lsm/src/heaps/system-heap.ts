// drivers/dma-buf/heaps/system_heap.c: the system heap and its page orders.
import {
  ConformanceFixtures,
  KernelError,
  PAGE_SIZE,
  dmaBufExport,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  isKernelError,
  type DmaBuf,
  type DmaDataDirection,
  type DmaBufAttachment,
  type DmaBufOps,
  type Kernel,
  type KernelModule,
  type VmArea,
} from "@dmabuf-sdk/dmabuf-core";
import {
  dmaBufSgtDmaDevice,
  dmaBufSgtModule,
  dmaBufSimpleSgtExpMatch,
  dmaMapSgtable,
  dmaUnmapSgtable,
  sgAllocTable,
  sgFreeTable,
  sgSetPage,
  type SgTable,
} from "@dmabuf-sdk/map-sgt";
import { memcgLsmFixtures } from "../fixture.js";
import { dmaHeapAdd, dmaHeapGetName, dmaHeapModule, type DmaHeap } from "../dma-heap.js";

/** `orders[]` of the system heap: 1 MiB, 64 KiB, then single pages. @public */
export const SYSTEM_HEAP_ORDERS: readonly number[] = [8, 4, 0];

/** One allocation of the buddy allocator backing a buffer. @public */
export interface SystemHeapPage {
  readonly pfn: number;
  readonly order: number;
}

/** `struct system_heap_buffer`: pages, their table, and the attachments' copies. @public */
export interface SystemHeapBuffer {
  readonly heap: DmaHeap;
  readonly len: bigint;
  /** Pages in buffer order (largest orders first, as `alloc_largest_available()` gives them). */
  readonly pages: readonly SystemHeapPage[];
  /** The buffer's own table (CPU list only). */
  readonly sgTable: SgTable;
  /** Live attachments. */
  readonly attachments: ReadonlySet<DmaBufAttachment>;
}

interface BufferImpl extends SystemHeapBuffer {
  readonly attachments: Set<DmaBufAttachment>;
}

/** `struct dma_heap_attachment`: the attachment's own copy of the table. */
interface HeapAttachment {
  readonly table: SgTable;
  mapped: boolean;
}

/** `dup_sg_table()`. */
function dupSgTable(kernel: Kernel, from: SgTable): SgTable {
  const t = sgAllocTable(kernel, from.origNents);
  for (let i = 0; i < from.origNents; i++) sgSetPage(t, i, from.pagePfn![i]!, from.length![i]!, from.offset![i]!);
  return t;
}

/** The CPU access hooks' loop: each DMA segment of each mapped attachment's table, for its device. */
function syncMappedAttachments(dmabuf: DmaBuf<BufferImpl>, dir: DmaDataDirection, sync: typeof dmaSyncSingleForCpu): void {
  for (const attach of dmabuf.priv.attachments) {
    const a = attach.priv as HeapAttachment;
    if (!a.mapped) continue;
    const dev = dmaBufSgtDmaDevice(attach)!;
    for (let i = 0; i < a.table.nents; i++) sync(dev, a.table.dmaAddress[i]!, BigInt(a.table.dmaLength[i]!), dir);
  }
}

const systemHeapBufOps: DmaBufOps<BufferImpl> = {
  ...dmaBufSimpleSgtExpMatch(
    // system_heap_map_dma_buf(): map the attachment's copy for the importer's device.
    (attach, dir) => {
      const a = attach.priv as HeapAttachment;
      dmaMapSgtable(dmaBufSgtDmaDevice(attach)!, a.table, dir, 0);
      a.mapped = true;
      return a.table;
    },
    (attach, sgt, dir) => {
      const a = attach.priv as HeapAttachment;
      a.mapped = false;
      dmaUnmapSgtable(dmaBufSgtDmaDevice(attach)!, sgt, dir, 0);
    },
  ),
  // system_heap_attach(): kzalloc + dup_sg_table.
  attach(dmabuf, attach) {
    const k = dmabuf.kernel;
    k.alloc.kzalloc("dma_heap_attachment");
    const a: HeapAttachment = { table: dupSgTable(k, dmabuf.priv.sgTable), mapped: false };
    attach.priv = a;
    dmabuf.priv.attachments.add(attach);
  },
  detach(dmabuf, attach) {
    const a = attach.priv as HeapAttachment;
    dmabuf.priv.attachments.delete(attach);
    sgFreeTable(a.table);
    attach.priv = null;
  },
  // system_heap_dma_buf_begin_cpu_access(): dma_sync_sgtable_for_cpu() of every mapped attachment's table.
  beginCpuAccess(dmabuf, dir) {
    syncMappedAttachments(dmabuf, dir, dmaSyncSingleForCpu);
  },
  // system_heap_dma_buf_end_cpu_access(): dma_sync_sgtable_for_device() likewise.
  endCpuAccess(dmabuf, dir) {
    syncMappedAttachments(dmabuf, dir, dmaSyncSingleForDevice);
  },
  // system_heap_mmap(): remap_pfn_range() of every page from vm_pgoff.
  mmap(dmabuf, vma: VmArea) {
    let pgoff = Number(vma.pgoff);
    let addr = vma.start;
    for (const p of dmabuf.priv.pages) {
      const n = 1 << p.order;
      if (pgoff >= n) {
        pgoff -= n;
        continue;
      }
      for (let i = pgoff; i < n && addr < vma.end; i++, addr += BigInt(PAGE_SIZE)) vma.mm.vmfInsertPfn(vma, addr, p.pfn + i);
      pgoff = 0;
      if (addr >= vma.end) break;
    }
  },
  // system_heap_dma_buf_release(): free the table and the pages.
  release(dmabuf) {
    const b = dmabuf.priv;
    sgFreeTable(b.sgTable);
    for (const p of b.pages) dmabuf.kernel.platform.physmem.freePages(p.pfn, p.order);
  },
};

/** `totalram_pages()`. */
function totalramPages(kernel: Kernel): number {
  return kernel.platform.physmem.regions().reduce((n, r) => n + (r.kind === "ram" ? r.endPfn - r.startPfn : 0), 0);
}

/** `alloc_largest_available()`: the largest order that fits `size` and is not above `maxOrder`; any failure tries the next. */
function allocLargestAvailable(kernel: Kernel, size: bigint, maxOrder: number): SystemHeapPage | null {
  for (const order of SYSTEM_HEAP_ORDERS) {
    if (size < BigInt(PAGE_SIZE * 2 ** order)) continue;
    if (maxOrder < order) continue;
    try {
      return { pfn: kernel.platform.physmem.allocPages(order, "system_heap"), order };
    } catch (e) {
      if (!isKernelError(e)) throw e;
    }
  }
  return null;
}

/**
 * `system_heap_allocate()`: the buffer (`kzalloc`), pages by
 * `alloc_largest_available()` (never a larger order after a smaller one), a
 * table of one entry per allocation (`sg_alloc_table`), then `dma_buf_export()`
 * named after the heap. Any failure frees everything: `ENOMEM` (or the
 * export's errno). Requests larger than RAM fail at once with `ENOMEM`.
 */
function systemHeapAllocate(heap: DmaHeap, len: bigint, fdFlags: number, _heapFlags: bigint): DmaBuf<SystemHeapBuffer> {
  const kernel = heap.kernel;
  if (len / BigInt(PAGE_SIZE) > BigInt(totalramPages(kernel))) throw new KernelError("ENOMEM", "system_heap_allocate", `${len} bytes is more than RAM`);
  kernel.alloc.kzalloc("system_heap_buffer");
  const pages: SystemHeapPage[] = [];
  const free = (): void => {
    for (const p of pages) kernel.platform.physmem.freePages(p.pfn, p.order);
  };
  try {
    let remaining = len;
    let maxOrder = SYSTEM_HEAP_ORDERS[0]!;
    while (remaining > 0n) {
      const page = allocLargestAvailable(kernel, remaining, maxOrder);
      if (!page) throw new KernelError("ENOMEM", "system_heap_allocate", "alloc_largest_available");
      pages.push(page);
      remaining -= BigInt(PAGE_SIZE * 2 ** page.order);
      maxOrder = page.order;
    }
    const table = sgAllocTable(kernel, pages.length);
    pages.forEach((p, i) => sgSetPage(table, i, p.pfn, PAGE_SIZE * 2 ** p.order, 0));
    const buffer: BufferImpl = { heap, len, pages, sgTable: table, attachments: new Set() };
    try {
      return dmaBufExport<SystemHeapBuffer>(kernel, { owner: heap.owner, expName: dmaHeapGetName(heap), ops: systemHeapBufOps as DmaBufOps<SystemHeapBuffer>, size: len, flags: fdFlags, priv: buffer });
    } catch (e) {
      sgFreeTable(table);
      throw e;
    }
  } catch (e) {
    free();
    throw e;
  }
}

/** The physical address of byte `offset` of a system-heap buffer, and how many bytes follow it in the same page. @public */
export function systemHeapPhys(buffer: SystemHeapBuffer, offset: bigint): { phys: bigint; avail: number } {
  if (offset < 0n || offset >= buffer.len) throw new KernelError("ERANGE", "system_heap", `offset ${offset} beyond the buffer`);
  let page = Number(offset / BigInt(PAGE_SIZE));
  const inPage = Number(offset % BigInt(PAGE_SIZE));
  for (const p of buffer.pages) {
    const n = 2 ** p.order;
    if (page < n) return { phys: (BigInt(p.pfn + page) << 12n) + BigInt(inPage), avail: PAGE_SIZE - inPage };
    page -= n;
  }
  throw new KernelError("ERANGE", "system_heap", `offset ${offset} beyond the pages`);
}

/** CPU read of a system-heap buffer (the kernel mapping of its pages). @public */
export function systemHeapRead(kernel: Kernel, buffer: SystemHeapBuffer, offset: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let pos = 0; pos < len; ) {
    const { phys, avail } = systemHeapPhys(buffer, offset + BigInt(pos));
    const n = Math.min(avail, len - pos);
    out.set(kernel.platform.physmem.read(phys, n), pos);
    pos += n;
  }
  return out;
}

/** CPU write to a system-heap buffer. @public */
export function systemHeapWrite(kernel: Kernel, buffer: SystemHeapBuffer, offset: bigint, data: Uint8Array): void {
  for (let pos = 0; pos < data.length; ) {
    const { phys, avail } = systemHeapPhys(buffer, offset + BigInt(pos));
    const n = Math.min(avail, data.length - pos);
    kernel.platform.physmem.write(phys, data.subarray(pos, pos + n));
    pos += n;
  }
}

/** True when `dmabuf` was exported by a system heap. @public */
export function isSystemHeapBuffer(dmabuf: DmaBuf): dmabuf is DmaBuf<SystemHeapBuffer> {
  return dmabuf.ops === (systemHeapBufOps as DmaBufOps<unknown>);
}

/**
 * The system heap (`drivers/dma-buf/heaps/system_heap.c`): `/dev/dma_heap/system`,
 * page-backed buffers exported through the SGT mapping type
 * (`DMA_BUF_SIMPLE_SGT_EXP_MATCH`), with `mmap`. Loading it (`modprobe`)
 * brings in the dma-heap core, the memory controller, the LSM framework and
 * the SGT mapping type; it offers the `system-heap` exporter and the
 * memcg/LSM scenarios to the conformance matrix.
 * @public
 */
export const systemHeapModule: KernelModule = {
  name: "system_heap",
  license: "GPL",
  description: "DMA-BUF system heap: page-backed buffers exported as SGT (drivers/dma-buf/heaps/system_heap.c)",
  importNs: ["DMA_BUF", "DMA_BUF_HEAP"],
  uses: ["dma_heap_add", "dma_heap_get_name", "dma_buf_export", "sg_alloc_table", "sg_free_table", "dma_map_sgtable", "dma_unmap_sgtable"],
  requires: [dmaHeapModule, dmaBufSgtModule],
  init(ctx) {
    dmaHeapAdd(ctx, { name: "system", ops: { allocate: systemHeapAllocate }, priv: null });
    ctx.provide(ConformanceFixtures, memcgLsmFixtures);
  },
};
