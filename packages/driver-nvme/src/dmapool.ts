// mm/dmapool.c + kernel/dma/mapping.c dma_alloc_coherent(): coherent DMA memory the controller reads (queues, PRP lists, SGL segments).
import { DMA_MAPPING_ERROR, KernelError, dmaMapPhys, dmaUnmapPhys, type Device, type Kernel } from "@dmabuf-sdk/dmabuf-core";

/** A coherent allocation: CPU-visible pages and the address the device uses. @public */
export interface DmaCoherent {
  readonly pfn: number;
  readonly order: number;
  readonly dma: bigint;
  readonly size: number;
}

/**
 * `dma_alloc_coherent(dev, size)`: zeroed RAM mapped for `dev` (through its
 * DMA domain: one IOVA and page-table write, counted like any mapping).
 * @throws KernelError `ENOMEM`.
 * @public
 */
export function dmaAllocCoherent(dev: Device, size: number): DmaCoherent {
  const k = dev.kernel;
  const pages = Math.ceil(size / 4096);
  const order = Math.ceil(Math.log2(Math.max(1, pages)));
  const pfn = k.platform.physmem.allocPages(order, "dma_coherent");
  const bytes = 4096 << order;
  const dma = dmaMapPhys(dev, BigInt(pfn) << 12n, BigInt(bytes), "DMA_BIDIRECTIONAL", 0);
  if (dma === DMA_MAPPING_ERROR) {
    k.platform.physmem.freePages(pfn, order);
    throw new KernelError("ENOMEM", "dma_alloc_coherent", `${dev.name}: ${size} bytes`);
  }
  return { pfn, order, dma, size: bytes };
}

/** `dma_free_coherent()`. @public */
export function dmaFreeCoherent(dev: Device, mem: DmaCoherent): void {
  dmaUnmapPhys(dev, mem.dma, BigInt(mem.size), "DMA_BIDIRECTIONAL", 0);
  dev.kernel.platform.physmem.freePages(mem.pfn, mem.order);
}

/** CPU access to coherent memory. @public */
export function coherentWrite(kernel: Kernel, mem: DmaCoherent, off: number, data: Uint8Array): void {
  kernel.platform.physmem.write((BigInt(mem.pfn) << 12n) + BigInt(off), data);
}

/** @public */
export function coherentRead(kernel: Kernel, mem: DmaCoherent, off: number, len: number): Uint8Array {
  return kernel.platform.physmem.read((BigInt(mem.pfn) << 12n) + BigInt(off), len);
}

/**
 * `struct dma_pool` of page-sized blocks: grows by one coherent page when
 * empty, and keeps freed blocks for reuse, so steady-state I/O does no DMA
 * mapping. `dma_pool_alloc(GFP_ATOMIC)` failures are injectable (site
 * `dma_pool_alloc`).
 * @public
 */
export class DmaPool {
  readonly #free: DmaCoherent[] = [];
  readonly #all: DmaCoherent[] = [];
  constructor(
    readonly dev: Device,
    readonly name: string,
  ) {}

  /** @throws KernelError `ENOMEM`. */
  alloc(): DmaCoherent {
    this.dev.kernel.alloc.attempt("dma_pool_alloc", this.name);
    const b = this.#free.pop();
    if (b) return b;
    const mem = dmaAllocCoherent(this.dev, 4096);
    this.#all.push(mem);
    return mem;
  }

  free(block: DmaCoherent): void {
    this.#free.push(block);
  }

  /** Blocks handed out and not returned. */
  get inUse(): number {
    return this.#all.length - this.#free.length;
  }

  /** `dma_pool_destroy()`: every block must be back. */
  destroy(): void {
    if (this.inUse) this.dev.kernel.warn(`dma_pool_destroy ${this.name}: ${this.inUse} blocks still in use`);
    for (const b of this.#all.splice(0)) dmaFreeCoherent(this.dev, b);
    this.#free.length = 0;
  }
}
