// Generator tables for the DRM core's uAPI (drivers/gpu/drm/drm_ioctl.c, drm_syncobj.c): every syncobj ioctl, sync_file export/import, and ioctls on an unplugged device.
import fc from "fast-check";
import { LibSync, O_RDWR, UserStruct, userMemory, type Errno, type Kernel, type Task } from "@dmabuf-sdk/dmabuf-core";
import {
  DRIVER_RENDER,
  DRIVER_SYNCOBJ,
  DRM_CAP_SYNCOBJ,
  DRM_CAP_SYNCOBJ_TIMELINE,
  DRM_FOPS,
  DRM_GET_CAP_SIZE,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_EVENTFD,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_QUERY,
  DRM_IOCTL_SYNCOBJ_RESET,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_SYNCOBJ_ARRAY_SIZE,
  DRM_SYNCOBJ_CREATE_SIGNALED,
  DRM_SYNCOBJ_CREATE_SIZE,
  DRM_SYNCOBJ_DESTROY_SIZE,
  DRM_SYNCOBJ_EVENTFD_SIZE,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE,
  DRM_SYNCOBJ_HANDLE_SIZE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE,
  DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED,
  DRM_SYNCOBJ_TIMELINE_ARRAY_SIZE,
  DRM_SYNCOBJ_TIMELINE_WAIT_SIZE,
  DRM_SYNCOBJ_TRANSFER_SIZE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
  DRM_SYNCOBJ_WAIT_SIZE,
  drmDevUnplug,
  drmModule,
  type DrmFile,
} from "@dmabuf-sdk/drm";
import { IgtSyncobj, drmTestDevice } from "@dmabuf-sdk/drm/testing";
import type { FuzzArbs, FuzzCommand, UapiEntryPoint } from "./harness.js";

/** Every DRM ioctl number on the machine (for the any-fd, any-command row). */
export const DRM_IOCTLS: readonly number[] = [
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
  DRM_IOCTL_SYNCOBJ_RESET,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
  DRM_IOCTL_SYNCOBJ_QUERY,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_IOCTL_SYNCOBJ_EVENTFD,
];

/**
 * The DRM part of the fuzz machine: three DRM devices — `fuzz-gpu` (render
 * node, binary and timeline syncobjs), `legacy-gpu` (binary syncobjs only:
 * the timeline ioctls are `EOPNOTSUPP` there) and `gone-gpu`, which every
 * process has open and which is hot-unplugged before the sequence starts
 * (root keeps a syncobj exported from it as an fd). Each process opens the
 * devices after the files the other tables expect. Returns the unplugged
 * device's node paths (gone from devfs).
 */
export function bootDrmFuzz(k: Kernel, procs: readonly Task[]): string[] {
  k.modprobe(drmModule);
  const gpu = drmTestDevice(k, { name: "fuzz-gpu" });
  const legacy = drmTestDevice(k, { name: "legacy-gpu", features: DRIVER_RENDER | DRIVER_SYNCOBJ });
  const gone = drmTestDevice(k, { name: "gone-gpu" });
  for (const p of procs) {
    const live = [gpu.primary, gpu.render!, legacy.render!].map((m) => p.sys.open(`/dev/${m.path}`, O_RDWR));
    const g = p.sys.open(`/dev/${gone.render!.path}`, O_RDWR);
    // Syncobjs at handles 1..4 of every live file, so that the calls reach the wait, signal and transfer paths:
    // 1 without a fence, 2 signalled, 3 with a pending sw_sync fence, 4 (timeline devices) points 1-2 signalled and 3 pending.
    const sw = new LibSync(k, p.sys);
    const ring = sw.timelineCreate();
    for (const fd of live) {
      const so = new IgtSyncobj(k, p.sys, fd);
      so.create();
      so.create(DRM_SYNCOBJ_CREATE_SIGNALED);
      const pending = sw.createFence(ring, 1);
      so.importSyncFile(so.create(), pending);
      const tl = so.create();
      // The legacy device has no timeline ioctls (EOPNOTSUPP): its handle 4 stays empty.
      if (so.timelineSignal([tl], [1n]) === 0) {
        so.timelineSignal([tl], [2n]);
        so.importSyncFilePoint(tl, pending, 3n);
      }
      p.sys.close(pending);
    }
    if (p === procs[0]) {
      const so = new IgtSyncobj(k, p.sys, g);
      so.handleToFd(so.create(DRM_SYNCOBJ_CREATE_SIGNALED));
    }
  }
  // The removal: drm_dev_unplug(), then the driver drops its reference; the open files keep theirs.
  const gonePaths = [gone.primary, gone.render!].map((m) => `/dev/${m.path}`);
  drmDevUnplug(gone);
  gone.put();
  return gonePaths;
}

