// Ports of the kernel's sync selftests (tools/testing/selftests/sync/) and igt's sw_sync subtests, plus sync_file/sw_sync uAPI errno tables.
import { beforeEach, describe, expect, it } from "vitest";
import {
  ERRNO,
  Kernel,
  LibSync,
  O_RDWR,
  SW_SYNC_GET_DEADLINE,
  SW_SYNC_IOC_CREATE_FENCE,
  SYNC_FILE_INFO_SIZE,
  SYNC_IOC_FILE_INFO,
  SYNC_IOC_MERGE,
  SYNC_IOC_SET_DEADLINE,
  SYNC_MERGE_DATA_SIZE,
  UserStruct,
  UserSyscalls,
  type Task,
  dmaFenceSetCoreVersion,
  iowr,
  swSyncDebugfsInit,
  userMemory,
} from "@dmabuf-sdk/dmabuf-core";

const EINVAL = -ERRNO.EINVAL;
const ENOENT = -ERRNO.ENOENT;
const ETIME = -ERRNO.ETIME;

let k: Kernel;
let sys: UserSyscalls;
let lib: LibSync;
let task: Task;
beforeEach(() => {
  k = new Kernel();
  swSyncDebugfsInit(k);
  task = k.fork({ comm: "sync_test" });
  sys = new UserSyscalls(k, task);
  lib = new LibSync(k, sys);
});

function closeAll(...fds: number[]): void {
  for (const fd of fds) expect(sys.close(fd)).toBe(0);
  k.clock.flush();
  expect(k.leakReport().text()).toBe("");
}

