// Property-based uAPI fuzzing: the world, the entry-point table contract and the invariants.
import fc from "fast-check";
import { ERRNO, SW_SYNC_FOPS, errnoName, type Errno, type Kernel, type Task } from "@dmabuf-sdk/dmabuf-core";

/**
 * A booted machine the commands run against. `procs` are the user processes
 * that make calls; `pids` their pids (for pidfds); `paths` every node user
 * space can open.
 */
export interface FuzzWorld {
  readonly k: Kernel;
  readonly procs: Task[];
  readonly paths: readonly string[];
  /** What each entry point returned, for the report. */
  readonly stats: FuzzStats;
  /** Run after every process exited, before the leak check: drivers whose devices hold memory are unbound. */
  readonly teardown?: readonly (() => void)[];
}

/** One syscall a command made: its entry point, the process and the raw return. */
export interface FuzzCall {
  readonly entry: string;
  readonly ret: number | bigint;
}

/** Per-run counters. */
export interface FuzzStats {
  calls: number;
  byEntry: Map<string, number>;
  errnos: Map<string, number>;
}

/** A command: one call (or a short fixed sequence) through one entry point. */
export interface FuzzCommand {
  /** Shown in a counterexample. */
  readonly label: string;
  /** Makes the call as `proc` and returns what the syscall returned. */
  run(w: FuzzWorld, proc: Task): number | bigint;
}

/**
 * Generators shared by every table: fds that hit open files of every kind
 * (and some that cannot be fds), process indexes, and interesting integers.
 */
export interface FuzzArbs {
  /** A small fd (likely open, of any kind) or a value that names no file. */
  readonly fd: fc.Arbitrary<number>;
  /** An index into `world.procs`. */
  readonly proc: fc.Arbitrary<number>;
  /** u32 values around the edges. */
  readonly u32: fc.Arbitrary<number>;
  /** u64 values around the edges (page sizes, 2^63, 2^64 - 1, …). */
  readonly u64: fc.Arbitrary<bigint>;
  /** A user buffer of 0-64 random bytes. */
  readonly bytes: fc.Arbitrary<Uint8Array>;
  /** A numeric JS value as a caller may pass it: edges and values no register holds. */
  readonly anyNumber: fc.Arbitrary<number>;
}

/**
 * One uAPI entry point: its name, the errnos it documents, and a generator of
 * commands. Packages that add syscalls or ioctls (drm syncobj, io_uring, kvm)
 * add a table of these in their own file and list it in `entry-points.ts`.
 */
export interface UapiEntryPoint {
  readonly name: string;
  /** Every errno the entry point may return for any input; anything else fails the property. */
  readonly errnos: readonly Errno[];
  /** WARNs a user may trigger through this entry point (none: a user-triggered WARN is a bug). */
  readonly expectedWarnings?: readonly RegExp[];
  command(a: FuzzArbs): fc.Arbitrary<FuzzCommand>;
}

const U32_EDGES = [0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x1000, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];
const U64_EDGES = [0n, 1n, 0xfffn, 0x1000n, 0x2000n, 0x4000n, 0x1_0000n, 0x20_0000n, 0x1000_0000n, (1n << 32n) - 1n, 1n << 32n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 0x1000n, (1n << 64n) - 1n];

/** The shared generators. */
export function fuzzArbs(nprocs: number): FuzzArbs {
  return {
    fd: fc.oneof({ weight: 8, arbitrary: fc.nat(10) }, { weight: 1, arbitrary: fc.constantFrom(-1, 0x7fff_ffff, 2 ** 31, 0.5, Number.NaN) }),
    proc: fc.nat(nprocs - 1),
    u32: fc.oneof(fc.constantFrom(...U32_EDGES), fc.nat({ max: 0xffff_ffff })),
    u64: fc.oneof(fc.constantFrom(...U64_EDGES), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 0x10_0000n }).map((v) => v & ~0xfffn)),
    bytes: fc.uint8Array({ maxLength: 64 }),
    anyNumber: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: -4, max: 0x4000 }) },
      { weight: 1, arbitrary: fc.constantFrom(0.5, -0.5, Number.NaN, Number.POSITIVE_INFINITY, -Number.POSITIVE_INFINITY, 2 ** 53, -(2 ** 31), 2 ** 32) },
    ),
  };
}

/** Why a call broke the contract, or null. */
export function checkReturn(ep: UapiEntryPoint, ret: unknown): string | null {
  if (typeof ret === "bigint") {
    if (ret >= 0n) return ret & 0xfffn ? `address ${ret} not page aligned` : null;
    return checkErrno(ep, Number(ret));
  }
  if (typeof ret !== "number" || !Number.isSafeInteger(ret)) return `returned ${String(ret)}`;
  return ret >= 0 ? null : checkErrno(ep, ret);
}

function checkErrno(ep: UapiEntryPoint, ret: number): string | null {
  const name = errnoName(ret);
  if (!name) return `returned ${ret}, which is no errno`;
  return ep.errnos.includes(name) ? null : `-${name} is not in ${ep.name}'s documented set`;
}

/** Counts a call. */
export function record(stats: FuzzStats, entry: string, ret: number | bigint): void {
  stats.calls++;
  stats.byEntry.set(entry, (stats.byEntry.get(entry) ?? 0) + 1);
  const key = (typeof ret === "bigint" ? ret < 0n : ret < 0) ? `-${errnoName(Number(ret))}` : "ok";
  stats.errnos.set(key, (stats.errnos.get(key) ?? 0) + 1);
}

/** `-errno` of a name, for tables. */
export const neg = (e: Errno): number => -ERRNO[e];

/**
 * Before the processes exit, each closes its sw_sync timelines, as a producer
 * going away does: their pending fences signal with `-ENOENT`. Without this, a
 * fence imported into a vfio-pci dma-buf and never signaled would make the
 * device's close wait forever at exit (the posted revoke waits for every
 * fence, `DMA_RESV_USAGE_BOOKKEEP`), before the same process's timeline is
 * closed: a hang the kernel has too, not a model bug.
 */
export function closeTimelines(w: FuzzWorld): void {
  for (const p of w.procs) {
    if (p.state !== "running") continue;
    for (const fd of p.files.fds()) if (p.files.lookup(fd)?.fops === SW_SYNC_FOPS) p.sys.close(fd);
  }
}
