// kmemleak-style leak checking: every tracked kernel object still alive after a clean teardown.
import type { InjectionToken } from "tsyringe";

/** One thing still alive that a clean teardown would have released. @public */
export interface LeakEntry {
  /** What it is: `'dma_buf'`, `'dma_buf_attachment'`, `'iova'`, `'iommu_pte'`, `'fd'`, … */
  readonly kind: string;
  /** Stable identity within the kind (object id, domain name, …). */
  readonly key: string;
  /** How many (1 for objects; page or byte counts for counted resources). */
  readonly count: number;
  /** Human-readable description. */
  readonly detail: string;
}

/**
 * A provider of live resources for the leak report. Core registers its own
 * (objects, IOVA ranges, page-table entries, fds); packages add theirs (memcg
 * charges) from module init with `ctx.provide(LeakSource, …)`.
 * @public
 */
export interface LeakSource {
  readonly name: string;
  /** Called by `LeakChecker.report`; returns what is alive now. */
  collect(): readonly LeakEntry[];
}

/** The result of a leak check. @public */
export interface LeakReport {
  readonly entries: readonly LeakEntry[];
  readonly empty: boolean;
  /** One line per entry, for error messages. */
  text(): string;
}

function keyOf(e: LeakEntry): string {
  return `${e.kind}\u0000${e.key}`;
}

/**
 * Aggregates every `LeakSource` of a kernel. A baseline (taken after a
 * fixture's setup, say) is subtracted from later reports, so long-lived
 * objects that belong to the machine rather than the scenario do not count.
 * @public
 */
export class LeakChecker {
  readonly #sources: () => readonly LeakSource[];
  #baseline = new Map<string, number>();

  constructor(sources: () => readonly LeakSource[]) {
    this.#sources = sources;
  }

  /** Everything alive now, without the baseline subtracted. */
  collect(): LeakEntry[] {
    return this.#sources().flatMap((s) => s.collect());
  }

  /** Records what is alive now as the baseline. */
  setBaseline(): void {
    this.#baseline = new Map(this.collect().map((e) => [keyOf(e), e.count]));
  }

  /** Forgets the baseline. */
  clearBaseline(): void {
    this.#baseline.clear();
  }

  /** What is alive beyond the baseline. */
  report(): LeakReport {
    const entries: LeakEntry[] = [];
    for (const e of this.collect()) {
      const base = this.#baseline.get(keyOf(e)) ?? 0;
      if (e.count > base) entries.push(base === 0 ? e : { ...e, count: e.count - base });
    }
    return {
      entries,
      empty: entries.length === 0,
      text: () => entries.map((e) => `${e.kind} ${e.key}${e.count !== 1 ? ` x${e.count}` : ""}: ${e.detail}`).join("\n"),
    };
  }
}

/**
 * Tracks kref-style objects by kind. Objects register when created and
 * unregister when released; whatever is left is a leak.
 * @public
 */
export class ObjectTracker implements LeakSource {
  readonly name = "objects";
  #nextId = 1;
  readonly #live = new Map<object, { id: number; kind: string; describe: () => string }>();
  readonly #held = new Map<object, string>();

  /** Registers `obj` as alive; returns its id. */
  track(kind: string, obj: object, describe: () => string): number {
    const id = this.#nextId++;
    this.#live.set(obj, { id, kind, describe });
    return id;
  }

  /** Registers the release of `obj`; false if it was not tracked. */
  untrack(obj: object): boolean {
    this.#held.delete(obj);
    return this.#live.delete(obj);
  }

  /**
   * Marks `obj` as referenced by long-lived state that outlives a scenario
   * (a drm_sched entity's `last_scheduled`), so it is not reported while
   * that reference stands — as kmemleak does not report reachable objects.
   */
  hold(obj: object, by: string): void {
    if (this.#live.has(obj)) this.#held.set(obj, by);
  }

  /** Who holds `obj` (see {@link ObjectTracker.hold}), if anyone. */
  heldBy(obj: object): string | undefined {
    return this.#held.get(obj);
  }

  /** Drops a {@link ObjectTracker.hold}. */
  unhold(obj: object): void {
    this.#held.delete(obj);
  }

  /** True while `obj` is tracked. */
  isLive(obj: object): boolean {
    return this.#live.has(obj);
  }

  /** Number of live objects, optionally of one kind. */
  count(kind?: string): number {
    if (kind === undefined) return this.#live.size;
    let n = 0;
    for (const v of this.#live.values()) if (v.kind === kind) n++;
    return n;
  }

  collect(): LeakEntry[] {
    return [...this.#live].filter(([o]) => !this.#held.has(o)).map(([, v]) => ({ kind: v.kind, key: `#${v.id}`, count: 1, detail: v.describe() }));
  }
}

/** DI token under which modules provide extra `LeakSource`s (`ctx.provide(LeakSource, …)`). @public */
export const LeakSource: InjectionToken<LeakSource> = Symbol.for("@dmabuf-sdk/dmabuf-core/LeakSource");
