// Tests the kvm module builds and KVM importing PAL through EXPORT_SYMBOL_FOR_MODULES(dma_buf_pal_map_phys, …).
import { describe, expect, it } from "vitest";
import { Kernel, KernelError, VMLINUX_EXPORTS, modpost, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { DMA_BUF_PAL_IMPORTERS, dmaBufPalModule, dmaBufPalModuleBuild } from "@dmabuf-sdk/map-pal";
import { KVM_PFN_VERSIONS, kvmModule, kvmModuleBuild } from "@dmabuf-sdk/kvm";

function loadErr(k: Kernel, m: KernelModule): KernelError | undefined {
  try {
    k.modprobe(m);
    return undefined;
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
}

describe("the kvm module builds", () => {
  it("the package's descriptor is mainline KVM; one descriptor per version, all named kvm", () => {
    expect(kvmModule).toBe(kvmModuleBuild("mainline-vma"));
    expect(new Set(KVM_PFN_VERSIONS.map((v) => kvmModuleBuild(v))).size).toBe(KVM_PFN_VERSIONS.length);
    expect(KVM_PFN_VERSIONS.map((v) => kvmModuleBuild(v).name)).toEqual(KVM_PFN_VERSIONS.map(() => "kvm"));
  });

  it.each(KVM_PFN_VERSIONS.filter((v) => v !== "maptype-pal"))("%s loads and creates /dev/kvm; rmmod removes it", (v) => {
    const k = new Kernel();
    k.modprobe(kvmModuleBuild(v));
    expect(k.devfs.lookup("kvm")).toBeDefined();
    k.unloadModule("kvm");
    expect(k.devfs.lookup("kvm")).toBeUndefined();
  });
});

describe("KVM importing PAL: EXPORT_SYMBOL_FOR_MODULES(dma_buf_pal_map_phys, …)", () => {
  it("the kernel's restriction names iommufd only", () => {
    expect(DMA_BUF_PAL_IMPORTERS).toBe("iommufd");
    expect(dmaBufPalModule).toEqual(expect.objectContaining({ name: "dma_buf_mapping_pal" }));
  });

  it("with PAL for iommufd, the maptype-pal kvm fails to load: EINVAL, the loader's message, nothing registered", () => {
    const k = new Kernel();
    k.modprobe(dmaBufPalModule);
    const err = loadErr(k, kvmModuleBuild("maptype-pal"));
    expect(err?.errno).toBe("EINVAL");
    expect(k.printk.records().map((r) => r.text)).toEqual(
      expect.arrayContaining([
        "kvm: module uses symbol (dma_buf_pal_map_phys) from namespace module:iommufd, but does not import it.",
        "kvm: Unknown symbol dma_buf_pal_map_phys (err -22)",
      ]),
    );
    expect(k.modules.find("kvm")).toBeUndefined();
    expect(k.devfs.lookup("kvm")).toBeUndefined();
    expect(k.modules.find("dma_buf_mapping_pal")!.usedBy).toEqual([]);
  });

  it("modpost says the same at build time", () => {
    expect(modpost({ modules: [dmaBufPalModule, kvmModuleBuild("maptype-pal")], vmlinux: VMLINUX_EXPORTS }).errors).toEqual([
      "ERROR: modpost: module kvm uses symbol dma_buf_pal_map_phys from namespace module:iommufd, but does not import it.",
    ]);
  });

  it("importing the module: namespace explicitly is refused (EPERM by the loader, an error by modpost)", () => {
    const sneaky: KernelModule = { ...kvmModuleBuild("maptype-pal"), importNs: ["DMA_BUF", "module:iommufd"] };
    const k = new Kernel();
    k.modprobe(dmaBufPalModule);
    expect(loadErr(k, sneaky)?.errno).toBe("EPERM");
    expect(modpost({ modules: [dmaBufPalModule, sneaky], vmlinux: VMLINUX_EXPORTS }).errors).toContain('ERROR: modpost: kvm: explicitly importing namespace "module:iommufd" is not allowed.');
  });

  it.each([
    { list: "iommufd,kvm", loads: true },
    { list: "iommufd,kvm*", loads: true },
    { list: "kvm,iommufd", loads: true },
    // The x86 vendor modules are not the core module that holds the slot code.
    { list: "iommufd,kvm_intel,kvm_amd", loads: false },
    { list: "iommufd,kv", loads: false },
  ])("with PAL built for \"$list\": loads $loads", ({ list, loads }) => {
    const k = new Kernel();
    k.modprobe(dmaBufPalModuleBuild(list));
    const err = loadErr(k, kvmModuleBuild("maptype-pal"));
    expect(err?.errno).toBe(loads ? undefined : "EINVAL");
    expect(modpost({ modules: [dmaBufPalModuleBuild(list), kvmModuleBuild("maptype-pal")], vmlinux: VMLINUX_EXPORTS }).errors.length).toBe(loads ? 0 : 1);
    if (loads) expect(k.modules.find("dma_buf_mapping_pal")!.usedBy).toEqual(["kvm"]);
  });

  it("symbol_get is no way around the restriction: kvm cannot look dma_buf_pal_map_phys up at run time", () => {
    const k = new Kernel();
    k.modprobe(dmaBufPalModule);
    const kvm = k.modprobe(kvmModuleBuild("yilun-v2"));
    expect(k.modules.symbolGet("dma_buf_pal_map_phys", kvm)).toBeUndefined();
    const iommufd = k.modprobe({ name: "iommufd", license: "GPL" });
    expect(typeof k.modules.symbolGet("dma_buf_pal_map_phys", iommufd)).toBe("function");
    k.modules.symbolPut("dma_buf_pal_map_phys");
  });
});
