// Ports of igt's syncobj_basic, syncobj_wait, syncobj_timeline and syncobj_eventfd subtests, and the syncobj uAPI errno tables.
import { beforeEach, describe, expect, it } from "vitest";
import { ERRNO, Kernel, LibSync, UserStruct, swSyncDebugfsInit, type Task, type UserSyscalls } from "@dmabuf-sdk/dmabuf-core";
import {
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_SYNCOBJ_CREATE_SIGNALED,
  DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
  drmDevUnregister,
  drmSyncobjSetHandleIoctlVersion,
  type DrmDevice,
} from "@dmabuf-sdk/drm";
import { IgtSyncobj, drmTestDevice } from "@dmabuf-sdk/drm/testing";

const EINVAL = -ERRNO.EINVAL;
const ENOENT = -ERRNO.ENOENT;
const ETIME = -ERRNO.ETIME;
const EFAULT = -ERRNO.EFAULT;
const EBADF = -ERRNO.EBADF;
const WAIT_ALL = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
const WAIT_FOR_SUBMIT = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
const WAIT_AVAILABLE = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;
const UINT64_MAX = (1n << 64n) - 1n;

let k: Kernel;
let task: Task;
let sys: UserSyscalls;
let dev: DrmDevice;
let fd: number;
let so: IgtSyncobj;
let lib: LibSync;
/** Devices the test made, released (driver unbind) by finish(). */
let devices: DrmDevice[];

beforeEach(() => {
  k = new Kernel();
  swSyncDebugfsInit(k);
  dev = drmTestDevice(k);
  devices = [dev];
  task = k.fork({ comm: "igt" });
  sys = task.sys;
  fd = sys.open(`/dev/${dev.primary.path}`, 2);
  so = new IgtSyncobj(k, sys, fd);
  lib = new LibSync(k, sys);
});

/** Everything the test made is gone once every fd is closed. */
function finish(): void {
  for (const f of task.files.fds()) sys.close(f);
  for (const d of k.tasks().length ? devices : []) {
    drmDevUnregister(d);
    d.put();
  }
  k.clock.flush();
  expect(k.leakReport().text()).toBe("");
}

const shortTimeout = (): bigint => BigInt(Math.floor(k.clock.nowNs)) + 1_000_000n;

/** igt's `syncobj_attach_sw_sync(fd, handle[, point])`: a pending sw_sync point 1 as the syncobj's fence. */
function attachSwSync(handle: number, point = 0n): number {
  const timeline = lib.timelineCreate();
  const fence = lib.createFence(timeline, 1);
  if (point === 0n) expect(so.importSyncFile(handle, fence)).toBe(0);
  else {
    const tmp = so.create();
    expect(so.importSyncFile(tmp, fence)).toBe(0);
    expect(so.binaryToTimeline(handle, point, tmp)).toBe(0);
    so.destroy(tmp);
  }
  sys.close(fence);
  return timeline;
}

describe("igt syncobj_basic", () => {
  it("bad-destroy", () => {
    expect(so.destroy(0xdeadbeef)).toBe(EINVAL);
    finish();
  });
  it("bad-create-flags", () => {
    expect(so.create(0xdeadbeef)).toBe(EINVAL);
    finish();
  });
  it("bad-handle-to-fd", () => {
    expect(so.handleToFd(0xdeadbeef)).toBe(EINVAL);
    finish();
  });
  it("bad-fd-to-handle", () => {
    expect(so.fdToHandle(-1)).toBe(EINVAL);
    finish();
  });
  it("bad-flags-handle-to-fd", () => {
    expect(so.handleToFdRaw(0, 0xdeadbeef)).toBe(EINVAL);
    finish();
  });
  it("bad-flags-fd-to-handle", () => {
    expect(so.fdToHandleRaw(0, 0xdeadbeef)).toBe(EINVAL);
    finish();
  });
  it("bad-pad-handle-to-fd", () => {
    expect(so.handleToFdRaw(0, 0, 0n, 0xdeadbeef)).toBe(EINVAL);
    finish();
  });
  it("bad-pad-fd-to-handle", () => {
    expect(so.fdToHandleRaw(0, 0, 0, 0n, 0xdeadbeef)).toBe(EINVAL);
    finish();
  });
  it("illegal-fd-to-handle", () => {
    expect(so.fdToHandle(fd)).toBe(EINVAL);
    finish();
  });
  it("bad-destroy-pad", () => {
    const h = so.create();
    expect(so.destroy(h, 0xdeadbeef)).toBe(EINVAL);
    expect(so.destroy(h)).toBe(0);
    finish();
  });
  it("create-signaled", () => {
    const h = so.create(DRM_SYNCOBJ_CREATE_SIGNALED);
    expect(so.wait([h], 0n, 0).ret).toBe(0);
    so.destroy(h);
    finish();
  });
  it("test-valid-cycle", () => {
    const first = so.create();
    const sfd = so.handleToFd(first);
    const second = so.fdToHandle(sfd);
    sys.close(sfd);
    expect(second).not.toBe(first);
    so.destroy(first);
    so.destroy(second);
    finish();
  });
});

