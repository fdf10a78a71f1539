// Tests of kernel/module/main.c namespace checks: MODULE_IMPORT_NS, EXPORT_SYMBOL_FOR_MODULES and licenses.
import { describe, expect, it } from "vitest";
import { licenseIsGplCompatible, modStrncmp, strncmp, verifyModuleNamespace } from "@dmabuf-sdk/dmabuf-core";

describe("module-namespace", () => {
  it.each([
    { desc: "exact name", ns: "module:iommufd", mod: "iommufd", ok: true },
    { desc: "exact name, other module", ns: "module:iommufd", mod: "vfio_pci", ok: false },
    { desc: "exact name is not a prefix", ns: "module:iommufd", mod: "iommufd_test", ok: false },
    { desc: "longer pattern than name", ns: "module:iommufd", mod: "iommu", ok: false },
    { desc: "second entry of a list", ns: "module:kvm,iommufd", mod: "iommufd", ok: true },
    { desc: "tail glob matches prefix", ns: "module:kvm,kvm-*", mod: "kvm-intel", ok: true },
    { desc: "tail glob matches the bare prefix", ns: "module:kvm-*", mod: "kvm-", ok: true },
    { desc: "tail glob needs the prefix", ns: "module:kvm-*", mod: "kvm", ok: false },
    { desc: "dash and underscore are equal at load", ns: "module:kvm-*", mod: "kvm_amd", ok: true },
    { desc: "underscore pattern, dashed name", ns: "module:vfio_pci", mod: "vfio-pci", ok: true },
    { desc: "* in the middle is literal", ns: "module:a*b", mod: "axxb", ok: false },
    { desc: "* in the middle matches itself", ns: "module:a*b", mod: "a*b", ok: true },
    { desc: "lone * matches every module", ns: "module:*", mod: "anything", ok: true },
    { desc: "no whitespace trimming", ns: "module:a, iommufd", mod: "iommufd", ok: false },
    { desc: "empty entry matches no real module", ns: "module:a,,b", mod: "x", ok: false },
    { desc: "empty list matches nothing", ns: "module:", mod: "iommufd", ok: false },
    { desc: "trailing comma", ns: "module:iommufd,", mod: "iommufd", ok: true },
    { desc: "ordinary namespace is not a module namespace", ns: "DMA_BUF", mod: "DMA_BUF", ok: false },
    { desc: "prefix is case sensitive", ns: "MODULE:iommufd", mod: "iommufd", ok: false },
  ])("load-time match: $desc", ({ ns, mod, ok }) => {
    expect(verifyModuleNamespace(ns, mod)).toBe(ok);
  });

  it.each([
    { desc: "modpost compares unmangled names exactly", ns: "module:kvm-*", mod: "kvm_amd", ok: false },
    { desc: "modpost accepts the exact basename", ns: "module:kvm-*", mod: "kvm-amd", ok: true },
    { desc: "modpost exact", ns: "module:iommufd", mod: "iommufd", ok: true },
  ])("build-time match: $desc", ({ ns, mod, ok }) => {
    expect(verifyModuleNamespace(ns, mod, strncmp)).toBe(ok);
  });

  it("mod_strncmp treats - and _ alike and stops at NUL", () => {
    expect(modStrncmp("kvm-intel", "kvm_intel", 9)).toBe(0);
    expect(modStrncmp("abc", "abd", 2)).toBe(0);
    expect(modStrncmp("abc", "abd", 3)).not.toBe(0);
    expect(modStrncmp("ab", "ab", 10)).toBe(0);
    expect(strncmp("kvm-intel", "kvm_intel", 9)).not.toBe(0);
  });

  it.each([
    ["GPL", true],
    ["GPL v2", true],
    ["GPL and additional rights", true],
    ["Dual BSD/GPL", true],
    ["Dual MIT/GPL", true],
    ["Dual MPL/GPL", true],
    ["Proprietary", false],
    ["MIT", false],
    ["", false],
  ])("license %j is GPL-compatible: %s", (lic, ok) => {
    expect(licenseIsGplCompatible(lic)).toBe(ok);
  });
});