const cmd = (label: string, run: FuzzCommand["run"]): FuzzCommand => ({ label, run });

/** The process's DRM files, live devices or unplugged ones. */
function drmFds(p: Task, unplugged: boolean): number[] {
  return p.files.fds().filter((fd) => {
    const f = p.files.lookup(fd);
    return f?.fops === DRM_FOPS && (f.privateData as DrmFile).minor.dev.unplugged === unplugged;
  });
}

/** An fd argument: usually one of the process's DRM files (by index), sometimes any small fd or garbage. */
interface FdPick {
  readonly any: number | null;
  readonly index: number;
}
const fdPick = (a: FuzzArbs): fc.Arbitrary<FdPick> => fc.oneof({ weight: 6, arbitrary: fc.nat(7).map((index) => ({ any: null, index })) }, { weight: 1, arbitrary: a.fd.map((any) => ({ any, index: 0 })) });
function resolveFd(p: Task, pick: FdPick, unplugged = false): number {
  if (pick.any !== null) return pick.any;
  const fds = drmFds(p, unplugged);
  return fds.length ? fds[pick.index % fds.length]! : -1;
}
/** An fd inside a struct (a syncobj fd, a sync_file, an eventfd): one of the process's open files by index, or a small number. */
const innerFd = fc.oneof({ weight: 3, arbitrary: fc.nat(40).map((i) => ({ open: i })) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 12 }).map((n) => ({ raw: n })) });
function resolveInner(p: Task, v: { open: number } | { raw: number }): number {
  if ("raw" in v) return v.raw;
  const fds = p.files.fds();
  return fds.length ? fds[v.open % fds.length]! : -1;
}
const showPick = (pick: FdPick): string => (pick.any === null ? `drm#${pick.index}` : String(pick.any));

/** Handles: small ones (likely to exist) and any u32. */
const handle = (a: FuzzArbs): fc.Arbitrary<number> => fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.nat(8) }, { weight: 1, arbitrary: a.u32 });
/** Timeline points: small ones and the edges. */
const point = (a: FuzzArbs): fc.Arbitrary<bigint> => fc.oneof({ weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 8n }) }, { weight: 1, arbitrary: a.u64 });
/** A count: right, zero, one too many, absurd. */
const countOf = (n: number): fc.Arbitrary<number> => fc.oneof({ weight: 6, arbitrary: fc.constant(n) }, { weight: 1, arbitrary: fc.constantFrom(0, n + 1, 0x4000_0000, 0xffff_ffff) });
/** Flags: the valid bits of an ioctl combined, or any u32. */
const flagsOf = (a: FuzzArbs, valid: number): fc.Arbitrary<number> => fc.oneof({ weight: 5, arbitrary: fc.nat(valid).map((v) => v & valid) }, { weight: 1, arbitrary: a.u32 });
/** A pad that is usually 0. */
const pad = (a: FuzzArbs): fc.Arbitrary<number> => fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: a.u32 });
/** A wait timeout: already passed, soon, far, never (INT64_MAX), negative. */
const timeout = fc.constantFrom(0n, 1n, 1_000_000n, 1_000_000_000n, (1n << 63n) - 1n, (1n << 64n) - 1n);

/** A user array: the handles (u32) or points (u64) in user memory; the address 0 (NULL) or a bad one sometimes. */
type Arr = { kind: "ok" } | { kind: "null" } | { kind: "bad"; addr: bigint };
const arr = (a: FuzzArbs): fc.Arbitrary<Arr> => fc.oneof({ weight: 8, arbitrary: fc.constant({ kind: "ok" } as Arr) }, { weight: 1, arbitrary: fc.constant({ kind: "null" } as Arr) }, { weight: 1, arbitrary: a.u64.map((addr) => ({ kind: "bad", addr }) as Arr) });
function place(k: Kernel, how: Arr, values: readonly (number | bigint)[], width: 4 | 8): bigint {
  if (how.kind === "null") return 0n;
  if (how.kind === "bad") return how.addr;
  const b = new Uint8Array(Math.max(width, values.length * width));
  const v = new DataView(b.buffer);
  values.forEach((x, i) => (width === 4 ? v.setUint32(i * 4, Number(x) >>> 0, true) : v.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(x)), true)));
  return userMemory(k).map(b);
}

