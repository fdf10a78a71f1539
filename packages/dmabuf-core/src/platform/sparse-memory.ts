// Page-granular sparse storage behind system RAM, BARs and device memory (the model's struct page contents).
import { PAGE_SIZE } from "./page.js";

/**
 * Pages per storage chunk: materialised pages of one chunk share one 256 KiB
 * buffer, in order. Copies out of 64 KiB buffers ran ~10% slower than out of
 * one large buffer (docs/benchmarks.md); from 256 KiB on they run at its speed.
 */
const CHUNK_PAGES = 64;

interface Chunk {
  readonly buf: ArrayBuffer;
  readonly pages: (Uint8Array | undefined)[];
  count: number;
}

/**
 * Page-granular sparse storage: pages exist once written, read as zeros
 * before. Backs system RAM, BARs and device-local memory; gigabytes of
 * address space cost nothing until touched. Pages of one 64-page chunk are
 * views of one buffer, in order, so a DMA can copy a run of them at once.
 * @public
 */
export class SparseMemory {
  readonly #chunks = new Map<number, Chunk>();
  #lastKey = -1;
  #last: Chunk | undefined;
  #resident = 0;

  /** Number of materialised pages. */
  get residentPages(): number {
    return this.#resident;
  }

  /** The page at `index`, materialised if `create`; undefined if absent and not created. */
  page(index: number, create: boolean): Uint8Array | undefined {
    const key = Math.floor(index / CHUNK_PAGES);
    let c = key === this.#lastKey ? this.#last : this.#chunks.get(key);
    if (!c) {
      if (!create) return undefined;
      c = { buf: new ArrayBuffer(CHUNK_PAGES * PAGE_SIZE), pages: new Array<Uint8Array | undefined>(CHUNK_PAGES).fill(undefined), count: 0 };
      this.#chunks.set(key, c);
    }
    this.#lastKey = key;
    this.#last = c;
    const i = index - key * CHUNK_PAGES;
    let p = c.pages[i];
    if (!p && create) {
      p = new Uint8Array(c.buf, i * PAGE_SIZE, PAGE_SIZE);
      c.pages[i] = p;
      c.count++;
      this.#resident++;
    }
    return p;
  }

  /** Drops the contents of page `index` (it reads as zeros again). */
  discard(index: number): void {
    const key = Math.floor(index / CHUNK_PAGES);
    const c = this.#chunks.get(key);
    const i = index - key * CHUNK_PAGES;
    const p = c?.pages[i];
    if (!c || !p) return;
    p.fill(0);
    c.pages[i] = undefined;
    c.count--;
    this.#resident--;
    if (c.count === 0) {
      this.#chunks.delete(key);
      if (key === this.#lastKey) {
        this.#lastKey = -1;
        this.#last = undefined;
      }
    }
  }

  /** Copies `dst.length` bytes starting at byte `offset` into `dst`. */
  read(offset: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const pos = offset + done;
      const index = Math.floor(pos / PAGE_SIZE);
      const off = pos - index * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, dst.length - done);
      const p = this.page(index, false);
      if (p) dst.set(p.subarray(off, off + n), done);
      else dst.fill(0, done, done + n);
      done += n;
    }
  }

  /** Copies `src` to byte `offset`. */
  write(offset: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const pos = offset + done;
      const index = Math.floor(pos / PAGE_SIZE);
      const off = pos - index * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, src.length - done);
      this.page(index, true)!.set(src.subarray(done, done + n), off);
      done += n;
    }
  }
}
