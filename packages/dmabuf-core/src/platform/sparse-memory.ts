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
  /** A page's view; null once discarded: its bytes are stale until it is materialised again (and zeroed then). */
  readonly pages: (Uint8Array | null | undefined)[];
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
      c = { buf: new ArrayBuffer(CHUNK_PAGES * PAGE_SIZE), pages: new Array<Uint8Array | null | undefined>(CHUNK_PAGES).fill(undefined), count: 0 };
      this.#chunks.set(key, c);
    }
    this.#lastKey = key;
    this.#last = c;
    const i = index - key * CHUNK_PAGES;
    const p = c.pages[i];
    if (p) return p;
    if (!create) return undefined;
    const q = new Uint8Array(c.buf, i * PAGE_SIZE, PAGE_SIZE);
    // Zeroed here rather than on discard: a chunk whose last page goes is dropped unzeroed.
    if (p === null) q.fill(0);
    c.pages[i] = q;
    c.count++;
    this.#resident++;
    return q;
  }

  /** Drops the contents of page `index` (it reads as zeros again). */
  discard(index: number): void {
    const key = Math.floor(index / CHUNK_PAGES);
    const c = key === this.#lastKey ? this.#last : this.#chunks.get(key);
    const i = index - key * CHUNK_PAGES;
    if (!c || !c.pages[i]) return;
    c.pages[i] = null;
    c.count--;
    this.#resident--;
    if (c.count === 0) this.#drop(key);
  }

  /** Drops the contents of pages `first`..`first + count - 1`: a chunk the range covers goes at once. */
  discardRange(first: number, count: number): void {
    const end = first + count;
    let index = first;
    while (index < end) {
      const key = Math.floor(index / CHUNK_PAGES);
      const chunkEnd = (key + 1) * CHUNK_PAGES;
      const c = this.#chunks.get(key);
      if (c && index === key * CHUNK_PAGES && chunkEnd <= end) {
        this.#resident -= c.count;
        this.#drop(key);
      } else if (c) {
        for (let p = index; p < Math.min(end, chunkEnd); p++) this.discard(p);
      }
      index = chunkEnd;
    }
  }

  #drop(key: number): void {
    this.#chunks.delete(key);
    if (key === this.#lastKey) {
      this.#lastKey = -1;
      this.#last = undefined;
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