describe("igt syncobj_wait", () => {
  it("invalid-wait-bad-flags", () => {
    expect(so.wait([], 0n, 0xdeadbeef).ret).toBe(EINVAL);
    finish();
  });
  it("invalid-wait-zero-handles (current kernels succeed; igt's EINVAL predates that)", () => {
    expect(so.wait([], 0n, 0).ret).toBe(0);
    finish();
  });
  it("invalid-wait-illegal-handle", () => {
    expect(so.wait([0], 0n, 0).ret).toBe(ENOENT);
    finish();
  });
  it.each([
    { name: "invalid-reset-zero-handles", op: "reset", handles: [], errno: EINVAL },
    { name: "invalid-reset-illegal-handle", op: "reset", handles: [0], errno: ENOENT },
    { name: "invalid-reset-one-illegal-handle", op: "reset", handles: [-1, 0], errno: ENOENT },
    { name: "invalid-reset-bad-pad", op: "reset", handles: [-1], pad: 1, errno: EINVAL },
    { name: "invalid-signal-zero-handles", op: "signal", handles: [], errno: EINVAL },
    { name: "invalid-signal-illegal-handle", op: "signal", handles: [0], errno: ENOENT },
    { name: "invalid-signal-one-illegal-handle", op: "signal", handles: [-1, 0], errno: ENOENT },
    { name: "invalid-signal-bad-pad", op: "signal", handles: [-1], pad: 1, errno: EINVAL },
  ] as const)("$name", ({ op, handles, pad, errno }) => {
    const real = so.create();
    const hs = handles.map((h) => (h === -1 ? real : h));
    expect(op === "reset" ? so.reset(hs, undefined, pad ?? 0) : so.signal(hs, undefined, pad ?? 0)).toBe(errno);
    // "one illegal handle": the valid one was not touched either.
    expect(so.wait([real], 0n, 0).ret).toBe(EINVAL);
    finish();
  });

  const STATES = ["unsubmitted", "submitted", "signaled"] as const;
  type State = (typeof STATES)[number];
  const singleCases = [false, true].flatMap((all) =>
    [false, true].flatMap((forSubmit) =>
      STATES.map((state) => {
        const err = state === "unsubmitted" && !forSubmit ? EINVAL : state !== "signaled" ? ETIME : 0;
        const name = `${err === EINVAL ? "invalid-" : ""}single-wait${all ? "-all" : ""}${forSubmit ? "-for-submit" : ""}-${state}`;
        return { name, all, forSubmit, state, err };
      }),
    ),
  );

  function makeInState(state: State): { h: number; timeline: number | null } {
    const h = so.create();
    if (state === "unsubmitted") return { h, timeline: null };
    const timeline = attachSwSync(h);
    if (state === "signaled") lib.inc(timeline, 1);
    return { h, timeline };
  }

  it.each(singleCases)("$name", ({ all, forSubmit, state, err }) => {
    const flags = (all ? WAIT_ALL : 0) | (forSubmit ? WAIT_FOR_SUBMIT : 0);
    const { h } = makeInState(state);
    expect(so.wait([h], 0n, flags).ret).toBe(err);
    expect(so.wait([h], shortTimeout(), flags).ret).toBe(err);
    if (err !== ETIME) expect(so.wait([h], UINT64_MAX, flags).ret).toBe(err);
    finish();
  });

  const multiCases = [false, true].flatMap((all) =>
    [false, true].flatMap((forSubmit) =>
      [1, 2, 3, 4, 5, 6, 7].map((mask) => {
        const states = STATES.filter((_, i) => mask & (1 << i));
        let err = 0;
        if (states.includes("unsubmitted") && !forSubmit) err = EINVAL;
        else if (all) err = states.includes("unsubmitted") || states.includes("submitted") ? ETIME : 0;
        else err = states.includes("signaled") ? 0 : ETIME;
        const name = `${err === EINVAL ? "invalid-" : ""}multi-wait${all ? "-all" : ""}${forSubmit ? "-for-submit" : ""}${states.map((s) => `-${s}`).join("")}`;
        return { name, all, forSubmit, states, err };
      }),
    ),
  );

  it.each(multiCases)("$name", ({ all, forSubmit, states, err }) => {
    const flags = (all ? WAIT_ALL : 0) | (forSubmit ? WAIT_FOR_SUBMIT : 0);
    const hs = states.map((s) => makeInState(s).h);
    const r = so.wait(hs, 0n, flags);
    expect(r.ret).toBe(err);
    if (err === 0 && !all) expect(r.firstSignaled).toBe(states.indexOf("signaled"));
    if (err === 0 && all) expect(r.firstSignaled).toBe(states.indexOf("signaled"));
    if (err !== 0) expect(r.firstSignaled).toBe(0xdead); // left as the user wrote it
    expect(so.wait(hs, shortTimeout(), flags).ret).toBe(err);
    finish();
  });

  it.each([
    { name: "wait-delayed-signal", flags: 0 },
    { name: "wait-for-submit-delayed-submit", flags: WAIT_FOR_SUBMIT },
    { name: "wait-all-delayed-signal", flags: WAIT_ALL },
    { name: "wait-all-for-submit-delayed-submit", flags: WAIT_ALL | WAIT_FOR_SUBMIT },
  ])("$name", ({ flags }) => {
    const h = so.create();
    if (flags & WAIT_FOR_SUBMIT) {
      // The submit happens later, from a timer: attach then signal.
      k.clock.schedule(1e6, () => {
        const tl = attachSwSync(h);
        k.clock.schedule(1e6, () => lib.inc(tl, 1));
      });
    } else {
      const tl = attachSwSync(h);
      k.clock.schedule(1e6, () => lib.inc(tl, 1));
    }
    expect(so.wait([h], BigInt(Math.floor(k.clock.nowNs)) + 10_000_000_000n, flags).ret).toBe(0);
    finish();
  });

  it("reset-unsignaled", () => {
    const h = so.create();
    expect(so.wait([h], 0n, 0).ret).toBe(EINVAL);
    expect(so.reset([h])).toBe(0);
    expect(so.wait([h], 0n, 0).ret).toBe(EINVAL);
    finish();
  });

  it("reset-signaled", () => {
    const h = so.create(DRM_SYNCOBJ_CREATE_SIGNALED);
    expect(so.wait([h], 0n, 0).ret).toBe(0);
    expect(so.reset([h])).toBe(0);
    expect(so.wait([h], 0n, 0).ret).toBe(EINVAL);
    finish();
  });

  it("reset-multiple-signaled", () => {
    const hs = [0, 1, 2, 3, 4].map(() => so.create(DRM_SYNCOBJ_CREATE_SIGNALED));
    expect(so.wait(hs, 0n, WAIT_ALL).ret).toBe(0);
    expect(so.reset(hs)).toBe(0);
    for (const h of hs) expect(so.wait([h], 0n, 0).ret).toBe(EINVAL);
    finish();
  });

  it("reset-during-wait-for-submit", () => {
    const h = so.create();
    // While the waiter waits for a submission: attach a fence, reset, then signal.
    k.clock.schedule(1e6, () => {
      const tl = attachSwSync(h);
      expect(so.reset([h])).toBe(0);
      k.clock.schedule(1e6, () => so.signal([h]));
      sys.close(tl);
    });
    expect(so.wait([h], BigInt(Math.floor(k.clock.nowNs)) + 10_000_000_000n, WAIT_FOR_SUBMIT).ret).toBe(0);
    finish();
  });

  it("signal", () => {
    const h = so.create();
    expect(so.wait([h], 0n, 0).ret).toBe(EINVAL);
    expect(so.signal([h])).toBe(0);
    expect(so.wait([h], 0n, 0).ret).toBe(0);
    finish();
  });

  it.each([
    { name: "wait-any-snapshot", flags: 0 },
    { name: "wait-all-snapshot", flags: WAIT_ALL },
    { name: "wait-for-submit-snapshot", flags: WAIT_FOR_SUBMIT },
    { name: "wait-all-for-submit-snapshot", flags: WAIT_ALL | WAIT_FOR_SUBMIT },
  ])("$name", ({ flags }) => {
    // The wait snapshots the fences: replacing them afterwards does not change what it waits for.
    const hs = [so.create(), so.create()];
    const tls = hs.map((h) => attachSwSync(h));
    k.clock.schedule(1e6, () => {
      for (const h of hs) so.reset([h]); // the wait keeps its fences
      for (const t of tls) lib.inc(t, 1);
    });
    const r = so.wait(hs, BigInt(Math.floor(k.clock.nowNs)) + 10_000_000_000n, flags);
    expect(r.ret).toBe(0);
    expect(r.firstSignaled).toBe(flags & WAIT_ALL ? 0xffffffff : 0);
    finish();
  });

  it.each([
    { name: "wait-any-interrupted", flags: 0 },
    { name: "wait-all-interrupted", flags: WAIT_ALL },
  ])("$name (no signals in the model: a bounded wait times out instead of -ERESTARTSYS)", ({ flags }) => {
    const h = so.create();
    attachSwSync(h);
    expect(so.wait([h], shortTimeout(), flags).ret).toBe(ETIME);
    finish();
  });
});

