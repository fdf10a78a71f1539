// DRM devices, minors, drm_dev_enter/exit and hot-unplug with the fate of syncobjs, sync_files and eventfds (drm_drv.c, drm-uapi.rst "Device Hot-Unplug").
import { describe, expect, it } from "vitest";
import { ERRNO, KernelBug, LibSync, UserStruct, dmaFenceGetStatusNumber, dmaFencePut, swSyncDebugfsInit, syncFileCreate, type Errno } from "@dmabuf-sdk/dmabuf-core";
import {
  DRM_CAP_SYNCOBJ_TIMELINE,
  DRM_GET_CAP_SIZE,
  DRM_IOCTL_GET_CAP,
  DRM_SYNCOBJ_IOCTL_NRS,
  drmDevEnter,
  drmDevExit,
  drmDevUnplug,
  drmDevUnregister,
} from "@dmabuf-sdk/drm";
import { IgtSyncobj, bootDrm, drmTestDevice, drmTestRing } from "@dmabuf-sdk/drm/testing";

function machine(unplugFenceError?: Errno | null) {
  const k = bootDrm();
  swSyncDebugfsInit(k);
  const gpu = drmTestDevice(k, { name: "client-gpu", ...(unplugFenceError !== undefined ? { unplugFenceError } : {}) });
  const display = drmTestDevice(k, { name: "compositor-gpu" });
  const task = k.fork({ comm: "compositor" });
  const sys = task.sys;
  const gfd = sys.open(`/dev/${gpu.render!.path}`, 2);
  const dfd = sys.open(`/dev/${display.primary.path}`, 2);
  const finish = (): void => {
    for (const f of task.files.fds()) sys.close(f);
    for (const d of [gpu, display]) {
      drmDevUnregister(d);
      d.put();
    }
    k.clock.flush();
    expect(k.leakReport().text()).toBe("");
  };
  return { k, gpu, display, task, sys, gfd, dfd, client: new IgtSyncobj(k, sys, gfd), comp: new IgtSyncobj(k, sys, dfd), lib: new LibSync(k, sys), finish };
}

describe("drm_device", () => {
  it("minors: card<N> for the primary node, renderD<128+N> for render; GET_CAP reports the syncobj features", () => {
    const { k, gpu, display, sys, dfd, finish } = machine();
    expect([gpu.primary.path, gpu.render!.path, display.primary.path]).toEqual(["dri/card0", "dri/renderD128", "dri/card1"]);
    expect(k.devfs.paths()).toEqual(expect.arrayContaining(["dri/card0", "dri/card1", "dri/renderD128", "dri/renderD129"]));
    const cap = UserStruct.alloc(DRM_GET_CAP_SIZE).setU64(0, DRM_CAP_SYNCOBJ_TIMELINE);
    expect(sys.ioctl(dfd, DRM_IOCTL_GET_CAP, cap.bytes)).toBe(0);
    expect(cap.u64(8)).toBe(1n);
    expect(sys.ioctl(dfd, DRM_IOCTL_GET_CAP, UserStruct.alloc(16).setU64(0, 0x999n).bytes)).toBe(-ERRNO.EINVAL);
    expect(sys.ioctl(dfd, (DRM_IOCTL_GET_CAP & ~0xff) | 0x3f, UserStruct.alloc(16).bytes)).toBe(-ERRNO.EINVAL); // no such core ioctl
    expect(sys.ioctl(dfd, (DRM_IOCTL_GET_CAP & ~0xff) | 0x50, UserStruct.alloc(16).bytes)).toBe(-ERRNO.EINVAL); // no driver ioctls
    finish();
  });

  it("drm_dev_enter succeeds until unplug, fails after; unplugging inside a section never returns (deadlock)", () => {
    const { gpu, display, finish } = machine();
    const idx = drmDevEnter(gpu);
    expect(idx).not.toBeNull();
    expect(() => drmDevUnplug(display)).toThrow(KernelBug);
    drmDevExit(gpu, idx!);
    drmDevUnplug(gpu);
    expect(drmDevEnter(gpu)).toBeNull();
    finish();
  });
});

