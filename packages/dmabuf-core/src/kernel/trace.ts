/** Field values a trace event may carry. */
export type TraceValue = string | number | bigint | boolean | null;

/** One recorded trace event, like a line of `trace_pipe`. */
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
 * tracefs enable files); `limit` bounds memory by dropping the oldest.
 */
export class Trace {
  readonly #events: TraceEvent[] = [];
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
    if (this.#events.length >= this.limit) this.#events.shift();
    this.#events.push({ seq: this.#seq++, timeNs: this.#now(), event, comm: this.#comm(), fields });
  }

  /** Recorded events, optionally only those named `event`. */
  events(event?: string): readonly TraceEvent[] {
    return event === undefined ? this.#events : this.#events.filter((e) => e.event === event);
  }

  /** The buffer as `trace_pipe` text: `comm ts: event: k=v k=v`. */
  text(): string {
    return this.#events
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
    this.#events.length = 0;
  }
}
