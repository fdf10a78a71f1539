// Unconverted dma-buf importers (static and dynamic) that call dma_buf_map_attachment, as modules.
import {
  KernelError,
  dmaBufAttach,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaRead,
  dmaResvLock,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  MAX_SCHEDULE_TIMEOUT,
  withGetters,
  type Device,
  type DmaBuf,
  type DmaBufAttachOps,
  type DmaBufAttachment,
  type ImportedBuffer,
  type ImporterFixture,
  type KernelModule,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufMapAttachment, dmaBufMapAttachmentUnlocked, dmaBufUnmapAttachment, dmaBufUnmapAttachmentUnlocked } from "../sgt-map-attachment.js";
import { dmaBufSgtModule } from "../module.js";
import { dmaBufSgtRoute } from "../phys-vec-to-sgt.js";
import type { SgTable } from "../scatterlist.js";
import { sgtDmaRead, sgtDmaWrite } from "./sgt-importer-dma.js";

/** The compat static importer driver as a module. @public */
export const compatStaticImporterModule: KernelModule = {
  name: "compat_static_importer",
  license: "GPL",
  description: "Unconverted static importer (dma_buf_attach + map, pinned on map), a conformance fixture",
  importNs: ["DMA_BUF"],
  uses: ["dma_buf_attach", "dma_buf_detach", "dma_buf_sgt_map_attachment_unlocked", "dma_buf_sgt_unmap_attachment_unlocked"],
  // A getter: the SGT module provides these fixtures, so the import is cyclic.
  get requires() {
    return [dmaBufSgtModule];
  },
};

/** The compat dynamic importer driver as a module. @public */
export const compatDynamicImporterModule: KernelModule = {
  name: "compat_dynamic_importer",
  license: "GPL",
  description: "Unconverted dynamic importer in the style of RDMA's dma-buf umem, a conformance fixture",
  importNs: ["DMA_BUF"],
  uses: ["dma_buf_dynamic_attach", "dma_buf_detach", "dma_buf_sgt_map_attachment", "dma_buf_sgt_unmap_attachment"],
  // A getter: the SGT module provides these fixtures, so the import is cyclic.
  get requires() {
    return [dmaBufSgtModule];
  },
};

/**
 * A DMA device that only knows `dma_buf_attach()` and
 * `dma_buf_map_attachment_unlocked()`: a static importer, so a pinnable
 * exporter pins the buffer for each mapping, and no invalidation reaches it.
 * @public
 */
export class CompatStaticImporter {
  readonly attachment: DmaBufAttachment;
  #sgt: SgTable | null = null;

  constructor(
    readonly dev: Device,
    readonly dmabuf: DmaBuf,
  ) {
    this.attachment = dmaBufAttach(dmabuf, dev);
  }

  get sgt(): SgTable | null {
    return this.#sgt;
  }

