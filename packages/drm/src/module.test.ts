// Tests of the drm module: load, license, and unload without leaks.
import { describe, expect, it } from "vitest";
import { drmModule } from "@dmabuf-sdk/drm";
import { bootDrm } from "@dmabuf-sdk/drm/testing";

describe("drm module", () => {
  it("loads as drm, GPL-compatible, and unloads without leaks", () => {
    const k = bootDrm();
    const mod = k.modules.find("drm");
    // The loader keeps a frozen snapshot of the descriptor it read, not the object itself.
    expect([mod?.descriptor.name, mod?.descriptor.license, Object.isFrozen(mod?.descriptor)]).toEqual([drmModule.name, drmModule.license, true]);
    expect(mod?.proprietary).toBe(false);
    expect(drmModule.exports?.map((e) => e.name)).toEqual(expect.arrayContaining(["drm_sched_init", "drm_sched_job_arm", "drm_sched_entity_push_job", "drm_sched_entity_destroy"]));
    k.modules.unload("drm");
    expect(k.leakReport().empty).toBe(true);
  });
});
