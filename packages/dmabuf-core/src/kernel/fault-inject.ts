// lib/fault-inject.c: failslab-style fault injection at named allocation sites.
import type { Errno } from "./errno.js";

/**
 * Allocation sites that can fail, named after the kernel function that fails.
 * Every allocation in the model goes through one of these.
 * @public
 */
export type AllocSite =
  | "kzalloc"
  | "kvmalloc"
  | "alloc_pages"
  | "sg_alloc_table"
  | "alloc_iova"
  | "iommu_map"
  | "get_unused_fd"
  | "memcg_charge"
  | "dma_resv_reserve_fences"
  | "dma_pool_alloc";

/** One allocation attempt, as recorded by {@link FaultInjector}. @public */
export interface AllocRecord {
  /** 1-based index among all attempts since the injector was reset. */
  readonly nth: number;
  readonly site: AllocSite;
  /** What was allocated, e.g. `'dma_buf_attachment'`, `'phys_vec'`. */
  readonly what: string;
  readonly failed: boolean;
}

/** A rule that makes matching allocation attempts fail. @public */
export interface FaultRule {
  /** Only attempts at this site count (default: every site). */
  site?: AllocSite;
  /** Only attempts whose `what` equals or matches this (default: all). */
  what?: string | RegExp;
  /** Fail the nth matching attempt (1-based). Mutually exclusive with `probability`. */
  nth?: number;
  /** Fail each matching attempt with this probability (seeded), like `fail_*` `probability`. */
  probability?: number;
  /** How many failures this rule may cause (default 1 with `nth`, unlimited otherwise). */
  times?: number;
  /** errno of the failure (default: `ENOMEM`, or `EMFILE` for `get_unused_fd`). */
  errno?: Errno;
}

interface ActiveRule extends FaultRule {
  seen: number;
  fired: number;
}

/**
 * Fault injection for the one allocator (`failslab`, `fail_page_alloc` and
 * friends in one place). Rules select attempts by site, name and index; every
 * attempt is recorded so a test can first count the allocations of a path and
 * then fail each one in turn.
 * @public
 */
export class FaultInjector {
  readonly #rules: ActiveRule[] = [];
  readonly #records: AllocRecord[] = [];
  #attempts = 0;
  readonly #random: () => number;
  /** Stop recording after this many attempts (bulk benchmarks). */
  recordLimit = 1_000_000;

  constructor(random: () => number) {
    this.#random = random;
  }

  /** Adds a rule; returns a function that removes it. */
  inject(rule: FaultRule): () => void {
    const r: ActiveRule = { ...rule, seen: 0, fired: 0 };
    this.#rules.push(r);
    return () => {
      const i = this.#rules.indexOf(r);
      if (i >= 0) this.#rules.splice(i, 1);
    };
  }

  /** Fails the `nth` allocation attempt from now on (any site unless given). */
  failNth(nth: number, site?: AllocSite, errno?: Errno): () => void {
    return this.inject({ nth, site, errno });
  }

  /** Removes every rule and forgets the recorded attempts. */
  reset(): void {
    this.#rules.length = 0;
    this.#records.length = 0;
    this.#attempts = 0;
  }

  /** Recorded attempts since the last reset. */
  records(): readonly AllocRecord[] {
    return this.#records;
  }

  /**
   * True when an attempt's `what` label would be read: a rule is armed or
   * attempts are still being recorded. Hot paths skip building the label
   * (often a path string) when it is false.
   */
  get wantsLabel(): boolean {
    return this.#rules.length !== 0 || this.#records.length < this.recordLimit;
  }

  /** Number of attempts since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Failures caused so far by active rules. */
  get failures(): number {
    return this.#rules.reduce((n, r) => n + r.fired, 0);
  }

  /**
   * Decides one attempt: returns the errno to fail with, or `undefined`.
   * Called only by the kernel allocator.
   */
  shouldFail(site: AllocSite, what: string): Errno | undefined {
    const nth = ++this.#attempts;
    if (this.#rules.length === 0) {
      // Nothing armed: only the record.
      if (this.#records.length < this.recordLimit) this.#records.push({ nth, site, what, failed: false });
      return undefined;
    }
    let errno: Errno | undefined;
    for (const r of this.#rules) {
      if (r.site !== undefined && r.site !== site) continue;
      if (r.what !== undefined && !(typeof r.what === "string" ? r.what === what : r.what.test(what))) continue;
      r.seen++;
      const limit = r.times ?? (r.nth !== undefined ? 1 : Number.POSITIVE_INFINITY);
      if (r.fired >= limit) continue;
      const hit = r.nth !== undefined ? r.seen === r.nth : r.probability !== undefined ? this.#random() < r.probability : true;
      if (hit && errno === undefined) {
        r.fired++;
        errno = r.errno ?? (site === "get_unused_fd" ? "EMFILE" : "ENOMEM");
      }
    }
    if (this.#records.length < this.recordLimit) this.#records.push({ nth, site, what, failed: errno !== undefined });
    return errno;
  }
}
