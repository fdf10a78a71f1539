// Tests of the dma_buf_mapping_iov module: load and exports.
import { describe, expect, it } from "vitest";
import { Kernel, VMLINUX_EXPORTS, modpost, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufIovMapRanges, dmaBufIovModule, dmaBufMappingIovType } from "@dmabuf-sdk/map-iov";

const importer = (importNs: string[]): KernelModule => ({ name: "pf_importer", license: "GPL", importNs, uses: ["dma_buf_mapping_iov_type", "dma_buf_iov_map_ranges", "dma_buf_iov_unmap_ranges"] });

describe("dma_buf_mapping_iov module", () => {
  it("exports the type and the map functions in the DMA_BUF namespace, GPL-only", () => {
    const k = new Kernel();
    k.loadModule(dmaBufIovModule);
    for (const name of ["dma_buf_mapping_iov_type", "dma_buf_iov_map_ranges", "dma_buf_iov_unmap_ranges", "dma_buf_iov_alloc_ranges", "dma_buf_iov_free_ranges"]) {
      expect(k.modules.lookup(name)).toEqual({ decl: { name, license: "GPL", namespace: "DMA_BUF" }, owner: "dma_buf_mapping_iov" });
    }
  });

  it.each([
    { desc: "an importer that imports DMA_BUF links the real functions", importNs: ["DMA_BUF"], errno: undefined },
    { desc: "an importer that forgets MODULE_IMPORT_NS(DMA_BUF) is refused with EINVAL", importNs: [], errno: "EINVAL" },
  ])("$desc", ({ importNs, errno }) => {
    const k = new Kernel();
    k.loadModule(dmaBufIovModule);
    if (errno) {
      expect(() => k.loadModule(importer(importNs))).toThrow(expect.objectContaining({ errno }));
      expect(k.printk.contains("pf_importer: module uses symbol (dma_buf_mapping_iov_type) from namespace DMA_BUF, but does not import it.")).toBe(true);
      return;
    }
    let got: unknown[] = [];
    k.loadModule({ ...importer(importNs), init: (ctx) => void (got = [ctx.symbol("dma_buf_mapping_iov_type"), ctx.symbol("dma_buf_iov_map_ranges")]) });
    expect(got).toEqual([dmaBufMappingIovType, dmaBufIovMapRanges]);
    expect(k.modules.find("dma_buf_mapping_iov")!.usedBy).toEqual(["pf_importer"]);
  });

  it("modpost: the same rules at build time", () => {
    const r = modpost({ modules: [dmaBufIovModule, importer([])], vmlinux: VMLINUX_EXPORTS });
    expect(r.errors).toContain("ERROR: modpost: module pf_importer uses symbol dma_buf_iov_map_ranges from namespace DMA_BUF, but does not import it.");
    expect(modpost({ modules: [dmaBufIovModule, importer(["DMA_BUF"])], vmlinux: VMLINUX_EXPORTS }).errors).toEqual([]);
  });
});
