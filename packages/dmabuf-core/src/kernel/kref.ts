// include/linux/kref.h and refcount.h: struct kref with refcount_t saturation WARNs.
/**
 * `struct kref` / `refcount_t`: a reference count whose last `put` runs the
 * release function. Misuse (get on zero, put below zero) is reported through
 * `warn`, which is the kernel's refcount_t WARN.
 * @public
 */
export class Kref {
  #count = 1;
  readonly #release: () => void;
  readonly #warn: (msg: string) => void;

  constructor(release: () => void, warn: (msg: string) => void) {
    this.#release = release;
    this.#warn = warn;
  }

  /** Current count (`kref_read`). */
  get refcount(): number {
    return this.#count;
  }

  /** `kref_get()`. */
  get(): void {
    if (this.#count === 0) {
      this.#warn("refcount_t: addition on 0; use-after-free.");
      return;
    }
    this.#count++;
  }

  /** `kref_get_unless_zero()`. */
  getUnlessZero(): boolean {
    if (this.#count === 0) return false;
    this.#count++;
    return true;
  }

  /** `kref_put()`: returns true when this put released the object. */
  put(): boolean {
    if (this.#count === 0) {
      this.#warn("refcount_t: underflow; use-after-free.");
      return false;
    }
    if (--this.#count === 0) {
      this.#release();
      return true;
    }
    return false;
  }

  /** `kref_init()`: re-arms a released kref at 1. */
  init(): void {
    this.#count = 1;
  }
}
