// An unconverted (pre-mapping-type) dma-buf exporter with page-by-page system memory, served by the SGT compat layer.
import {
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  PAGE_SIZE,
  dmaBufExport,
  dmaBufPut,
  type DmaBuf,
  type DmaBufOps,
  type ExportedBuffer,
  type ExporterFixture,
  type Kernel,
  type KernelModule,
  type LoadedModule,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaMapSgtable, dmaUnmapSgtable } from "../dma-mapping.js";
import { dmaBufSgtModule } from "../module.js";
import { sgAllocTable, sgFreeTable, sgSetPage, type SgTable } from "../scatterlist.js";

/** Private data of a compat-exporter buffer: its pages, one at a time (not contiguous). @public */
export interface CompatExporterBuffer {
  readonly pfns: number[];
}

/**
 * An exporter not converted to mapping types, in the style of a simple
 * system-memory exporter before patch 07: legacy `map_dma_buf` /
 * `unmap_dma_buf` that build a page-backed table and `dma_map_sgtable()` it
 * for `attach->dev`. Core matches it through the SGT compatibility entry.
 */
const compatExporterOps: DmaBufOps<CompatExporterBuffer> = {
  mapDmaBuf(attach, dir) {
    const buf = attach.dmabuf!.priv as CompatExporterBuffer;
    const dev = attach.dev;
    if (!dev) throw new KernelError("EINVAL", "compat_exporter_map_dma_buf", "no attach->dev");
    const sgt = sgAllocTable(attach.kernel, buf.pfns.length);
    buf.pfns.forEach((pfn, i) => sgSetPage(sgt, i, pfn, PAGE_SIZE, 0));
    try {
      dmaMapSgtable(dev, sgt, dir, 0);
    } catch (e) {
      sgFreeTable(sgt);
      throw e;
    }
    return sgt;
  },
  unmapDmaBuf(attach, sgt, dir) {
    dmaUnmapSgtable(attach.dev!, sgt as SgTable, dir, 0);
    sgFreeTable(sgt as SgTable);
  },
  release(dmabuf) {
    for (const pfn of dmabuf.priv.pfns) dmabuf.kernel.platform.physmem.freePages(pfn, 0);
  },
};

/**
 * Allocates a page-backed buffer of `size` bytes and exports it with the
 * legacy ops. Nothing is left behind on failure.
 * @public
 */
export function compatExporterAlloc(kernel: Kernel, owner: LoadedModule, size: bigint): DmaBuf<CompatExporterBuffer> {
  const npages = Number((size + BigInt(PAGE_SIZE) - 1n) / BigInt(PAGE_SIZE));
  if (npages === 0) throw new KernelError("EINVAL", "compat_exporter_alloc", "size 0");
  const pfns: number[] = [];
  try {
    for (let i = 0; i < npages; i++) pfns.push(kernel.platform.physmem.allocPages(0, "compat_exporter"));
    return dmaBufExport(kernel, { owner, expName: "compat_exporter", ops: compatExporterOps, size: BigInt(npages * PAGE_SIZE), flags: O_RDWR | O_CLOEXEC, priv: { pfns } });
  } catch (e) {
    for (const pfn of pfns) kernel.platform.physmem.freePages(pfn, 0);
    throw e;
  }
}

/** The compat exporter driver as a module. @public */
export const compatExporterModule: KernelModule = {
  name: "compat_exporter",
  license: "GPL",
  description: "Unconverted page-backed exporter (legacy map_dma_buf), a conformance fixture",
  importNs: ["DMA_BUF"],
  uses: ["dma_buf_export", "dma_buf_put", "sg_alloc_table", "sg_free_table", "dma_map_sgtable", "dma_unmap_sgtable"],
  // A getter: the SGT module provides these fixtures, so the import is cyclic.
  get requires() {
    return [dmaBufSgtModule];
  },
};

function pageRange(buf: CompatExporterBuffer, offset: bigint, len: number, fn: (phys: bigint, pos: number, n: number) => void): void {
  let pos = 0;
  while (pos < len) {
    const off = offset + BigInt(pos);
    const page = Number(off / BigInt(PAGE_SIZE));
    const inPage = Number(off % BigInt(PAGE_SIZE));
    const pfn = buf.pfns[page];
    if (pfn === undefined) throw new KernelError("ERANGE", "compat_exporter", `offset ${off} beyond the buffer`);
    const n = Math.min(PAGE_SIZE - inPage, len - pos);
    fn((BigInt(pfn) << 12n) + BigInt(inPage), pos, n);
    pos += n;
  }
}

/** Conformance fixture: the unconverted page-backed exporter. @public */
export const compatExporterFixture: ExporterFixture = {
  name: "compat-exporter",
  description: "unconverted system-memory exporter with legacy map_dma_buf (SGT through the compat entry)",
  modules: [compatExporterModule],
  placeable: () => true,
  export(ctx, size): ExportedBuffer {
    const owner = ctx.kernel.modules.find(compatExporterModule.name)!;
    const dmabuf = compatExporterAlloc(ctx.kernel, owner, size);
    const buf = dmabuf.priv;
    const mem = ctx.kernel.platform.physmem;
    return {
      dmabuf,
      write(offset, data) {
        pageRange(buf, offset, data.length, (phys, pos, n) => mem.write(phys, data.subarray(pos, pos + n)));
      },
      read(offset, len) {
        const out = new Uint8Array(len);
        pageRange(buf, offset, len, (phys, pos, n) => out.set(mem.read(phys, n), pos));
        return out;
      },
      release() {
        dmaBufPut(dmabuf);
      },
    };
  },
};
