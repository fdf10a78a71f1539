// A dynamic dma-buf importer whose invalidate_mappings only queues its teardown on a kworker (dma-buf.c: "must cause unmap within bounded time").
import { DmaFault, cancelWorkSync, dmaBufDetach, dmaBufDynamicAttach, dmaResvLock, dmaResvUnlock, initWork, queueWork, type Device, type DmaBuf, type DmaBufAttachment, type WorkStruct } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufMapAttachment, dmaBufUnmapAttachment, sgtDmaWrite, type SgTable } from "@dmabuf-sdk/map-sgt";

/**
 * A device that posts DMA through its mapping and, when the exporter
 * invalidates it, lets the transfer in flight finish and unmaps from a work
 * item — as GPU and RDMA importers do, whose hardware stops asynchronously.
 * Until that work has run, the exporter's memory may still be accessed: an
 * exporter that revokes must wait for the unmap (vfio-pci since 1a8a5227f229)
 * before its BAR goes away. A transfer that fails is kept in `faults`.
 * @public
 */
export class DeferredUnmapImporter {
  /** Its dynamic attachment (`allow_peer2peer`, an `invalidate_mappings` that queues the teardown). */
  readonly attachment: DmaBufAttachment;
  #sgt: SgTable | null = null;
  #inflight: Uint8Array | null = null;
  readonly #work: WorkStruct;
  /** Transfers that completed with a DMA fault (an IOMMU fault or an Unsupported Request). */
  readonly faults: DmaFault[] = [];
  /** Transfers that reached the buffer. */
  completed = 0;

  constructor(
    /** The importing device, which does the DMA. */
    readonly dev: Device,
    /** The buffer it imports (the caller keeps its reference). */
    readonly dmabuf: DmaBuf,
  ) {
    const k = dmabuf.kernel;
    this.#work = initWork(k, "&importer->teardown_work", () => this.#teardown());
    this.attachment = dmaBufDynamicAttach(dmabuf, dev, { allowPeer2peer: true, invalidateMappings: () => void queueWork(k.workqueues.systemWq, this.#work) }, this);
  }

  /** The mapping, or null. */
  get sgt(): SgTable | null {
    return this.#sgt;
  }

  /** Maps under the resv lock and posts a DMA write of `data` at offset 0 (it completes when the mapping is torn down). */
  mapAndPost(data: Uint8Array): void {
    const resv = this.dmabuf.resv;
    dmaResvLock(resv);
    try {
      if (!this.#sgt) this.#sgt = dmaBufMapAttachment(this.attachment, "DMA_BIDIRECTIONAL");
    } finally {
      dmaResvUnlock(resv);
    }
    this.#inflight = data;
  }

  /** The importer's own unmap: waits for its transfer, then unmaps. */
  unmap(): void {
    this.#teardown();
  }

  /** Flushes the teardown work, unmaps and detaches. */
  detach(): void {
    cancelWorkSync(this.#work);
    this.#teardown();
    dmaBufDetach(this.dmabuf, this.attachment);
  }

  /** The transfer in flight reaches the buffer (or faults), then the mapping goes under the resv lock. */
  #teardown(): void {
    if (!this.#sgt) return;
    const data = this.#inflight;
    this.#inflight = null;
    if (data) {
      try {
        sgtDmaWrite(this.dev, this.#sgt, 0n, data);
        this.completed++;
      } catch (e) {
        if (!(e instanceof DmaFault)) throw e;
        this.faults.push(e);
      }
    }
    const resv = this.dmabuf.resv;
    dmaResvLock(resv);
    try {
      dmaBufUnmapAttachment(this.attachment, this.#sgt, "DMA_BIDIRECTIONAL");
    } finally {
      dmaResvUnlock(resv);
    }
    this.#sgt = null;
  }
}
