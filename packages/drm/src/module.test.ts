import { describe, expect, it } from "vitest";
import { drmModule } from "@dmabuf-sdk/drm";
import { bootDrm } from "@dmabuf-sdk/drm/testing";

describe("drm module", () => {
  it("loads as drm, GPL-compatible, and unloads without leaks", () => {
    const k = bootDrm();
    const mod = k.modules.find("drm");
    expect(mod?.descriptor).toBe(drmModule);
    expect(mod?.proprietary).toBe(false);
    k.modules.unload("drm");
    expect(k.leakReport().empty).toBe(true);
  });
});
