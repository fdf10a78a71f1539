// Schedule strings of the interleaving explorer: the decision list of one execution, replayable (shuttle's schedule encoding, loom's path).

/** Version tag every schedule string starts with. @public */
export const SCHEDULE_TAG = "e1.";

/** Why the explorer could not do what it was asked. @public */
export type ExploreErrorKind = "schedule-format" | "schedule-divergence" | "scenario";

/** A bad schedule string, a schedule that no longer fits the scenario, or a scenario that cannot run under the explorer. @public */
export class ExploreError extends Error {
  override readonly name = "ExploreError";
  constructor(
    readonly kind: ExploreErrorKind,
    message: string,
  ) {
    super(message);
  }
}

const DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz";

/**
 * Encodes a decision list. Each decision is a code: 0 is the default
 * (non-preemptive) choice, k > 0 the k-th other alternative. Trailing
 * defaults are dropped (a replay takes the default past the end), so the
 * all-default schedule is `e1.` and each character is one deviation or a
 * default between two. Codes of 36 and more are written `~` + two digits.
 * @public
 */
export function encodeSchedule(codes: readonly number[]): string {
  let end = codes.length;
  while (end > 0 && codes[end - 1] === 0) end--;
  let s = SCHEDULE_TAG;
  for (let i = 0; i < end; i++) {
    const c = codes[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= 36 * 36) throw new ExploreError("schedule-format", `decision ${i}: code ${c} cannot be encoded`);
    s += c < 36 ? DIGITS[c] : `~${DIGITS[Math.floor(c / 36)]}${DIGITS[c % 36]}`;
  }
  return s;
}

/**
 * Decodes a schedule string.
 * @throws ExploreError `schedule-format` naming the offending position.
 * @public
 */
export function decodeSchedule(text: string): number[] {
  const s = text.trim();
  if (!s.startsWith(SCHEDULE_TAG)) throw new ExploreError("schedule-format", `schedule ${JSON.stringify(text)} does not start with ${SCHEDULE_TAG}`);
  const out: number[] = [];
  for (let i = SCHEDULE_TAG.length; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "~") {
      const hi = i + 2 < s.length ? DIGITS.indexOf(s[i + 1]!) : -1;
      const lo = i + 2 < s.length ? DIGITS.indexOf(s[i + 2]!) : -1;
      if (hi < 0 || lo < 0) throw new ExploreError("schedule-format", `schedule ${JSON.stringify(text)}: bad escape at column ${i + 1}`);
      out.push(hi * 36 + lo);
      i += 2;
      continue;
    }
    const d = DIGITS.indexOf(ch);
    if (d < 0) throw new ExploreError("schedule-format", `schedule ${JSON.stringify(text)}: unexpected ${JSON.stringify(ch)} at column ${i + 1}`);
    out.push(d);
  }
  return out;
}