  map(): void {
    if (!this.#sgt) this.#sgt = dmaBufMapAttachmentUnlocked(this.attachment, "DMA_BIDIRECTIONAL");
  }

  unmap(): void {
    if (this.#sgt) dmaBufUnmapAttachmentUnlocked(this.attachment, this.#sgt, "DMA_BIDIRECTIONAL");
    this.#sgt = null;
  }

  detach(): void {
    this.unmap();
    dmaBufDetach(this.dmabuf, this.attachment);
  }
}

/**
 * A dynamic importer in the style of RDMA's dma-buf umem (ODP):
 * `dma_buf_dynamic_attach()` with `allow_peer2peer` and an invalidate
 * callback that drops the mapping under the resv lock; the next use maps
 * again (and, as a dynamic importer must, waits for the KERNEL fences itself).
 * @public
 */
export class CompatDynamicImporter {
  readonly attachment: DmaBufAttachment;
  #sgt: SgTable | null = null;
  /** First DMA address of the mapping dropped by the last invalidation. */
  staleAddr: bigint | null = null;
  invalidations = 0;

  constructor(
    readonly dev: Device,
    readonly dmabuf: DmaBuf,
  ) {
    const ops: DmaBufAttachOps = {
      allowPeer2peer: true,
      // ib_umem_dmabuf_invalidate_cb(): resv held by the exporter.
      invalidateMappings: (attach) => {
        this.invalidations++;
        if (!this.#sgt) return;
        this.staleAddr = this.#sgt.dmaAddress[0]!;
        dmaBufUnmapAttachment(attach, this.#sgt, "DMA_BIDIRECTIONAL");
        this.#sgt = null;
      },
    };
    this.attachment = dmaBufDynamicAttach(dmabuf, dev, ops, this);
  }

  get sgt(): SgTable | null {
    return this.#sgt;
  }

  /** `ib_umem_dmabuf_map_pages()`: under the resv lock, map and wait for KERNEL fences. */
  map(): void {
    if (this.#sgt) return;
    const resv = this.dmabuf.resv;
    dmaResvLock(resv);
    try {
      const sgt = dmaBufMapAttachment(this.attachment, "DMA_BIDIRECTIONAL");
      const r = dmaResvWaitTimeout(resv, "DMA_RESV_USAGE_KERNEL", false, MAX_SCHEDULE_TIMEOUT);
      if (r <= 0) {
        dmaBufUnmapAttachment(this.attachment, sgt, "DMA_BIDIRECTIONAL");
        throw new KernelError("ETIMEDOUT", "ib_umem_dmabuf_map_pages");
      }
      this.#sgt = sgt;
    } finally {
      dmaResvUnlock(resv);
    }
  }

  /** Uses the mapping, mapping again first if an invalidation dropped it (the ODP fault path). */
  ensureMapped(): SgTable {
    this.map();
    return this.#sgt!;
  }

  unmap(): void {
    if (!this.#sgt) return;
    dmaResvLock(this.dmabuf.resv);
    try {
      dmaBufUnmapAttachment(this.attachment, this.#sgt, "DMA_BIDIRECTIONAL");
    } finally {
      dmaResvUnlock(this.dmabuf.resv);
    }
    this.#sgt = null;
  }

  detach(): void {
    this.unmap();
    dmaBufDetach(this.dmabuf, this.attachment);
  }
}

/**
 * The P2P map type behind a table from `dma_buf_phys_vec_to_sgt()` (an MMIO
 * exporter); undefined for page-backed tables, where P2P does not apply.
 */
function route(sgt: SgTable | null): string | undefined {
  const r = sgt ? dmaBufSgtRoute(sgt) : undefined;
  return r === undefined ? undefined : r === "bus-addr" ? "BUS_ADDR" : "THRU_HOST_BRIDGE";
}

/** Conformance fixture: the unconverted static importer on the importer slot. @public */
export const compatStaticImporterFixture: ImporterFixture = {
  name: "compat-static-importer",
  description: "unconverted static importer: dma_buf_attach() + dma_buf_map_attachment_unlocked(), pinned on map",
  modules: [compatStaticImporterModule],
  placeable: () => true,
  import(ctx, buffer): ImportedBuffer {
    const dev = ctx.topology.importerSlot;
    const imp = new CompatStaticImporter(dev, buffer.dmabuf);
    const view: Omit<ImportedBuffer, "mapped"> = {
      attachment: imp.attachment,
      map: () => imp.map(),
      route: () => route(imp.sgt),
      dmaRead(offset, len) {
        if (!imp.sgt) throw new KernelError("ENXIO", "compat_static_importer", "not mapped");
        return sgtDmaRead(dev, imp.sgt, offset, len);
      },
      dmaWrite(offset, data) {
        if (!imp.sgt) throw new KernelError("ENXIO", "compat_static_importer", "not mapped");
        sgtDmaWrite(dev, imp.sgt, offset, data);
      },
      unmap: () => imp.unmap(),
      detach: () => imp.detach(),
    };
    return withGetters(view, { mapped: () => imp.sgt !== null });
  },
};

/** Conformance fixture: the unconverted dynamic (RDMA umem style) importer on the importer slot. @public */
export const compatDynamicImporterFixture: ImporterFixture = {
  name: "compat-dynamic-importer",
  description: "unconverted dynamic importer (RDMA umem style): dma_buf_dynamic_attach() with allow_peer2peer, remaps on next use",
  modules: [compatDynamicImporterModule],
  placeable: () => true,
  import(ctx, buffer): ImportedBuffer {
    const dev = ctx.topology.importerSlot;
    const imp = new CompatDynamicImporter(dev, buffer.dmabuf);
    const view: Omit<ImportedBuffer, "mapped"> = {
      attachment: imp.attachment,
      map: () => imp.map(),
      route: () => route(imp.sgt),
      dmaRead: (offset, len) => sgtDmaRead(dev, imp.ensureMapped(), offset, len),
      dmaWrite: (offset, data) => sgtDmaWrite(dev, imp.ensureMapped(), offset, data),
      staleDmaRead(len) {
        if (imp.staleAddr === null) throw new KernelError("ENXIO", "compat_dynamic_importer", "no invalidated mapping");
        return dmaRead(dev, imp.staleAddr, len);
      },
      unmap: () => imp.unmap(),
      detach: () => imp.detach(),
    };
    return withGetters(view, { mapped: () => imp.sgt !== null });
  },
};

