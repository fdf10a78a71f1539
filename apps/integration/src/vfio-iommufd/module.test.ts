// Integration: iommufd is the only module of the tree linking dma_buf_pal_map_phys (EXPORT_SYMBOL_FOR_MODULES, include/linux/export.h).
import { describe, expect, it } from "vitest";
import { Kernel, VMLINUX_EXPORTS, modpost, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { DMA_BUF_PAL_MAP_PHYS, dmaBufPalModule } from "@dmabuf-sdk/map-pal";
import { compatDynamicImporterModule, compatExporterModule, compatStaticImporterModule, dmaBufSgtModule } from "@dmabuf-sdk/map-sgt";
import { vfioPciModule } from "@dmabuf-sdk/driver-vfio-pci";
import { iommufdModule } from "@dmabuf-sdk/driver-iommufd";

/** The modules named and everything they require, dependencies first. */
function withRequires(mods: readonly KernelModule[], out: KernelModule[] = []): KernelModule[] {
  for (const m of mods) {
    if (out.includes(m)) continue;
    withRequires(m.requires ?? [], out);
    out.push(m);
  }
  return out;
}

const ALL: readonly KernelModule[] = withRequires([dmaBufSgtModule, dmaBufPalModule, compatExporterModule, compatStaticImporterModule, compatDynamicImporterModule, vfioPciModule, iommufdModule]);

describe("iommufd is the only module that uses dma_buf_pal_map_phys", () => {
  it("of every module descriptor in the tree, only iommufd links it, and the loader grants it", () => {
    expect(ALL.filter((m) => (m.uses ?? []).some((u) => (typeof u === "string" ? u : u.name) === DMA_BUF_PAL_MAP_PHYS.name)).map((m) => m.name)).toEqual(["iommufd"]);
    const k = new Kernel();
    for (const m of ALL) k.modprobe(m);
    expect(k.modules.find("dma_buf_mapping_pal")!.usedBy).toEqual(expect.arrayContaining(["iommufd", "vfio-pci"]));
    expect(modpost({ modules: ALL, vmlinux: VMLINUX_EXPORTS }).errors).toEqual([]);
  });
});