describe("igt syncobj_timeline", () => {
  /** igt's `syncobj_trigger(fd, handle, point)`: attach a sw_sync point and signal it at once. */
  const trigger = (h: number, point: bigint): void => {
    const tl = attachSwSync(h, point);
    lib.inc(tl, 1);
    sys.close(tl);
  };
  const inTwoShortTimes = (): bigint => BigInt(Math.floor(k.clock.nowNs)) + 200_000_000n;

  it("invalid-wait-bad-flags", () => {
    expect(so.timelineWait([], null, 0n, 0xdeadbeef).ret).toBe(EINVAL);
    finish();
  });
  it("invalid-wait-zero-handles (the current kernel returns 0 for zero handles, as for DRM_IOCTL_SYNCOBJ_WAIT; igt expects EINVAL)", () => {
    expect(so.timelineWait([], null, 0n, 0).ret).toBe(0);
    finish();
  });
  it("invalid-wait-illegal-handle", () => {
    expect(so.timelineWait([0], [0n], 0n, 0).ret).toBe(ENOENT);
    finish();
  });
  it.each([
    { name: "invalid-query-zero-handles", run: () => so.query([]), errno: EINVAL },
    { name: "invalid-query-illegal-handle", run: () => so.query([0]), errno: ENOENT },
    { name: "invalid-query-bad-pad", run: () => so.query([0], 0xdeadbeef), errno: EINVAL },
    { name: "invalid-signal-zero-handles", run: () => so.timelineSignal([], null), errno: EINVAL },
    { name: "invalid-signal-illegal-handle", run: () => so.timelineSignal([0], null), errno: ENOENT },
    // A fresh file has no handle 1.
    { name: "invalid-signal-illegal-point", run: () => so.timelineSignal([1], [0n]), errno: ENOENT },
    { name: "invalid-signal-bad-pad", run: () => so.timelineSignal([0], null, { flags: 0xdeadbeef }), errno: EINVAL },
    { name: "invalid-transfer-illegal-handle", run: () => so.transfer(0, 0n, 0, 1n), errno: ENOENT },
    { name: "invalid-transfer-bad-pad", run: () => so.transfer(0, 0n, 0, 0n, 0, 0xdeadbeef), errno: EINVAL },
  ])("$name", ({ run, errno }) => {
    expect(run()).toBe(errno);
    finish();
  });

  it.each([
    { name: "invalid-query-one-illegal-handle", run: (hs: number[]) => so.query(hs) },
    { name: "invalid-signal-one-illegal-handle", run: (hs: number[]) => so.timelineSignal(hs, [2n, 2n, 2n]) },
  ])("$name", ({ run }) => {
    const hs = [so.create(), 0, so.create()];
    for (const h of [hs[0]!, hs[2]!]) {
      expect(so.timelineSignal([h], [1n])).toBe(0);
      expect(so.timelineWait([h], [1n], 0n, 0).ret).toBe(0);
    }
    expect(run(hs)).toBe(ENOENT);
    // Nothing was signalled before the bad handle was found.
    expect(so.query([hs[0]!, hs[2]!])).toEqual([1n, 1n]);
    finish();
  });

  it("invalid-transfer-non-existent-point (despite its name igt expects success: the transfer reads the signalled timeline)", () => {
    const h = so.create();
    expect(so.timelineSignal([h], [63n])).toBe(0);
    expect(so.transfer(h, 74n, h, 63n)).toBe(0);
    expect(so.query([h])).toEqual([74n]);
    finish();
  });

  it("a transfer from a point never submitted (without WAIT_FOR_SUBMIT) is EINVAL", () => {
    expect(so.transfer(so.create(), 0n, so.create(), 5n)).toBe(EINVAL);
    finish();
  });

  it("signal-array", () => {
    const hs = [so.create(), so.create(), so.create(), so.create()];
    expect(so.timelineSignal(hs, [1n, 1n, 1n, 0n])).toBe(0);
    expect(so.timelineWait(hs.slice(0, 3), [1n, 1n, 1n], 0n, 0).ret).toBe(0);
    expect(so.wait([hs[3]!], 0n, 0).ret).toBe(0);
    finish();
  });

  it("transfer-timeline-point", () => {
    const h = so.create();
    const tl = attachSwSync(h, 1n);
    expect(so.query([h])).toEqual([0n]);
    expect(so.timelineWait([h], [1n], 0n, WAIT_ALL).ret).toBe(ETIME);
    lib.inc(tl, 1);
    expect(so.query([h])).toEqual([1n]);
    expect(so.timelineWait([h], [1n], 0n, WAIT_ALL).ret).toBe(0);
    expect(so.timelineSignal([h], [2n])).toBe(0);
    // syncobj_timeline_to_timeline(fd, handle, 3, handle, 2)
    expect(so.transfer(h, 3n, h, 2n)).toBe(0);
    expect(so.query([h])).toEqual([3n]);
    finish();
  });

  // The wait matrices: FOR_SUBMIT, ALL, AVAILABLE and the states of the syncobjs (igt's test flags).
  const T_FOR_SUBMIT = 1;
  const T_ALL = 2;
  const T_AVAILABLE = 4;
  const T_UNSUBMITTED = 8;
  const T_SUBMITTED = 16;
  const T_SIGNALED = 32;
  const T_STATES = T_UNSUBMITTED | T_SUBMITTED | T_SIGNALED;
  const waitFlags = (t: number): number => (t & T_FOR_SUBMIT ? WAIT_FOR_SUBMIT : 0) | (t & T_ALL ? WAIT_ALL : 0) | (t & T_AVAILABLE ? WAIT_AVAILABLE : 0);
  const caseName = (prefix: string, kind: string, t: number): string =>
    `${prefix}${kind}${t & T_ALL ? "-all" : ""}${t & T_FOR_SUBMIT ? "-for-submit" : ""}${t & T_AVAILABLE ? "-available" : ""}${t & T_UNSUBMITTED ? "-unsubmitted" : ""}${t & T_SUBMITTED ? "-submitted" : ""}${t & T_SIGNALED ? "-signaled" : ""}`;
  const prefixOf = (err: number): string => (err === EINVAL ? "invalid-" : err === ETIME ? "etime-" : "");

  /**
   * What drm_syncobj_array_wait_timeout() returns with a zero timeout for
   * syncobjs in `states`: an unsubmitted point is EINVAL unless WAIT_FOR_SUBMIT
   * or WAIT_AVAILABLE (then it is skipped); WAIT_AVAILABLE counts a submitted
   * point as done. igt's formula differs only for WAIT_AVAILABLE without
   * WAIT_FOR_SUBMIT on an unsubmitted point, which igt names (and expects) EINVAL.
   */
  function kernelResult(t: number, states: readonly number[]): number {
    let done = 0;
    for (const s of states) {
      if (s === T_UNSUBMITTED) {
        if (!(t & (T_FOR_SUBMIT | T_AVAILABLE))) return EINVAL;
        continue;
      }
      if (t & T_AVAILABLE || s === T_SIGNALED) done++;
    }
    return done === states.length || (done > 0 && !(t & T_ALL)) ? 0 : ETIME;
  }

  /** Makes a syncobj whose `point` is in state `s`; returns the sw_sync timeline (or null). */
  function pointInState(h: number, point: bigint, s: number): number | null {
    if (s === T_UNSUBMITTED) return null;
    const tl = attachSwSync(h, point);
    if (s === T_SIGNALED) lib.inc(tl, 1);
    return tl;
  }

  const singleCases: { name: string; t: number; igtErr: number; err: number }[] = [];
  for (let t = 0; t < 63; t++) {
    const st = t & T_STATES;
    if (st !== T_UNSUBMITTED && st !== T_SUBMITTED && st !== T_SIGNALED) continue;
    const igtErr = t & T_UNSUBMITTED && !(t & T_FOR_SUBMIT) ? EINVAL : !(t & T_SIGNALED) && !(t & T_SUBMITTED && t & T_AVAILABLE) ? ETIME : 0;
    singleCases.push({ name: caseName(prefixOf(igtErr), "single-wait", t), t, igtErr, err: kernelResult(t, [st]) });
  }

  it("the single-wait matrix has igt's 24 subtests; the kernel differs from igt's expectation only for WAIT_AVAILABLE on an unsubmitted point", () => {
    expect(singleCases).toHaveLength(24);
    expect(singleCases.filter((c) => c.err !== c.igtErr).map((c) => [c.name, c.err])).toEqual([
      ["invalid-single-wait-available-unsubmitted", ETIME],
      ["invalid-single-wait-all-available-unsubmitted", ETIME],
    ]);
  });

  it.each(singleCases)("$name", ({ t, err }) => {
    const h = so.create();
    pointInState(h, 1n, t & T_STATES);
    const flags = waitFlags(t);
    expect(so.timelineWait([h], [1n], 0n, flags).ret).toBe(err);
    expect(so.timelineWait([h], [1n], shortTimeout(), flags).ret).toBe(err);
    if (err !== ETIME) expect(so.timelineWait([h], [1n], UINT64_MAX, flags).ret).toBe(err);
    finish();
  });

  const multiCases: { name: string; t: number; igtErr: number; err: number; states: number[] }[] = [];
  for (let t = 0; t < 63; t++) {
    if (!(t & T_STATES)) continue;
    let igtErr = 0;
    if (t & T_UNSUBMITTED && !(t & T_FOR_SUBMIT)) igtErr = EINVAL;
    else if (t & T_ALL) {
      if (t & (T_UNSUBMITTED | T_SUBMITTED)) igtErr = ETIME;
      if (!(t & T_UNSUBMITTED) && t & T_SUBMITTED && t & T_AVAILABLE) igtErr = 0;
    } else if (!(t & T_SIGNALED) && !(t & T_SUBMITTED && t & T_AVAILABLE)) igtErr = ETIME;
    // igt hands the state flags out lowest first, one per syncobj; the last one covers the rest.
    let rest = t & T_STATES;
    const states: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = rest & -rest;
      if (rest & ~s) rest &= ~s;
      states.push(s);
    }
    multiCases.push({ name: caseName(prefixOf(igtErr), "multi-wait", t), t, igtErr, err: kernelResult(t, states), states });
  }

  it("the multi-wait matrix has igt's 55 subtests; the kernel differs from igt's expectation only for WAIT_AVAILABLE with unsubmitted points", () => {
    expect(multiCases).toHaveLength(55);
    for (const c of multiCases.filter((x) => x.err !== x.igtErr)) {
      expect(c.t & T_AVAILABLE && c.t & T_UNSUBMITTED && !(c.t & T_FOR_SUBMIT)).toBeTruthy();
      expect(c.igtErr).toBe(EINVAL);
    }
  });

  it.each(multiCases)("$name", ({ t, err, states }) => {
    // Points of timeline syncobjs at 1..1000 (seeded), entries 1 and 4 binary syncobjs (point 0).
    const points = [0, 1, 2, 3, 4].map((i) => (i === 1 || i === 4 ? 0n : BigInt(1 + k.random.getRandomU32Below(1000))));
    const hs = points.map(() => so.create());
    hs.forEach((h, i) => pointInState(h, points[i]!, states[i]!));
    const flags = waitFlags(t);
    expect(so.timelineWait(hs, points, 0n, flags).ret).toBe(err);
    expect(so.timelineWait(hs, points, shortTimeout(), flags).ret).toBe(err);
    if (err !== ETIME) expect(so.timelineWait(hs, points, UINT64_MAX, flags).ret).toBe(err);
    finish();
  });

  it.each([
    { name: "wait-delayed-signal", t: 0 },
    { name: "wait-for-submit-delayed-submit", t: T_FOR_SUBMIT },
    { name: "wait-all-delayed-signal", t: T_ALL },
    { name: "wait-all-for-submit-delayed-submit", t: T_ALL | T_FOR_SUBMIT },
  ])("$name", ({ t }) => {
    const h = so.create();
    if (t & T_FOR_SUBMIT) k.clock.schedule(100e6, () => trigger(h, 1n));
    else {
      const tl = attachSwSync(h, 1n);
      k.clock.schedule(100e6, () => lib.inc(tl, 1));
    }
    expect(so.timelineWait([h], [1n], inTwoShortTimes(), waitFlags(t)).ret).toBe(0);
    finish();
  });

  it("reset-unsignaled", () => {
    const h = so.create();
    expect(so.timelineWait([h], [1n], 0n, 0).ret).toBe(EINVAL);
    expect(so.reset([h])).toBe(0);
    expect(so.timelineWait([h], [1n], 0n, 0).ret).toBe(EINVAL);
    finish();
  });

  it("reset-signaled", () => {
    const h = so.create();
    trigger(h, 1n);
    expect(so.timelineWait([h], [1n], 0n, 0).ret).toBe(0);
    expect(so.reset([h])).toBe(0);
    expect(so.timelineWait([h], [1n], 0n, 0).ret).toBe(EINVAL);
    finish();
  });

  it("reset-multiple-signaled", () => {
    const hs = [so.create(), so.create(), so.create()];
    for (const h of hs) trigger(h, 1n);
    expect(so.timelineWait(hs, [1n, 1n, 1n], 0n, 0).ret).toBe(0);
    expect(so.reset(hs)).toBe(0);
    for (const h of hs) expect(so.timelineWait([h], [1n], 0n, 0).ret).toBe(EINVAL);
    finish();
  });

  it("reset-during-wait-for-submit", () => {
    const h = so.create();
    // A reset is a no-op for a waiter that is still waiting for the point to be submitted.
    k.clock.schedule(100e6, () => {
      expect(so.reset([h])).toBe(0);
      trigger(h, 1n);
    });
    expect(so.timelineWait([h], [1n], inTwoShortTimes(), WAIT_FOR_SUBMIT).ret).toBe(0);
    finish();
  });

  it("signal", () => {
    const h = so.create();
    expect(so.timelineWait([h], [1n], 0n, 0).ret).toBe(EINVAL);
    expect(so.timelineWait([h], [1n], 0n, WAIT_FOR_SUBMIT).ret).toBe(ETIME);
    expect(so.timelineSignal([h], [1n])).toBe(0);
    expect(so.timelineWait([h], [1n], 0n, 0).ret).toBe(0);
    expect(so.timelineWait([h], [1n], 0n, WAIT_FOR_SUBMIT).ret).toBe(0);
    finish();
  });

  it("signal-point-0", () => {
    const h = so.create();
    expect(so.timelineSignal([h], [0n])).toBe(0);
    expect(so.timelineWait([h], [0n], 0n, 0).ret).toBe(0);
    expect(so.wait([h], 0n, WAIT_FOR_SUBMIT).ret).toBe(0);
    finish();
  });

  it.each([
    { name: "wait-any-snapshot", t: 0 },
    { name: "wait-all-snapshot", t: T_ALL },
    { name: "wait-for-submit-snapshot", t: T_FOR_SUBMIT },
    { name: "wait-all-for-submit-snapshot", t: T_ALL | T_FOR_SUBMIT },
  ])("$name", ({ t }) => {
    const hs = [so.create(), so.create()];
    const tls: (number | null)[] = [null, null, null];
    if (!(t & T_FOR_SUBMIT)) {
      tls[0] = attachSwSync(hs[0]!, 1n);
      tls[1] = attachSwSync(hs[1]!, 1n);
    }
    // The other thread's steps, 20 ms apart, while the wait runs.
    const steps = [
      () => {
        if (t & T_ALL) {
          if (tls[0] === null) trigger(hs[0]!, 1n);
          else lib.inc(tls[0], 1);
        } else if (t & T_FOR_SUBMIT) tls[0] = attachSwSync(hs[0]!, 1n);
      },
      () => expect(so.reset([hs[0]!])).toBe(0),
      // A new point that never signals: a waiter that picked it up would time out.
      () => (tls[2] = attachSwSync(hs[0]!, 1n)),
      () => {
        if (tls[1] === null) trigger(hs[1]!, 1n);
        else lib.inc(tls[1], 1);
      },
    ];
    steps.forEach((s, i) => k.clock.schedule(20e6 * (i + 1), s));
    const r = so.timelineWait(hs, [1n, 1n], shortTimeout() + 99_000_000n, waitFlags(t));
    expect(r.ret).toBe(0);
    if (!(t & T_ALL)) expect(r.firstSignaled).toBe(1);
    finish();
  });

  /** igt's shuffled 0..7, each four times. */
  const SHUFFLED_0_7_X4 = [2, 0, 6, 1, 1, 4, 5, 2, 0, 7, 1, 7, 6, 3, 4, 5, 0, 2, 7, 3, 5, 4, 0, 6, 7, 3, 2, 5, 6, 1, 4, 3];

  it.each([
    { name: "wait-any-complex", t: 0 },
    { name: "wait-all-complex", t: T_ALL },
    { name: "wait-for-submit-complex", t: T_FOR_SUBMIT },
    { name: "wait-all-for-submit-complex", t: T_ALL | T_FOR_SUBMIT },
  ])("$name", ({ t }) => {
    const hs = Array.from({ length: 8 }, () => so.create());
    const stage = new Array<number>(8).fill(0);
    const tls: (number | null)[] = hs.map((h) => (t & T_FOR_SUBMIT ? null : attachSwSync(h, 1n)));
    let numSignaled = 0;
    let firstSignaled = -1;
    // The signalling thread: one step every 10 ms after 20 ms, until its stop condition.
    const step = (j: number): void => {
      const i = SHUFFLED_0_7_X4[j]!;
      switch (stage[i]!++) {
        case 0: // unsubmitted: submit (for-submit only; the others attached up front)
          if (t & T_FOR_SUBMIT) tls[i] = attachSwSync(hs[i]!, 1n);
          else expect(tls[i]).not.toBeNull();
          break;
        case 1: // submitted: signal
          lib.inc(tls[i]!, 1);
          sys.close(tls[i]!);
          tls[i] = null;
          if (numSignaled === 0) firstSignaled = i;
          numSignaled++;
          break;
        case 2: // signaled: reset
          expect(so.reset([hs[i]!])).toBe(0);
          break;
        case 3: // reset: submit again, never signalled
          tls[i] = attachSwSync(hs[i]!, 1n);
          break;
        default:
          throw new Error("should not reach this stage");
      }
      const stop = t & T_ALL ? numSignaled === 8 : numSignaled > 0;
      if (!stop && j + 1 < SHUFFLED_0_7_X4.length) k.clock.schedule(10e6, () => step(j + 1));
    };
    k.clock.schedule(20e6, () => step(0));
    // igt's waiter passes count_handles = 2 with all eight handles in the array.
    const r = so.timelineWait(hs.slice(0, 2), [1n, 1n], BigInt(Math.floor(k.clock.nowNs)) + 1_000_000_000n, waitFlags(t));
    expect(r.ret).toBe(0);
    // The thread is joined: its remaining steps run.
    k.clock.advance(1e9);
    if (t & T_ALL) expect(numSignaled).toBe(8);
    else {
      expect(numSignaled).toBe(1);
      expect(r.firstSignaled).toBe(firstSignaled);
    }
    finish();
  });

  it.each([
    { name: "wait-any-interrupted", t: 0 },
    { name: "wait-all-interrupted", t: T_ALL },
  ])("$name (no signals in the model: a bounded wait times out instead of -ERESTARTSYS)", ({ t }) => {
    const h = so.create();
    if (t & T_FOR_SUBMIT) expect(so.timelineWait([h], [1n], shortTimeout(), waitFlags(t)).ret).toBe(ETIME);
    attachSwSync(h, 1n);
    expect(so.timelineWait([h], [1n], shortTimeout(), waitFlags(t)).ret).toBe(ETIME);
    finish();
  });

  it("host-signal-points", () => {
    const h = so.create();
    let value = 0n;
    for (let i = 0; i < 100; i++) {
      value += BigInt(k.random.getRandomU32() >>> 1);
      expect(so.timelineSignal([h], [value])).toBe(0);
      const [q] = so.query([h]) as bigint[];
      expect(q).toBe(value);
      expect(so.timelineWait([h], [q!], 0n, WAIT_FOR_SUBMIT).ret).toBe(0);
      expect(so.timelineWait([h], [q! - 1n], 0n, WAIT_ALL).ret).toBe(0);
    }
    finish();
  });

  it("device-signal-unordered", () => {
    const h = so.create();
    const pointIndices = [0, 2, 1, 4, 3];
    const signaled = new Array<boolean>(5).fill(false);
    const timeline = lib.timelineCreate();
    const fences = new Array<number>(5);
    for (let i = 0; i < 5; i++) fences[pointIndices[i]!] = lib.createFence(timeline, i + 1);
    for (let i = 0; i < 5; i++) {
      const tmp = so.create();
      expect(so.importSyncFile(tmp, fences[i]!)).toBe(0);
      expect(so.binaryToTimeline(h, BigInt(i + 1), tmp)).toBe(0);
      so.destroy(tmp);
    }
    let value = 0n;
    for (let i = 0; i < 5; i++) {
      lib.inc(timeline, 1);
      signaled[pointIndices[i]!] = true;
      let min = 0n;
      for (let j = 0; j < 5 && signaled[j]; j++) min = BigInt(j);
      const [q] = so.query([h]) as bigint[];
      expect(q! >= min).toBe(true);
      expect(q! >= value).toBe(true);
      value = q! > value ? q! : value;
      expect(so.timelineWait([h], [q!], 0n, WAIT_FOR_SUBMIT).ret).toBe(0);
      expect(so.timelineWait([h], [q!], 0n, WAIT_ALL).ret).toBe(0);
    }
    finish();
  });

  it("device-submit-unordered", () => {
    const h = so.create();
    const timeline = lib.timelineCreate();
    [1n, 5n, 3n, 6n, 7n].forEach((p, i) => {
      const fence = lib.createFence(timeline, i + 1);
      const tmp = so.create();
      expect(so.importSyncFile(tmp, fence)).toBe(0);
      expect(so.binaryToTimeline(h, p, tmp)).toBe(0);
      sys.close(fence);
      so.destroy(tmp);
    });
    // Points 1, 5 and 3 signal; nothing else is at or below 5.
    lib.inc(timeline, 3);
    expect(so.query([h])).toEqual([5n]);
    expect(so.timelineWait([h], [5n], 0n, WAIT_FOR_SUBMIT).ret).toBe(0);
    expect(so.timelineWait([h], [5n], 0n, WAIT_ALL).ret).toBe(0);
    finish();
  });

  it("host-signal-ordered", () => {
    const h = so.create();
    const timeline = lib.timelineCreate();
    for (let i = 0; i < 5; i++) {
      const fence = lib.createFence(timeline, i + 1);
      const tmp = so.create();
      expect(so.importSyncFile(tmp, fence)).toBe(0);
      expect(so.binaryToTimeline(h, BigInt(i + 1), tmp)).toBe(0);
      so.destroy(tmp);
      sys.close(fence);
    }
    lib.inc(timeline, 3);
    expect(so.query([h])).toEqual([3n]);
    // A host signal of point 8 goes after the pending points 4 and 5.
    expect(so.timelineSignal([h], [8n])).toBe(0);
    expect(so.query([h])).toEqual([3n]);
    lib.inc(timeline, 5);
    expect(so.query([h])).toEqual([8n]);
    finish();
  });

  it("32bits-limit", () => {
    const h = so.create();
    const timeline = lib.timelineCreate();
    const limitDiff = (1n << 31n) - 1n;
    const points = [1n, 5n, limitDiff + 5n, limitDiff + 6n, limitDiff * 2n];
    // The checker thread: queries between the steps below, never seeing the value go back.
    let last = 0n;
    const check = (): void => {
      const [q] = so.query([h]) as bigint[];
      expect(q! >= last).toBe(true);
      last = q!;
    };
    points.forEach((p, i) => {
      const fence = lib.createFence(timeline, i + 1);
      const tmp = so.create();
      expect(so.importSyncFile(tmp, fence)).toBe(0);
      expect(so.binaryToTimeline(h, p, tmp)).toBe(0);
      sys.close(fence);
      so.destroy(tmp);
      check();
    });
    let lastValue = 0n;
    for (let i = 0; i < points.length; i++) {
      lib.inc(timeline, 1);
      check();
      const [q] = so.query([h]) as bigint[];
      expect(q! >= lastValue).toBe(true);
      lastValue = q!;
    }
    expect(lastValue).toBe(limitDiff * 2n);
    finish();
  });

  it("query never goes back while points signal out of order (LAST_SUBMITTED shows the newest point)", () => {
    const h = so.create();
    const tls = [1n, 2n, 3n].map((p) => attachSwSync(h, p));
    expect(so.query([h])).toEqual([0n]);
    expect(so.query([h], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED)).toEqual([3n]);
    lib.inc(tls[2]!, 1); // point 3 first: still 0, point 1 pending
    expect(so.query([h])).toEqual([0n]);
    lib.inc(tls[0]!, 1);
    expect(so.query([h])).toEqual([1n]);
    lib.inc(tls[1]!, 1);
    expect(so.query([h])).toEqual([3n]);
    finish();
  });

  it("a host-signalled point answers waits at and below it; a later point is EINVAL, or ETIME with WAIT_FOR_SUBMIT", () => {
    const h = so.create();
    for (const p of [1n, 2n, 5n]) expect(so.timelineSignal([h], [p])).toBe(0);
    expect(so.query([h])).toEqual([5n]);
    expect(so.timelineWait([h], [5n], 0n, 0).ret).toBe(0);
    expect(so.timelineWait([h], [6n], 0n, 0).ret).toBe(EINVAL);
    expect(so.timelineWait([h], [6n], 0n, WAIT_FOR_SUBMIT).ret).toBe(ETIME);
    finish();
  });

  it("WAIT_AVAILABLE: a point that exists counts as done before it signals", () => {
    const h = so.create();
    attachSwSync(h, 1n);
    expect(so.timelineWait([h], [1n], 0n, 0).ret).toBe(ETIME);
    expect(so.timelineWait([h], [1n], 0n, WAIT_AVAILABLE).ret).toBe(0);
    expect(so.timelineWait([h], [2n], 0n, WAIT_AVAILABLE).ret).toBe(ETIME);
    finish();
  });

  it("a NULL points pointer waits for point 0", () => {
    const h = so.create();
    attachSwSync(h, 1n);
    expect(so.timelineWait([h], null, 0n, WAIT_ALL | WAIT_FOR_SUBMIT).ret).toBe(ETIME);
    finish();
  });

  it("signal a point 0 on a timeline appends a stub node with a new context (seqno = previous)", () => {
    const h = so.create();
    expect(so.timelineSignal([h], [3n])).toBe(0);
    expect(so.timelineSignal([h], [0n])).toBe(0);
    expect(so.query([h], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED)).toEqual([3n]);
    // SIGNAL (binary) replaces the whole chain: points are gone.
    expect(so.signal([h])).toBe(0);
    expect(so.query([h])).toEqual([0n]);
    finish();
  });

  it("wait with a deadline forwards it to the fences present (sw_sync reports the earliest)", () => {
    const h = so.create();
    const timeline = lib.timelineCreate();
    const fence = lib.createFence(timeline, 1);
    so.importSyncFile(h, fence);
    expect(so.wait([h], 0n, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE, { deadline: 4242n }).ret).toBe(ETIME);
    expect(lib.getDeadline(timeline, fence)).toBe(4242n);
    finish();
  });
});

