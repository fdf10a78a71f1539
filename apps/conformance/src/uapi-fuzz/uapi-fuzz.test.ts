// Tests: the seeded uAPI fuzzer (fast-check) finds no kernel bug and leaks nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KernelBug } from "@dmabuf-sdk/dmabuf-core";
import { UAPI_ENTRY_POINTS, bootFuzzWorld } from "./entry-points.js";
import { checkReturn, closeTimelines, fuzzArbs, record, type FuzzCommand, type FuzzStats, type UapiEntryPoint } from "./harness.js";

/** Seeded and bounded: the same sequences on every run, well under a minute on a loaded 2-core machine. */
const SEED = Number(process.env.UAPI_FUZZ_SEED ?? 0x12_2026);
const RUNS = Number(process.env.UAPI_FUZZ_RUNS ?? 1000);
const MAX_CALLS = 40;
const NPROCS = 2;

interface Step {
  readonly proc: number;
  readonly ep: UapiEntryPoint;
  readonly c: FuzzCommand;
}

const arbs = fuzzArbs(NPROCS);
const step: fc.Arbitrary<Step> = fc.record({
  proc: arbs.proc,
  call: fc.oneof(...UAPI_ENTRY_POINTS.map((ep) => ep.command(arbs).map((c) => ({ ep, c })))),
}).map(({ proc, call }) => ({ proc, ep: call.ep, c: call.c, [fc.toStringMethod]: () => `proc${proc}: ${call.c.label}` }));

const totals: FuzzStats & { runs: number; oopses: number; leaks: number; blocked: number } = { calls: 0, byEntry: new Map(), errnos: new Map(), runs: 0, oopses: 0, leaks: 0, blocked: 0 };

/** The model's way of saying "this task would sleep forever" (a blocking read with nothing to read): not a bug. */
const isHang = (e: unknown): boolean => e instanceof KernelBug && e.kind === "hung_task";

/** Runs one sequence on a fresh machine and checks every invariant; throws with the reason. */
function runSequence(seed: number, steps: readonly Step[]): void {
  const w = bootFuzzWorld(seed);
  const k = w.k;
  totals.runs++;
  const blocked = new Set<number>();
  let oopsesSeen = 0;
  for (const s of steps) {
    // A task blocked forever makes no more calls; it is killed with the others at the end.
    if (blocked.has(s.proc)) continue;
    const p = w.procs[s.proc]!;
    const warned = k.warnings().length;
    let ret: number | bigint;
    try {
      ret = s.c.run(w, p);
    } catch (e) {
      throw new Error(`proc${s.proc}: ${s.c.label} threw ${String(e)}`);
    }
    record(totals, s.ep.name, ret);
    const oopses = k.oopses().slice(oopsesSeen);
    oopsesSeen = k.oopses().length;
    if (oopses.length === 1 && isHang(oopses[0]!.error)) {
      blocked.add(s.proc);
      totals.blocked++;
    } else if (oopses.length) {
      totals.oopses += oopses.length;
      throw new Error(`proc${s.proc}: ${s.c.label}: oops ${oopses[0]!.syscall}: ${String(oopses[0]!.error)}`);
    }
    const why = blocked.has(s.proc) ? null : checkReturn(s.ep, ret);
    if (why) throw new Error(`proc${s.proc}: ${s.c.label}: ${why}`);
    const fresh = k.warnings().slice(warned);
    const unexpected = fresh.filter((m) => !(s.ep.expectedWarnings ?? []).some((re) => re.test(m)));
    if (unexpected.length) throw new Error(`proc${s.proc}: ${s.c.label}: WARN ${unexpected[0]}`);
  }
  closeTimelines(w);
  for (const p of w.procs) k.exitTask(p, 0);
  k.clock.flush();
  for (const t of w.teardown ?? []) t();
  k.clock.flush();
  const leaks = k.leakReport();
  if (!leaks.empty) {
    totals.leaks++;
    throw new Error(`leak after every process exited:\n${leaks.text()}`);
  }
  const lockdep = k.lockdep.reports();
  if (lockdep.length) throw new Error(`lockdep: ${lockdep.map((r) => r.kind).join(", ")}`);
}

describe("uAPI fuzzer (fast-check, seeded)", () => {
  it("covers every entry point in the table", () => {
    expect(UAPI_ENTRY_POINTS.map((e) => e.name)).toEqual(
      expect.arrayContaining(["open", "close", "dup", "read", "write", "pread64", "pwrite64", "dma-buf ioctls (SYNC, SET_NAME, EXPORT/IMPORT_SYNC_FILE)", "mmap", "munmap", "pidfd_open", "pidfd_getfd", "poll", "eventfd2", "VFIO_DEVICE_FEATURE", "iommufd ioctls", "DMA_HEAP_IOCTL_ALLOC", "ioctl (any fd, any command)",
        "DRM_IOCTL_GET_CAP", "DRM_IOCTL_SYNCOBJ_CREATE", "DRM_IOCTL_SYNCOBJ_DESTROY", "DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD", "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE",
        "sync_file export (DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD)", "sync_file import (DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE)", "DRM_IOCTL_SYNCOBJ_WAIT", "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT",
        "DRM_IOCTL_SYNCOBJ_RESET", "DRM_IOCTL_SYNCOBJ_SIGNAL", "DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL", "DRM_IOCTL_SYNCOBJ_QUERY", "DRM_IOCTL_SYNCOBJ_TRANSFER", "DRM_IOCTL_SYNCOBJ_EVENTFD",
        "DRM ioctls on an unplugged device",
        "io_uring_setup", "io_uring_enter", "io_uring_register", "nvme block device (open, pread64/pwrite64, fcntl O_DIRECT)"]),
    );
  });

  it(`${RUNS} sequences of up to ${MAX_CALLS} calls by ${NPROCS} processes: no throw, no oops, documented errnos, no WARN, no leak`, () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(step, { minLength: 1, maxLength: MAX_CALLS, size: "max" }), (seed, steps) => runSequence(seed, steps)),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 45_000 },
    );
    const byErrno = [...totals.errnos].sort((x, y) => y[1] - x[1]).map(([e, n]) => `${e} ${n}`).join(", ");
    console.log(`uapi-fuzz: seed ${SEED}, ${totals.runs} sequences, ${totals.calls} calls, ${totals.oopses} oopses, ${totals.leaks} leaks, ${totals.blocked} calls blocked forever; ${byErrno}`);
    expect(totals.oopses).toBe(0);
    expect(totals.leaks).toBe(0);
    for (const ep of UAPI_ENTRY_POINTS) expect(totals.byEntry.get(ep.name) ?? 0, ep.name).toBeGreaterThan(0);
  });
});
