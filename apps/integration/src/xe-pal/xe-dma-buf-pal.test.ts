// Integration: the Xe exporter (drivers/gpu/drm/xe/xe_dma_buf.c) against a PAL-only importer, the mapping type iommufd asks for.
import { describe, expect, it } from "vitest";
import { O_RDWR, dmaBufMappingAttach, dmaBufPut } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingPal } from "@dmabuf-sdk/map-pal";
import { XE_PL_TT, XE_PL_VRAM0, xeBoCreate, xeBoPut, xeGemPrimeExport, type XeBoPlacement } from "@dmabuf-sdk/driver-xe";
import { boot, teardown, xeOn } from "@dmabuf-sdk/driver-xe/testing";

describe("xe dma-buf exporter", () => {
  it.each([{ desc: "an iommufd-style importer offering only PAL: EINVAL (Xe offers no PAL)", placements: [XE_PL_VRAM0, XE_PL_TT] as XeBoPlacement[] }])("$desc", ({ placements }) => {
    const { k, t } = boot("same-switch");
    const bo = xeBoCreate(xeOn(t.exporterSlot), 0x4000n, { placements });
    const dmabuf = xeGemPrimeExport(bo, O_RDWR);
    xeBoPut(bo);
    expect(() => dmaBufMappingAttach(dmabuf, [dmaBufImappingPal()], { invalidateMappings: () => undefined })).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    dmaBufPut(dmabuf);
    expect(teardown(k)).toBe("");
  });
});
