// Shrinking a failing schedule to the fewest preemptions, then the fewest steps, keeping its failure signature.
import { runExecution, type ExecutionBounds, type ExecutionResult, type ExploreChooser, type ExploreScenario } from "./explore-run.js";

/** Replays `codes`; past their end, or where a code no longer fits, the default alternative. @public */
export function replayChooser(codes: readonly number[], strict: boolean): ExploreChooser & { divergedAt: number | undefined } {
  const c = {
    divergedAt: undefined as number | undefined,
    choose(index: number, _kind: string, actors: readonly string[]): number {
      const code = codes[index] ?? 0;
      if (code < actors.length) return code;
      if (strict && c.divergedAt === undefined) c.divergedAt = index;
      return 0;
    },
  };
  return c;
}

function better(a: ExecutionResult, b: ExecutionResult): boolean {
  if (a.preemptions !== b.preemptions) return a.preemptions < b.preemptions;
  if (a.steps !== b.steps) return a.steps < b.steps;
  return a.codes.filter((x) => x !== 0).length < b.codes.filter((x) => x !== 0).length;
}

/**
 * Shrinks a failing execution (CHESS: a bug at preemption bound c has a
 * trace with c preemptions, the simplest explanation): first the shortest
 * prefix of its decisions that, completed by default choices, fails the
 * same way; then each deviation dropped or lowered, one at a time, while
 * the same signature reproduces with fewer preemptions, or as many and
 * fewer steps. Deterministic; `budget` bounds the replays.
 * @public
 */
export function shrinkExecution(scenario: ExploreScenario, failing: ExecutionResult, signature: string, bounds: ExecutionBounds, budget = 500): ExecutionResult {
  let runs = 0;
  const attempt = (codes: readonly number[]): ExecutionResult | undefined => {
    if (runs++ >= budget) return undefined;
    const r = runExecution(scenario, replayChooser(codes, false), bounds);
    return r.failures.some((f) => f.signature === signature) ? r : undefined;
  };
  let cur = failing;
  for (let len = 0; len < cur.codes.length; len++) {
    const r = attempt(cur.codes.slice(0, len));
    if (r && !better(cur, r)) {
      cur = r;
      break;
    }
  }
  for (let changed = true; changed && runs < budget; ) {
    changed = false;
    for (let i = 0; i < cur.codes.length; i++) {
      const c = cur.codes[i]!;
      if (c === 0) continue;
      for (const alt of c > 1 ? [0, c - 1] : [0]) {
        const cand = [...cur.codes];
        cand[i] = alt;
        const r = attempt(cand);
        if (r && better(r, cur)) {
          cur = r;
          changed = true;
          break;
        }
      }
    }
  }
  return cur;
}