describe("selftests/sync (sync_test.c)", () => {
  it("test_alloc_timeline", () => {
    const timeline = lib.timelineCreate();
    expect(timeline).toBeGreaterThanOrEqual(0);
    closeAll(timeline);
  });

  it("test_alloc_fence", () => {
    const timeline = lib.timelineCreate();
    const fence = lib.createFence(timeline, 1, "allocFence");
    expect(fence).toBeGreaterThanOrEqual(0);
    closeAll(fence, timeline);
  });

  it("test_alloc_fence_negative", () => {
    const timeline = lib.timelineCreate();
    expect(lib.createFence(-1, 1)).toBeLessThan(0);
    closeAll(timeline);
  });

  it("test_fence_one_timeline_wait", () => {
    const timeline = lib.timelineCreate();
    const fence = lib.createFence(timeline, 5, "allocFence");
    expect(lib.wait(fence, 0)).toBe(0);
    expect(lib.inc(timeline, 1)).toBe(0);
    expect(lib.wait(fence, 0)).toBe(0);
    expect(lib.inc(timeline, 4)).toBe(0);
    expect(lib.wait(fence, 0)).toBeGreaterThan(0);
    expect(lib.inc(timeline, 10)).toBe(0);
    expect(lib.wait(fence, 0)).toBeGreaterThan(0);
    closeAll(fence, timeline);
  });

  it("test_fence_one_timeline_merge", () => {
    const timeline = lib.timelineCreate();
    const a = lib.createFence(timeline, 1);
    const b = lib.createFence(timeline, 2);
    const c = lib.createFence(timeline, 3);
    const d1 = lib.merge(b, a, "mergeFence");
    const d = lib.merge(c, d1, "mergeFence");
    for (const fd of [a, b, c, d]) expect(lib.countWithStatus(fd, 0)).toBe(1);
    lib.inc(timeline, 1);
    expect(lib.countWithStatus(a, 1)).toBe(1);
    expect(lib.countWithStatus(d, 0)).toBe(1);
    lib.inc(timeline, 1);
    expect(lib.countWithStatus(b, 1)).toBe(1);
    expect(lib.countWithStatus(d, 0)).toBe(1);
    lib.inc(timeline, 1);
    expect(lib.countWithStatus(c, 1)).toBe(1);
    expect(lib.countWithStatus(d, 0)).toBe(0);
    expect(lib.countWithStatus(d, 1)).toBe(1);
    closeAll(d, d1, c, b, a, timeline);
  });

  it("test_fence_merge_same_fence", () => {
    const timeline = lib.timelineCreate();
    const fence = lib.createFence(timeline, 5);
    const merged = lib.merge(fence, fence, "mergeFence");
    expect(merged).toBeGreaterThanOrEqual(0);
    expect(lib.countWithStatus(merged, 0)).toBe(1);
    lib.inc(timeline, 5);
    expect(lib.countWithStatus(merged, 1)).toBe(1);
    closeAll(merged, fence, timeline);
  });

  it("test_fence_multi_timeline_wait", () => {
    const tA = lib.timelineCreate();
    const tB = lib.timelineCreate();
    const tC = lib.timelineCreate();
    const a = lib.createFence(tA, 5);
    const b = lib.createFence(tB, 5);
    const c = lib.createFence(tC, 5);
    const m1 = lib.merge(a, b);
    const d = lib.merge(c, m1);
    expect(lib.countWithStatus(d, 0)).toBe(3);
    expect(lib.wait(d, 0)).toBe(0);
    lib.inc(tA, 5);
    expect([lib.countWithStatus(d, 0), lib.countWithStatus(d, 1)]).toEqual([2, 1]);
    lib.inc(tB, 5);
    expect([lib.countWithStatus(d, 0), lib.countWithStatus(d, 1)]).toEqual([1, 2]);
    lib.inc(tC, 5);
    expect([lib.countWithStatus(d, 0), lib.countWithStatus(d, 1)]).toEqual([0, 3]);
    expect(lib.wait(d, 100)).toBeGreaterThan(0);
    closeAll(d, m1, a, b, c, tA, tB, tC);
  });

  it("test_stress_two_threads_shared_timeline", () => {
    // Two threads take turns: each waits for its even/odd point, bumps a
    // counter and advances the timeline. Threads are modelled as two tasks
    // stepping alternately; the counter must match at every wait.
    const iterations = 1 << 8;
    const timeline = lib.timelineCreate();
    let counter = 0;
    for (let i = 0; i < iterations; i++) {
      for (const thread of [0, 1]) {
        const fence = lib.createFence(timeline, i * 2 + thread);
        expect(lib.wait(fence, -1)).toBeGreaterThan(0);
        expect(counter).toBe(i * 2 + thread);
        counter++;
        lib.inc(timeline, 1);
        sys.close(fence);
      }
    }
    expect(counter).toBe(2 * iterations);
    closeAll(timeline);
  });

  it("test_consumer_stress_multi_producer_single_consumer", () => {
    // Producers wait on the consumer timeline, bump the counter and advance
    // their own timeline; the consumer waits for a merge of all producers.
    const producers = 4;
    const iterations = 64;
    const cons = lib.timelineCreate();
    const prod = Array.from({ length: producers }, () => lib.timelineCreate());
    let counter = 0;
    for (let i = 0; i < iterations; i++) {
      let fence = lib.createFence(prod[0]!, i + 1);
      for (let p = 1; p < producers; p++) {
        const tmp = lib.createFence(prod[p]!, i + 1);
        const merged = lib.merge(tmp, fence);
        sys.close(tmp);
        sys.close(fence);
        fence = merged;
      }
      for (let p = 0; p < producers; p++) {
        const f = lib.createFence(cons, i);
        expect(lib.wait(f, -1)).toBeGreaterThan(0);
        counter++;
        lib.inc(prod[p]!, 1);
        sys.close(f);
      }
      expect(lib.wait(fence, -1)).toBeGreaterThan(0);
      expect(counter).toBe(producers * (i + 1));
      lib.inc(cons, 1);
      sys.close(fence);
    }
    closeAll(cons, ...prod);
  });

  it("test_merge_stress_random_merge", () => {
    const timelineCount = 32;
    const mergeCount = 1024 * 4; // the selftest does 32768 merges
    const timelines = Array.from({ length: timelineCount }, () => lib.timelineCreate());
    let fence = lib.createFence(timelines[0]!, 0);
    const fenceMap = new Array<number>(timelineCount).fill(-1);
    fenceMap[0] = 0;
    for (let i = 0; i < mergeCount; i++) {
      const off = k.random.getRandomU32() % timelineCount;
      const syncPoint = k.random.getRandomU32() & 0x7fffffff;
      if (fenceMap[off] === -1 || fenceMap[off]! < syncPoint) fenceMap[off] = syncPoint;
      const tmp = lib.createFence(timelines[off]!, syncPoint);
      const merged = lib.merge(tmp, fence, "merge");
      sys.close(tmp);
      sys.close(fence);
      fence = merged;
      expect(fence).toBeGreaterThanOrEqual(0);
    }
    expect(lib.size(fence)).toBe(fenceMap.filter((v) => v !== -1).length);
    for (let i = 0; i < timelineCount; i++) {
      if (fenceMap[i] === -1) continue;
      expect(lib.wait(fence, 0)).toBe(0);
      lib.inc(timelines[i]!, fenceMap[i]!);
    }
    expect(lib.wait(fence, 0)).toBeGreaterThan(0);
    closeAll(fence, ...timelines);
  });
});

