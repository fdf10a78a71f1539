// Test kit of core: the end-of-test checks every scenario shares (nothing leaked, no lockdep report, no oops) and syscall errno checks.
import { errnoName } from "../kernel/errno.js";
import type { Kernel } from "../kernel/kernel.js";

/** Throws `msg` (failing the calling test) unless `cond` holds. @public */
export function check(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

/**
 * Nothing leaked, no lockdep report, no oops (and with `warnings`, no WARN):
 * throws on the first that is not clean.
 * @public
 */
export function checkClean(k: Kernel, opts: { readonly warnings?: boolean } = {}): void {
  const leaks = k.leakReport().text();
  check(leaks === "", `leaks:\n${leaks}`);
  const lockdep = k.lockdep.reports();
  check(lockdep.length === 0, `lockdep: ${lockdep.map((r) => r.message.split("\n")[0]).join("; ")}`);
  if (opts.warnings) check(k.warnings().length === 0, `WARN: ${k.warnings().join("; ")}`);
  const oopses = k.oopses();
  check(oopses.length === 0, `oopses: ${oopses.map((o) => `${o.syscall}: ${String(o.error)}`).join("; ")}`);
}

/** Throws unless the syscall-style result `ret` is `-errno` of `name`. @public */
export function expectErrno(ret: number | bigint, name: string): void {
  check(Number(ret) < 0 && errnoName(Number(ret)) === name, `expected -${name}, got ${errnoName(Number(ret)) ?? ret}`);
}
