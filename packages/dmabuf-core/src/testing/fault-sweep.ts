// Test kit of core: the fault-injection sweep (lib/fault-inject.c's fail-nth, one allocation attempt at a time) that every unwind test runs.
import { errnoName } from "../kernel/errno.js";
import type { AllocRecord } from "../kernel/fault-inject.js";
import { KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";

/** A syscall-style result as a value, or a `KernelError` with its errno (so a scenario unwinds like a careful program). @public */
export function syscallOk(ret: number | bigint, op: string): number {
  if (ret < 0) throw new KernelError(errnoName(Number(ret)) ?? "EIO", op);
  return Number(ret);
}

/** A scenario run once clean, with every allocation attempt it made. @public */
export interface FaultSweep {
  /** The kernel of the clean run. */
  readonly clean: Kernel;
  /** Its allocation attempts, in order: the sweep fails each in turn. */
  readonly attempts: readonly AllocRecord[];
  /** Reruns the scenario on a fresh kernel whose `nth` attempt fails; returns the kernel and what the scenario threw. */
  failAttempt(nth: number): { readonly kernel: Kernel; readonly error: unknown };
}

/** Runs `scenario` on `boot()` once clean, recording its allocation attempts, for a sweep over them. @public */
export function faultSweep(boot: () => Kernel, scenario: (k: Kernel) => void): FaultSweep {
  const clean = boot();
  scenario(clean);
  return {
    clean,
    attempts: clean.faults.records(),
    failAttempt(nth) {
      const kernel = boot();
      kernel.faults.failNth(nth);
      let error: unknown;
      try {
        scenario(kernel);
      } catch (e) {
        error = e;
      }
      return { kernel, error };
    },
  };
}