describe("igt sw_sync", () => {
  it("alloc_timeline", () => closeAll(lib.timelineCreate()));

  it("alloc_fence", () => {
    const timeline = lib.timelineCreate();
    const f = lib.createFence(timeline, 0);
    expect(f).toBeGreaterThanOrEqual(0);
    closeAll(f, timeline);
  });

  it("alloc_fence_invalid_timeline", () => {
    expect(lib.createFence(-1, 0)).toBeLessThan(0);
  });

  it("timeline_closed", () => {
    const timeline = lib.timelineCreate();
    const fence = lib.createFence(timeline, 1);
    sys.close(timeline);
    expect(lib.fenceWait(fence, 0)).toBe(0);
    expect(lib.status(fence)).toBe(ENOENT);
    closeAll(fence);
  });

  it("timeline_closed_signaled", () => {
    const timeline = lib.timelineCreate();
    const fence = lib.createFence(timeline, 1);
    lib.inc(timeline, 1);
    sys.close(timeline);
    expect(lib.fenceWait(fence, 0)).toBe(0);
    expect(lib.status(fence)).toBe(1);
    closeAll(fence);
  });

  it("alloc_merge_fence", () => {
    const t0 = lib.timelineCreate();
    const t1 = lib.timelineCreate();
    const f0 = lib.createFence(t0, 1);
    const f1 = lib.createFence(t1, 1);
    const m = lib.merge(f1, f0);
    expect(m).toBeGreaterThanOrEqual(0);
    closeAll(f0, f1, m, t0, t1);
  });

  it("sync_busy", () => {
    const timeline = lib.timelineCreate();
    const fence = lib.createFence(timeline, 5);
    expect(lib.fenceWait(fence, 0)).toBe(ETIME);
    lib.inc(timeline, 1);
    expect(lib.fenceWait(fence, 0)).toBe(ETIME);
    lib.inc(timeline, 4);
    expect(lib.fenceWait(fence, 0)).toBe(0);
    lib.inc(timeline, 5);
    expect(lib.fenceWait(fence, 0)).toBe(0);
    let seqno = 10;
    for (const prime of [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97]) {
      seqno += prime;
      const fp = lib.createFence(timeline, seqno);
      lib.inc(timeline, prime);
      expect(lib.fenceWait(fp, 0)).toBe(0);
      sys.close(fp);
    }
    closeAll(fence, timeline);
  });

  it("sync_busy_fork", () => {
    const timeline = lib.timelineCreate();
    const fence = lib.createFence(timeline, 1);
    expect(lib.fenceWait(fence, 0)).toBe(ETIME);
    // The forked child sleeps 1 s, then advances the timeline it inherited.
    const child = k.fork({ comm: "child", parent: task });
    const csys = new UserSyscalls(k, child);
    k.clock.schedule(1e9, () => new LibSync(k, csys).inc(timeline, 1));
    expect(lib.fenceWait(fence, 2 * 1000)).toBe(0);
    csys.exit(0);
    k.reap(child);
    closeAll(fence, timeline);
  });

  it("sync_busy_fork_unixsocket", () => {
    const timeline = lib.timelineCreate();
    const fence = lib.createFence(timeline, 1);
    const child = k.fork({ comm: "child", parent: task });
    const csys = new UserSyscalls(k, child);
    for (const fd of child.files.fds()) csys.close(fd); // the child closes what it inherited
    expect(lib.fenceWait(fence, 0)).toBe(ETIME);
    const received = sys.sendFd(child, timeline); // SCM_RIGHTS
    expect(new LibSync(k, csys).inc(received, 1)).toBe(0);
    expect(lib.fenceWait(fence, 2 * 1000)).toBe(0);
    csys.exit(0);
    k.reap(child);
    closeAll(fence, timeline);
  });

  it("sync_merge_invalid", () => {
    const timeline = lib.timelineCreate();
    const inFence = lib.createFence(timeline, 1);
    expect(lib.merge(inFence, -1)).toBe(ENOENT);
    // A device fd (here the sw_sync debugfs file) and a plain file (an eventfd) are not sync_files.
    const dev = sys.open("/sys/kernel/debug/sync/sw_sync", O_RDWR);
    expect(lib.merge(inFence, dev)).toBe(ENOENT);
    const efd = sys.eventfd(0);
    expect(lib.merge(inFence, efd)).toBe(ENOENT);
    closeAll(inFence, dev, efd, timeline);
  });

  it("sync_merge", () => {
    const timeline = lib.timelineCreate();
    const f = [1, 2, 3].map((v) => lib.createFence(timeline, v));
    const m1 = lib.merge(f[0]!, f[1]!);
    const m = lib.merge(f[2]!, m1);
    for (const fd of [...f, m]) expect(lib.countWithStatus(fd, 0)).toBe(1);
    lib.inc(timeline, 1);
    expect(lib.countWithStatus(f[0]!, 1)).toBe(1);
    expect(lib.countWithStatus(m, 0)).toBe(1);
    lib.inc(timeline, 1);
    expect(lib.countWithStatus(f[1]!, 1)).toBe(1);
    expect(lib.countWithStatus(m, 0)).toBe(1);
    lib.inc(timeline, 1);
    expect(lib.countWithStatus(f[2]!, 1)).toBe(1);
    expect([lib.countWithStatus(m, 0), lib.countWithStatus(m, 1)]).toEqual([0, 1]);
    closeAll(...f, m1, m, timeline);
  });

  it("sync_merge_same", () => {
    const timeline = lib.timelineCreate();
    const f0 = lib.createFence(timeline, 1);
    const f1 = lib.merge(f0, f0);
    expect(lib.countWithStatus(f0, 1)).toBe(0);
    lib.inc(timeline, 1);
    expect(lib.countWithStatus(f0, 1)).toBe(1);
    closeAll(f0, f1, timeline);
  });

  it("sync_multi_timeline_wait", () => {
    const t = [0, 1, 2].map(() => lib.timelineCreate());
    const f = t.map((tl) => lib.createFence(tl, 5));
    const m1 = lib.merge(f[0]!, f[1]!);
    const m = lib.merge(f[2]!, m1);
    expect(lib.countWithStatus(m, 0)).toBe(3);
    expect(lib.fenceWait(m, 0)).toBe(ETIME);
    lib.inc(t[0]!, 5);
    expect([lib.countWithStatus(m, 0), lib.countWithStatus(m, 1)]).toEqual([2, 1]);
    lib.inc(t[1]!, 5);
    expect([lib.countWithStatus(m, 0), lib.countWithStatus(m, 1)]).toEqual([1, 2]);
    lib.inc(t[2]!, 5);
    expect([lib.countWithStatus(m, 0), lib.countWithStatus(m, 1)]).toEqual([0, 3]);
    expect(lib.fenceWait(m, 100)).toBe(0);
    closeAll(...f, m1, m, ...t);
  });

  // The three multi-threaded subtests run their threads as round-robin steps
  // on virtual time (pthreads have no counterpart; the fence protocol does).
  const THREADS = 8;
  const ITERATIONS = 1 << 6; // igt: 1 << 12

  it("sync_multi_consumer", () => {
    const timeline = lib.timelineCreate();
    let counter = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      for (let id = 0; id < THREADS; id++) {
        const next = i * THREADS + id;
        const fence = lib.createFence(timeline, next);
        expect(lib.fenceWait(fence, 1000)).toBe(0);
        expect(counter).toBe(next);
        sys.close(fence);
        counter++; // the producer, woken by sem_post
        lib.inc(timeline, 1);
      }
    }
    expect(counter).toBe(THREADS * ITERATIONS);
    closeAll(timeline);
  });

  it("sync_multi_consumer_producer", () => {
    const timeline = lib.timelineCreate();
    let counter = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      for (let id = 0; id < THREADS; id++) {
        const next = i * THREADS + id;
        const fence = lib.createFence(timeline, next);
        expect(lib.fenceWait(fence, 1000)).toBe(0);
        expect(counter++).toBe(next);
        lib.inc(timeline, 1);
        sys.close(fence);
      }
    }
    expect(counter).toBe(THREADS * ITERATIONS);
    closeAll(timeline);
  });

  it("sync_multi_producer_single_consumer", () => {
    const n = 5;
    const cons = lib.timelineCreate();
    const prod = Array.from({ length: n }, () => lib.timelineCreate());
    let counter = 0;
    for (let seqno = 1; seqno <= 32; seqno++) {
      let fence = lib.createFence(prod[0]!, seqno);
      for (let i = 1; i < n; i++) {
        const tmp = lib.createFence(prod[i]!, seqno);
        const merged = lib.merge(tmp, fence);
        sys.close(tmp);
        sys.close(fence);
        fence = merged;
      }
      // Each producer waits for the consumer's previous release, by poll or by FILE_INFO polling (id % 8 == 0).
      for (let id = 0; id < n; id++) {
        const pf = lib.createFence(cons, seqno - 1);
        if (id % 8 !== 0) expect(lib.fenceWait(pf, -1)).toBe(0);
        else {
          expect(lib.countWithStatus(pf, -1)).toBe(0);
          expect(lib.countWithStatus(pf, 0)).toBe(0);
        }
        counter++;
        lib.inc(prod[id]!, 1);
        sys.close(pf);
      }
      expect(lib.fenceWait(fence, -1)).toBe(0);
      expect(counter).toBe(n * seqno);
      lib.inc(cons, 1);
      sys.close(fence);
    }
    closeAll(cons, ...prod);
  });

  it("sync_expired_merge", () => {
    const timeline = lib.timelineCreate();
    lib.inc(timeline, 100);
    const expired = lib.createFence(timeline, 1);
    expect(lib.fenceWait(expired, 0)).toBe(0);
    sys.close(lib.merge(expired, expired));
    for (let i = 0; i < 100; i++) {
      const fence = lib.merge(expired, expired);
      expect(lib.fenceWait(fence, -1)).toBe(0);
      sys.close(fence);
    }
    closeAll(expired, timeline);
  });

  it("sync_random_merge", () => {
    const nbrTimeline = 32;
    const timelines = Array.from({ length: nbrTimeline }, () => lib.timelineCreate());
    const fenceMap = new Array<number>(nbrTimeline).fill(-1);
    let syncPt = k.random.getRandomU32() & 0x7fffffff;
    let fence = lib.createFence(timelines[0]!, syncPt);
    fenceMap[0] = syncPt;
    for (let i = 0; i < 1024; i++) {
      const off = k.random.getRandomU32() % nbrTimeline;
      syncPt = k.random.getRandomU32() & 0x7fffffff;
      if (fenceMap[off] === -1 || fenceMap[off]! < syncPt) fenceMap[off] = syncPt;
      const tmp = lib.createFence(timelines[off]!, syncPt);
      const merged = lib.merge(tmp, fence);
      sys.close(tmp);
      sys.close(fence);
      fence = merged;
    }
    for (let i = 0; i < nbrTimeline; i++) {
      if (fenceMap[i] === -1) continue;
      expect(lib.fenceWait(fence, 0)).toBe(ETIME);
      lib.inc(timelines[i]!, fenceMap[i]!);
    }
    expect(lib.fenceWait(fence, 1)).toBe(0);
    closeAll(fence, ...timelines);
  });
});

