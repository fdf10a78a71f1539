// kernel/printk/printk.c: the kernel log with KERN_* levels.
/** Kernel log levels, as `KERN_*`. @public */
export type LogLevel = "emerg" | "alert" | "crit" | "err" | "warn" | "notice" | "info" | "debug";

/** One line of the kernel log. @public */
export interface LogRecord {
  readonly seq: number;
  /** Virtual time of the record, in nanoseconds since boot. */
  readonly timeNs: number;
  readonly level: LogLevel;
  readonly text: string;
}

/**
 * The kernel ring buffer (`dmesg`). Loader messages, WARN splats and driver
 * messages land here with the kernel's wording, so tests can match them.
 * @public
 */
export class Printk {
  readonly #records: LogRecord[] = [];
  #seq = 0;
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** `printk(KERN_<level> ...)`; `text` excludes the trailing newline. */
  log(level: LogLevel, text: string): void {
    this.#records.push({ seq: this.#seq++, timeNs: this.#now(), level, text });
  }
  err(text: string): void {
    this.log("err", text);
  }
  warn(text: string): void {
    this.log("warn", text);
  }
  info(text: string): void {
    this.log("info", text);
  }
  debug(text: string): void {
    this.log("debug", text);
  }

  /** All records, oldest first. */
  records(): readonly LogRecord[] {
    return this.#records;
  }

  /** The log as `dmesg` prints it: `[    0.000123] text`. */
  dmesg(): string {
    return this.#records
      .map((r) => `[${(r.timeNs / 1e9).toFixed(6).padStart(12)}] ${r.text}`)
      .join("\n");
  }

  /** True when some line contains `needle`. */
  contains(needle: string): boolean {
    return this.#records.some((r) => r.text.includes(needle));
  }

  /** `dmesg -C`. */
  clear(): void {
    this.#records.length = 0;
  }
}
