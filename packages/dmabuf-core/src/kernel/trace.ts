// The ftrace ring buffer (kernel/trace/ring_buffer.c): a bounded buffer that overwrites the oldest event.
/** Field values a trace event may carry. @public */
export type TraceValue = string | number | bigint | boolean | null;

/** One recorded trace event, like a line of `trace_pipe`. @public */
export interface TraceEvent {
  readonly seq: number;
  readonly timeNs: number;
  /** Event name, e.g. `'dma_buf_attach'`, `'iommu_map'`, `'io_page_fault'`. */
  readonly event: string;
  /** Name of the task that was current. */
  readonly comm: string;
  readonly fields: Readonly<Record<string, TraceValue>>;
}

function fmt(v: TraceValue): string {
  if (typeof v === "bigint") return `0x${v.toString(16)}`;
  return String(v);
}

/**
 * The kernel's trace buffer. Events are always recorded (the model has no
 * tracefs enable files); `limit` bounds memory by overwriting the oldest, as
 * the ring buffer does in overwrite mode, so a full buffer costs no more per
 * event than an empty one.
 * @public
 */
export class Trace {
  // Ring storage: `#count` events starting at `#head`, wrapping at `#ring.length`.
  #ring: TraceEvent[] = [];
  #head = 0;
  #count = 0;
  #seq = 0;
  readonly #now: () => number;
  readonly #comm: () => string;
  /** Maximum events kept. */
  limit = 100_000;
  /** When false, `emit` records nothing (benchmarks switch it off). */
  enabled = true;

  constructor(now: () => number, comm: () => string) {
    this.#now = now;
    this.#comm = comm;
  }

  emit(event: string, fields: Record<string, TraceValue> = {}): void {
    if (!this.enabled) return;
    const e: TraceEvent = { seq: this.#seq++, timeNs: this.#now(), event, comm: this.#comm(), fields };
    const limit = this.limit;
    if (this.#head === 0 && this.#count === this.#ring.length && this.#count < limit) {
      // Filling, not wrapped yet: append.
      this.#ring.push(e);
      this.#count++;
      return;
    }
    // `limit` changed since the ring filled: rebuild it in order first.
    if (this.#ring.length !== limit || this.#count !== limit) {
      this.#linearize(limit);
      if (this.#count < limit) {
        this.#ring.push(e);
        this.#count++;
        return;
      }
      if (limit <= 0) return;
    }
    // Full: overwrite the oldest.
    this.#ring[this.#head] = e;
    this.#head = this.#head + 1 === limit ? 0 : this.#head + 1;
  }

  /** Rebuilds the ring in order from index 0 keeping the newest `limit` events (after `limit` changed). */
  #linearize(limit: number): void {
    const all = this.#ordered();
    const keep = limit <= 0 ? [] : all.slice(Math.max(0, all.length - limit));
    this.#ring = keep;
    this.#head = 0;
    this.#count = keep.length;
  }

  #ordered(): TraceEvent[] {
    const r = this.#ring;
    if (this.#head === 0) return r.length === this.#count ? r.slice() : r.slice(0, this.#count);
    return r.slice(this.#head).concat(r.slice(0, this.#head));
  }

  /** Recorded events, oldest first, optionally only those named `event`. */
  events(event?: string): readonly TraceEvent[] {
    const all = this.#ordered();
    return event === undefined ? all : all.filter((e) => e.event === event);
  }

  /** The buffer as `trace_pipe` text: `comm ts: event: k=v k=v`. */
  text(): string {
    return this.#ordered()
      .map(
        (e) =>
          `${e.comm.padStart(16)} ${(e.timeNs / 1e9).toFixed(6)}: ${e.event}: ` +
          Object.entries(e.fields)
            .map(([k, v]) => `${k}=${fmt(v)}`)
            .join(" "),
      )
      .join("\n");
  }

  clear(): void {
    this.#ring = [];
    this.#head = 0;
    this.#count = 0;
  }
}