describe("igt syncobj_eventfd", () => {
  const evRead = (efd: number): number => sys.read(efd, new Uint8Array(8));
  /** igt's ev_fd_assert_(un)signaled: poll a while (the kernel may signal from deferred work), then read. */
  const signaled = (efd: number): boolean => {
    sys.poll([{ fd: efd, events: 1 }], 10);
    return evRead(efd) === 8;
  };

  it("invalid-bad-flags", () => {
    const h = so.create(DRM_SYNCOBJ_CREATE_SIGNALED);
    const efd = sys.eventfd(0, 0o4000);
    expect(so.eventfd(h, 0n, 0xdeadbeef, efd)).toBe(EINVAL);
    finish();
  });
  it("invalid-illegal-handle", () => {
    const efd = sys.eventfd(0, 0o4000);
    expect(so.eventfd(0, 0n, 0, efd)).toBe(ENOENT);
    finish();
  });
  it("invalid-illegal-eventfd", () => {
    const h = so.create(DRM_SYNCOBJ_CREATE_SIGNALED);
    const notEventfd = lib.timelineCreate(); // igt uses /dev/null
    expect(so.eventfd(h, 0n, 0, notEventfd)).toBe(EINVAL);
    expect(so.eventfd(h, 0n, 0, 999)).toBe(EBADF);
    finish();
  });
  it("invalid-bad-pad", () => {
    const h = so.create(DRM_SYNCOBJ_CREATE_SIGNALED);
    const efd = sys.eventfd(0, 0o4000);
    expect(so.eventfd(h, 0n, 0, efd, 0xdeadbeef)).toBe(EINVAL);
    finish();
  });

  for (const kind of ["binary", "timeline"] as const) {
    const point = kind === "timeline" ? 1n : 0n;
    it(`${kind}-wait`, () => {
      const h = so.create();
      const tl = attachSwSync(h, point);
      const wait = sys.eventfd(0, 0o4000);
      const avail = sys.eventfd(0, 0o4000);
      expect(so.eventfd(h, point, 0, wait)).toBe(0);
      expect(so.eventfd(h, point, WAIT_AVAILABLE, avail)).toBe(0);
      expect(signaled(wait)).toBe(false);
      expect(signaled(avail)).toBe(true);
      lib.inc(tl, 1);
      expect(signaled(wait)).toBe(true);
      finish();
    });
    it(`${kind}-wait-before-signal`, () => {
      const h = so.create();
      const wait = sys.eventfd(0, 0o4000);
      const avail = sys.eventfd(0, 0o4000);
      expect(so.eventfd(h, point, 0, wait)).toBe(0);
      expect(so.eventfd(h, point, WAIT_AVAILABLE, avail)).toBe(0);
      expect([signaled(wait), signaled(avail)]).toEqual([false, false]);
      const tl = attachSwSync(h, point);
      expect([signaled(wait), signaled(avail)]).toEqual([false, true]);
      lib.inc(tl, 1);
      expect(signaled(wait)).toBe(true);
      finish();
    });
    it(`${kind}-wait-signaled`, () => {
      const h = so.create();
      const tl = attachSwSync(h, point);
      lib.inc(tl, 1);
      const wait = sys.eventfd(0, 0o4000);
      const avail = sys.eventfd(0, 0o4000);
      so.eventfd(h, point, 0, wait);
      so.eventfd(h, point, WAIT_AVAILABLE, avail);
      expect([signaled(wait), signaled(avail)]).toEqual([true, true]);
      finish();
    });
  }

  it("an error-signaled fence fires the eventfd like a good one; a registration still waiting when the syncobj dies never fires", () => {
    const h = so.create();
    const tl = attachSwSync(h);
    const wait = sys.eventfd(0, 0o4000);
    so.eventfd(h, 0n, 0, wait);
    sys.close(tl); // the point ends with -ENOENT
    expect(signaled(wait)).toBe(true);
    const h2 = so.create();
    const never = sys.eventfd(0, 0o4000);
    so.eventfd(h2, 7n, 0, never);
    so.destroy(h2);
    expect(signaled(never)).toBe(false);
    finish();
  });
});