describe("sync_file uAPI", () => {
  let timeline: number;
  let fence: number;
  beforeEach(() => {
    timeline = lib.timelineCreate();
    fence = lib.createFence(timeline, 1);
  });

  it.each([
    { desc: "flags", off: 40, errno: EINVAL },
    { desc: "pad", off: 44, errno: EINVAL },
  ])("SYNC_IOC_MERGE with non-zero $desc is $errno and installs no fd", ({ off, errno }) => {
    const d = UserStruct.alloc(SYNC_MERGE_DATA_SIZE).setS32(32, fence).setU32(off, 1);
    const before = task.files.fds().length;
    expect(sys.ioctl(fence, SYNC_IOC_MERGE, d.bytes)).toBe(errno);
    expect(task.files.fds().length).toBe(before);
    closeAll(fence, timeline);
  });

  it("SYNC_IOC_MERGE checks flags before fd2 and copies nothing on a short buffer (EFAULT)", () => {
    expect(sys.ioctl(fence, SYNC_IOC_MERGE, UserStruct.alloc(SYNC_MERGE_DATA_SIZE).setS32(32, -1).setU32(40, 1).bytes)).toBe(EINVAL);
    expect(sys.ioctl(fence, SYNC_IOC_MERGE, new Uint8Array(8))).toBe(-ERRNO.EFAULT);
    expect(sys.ioctl(fence, SYNC_IOC_MERGE, null)).toBe(-ERRNO.EFAULT);
    closeAll(fence, timeline);
  });

  it("SYNC_IOC_MERGE: fd reservation fails first (EMFILE), and a failed merge allocation is ENOMEM with nothing left", () => {
    k.faults.failNth(1, "get_unused_fd", "EMFILE");
    expect(lib.merge(fence, fence)).toBe(-ERRNO.EMFILE);
    k.faults.failNth(1, "kzalloc");
    expect(lib.merge(fence, fence)).toBe(-ERRNO.ENOMEM);
    closeAll(fence, timeline);
  });

  it("a merge keeps the user's name; the default name is driver-timeline<context>-<seqno>, placeholders once signaled", () => {
    const m = lib.merge(fence, fence, "a-name-that-is-much-longer-than-thirty-one-bytes");
    const info = lib.fileInfo(m);
    expect(typeof info !== "number" && info.name).toBe("a-name-that-is-much-longer-than");
    const named = lib.fileInfo(fence);
    expect(typeof named !== "number" && named.name).toMatch(/^sw_sync-sync_test\d+-1$/);
    lib.inc(timeline, 1);
    const after = lib.fileInfo(fence);
    expect(typeof after !== "number" && after.name).toBe("detached-driver-signaled-timeli"); // 31 bytes
    expect(typeof after !== "number" && after.fences[0]!.driverName).toBe("detached-driver");
    dmaFenceSetCoreVersion(k, "6.12");
    const old = lib.fileInfo(fence);
    expect(typeof old !== "number" && old.fences[0]!.driverName).toBe("sw_sync");
    closeAll(m, fence, timeline);
  });

  it.each([
    { desc: "flags", off: 36, value: 1, errno: EINVAL },
    { desc: "pad", off: 44, value: 1, errno: EINVAL },
    { desc: "num_fences smaller than the count", off: 40, value: 1, errno: EINVAL, merged: true },
    { desc: "an unmapped fence-info pointer", off: 40, value: 2, errno: -ERRNO.EFAULT, merged: true },
  ])("SYNC_IOC_FILE_INFO with $desc is $errno", ({ off, value, errno, merged }) => {
    const t2 = lib.timelineCreate();
    const f2 = lib.createFence(t2, 1);
    const target = merged ? lib.merge(fence, f2) : fence;
    const info = UserStruct.alloc(SYNC_FILE_INFO_SIZE).setU32(off, value);
    expect(sys.ioctl(target, SYNC_IOC_FILE_INFO, info.bytes)).toBe(errno);
    closeAll(...(merged ? [target] : []), f2, t2, fence, timeline);
  });

  it("FILE_INFO status: the first entry whose status is <= 0, else 1; the size query reports the container's status", () => {
    const t2 = lib.timelineCreate();
    const f2 = lib.createFence(t2, 1);
    const m = lib.merge(fence, f2);
    sys.close(t2); // f2 ends with -ENOENT
    const info = lib.fileInfo(m);
    if (typeof info === "number") throw new Error(`FILE_INFO ${info}`);
    expect(info.fences.map((f) => f.status).sort()).toEqual([-2, 0]);
    expect(info.status).toBe(info.fences[0]!.status <= 0 ? info.fences[0]!.status : 1);
    expect(lib.status(m)).toBe(0); // the array is still pending
    lib.inc(timeline, 1);
    // Nobody enabled signalling on the array: its `signaled` op counts the
    // members and clears the pending error, so the error is lost (6.12+ code).
    expect(lib.status(m)).toBe(1);
    closeAll(m, f2, fence, timeline);
  });

  it("an array whose signalling was enabled (a poll) keeps the first member error", () => {
    const t2 = lib.timelineCreate();
    const f2 = lib.createFence(t2, 1);
    const m = lib.merge(fence, f2);
    expect(lib.wait(m, 0)).toBe(0); // poll enables signalling
    sys.close(t2); // f2 ends with -ENOENT
    lib.inc(timeline, 1);
    expect(lib.wait(m, 0)).toBe(1);
    expect(lib.status(m)).toBe(ENOENT);
    closeAll(m, f2, fence, timeline);
  });

  it("a larger fence-info buffer is accepted and num_fences is set to the real count", () => {
    const buf = new Uint8Array(4 * 80);
    const addr = userMemory(k).map(buf);
    const info = UserStruct.alloc(SYNC_FILE_INFO_SIZE).setU32(40, 4).setU64(48, addr);
    expect(sys.ioctl(fence, SYNC_IOC_FILE_INFO, info.bytes)).toBe(0);
    expect(info.u32(40)).toBe(1);
    expect(info.s32(32)).toBe(0);
    closeAll(fence, timeline);
  });

  it("SET_DEADLINE: pad is EINVAL; the earliest deadline is what sw_sync reports; no deadline is ENOENT", () => {
    expect(lib.getDeadline(timeline, fence)).toBe(ENOENT);
    expect(sys.ioctl(fence, SYNC_IOC_SET_DEADLINE, UserStruct.alloc(16).setU64(8, 1n).bytes)).toBe(EINVAL);
    expect(lib.setDeadline(fence, 5000n)).toBe(0);
    expect(lib.setDeadline(fence, 9000n)).toBe(0);
    expect(lib.setDeadline(fence, 3000n)).toBe(0);
    expect(lib.getDeadline(timeline, fence)).toBe(3000n);
    closeAll(fence, timeline);
  });

  it.each([
    { desc: "non-zero deadline_ns", patch: (d: UserStruct) => d.setU64(0, 1n), errno: EINVAL },
    { desc: "non-zero pad", patch: (d: UserStruct) => d.setU32(12, 1), errno: EINVAL },
    { desc: "a fence_fd that is not a sync_file", patch: (d: UserStruct) => d.setS32(8, 99), errno: EINVAL },
  ])("SW_SYNC_GET_DEADLINE with $desc is $errno", ({ patch, errno }) => {
    const d = UserStruct.alloc(16).setS32(8, fence);
    patch(d);
    expect(sys.ioctl(timeline, SW_SYNC_GET_DEADLINE, d.bytes)).toBe(errno);
    closeAll(fence, timeline);
  });

  it("SW_SYNC_GET_DEADLINE on a sync_file whose fence is not a sw_sync point is EINVAL", () => {
    const t2 = lib.timelineCreate();
    const f2 = lib.createFence(t2, 1);
    const m = lib.merge(fence, f2); // an array
    expect(lib.getDeadline(timeline, m)).toBe(EINVAL);
    closeAll(m, f2, t2, fence, timeline);
  });

  it("unknown ioctls on a sync_file or a timeline are ENOTTY; a short CREATE_FENCE struct is EFAULT with the fd given back", () => {
    expect(sys.ioctl(fence, iowr(0x3e, 9, 8), UserStruct.alloc(8).bytes)).toBe(-ERRNO.ENOTTY);
    expect(sys.ioctl(timeline, iowr(0x57, 9, 8), UserStruct.alloc(8).bytes)).toBe(-ERRNO.ENOTTY);
    const before = task.files.fds();
    expect(sys.ioctl(timeline, SW_SYNC_IOC_CREATE_FENCE, new Uint8Array(20))).toBe(-ERRNO.EFAULT);
    expect(task.files.fds()).toEqual(before);
    closeAll(fence, timeline);
  });

  it("a point equal to a pending one is the same fence; a point at or below the value is created signaled", () => {
    const again = lib.createFence(timeline, 1);
    const infoA = lib.fileInfo(fence);
    const infoB = lib.fileInfo(again);
    expect(typeof infoA !== "number" && typeof infoB !== "number" && infoA.name === infoB.name).toBe(true);
    lib.inc(timeline, 3);
    const old = lib.createFence(timeline, 2);
    expect(lib.status(old)).toBe(1);
    closeAll(old, again, fence, timeline);
  });

  it("poll never reports POLLERR: an error-signaled fence polls as POLLIN", () => {
    sys.close(timeline);
    const fds: { fd: number; events: number; revents?: number }[] = [{ fd: fence, events: 0x1 | 0x8 }];
    expect(sys.poll(fds, 0)).toBe(1);
    expect(fds[0]!.revents).toBe(0x1);
    closeAll(fence);
  });

  it("CREATE_FENCE and INC fail with the injected allocation errors and leave nothing", () => {
    k.faults.failNth(1, "kzalloc");
    expect(lib.createFence(timeline, 7)).toBe(-ERRNO.ENOMEM);
    k.faults.failNth(2, "kzalloc"); // the sync_file after the point
    expect(lib.createFence(timeline, 8)).toBe(-ERRNO.ENOMEM);
    closeAll(fence, timeline);
  });
});
