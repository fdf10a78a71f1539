// Tests: iommufd is the only module that can use dma_buf_pal_map_phys (EXPORT_SYMBOL_FOR_MODULES).
import { describe, expect, it } from "vitest";
import { Kernel, KernelError, O_RDWR } from "@dmabuf-sdk/dmabuf-core";
import { DMA_BUF_PAL_MAP_PHYS, dmaBufPalModule } from "@dmabuf-sdk/map-pal";
import * as iommufdPackage from "@dmabuf-sdk/driver-iommufd";
import { iommufdModule } from "@dmabuf-sdk/driver-iommufd";

function reachable(root: unknown, depth = 5, seen = new Set<unknown>()): Set<unknown> {
  if (root === null || (typeof root !== "object" && typeof root !== "function") || seen.has(root) || depth < 0) return seen;
  seen.add(root);
  for (const key of Reflect.ownKeys(root as object)) {
    const d = Object.getOwnPropertyDescriptor(root, key);
    if (d && "value" in d) reachable(d.value, depth - 1, seen);
  }
  return seen;
}

describe("iommufd is the only module that uses dma_buf_pal_map_phys", () => {
  it("the same driver under another name does not load: EINVAL and the kernel's two messages", () => {
    const k = new Kernel();
    k.modprobe(dmaBufPalModule);
    let err: unknown;
    try {
      k.loadModule({ ...iommufdModule, name: "iommufd_clone", requires: [] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errno).toBe("EINVAL");
    expect(k.printk.contains("iommufd_clone: module uses symbol (dma_buf_pal_map_phys) from namespace module:iommufd, but does not import it.")).toBe(true);
    expect(k.printk.contains("iommufd_clone: Unknown symbol dma_buf_pal_map_phys (err -22)")).toBe(true);
    expect(k.devfs.lookup("iommu")).toBeUndefined();
  });

  it("nothing reachable from the iommufd package's entry point is the function", () => {
    const k = new Kernel();
    k.modprobe(iommufdModule);
    // The function itself, as a stand-in module named iommufd gets it in a second kernel.
    const k2 = new Kernel();
    k2.modprobe(dmaBufPalModule);
    let fn: unknown;
    k2.loadModule({ name: "iommufd", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS], init: (ctx) => (fn = ctx.symbol(DMA_BUF_PAL_MAP_PHYS)) });
    expect(typeof fn).toBe("function");
    expect(reachable(iommufdPackage).has(fn)).toBe(false);
  });

  it("iommufd's own exports are ordinary IOMMUFD-namespace symbols", () => {
    const k = new Kernel();
    k.modprobe(iommufdModule);
    expect(k.modules.lookup("iommufd_device_bind")).toEqual({ decl: { name: "iommufd_device_bind", license: "GPL", namespace: "IOMMUFD" }, owner: "iommufd" });
    let got: unknown;
    k.loadModule({ name: "vfio", license: "GPL", importNs: ["IOMMUFD"], uses: ["iommufd_device_bind"], init: (ctx) => (got = ctx.symbol("iommufd_device_bind")) });
    expect(got).toBe(iommufdPackage.iommufdDeviceBind);
  });

  it("an open /dev/iommu holds the module; unloading afterwards removes the node and forgets the function", () => {
    const k = new Kernel();
    k.modprobe(iommufdModule);
    const fd = k.init.sys.open("/dev/iommu", O_RDWR);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(() => k.unloadModule("iommufd")).toThrow(expect.objectContaining({ errno: "EAGAIN" }));
    k.init.sys.close(fd);
    k.unloadModule("iommufd");
    expect(k.init.sys.open("/dev/iommu", O_RDWR)).toBe(-2);
    expect(k.leakReport().text()).toBe("");
  });
});