describe("hot-unplug", () => {
  it.each(DRM_SYNCOBJ_IOCTL_NRS.map((nr) => ({ nr })))("every ioctl on the unplugged device's files is ENODEV (nr 0x$nr)", ({ nr }) => {
    const { gpu, sys, gfd, finish } = machine();
    drmDevUnplug(gpu);
    expect(sys.ioctl(gfd, (0xc0006400 | nr) >>> 0, UserStruct.alloc(48).bytes)).toBe(-ERRNO.ENODEV);
    finish();
  });

  it("the nodes disappear (open: ENOENT); open files stay until closed, then the device and every handle are freed", () => {
    const { k, gpu, sys, client, finish } = machine();
    const h = client.create(1);
    expect(h).toBe(1);
    drmDevUnplug(gpu);
    expect(sys.open(`/dev/${gpu.render!.path}`, 2)).toBe(-ERRNO.ENOENT);
    expect(k.leakReport().entries.some((e) => e.kind === "drm_syncobj")).toBe(true);
    expect(client.destroy(h)).toBe(-ERRNO.ENODEV); // handles cannot even be dropped one by one
    finish();
  });

  it.each([
    { policy: "documented rule (ENODEV)", error: undefined, status: -ERRNO.ENODEV },
    { policy: "amdgpu force completion (ECANCELED)", error: "ECANCELED" as const, status: -ERRNO.ECANCELED },
    { policy: "killed scheduler jobs (ESRCH)", error: "ESRCH" as const, status: -ERRNO.ESRCH },
    { policy: "xe hardware fences (no error)", error: null, status: 1 },
  ])("$policy: the syncobj survives in the compositor; WAIT says 0, only a sync_file's FILE_INFO shows $status, the eventfd only 'signaled'", ({ error, status }) => {
    const { k, gpu, task, sys, client, comp, lib, finish } = machine(error);
    // The client renders on its GPU and shares a binary syncobj and a timeline point.
    const job = drmTestRing(gpu).emit();
    const sf = syncFileCreate(k, job)!;
    const jobFd = task.files.installNew(sf.file, 0);
    sf.file.put();
    const hJob = client.create();
    expect(client.importSyncFile(hJob, jobFd)).toBe(0);
    const hBin = comp.fdToHandle(client.handleToFd(hJob));
    const tl = client.create();
    expect(client.binaryToTimeline(tl, 1n, hJob)).toBe(0);
    const hTl = comp.fdToHandle(client.handleToFd(tl));
    const ev = sys.eventfd(0, 0o4000);
    expect(comp.eventfd(hBin, 0n, 0, ev)).toBe(0);
    const syncFile = comp.exportSyncFile(hBin);
    const atPoint = comp.exportSyncFile(hTl, 1n);
    expect(comp.wait([hBin], 0n, 0).ret).toBe(-ERRNO.ETIME);

    drmDevUnplug(gpu);

    expect(dmaFenceGetStatusNumber(job)).toBe(status);
    // The compositor's device is fine: its handles work and WAIT reports plain success.
    expect(comp.wait([hBin, hTl], 0n, 1).ret).toBe(0);
    expect(comp.timelineWait([hTl], [1n], 0n, 0).ret).toBe(0);
    // Only sync_file's per-fence info carries the error.
    expect(lib.status(syncFile)).toBe(status);
    const info = lib.fileInfo(atPoint);
    if (typeof info === "number") throw new Error(String(info));
    expect(info.fences.map((f) => f.status)).toEqual([status]);
    // The eventfd counted one "signaled", error or not.
    const buf = new Uint8Array(8);
    expect(sys.read(ev, buf)).toBe(8);
    expect(new DataView(buf.buffer).getBigUint64(0, true)).toBe(1n);
    // A merge with something already signaled drops the error (all-signaled → one stub).
    const other = comp.create(1);
    const otherSf = comp.exportSyncFile(other);
    const merged = lib.merge(syncFile, otherSf);
    expect(lib.status(merged)).toBe(1);
    // Importing the syncobj into the unplugged device is ENODEV; into a surviving one works.
    const fd2 = comp.handleToFd(hBin);
    expect(client.fdToHandle(fd2)).toBe(-ERRNO.ENODEV);
    expect(comp.fdToHandle(fd2)).toBeGreaterThan(0);
    dmaFencePut(job);
    finish();
  });

  it("a point that never materialised stays pending: WAIT_FOR_SUBMIT times out, an eventfd never fires (a vanished client is a never-submitting client)", () => {
    const { gpu, sys, client, comp, finish } = machine();
    const h = client.create();
    const fd = client.handleToFd(h);
    const hc = comp.fdToHandle(fd);
    const ev = sys.eventfd(0, 0o4000);
    expect(comp.eventfd(hc, 5n, 0, ev)).toBe(0);
    drmDevUnplug(gpu);
    expect(comp.timelineWait([hc], [5n], 0n, 2).ret).toBe(-ERRNO.ETIME);
    expect(sys.read(ev, new Uint8Array(8))).toBe(-ERRNO.EAGAIN);
    // Userspace can only insert a signaled point without error.
    expect(comp.timelineSignal([hc], [5n])).toBe(0);
    expect(sys.read(ev, new Uint8Array(8))).toBe(8);
    finish();
  });
});