/** The argument itself: the struct, a short or long copy of it, or a bad pointer (a number or NULL). */
type ArgShape = "struct" | "short" | "number" | "null";
const argShape = fc.oneof({ weight: 12, arbitrary: fc.constant<ArgShape>("struct") }, { weight: 1, arbitrary: fc.constantFrom<ArgShape>("short", "number", "null") });
function shaped(s: UserStruct, shape: ArgShape): Uint8Array | number | null {
  if (shape === "struct") return s.bytes;
  if (shape === "short") return s.bytes.subarray(0, Math.max(0, s.bytes.length - 4));
  return shape === "number" ? 0x1234 : null;
}

/** What every DRM ioctl may return through the ioctl syscall and drm_ioctl() itself. */
const DRM_BASE: Errno[] = [
  "EBADF", // no such fd
  "ENOTTY", // a file without ioctls (eventfd, pidfd, a syncobj fd, ...) or another driver's answer to an unknown number
  "EFAULT", // the struct (or a pointer inside it) is not user memory
  "ENODEV", // drm_ioctl() on an unplugged device, before anything else
  "EOPNOTSUPP", // the driver lacks DRIVER_SYNCOBJ / DRIVER_SYNCOBJ_TIMELINE
  "EINVAL", // flags, pads, counts (and unknown numbers in drm_ioctl())
];
const errnos = (...more: Errno[]): Errno[] => [...DRM_BASE, ...more];

/** One DRM ioctl row: a generator of (struct, shape) for a command. */
function drmRow(name: string, errs: Errno[], ioctl: number, make: (a: FuzzArbs) => fc.Arbitrary<{ label: string; build: (k: Kernel, p: Task) => UserStruct }>): UapiEntryPoint {
  return {
    name,
    errnos: errs,
    command: (a) =>
      fc.record({ fd: fdPick(a), req: make(a), shape: argShape }).map(({ fd, req, shape }) =>
        cmd(`${name}(${showPick(fd)}, ${req.label}${shape === "struct" ? "" : `, ${shape}`})`, (w, p) => p.sys.ioctl(resolveFd(p, fd), ioctl, shaped(req.build(w.k, p), shape))),
      ),
  };
}