describe("syncobj uAPI", () => {
  it.each([
    { desc: "HANDLE_TO_FD EXPORT_SYNC_FILE of an unknown handle", run: () => so.exportSyncFile(77), errno: ENOENT },
    { desc: "HANDLE_TO_FD EXPORT_SYNC_FILE of an unsubmitted syncobj", run: () => so.exportSyncFile(so.create()), errno: EINVAL },
    { desc: "HANDLE_TO_FD EXPORT_SYNC_FILE of a point not yet submitted", run: () => so.exportSyncFile(so.create(DRM_SYNCOBJ_CREATE_SIGNALED), 3n), errno: EINVAL },
    { desc: "FD_TO_HANDLE IMPORT_SYNC_FILE of a non-sync_file checks the fd before the handle", run: () => so.importSyncFile(77, 99), errno: EINVAL },
    { desc: "FD_TO_HANDLE IMPORT_SYNC_FILE into an unknown handle", run: () => so.importSyncFile(77, lib.createFence(lib.timelineCreate(), 1)), errno: ENOENT },
    { desc: "FD_TO_HANDLE of a sync_file without IMPORT_SYNC_FILE", run: () => so.fdToHandle(lib.createFence(lib.timelineCreate(), 1)), errno: EINVAL },
    { desc: "TIMELINE point on a whole-syncobj HANDLE_TO_FD", run: () => so.handleToFdRaw(so.create(), 2, 5n), errno: EINVAL },
    { desc: "WAIT with a NULL handles pointer", run: () => so.wait([], 0n, 0, { count: 1, handlesAddr: 0n }).ret, errno: EFAULT },
    { desc: "WAIT with an absurd count (kmalloc_array fails)", run: () => so.wait([], 0n, 0, { count: 0x8000_0000, handlesAddr: 0n }).ret, errno: -ERRNO.ENOMEM },
    { desc: "TRANSFER with bad flags", run: () => so.transfer(so.create(), 0n, so.create(DRM_SYNCOBJ_CREATE_SIGNALED), 0n, 0x10), errno: EINVAL },
  ])("$desc: $errno and nothing left", ({ run, errno }) => {
    expect(run()).toBe(errno);
    finish();
  });

  it("HANDLE_TO_FD version axis: garbage in point without the TIMELINE flag", () => {
    const h = so.create();
    const sfd = so.handleToFdRaw(h, 0, 0xdead_beefn);
    expect(sfd).toBeGreaterThanOrEqual(0);
    drmSyncobjSetHandleIoctlVersion(k, "timeline-strict-point");
    expect(so.handleToFdRaw(h, 0, 0xdead_beefn)).toBe(EINVAL);
    expect(so.fdToHandleRaw(sfd, 0, 0, 0xdead_beefn)).toBe(EINVAL);
    drmSyncobjSetHandleIoctlVersion(k, "pre-timeline");
    expect(so.handleToFdRaw(h, 2)).toBe(EINVAL);
    finish();
  });

  it("a short (old) struct is zero-extended; an ioctl without the DRIVER_SYNCOBJ feature is EOPNOTSUPP", () => {
    // CREATE with only 4 bytes (the handle): flags read as 0.
    const short = UserStruct.alloc(4);
    const cmd = (DRM_IOCTL_SYNCOBJ_CREATE & ~(0x3fff << 16)) | (4 << 16);
    expect(sys.ioctl(fd, cmd >>> 0, short.bytes)).toBe(0);
    expect(short.u32(0)).toBeGreaterThan(0);
    const plain = drmTestDevice(k, { name: "nosync", features: 0 });
    devices.push(plain);
    const pfd = sys.open(`/dev/${plain.primary.path}`, 2);
    expect(new IgtSyncobj(k, sys, pfd).create()).toBe(-ERRNO.EOPNOTSUPP);
    expect(sys.ioctl(pfd, DRM_IOCTL_SYNCOBJ_DESTROY, null)).toBe(EFAULT);
    finish();
  });

  it("sync_file export of a timeline point holds the chain node; FILE_INFO shows the payload's error only while linked", () => {
    const h = so.create();
    const tl1 = attachSwSync(h, 1n);
    const tl2 = attachSwSync(h, 2n);
    const at2 = so.exportSyncFile(h, 2n);
    sys.close(tl2); // point 2's payload fails with -ENOENT
    const info = lib.fileInfo(at2);
    if (typeof info === "number") throw new Error(String(info));
    // Point 2's own payload (the head) is listed with its error; point 1 is still pending.
    expect(info.fences.map((f) => f.status)).toEqual([ENOENT, 0]);
    expect(lib.status(at2)).toBe(0);
    lib.inc(tl1, 1);
    // The chain node itself carries no error.
    expect(lib.status(at2)).toBe(1);
    finish();
  });

  it("handles are per file, from 1, lowest free first; closing the DRM fd drops them", () => {
    const a = so.create();
    const b = so.create();
    expect([a, b]).toEqual([1, 2]);
    so.destroy(a);
    expect(so.create()).toBe(1);
    finish();
  });
});
