// mm/slab_common.c: kmalloc/kfree as the one fault-injectable allocator of the model.
import { KernelError } from "./kernel-error.js";
import type { AllocSite, FaultInjector } from "./fault-inject.js";

/**
 * The one fault-injectable allocator. JavaScript owns the memory; what the
 * model keeps from `kzalloc()` and friends is that they can fail, and where.
 * Each method throws `KernelError('ENOMEM')` (or the injected errno) on an
 * injected failure and otherwise returns normally.
 * @public
 */
export class KernelAllocator {
  readonly #faults: FaultInjector;

  constructor(faults: FaultInjector) {
    this.#faults = faults;
  }

  /** Generic attempt at `site`; `what` names the object for records and rules. */
  attempt(site: AllocSite, what: string, operation: string = site): void {
    const errno = this.#faults.shouldFail(site, what);
    if (errno !== undefined) throw new KernelError(errno, operation, `injected ${site} failure: ${what}`);
  }

  /** Whether {@link KernelAllocator.attempt}'s `what` is read (see {@link FaultInjector.wantsLabel}). */
  get wantsLabel(): boolean {
    return this.#faults.wantsLabel;
  }

  /** `kzalloc(sizeof(*what), GFP_KERNEL)`. */
  kzalloc(what: string): void {
    this.attempt("kzalloc", what);
  }

  /** `kvmalloc()` / `kvzalloc()` of an array. */
  kvmalloc(what: string): void {
    this.attempt("kvmalloc", what);
  }
}
