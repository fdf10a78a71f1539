import { PAGE_SIZE } from "./page.js";

/**
 * Page-granular sparse storage: pages exist once written, read as zeros
 * before. Backs system RAM, BARs and device-local memory; gigabytes of
 * address space cost nothing until touched.
 */
export class SparseMemory {
  readonly #pages = new Map<number, Uint8Array>();

  /** Number of materialised pages. */
  get residentPages(): number {
    return this.#pages.size;
  }

  /** The page at `index`, materialised if `create`; undefined if absent and not created. */
  page(index: number, create: boolean): Uint8Array | undefined {
    let p = this.#pages.get(index);
    if (!p && create) {
      p = new Uint8Array(PAGE_SIZE);
      this.#pages.set(index, p);
    }
    return p;
  }

  /** Drops the contents of page `index` (it reads as zeros again). */
  discard(index: number): void {
    this.#pages.delete(index);
  }

  /** Copies `dst.length` bytes starting at byte `offset` into `dst`. */
  read(offset: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const pos = offset + done;
      const index = Math.floor(pos / PAGE_SIZE);
      const off = pos - index * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, dst.length - done);
      const p = this.#pages.get(index);
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
