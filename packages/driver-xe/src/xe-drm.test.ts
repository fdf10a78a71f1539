// Xe registers its DRM device through @dmabuf-sdk/drm (xe_device_probe → drm_dev_register; xe_device_remove → drm_dev_unplug).
import { describe, expect, it } from "vitest";
import { ERRNO, Kernel, buildTopology, swSyncDebugfsInit, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { DRM_CAP_SYNCOBJ_TIMELINE, DRM_IOCTL_GET_CAP } from "@dmabuf-sdk/drm";
import { IgtSyncobj } from "@dmabuf-sdk/drm/testing";
import { XE_DRM_DRIVER, XE_SRIOV_PF, xeDeviceOf, xeDeviceRemove, xeModule } from "@dmabuf-sdk/driver-xe";

describe("xe DRM device", () => {
  it("probe registers card/render nodes with syncobjs; remove unplugs: ioctls ENODEV, nodes gone, the syncobj lives on as an fd", () => {
    const k = new Kernel(topologyKernelOptions("sriov"));
    const t = buildTopology(k, "sriov", { sriovPf: XE_SRIOV_PF });
    k.modprobe(xeModule);
    swSyncDebugfsInit(k);
    const xe = xeDeviceOf(t.sriov!.pf);
    expect(xe?.drm?.driver).toBe(XE_DRM_DRIVER);
    const node = `/dev/${xe!.drm!.render!.path}`;
    const task = k.fork({ comm: "mesa" });
    const fd = task.sys.open(node, 2);
    expect(fd).toBeGreaterThanOrEqual(0);
    const cap = new Uint8Array(16);
    new DataView(cap.buffer).setBigUint64(0, DRM_CAP_SYNCOBJ_TIMELINE, true);
    expect(task.sys.ioctl(fd, DRM_IOCTL_GET_CAP, cap)).toBe(0);
    const so = new IgtSyncobj(k, task.sys, fd);
    const h = so.create(1);
    const sfd = so.handleToFd(h);
    xeDeviceRemove(xe!);
    expect(so.create()).toBe(-ERRNO.ENODEV);
    expect(task.sys.open(node, 2)).toBe(-ERRNO.ENOENT);
    for (const f of task.files.fds()) if (f !== sfd) task.sys.close(f);
    expect(k.leakReport().entries.map((e) => e.kind)).toContain("drm_syncobj");
    task.sys.close(sfd);
    expect(k.leakReport().text()).toBe("");
  });
});