export const drmEntryPoints: readonly UapiEntryPoint[] = [
  drmRow("DRM_IOCTL_GET_CAP", errnos(), DRM_IOCTL_GET_CAP, (a) =>
    fc.oneof(fc.constantFrom(DRM_CAP_SYNCOBJ, DRM_CAP_SYNCOBJ_TIMELINE), a.u64).map((cap) => ({ label: `cap ${cap}`, build: () => UserStruct.alloc(DRM_GET_CAP_SIZE).setU64(0, cap) })),
  ),
  drmRow("DRM_IOCTL_SYNCOBJ_CREATE", errnos("ENOMEM"), DRM_IOCTL_SYNCOBJ_CREATE, (a) =>
    flagsOf(a, DRM_SYNCOBJ_CREATE_SIGNALED).map((flags) => ({ label: `flags ${flags}`, build: () => UserStruct.alloc(DRM_SYNCOBJ_CREATE_SIZE).setU32(4, flags) })),
  ),
  drmRow("DRM_IOCTL_SYNCOBJ_DESTROY", errnos(), DRM_IOCTL_SYNCOBJ_DESTROY, (a) =>
    fc.record({ h: handle(a), pad: pad(a) }).map(({ h, pad: p }) => ({ label: `handle ${h}, pad ${p}`, build: () => UserStruct.alloc(DRM_SYNCOBJ_DESTROY_SIZE).setU32(0, h).setU32(4, p) })),
  ),
  // HANDLE_TO_FD / FD_TO_HANDLE of whole syncobjs (syncobj fds) and of timeline points.
  drmRow("DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD", errnos("ENOENT", "EMFILE", "ENOMEM"), DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, (a) =>
    fc.record({ h: handle(a), flags: flagsOf(a, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE), point: point(a), pad: pad(a) }).map(({ h, flags, point: pt, pad: p }) => ({
      label: `handle ${h}, flags ${flags}, point ${pt}, pad ${p}`,
      build: () => UserStruct.alloc(DRM_SYNCOBJ_HANDLE_SIZE).setU32(0, h).setU32(4, flags).setS32(8, -1).setU32(12, p).setU64(16, pt),
    })),
  ),
  drmRow("DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE", errnos("ENOENT", "ENOMEM"), DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, (a) =>
    fc.record({ fd: innerFd, h: handle(a), flags: flagsOf(a, DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE), point: point(a), pad: pad(a) }).map(({ fd, h, flags, point: pt, pad: p }) => ({
      label: `fd ${JSON.stringify(fd)}, handle ${h}, flags ${flags}, point ${pt}, pad ${p}`,
      build: (_k, proc) => UserStruct.alloc(DRM_SYNCOBJ_HANDLE_SIZE).setU32(0, h).setU32(4, flags).setS32(8, resolveInner(proc, fd)).setU32(12, p).setU64(16, pt),
    })),
  ),
  // sync_file export (HANDLE_TO_FD with EXPORT_SYNC_FILE) and import (FD_TO_HANDLE with IMPORT_SYNC_FILE), whole syncobjs or points.
  drmRow("sync_file export (DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD)", errnos("ENOENT", "EMFILE", "ENOMEM", "ETIME"), DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, (a) =>
    fc.record({ h: handle(a), timeline: fc.boolean(), extra: flagsOf(a, 0), point: point(a), pad: pad(a) }).map(({ h, timeline, extra, point: pt, pad: p }) => {
      const flags = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE | (timeline ? DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE : 0) | extra;
      return { label: `export handle ${h}, flags ${flags}, point ${pt}, pad ${p}`, build: () => UserStruct.alloc(DRM_SYNCOBJ_HANDLE_SIZE).setU32(0, h).setU32(4, flags).setS32(8, -1).setU32(12, p).setU64(16, pt) };
    }),
  ),
  drmRow("sync_file import (DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE)", errnos("ENOENT", "ENOMEM"), DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, (a) =>
    fc.record({ fd: innerFd, h: handle(a), timeline: fc.boolean(), extra: flagsOf(a, 0), point: point(a), pad: pad(a) }).map(({ fd, h, timeline, extra, point: pt, pad: p }) => {
      const flags = DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE | (timeline ? DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE : 0) | extra;
      return { label: `import fd ${JSON.stringify(fd)} into handle ${h}, flags ${flags}, point ${pt}, pad ${p}`, build: (_k: Kernel, proc: Task) => UserStruct.alloc(DRM_SYNCOBJ_HANDLE_SIZE).setU32(0, h).setU32(4, flags).setS32(8, resolveInner(proc, fd)).setU32(12, p).setU64(16, pt) };
    }),
  ),
  drmRow("DRM_IOCTL_SYNCOBJ_WAIT", errnos("ENOENT", "ENOMEM", "ETIME"), DRM_IOCTL_SYNCOBJ_WAIT, (a) =>
    fc
      .record({ hs: fc.array(handle(a), { maxLength: 4 }), count: fc.nat(4), cnt: fc.boolean(), how: arr(a), to: timeout, flags: flagsOf(a, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE), pad: pad(a), deadline: a.u64 })
      .chain((r) => countOf(r.hs.length).map((count) => ({ ...r, count })))
      .map((r) => ({
        label: `handles ${r.hs.join(",")} (${r.how.kind}), count ${r.count}, timeout ${r.to}, flags ${r.flags}, pad ${r.pad}`,
        build: (k: Kernel) => UserStruct.alloc(DRM_SYNCOBJ_WAIT_SIZE).setU64(0, place(k, r.how, r.hs, 4)).setU64(8, r.to).setU32(16, r.count).setU32(20, r.flags).setU32(28, r.pad).setU64(32, r.deadline),
      })),
  ),
  drmRow("DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT", errnos("ENOENT", "ENOMEM", "ETIME"), DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, (a) =>
    fc
      .record({
        hs: fc.array(handle(a), { maxLength: 4 }),
        pts: fc.array(point(a), { maxLength: 4 }),
        how: arr(a),
        howPts: arr(a),
        to: timeout,
        flags: flagsOf(a, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE),
        deadline: a.u64,
      })
      .chain((r) => countOf(r.hs.length).map((count) => ({ ...r, count })))
      .map((r) => ({
        label: `handles ${r.hs.join(",")} (${r.how.kind}), points ${r.pts.join(",")} (${r.howPts.kind}), count ${r.count}, timeout ${r.to}, flags ${r.flags}`,
        build: (k: Kernel) =>
          UserStruct.alloc(DRM_SYNCOBJ_TIMELINE_WAIT_SIZE).setU64(0, place(k, r.how, r.hs, 4)).setU64(8, place(k, r.howPts, r.pts, 8)).setU64(16, r.to).setU32(24, r.count).setU32(28, r.flags).setU64(40, r.deadline),
      })),
  ),
  ...(
    [
      ["DRM_IOCTL_SYNCOBJ_RESET", DRM_IOCTL_SYNCOBJ_RESET],
      ["DRM_IOCTL_SYNCOBJ_SIGNAL", DRM_IOCTL_SYNCOBJ_SIGNAL],
    ] as const
  ).map(([name, ioctl]) =>
    drmRow(name, errnos("ENOENT", "ENOMEM"), ioctl, (a) =>
      fc
        .record({ hs: fc.array(handle(a), { maxLength: 4 }), how: arr(a), pad: pad(a) })
        .chain((r) => countOf(r.hs.length).map((count) => ({ ...r, count })))
        .map((r) => ({ label: `handles ${r.hs.join(",")} (${r.how.kind}), count ${r.count}, pad ${r.pad}`, build: (k: Kernel) => UserStruct.alloc(DRM_SYNCOBJ_ARRAY_SIZE).setU64(0, place(k, r.how, r.hs, 4)).setU32(8, r.count).setU32(12, r.pad) })),
    ),
  ),
  ...(
    [
      ["DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL", DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, 0],
      ["DRM_IOCTL_SYNCOBJ_QUERY", DRM_IOCTL_SYNCOBJ_QUERY, DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED],
    ] as const
  ).map(([name, ioctl, valid]) =>
    drmRow(name, errnos("ENOENT", "ENOMEM"), ioctl, (a) =>
      fc
        .record({ hs: fc.array(handle(a), { maxLength: 4 }), pts: fc.array(point(a), { maxLength: 4 }), how: arr(a), howPts: arr(a), flags: flagsOf(a, valid) })
        .chain((r) => countOf(r.hs.length).map((count) => ({ ...r, count })))
        .map((r) => ({
          label: `handles ${r.hs.join(",")} (${r.how.kind}), points ${r.pts.join(",")} (${r.howPts.kind}), count ${r.count}, flags ${r.flags}`,
          build: (k: Kernel) => UserStruct.alloc(DRM_SYNCOBJ_TIMELINE_ARRAY_SIZE).setU64(0, place(k, r.how, r.hs, 4)).setU64(8, place(k, r.howPts, r.pts, 8)).setU32(16, r.count).setU32(20, r.flags),
        })),
    ),
  ),
  drmRow("DRM_IOCTL_SYNCOBJ_TRANSFER", errnos("ENOENT", "ENOMEM", "ETIME"), DRM_IOCTL_SYNCOBJ_TRANSFER, (a) =>
    fc.record({ src: handle(a), dst: handle(a), sp: point(a), dp: point(a), flags: flagsOf(a, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT), pad: pad(a) }).map((r) => ({
      label: `${r.src}:${r.sp} -> ${r.dst}:${r.dp}, flags ${r.flags}, pad ${r.pad}`,
      build: () => UserStruct.alloc(DRM_SYNCOBJ_TRANSFER_SIZE).setU32(0, r.src).setU32(4, r.dst).setU64(8, r.sp).setU64(16, r.dp).setU32(24, r.flags).setU32(28, r.pad),
    })),
  ),
  drmRow("DRM_IOCTL_SYNCOBJ_EVENTFD", errnos("ENOENT", "ENOMEM"), DRM_IOCTL_SYNCOBJ_EVENTFD, (a) =>
    fc.record({ h: handle(a), flags: flagsOf(a, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE), point: point(a), fd: innerFd, pad: pad(a) }).map((r) => ({
      label: `handle ${r.h}, point ${r.point}, flags ${r.flags}, eventfd ${JSON.stringify(r.fd)}, pad ${r.pad}`,
      build: (_k: Kernel, proc: Task) => UserStruct.alloc(DRM_SYNCOBJ_EVENTFD_SIZE).setU32(0, r.h).setU32(4, r.flags).setU64(8, r.point).setS32(16, resolveInner(proc, r.fd)).setU32(20, r.pad),
    })),
  ),
  {
    // drm_ioctl() checks drm_dev_is_unplugged() before it even looks at the command or copies the argument.
    name: "DRM ioctls on an unplugged device",
    errnos: ["ENODEV"],
    command: (a) =>
      fc
        .record({ index: fc.nat(3), ioctl: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...DRM_IOCTLS) }, { weight: 1, arbitrary: a.u32 }), arg: fc.oneof(a.bytes, fc.constant(null), fc.nat(0xffff)) })
        .map(({ index, ioctl, arg }) =>
          cmd(`ioctl(unplugged#${index}, ${ioctl.toString(16)}, ${arg instanceof Uint8Array ? `${arg.length} bytes` : String(arg)})`, (_w, p) => {
            const fds = drmFds(p, true);
            // Every process opened the device before it went away; a process that closed it has nothing to call.
            return fds.length ? p.sys.ioctl(fds[index % fds.length]!, ioctl, arg) : 0;
          }),
        ),
  },
];
