// Tests of kernel/module/main.c: loading, symbol resolution, restricted symbols at run time, and modpost.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import {
  Kernel,
  KernelBug,
  KernelError,
  ModuleContext,
  defineModule,
  exportSymbol,
  exportSymbolForModules,
  exportSymbolGpl,
  exportSymbolNs,
  exportSymbolNsGpl,
  kernelSymbol,
  modpost,
  provideSymbol,
  VMLINUX_EXPORTS,
  type KernelModule,
  type SymbolExport,
} from "@dmabuf-sdk/dmabuf-core";

const SECRET = kernelSymbol<() => string>("secret_map_phys");

/** A provider module whose restricted function lives only in this closure. */
function providerModule(decl: SymbolExport, name = "provider"): KernelModule {
  const impl = (): string => "secret";
  return defineModule({ name, license: "GPL", exports: [decl], init: (ctx) => provideSymbol(ctx, decl.name, impl) });
}

function user(name: string, extra: Partial<KernelModule> = {}): KernelModule {
  return { name, license: "GPL", uses: [SECRET], ...extra };
}

function loadErr(k: Kernel, m: KernelModule): KernelError {
  try {
    k.loadModule(m);
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error(`${m.name} loaded`);
}

describe("module-loader", () => {
  let k: Kernel;
  beforeEach(() => {
    k = new Kernel();
  });

  it.each([
    { desc: "EXPORT_SYMBOL: anyone", decl: exportSymbol(SECRET), mod: user("any"), errno: undefined },
    { desc: "EXPORT_SYMBOL: proprietary module too", decl: exportSymbol(SECRET), mod: user("blob", { license: "Proprietary" }), errno: undefined },
    { desc: "EXPORT_SYMBOL_GPL: GPL module", decl: exportSymbolGpl(SECRET), mod: user("gplmod"), errno: undefined },
    { desc: "EXPORT_SYMBOL_GPL: proprietary module cannot see it", decl: exportSymbolGpl(SECRET), mod: user("blob", { license: "Proprietary" }), errno: "ENOENT" },
    { desc: "EXPORT_SYMBOL_NS: without import", decl: exportSymbolNs(SECRET, "FOO"), mod: user("nsmod"), errno: "EINVAL" },
    { desc: "EXPORT_SYMBOL_NS: with import", decl: exportSymbolNs(SECRET, "FOO"), mod: user("nsmod", { importNs: ["FOO"] }), errno: undefined },
    { desc: "EXPORT_SYMBOL_NS_GPL: import of another namespace", decl: exportSymbolNsGpl(SECRET, "FOO"), mod: user("nsmod", { importNs: ["BAR"] }), errno: "EINVAL" },
    { desc: "FOR_MODULES: the named module", decl: exportSymbolForModules(SECRET, "iommufd"), mod: user("iommufd"), errno: undefined },
    { desc: "FOR_MODULES: any other module", decl: exportSymbolForModules(SECRET, "iommufd"), mod: user("vfio_pci"), errno: "EINVAL" },
    { desc: "FOR_MODULES: another module importing DMA_BUF", decl: exportSymbolForModules(SECRET, "iommufd"), mod: user("kvm", { importNs: ["DMA_BUF"] }), errno: "EINVAL" },
    { desc: "FOR_MODULES: tail glob", decl: exportSymbolForModules(SECRET, "kvm,kvm-*"), mod: user("kvm_intel"), errno: undefined },
    { desc: "FOR_MODULES: is GPL-only", decl: exportSymbolForModules(SECRET, "iommufd"), mod: user("iommufd", { license: "Proprietary" }), errno: "ENOENT" },
    { desc: "FOR_MODULES: explicit import of module: namespace", decl: exportSymbolForModules(SECRET, "iommufd"), mod: user("iommufd", { importNs: ["module:iommufd"] }), errno: "EPERM" },
    { desc: "unknown symbol", decl: exportSymbol("something_else"), mod: user("any"), errno: "ENOENT" },
  ])("$desc", ({ decl, mod, errno }) => {
    k.loadModule(providerModule(decl));
    if (!errno) {
      const m = k.loadModule(mod);
      expect(m.state).toBe("live");
      expect(k.modules.find("provider")!.usedBy).toContain(mod.name);
      return;
    }
    const e = loadErr(k, mod);
    expect(e.errno).toBe(errno);
    expect(k.modules.find(mod.name)).toBeUndefined();
  });

  it("logs the kernel's messages for a module outside an EXPORT_SYMBOL_FOR_MODULES list", () => {
    k.loadModule(providerModule(exportSymbolForModules(SECRET, "iommufd")));
    expect(loadErr(k, user("rogue")).errno).toBe("EINVAL");
    expect(k.printk.contains("rogue: module uses symbol (secret_map_phys) from namespace module:iommufd, but does not import it.")).toBe(true);
    expect(k.printk.contains("rogue: Unknown symbol secret_map_phys (err -22)")).toBe(true);
  });

  it("logs the EPERM message for importing a module: namespace, before resolving symbols", () => {
    k.loadModule(providerModule(exportSymbolForModules(SECRET, "iommufd")));
    expect(loadErr(k, user("iommufd", { importNs: ["module:iommufd"] })).errno).toBe("EPERM");
    expect(k.printk.contains("iommufd: module tries to import module namespace: module:iommufd")).toBe(true);
    expect(k.printk.contains("Unknown symbol")).toBe(false);
  });

  it("reports a GPL-only symbol to a proprietary module as unknown with err -2, and taints", () => {
    k.loadModule(providerModule(exportSymbolGpl(SECRET)));
    expect(loadErr(k, user("blob", { license: "Proprietary" })).errno).toBe("ENOENT");
    expect(k.printk.contains("blob: module license 'Proprietary' taints kernel.")).toBe(true);
    expect(k.printk.contains("blob: Unknown symbol secret_map_phys (err -2)")).toBe(true);
  });

  it("returns the errno of the last failing symbol, as simplify_symbols() does", () => {
    k.loadModule({ name: "p", license: "GPL", exports: [exportSymbolNsGpl("ns_sym", "FOO")], init: (c) => provideSymbol(c, "ns_sym", 1) });
    expect(loadErr(k, { name: "m1", license: "GPL", uses: ["missing_sym", "ns_sym"] }).errno).toBe("EINVAL");
    expect(loadErr(k, { name: "m2", license: "GPL", uses: ["ns_sym", "missing_sym"] }).errno).toBe("ENOENT");
    expect(k.printk.contains("m1: Unknown symbol missing_sym (err -2)")).toBe(true);
    expect(k.printk.contains("m1: Unknown symbol ns_sym (err -22)")).toBe(true);
  });

  it("CONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS turns the namespace error into a warning and resolves", () => {
    const kk = new Kernel({ allowMissingNamespaceImports: true });
    kk.loadModule(providerModule(exportSymbolForModules(SECRET, "iommufd")));
    const m = kk.loadModule(user("rogue"));
    expect(m.state).toBe("live");
    expect(kk.printk.records().find((r) => r.text.includes("but does not import it"))?.level).toBe("warn");
  });

  it("built-in callers are linked without namespace checks", () => {
    k.loadModule(providerModule(exportSymbolForModules(SECRET, "iommufd")));
    const m = k.loadModule(user("builtin_driver"), { builtin: true });
    expect(m.builtin).toBe(true);
  });

  it("core's own exports live in the DMA_BUF namespace", () => {
    expect(loadErr(k, { name: "noimport", license: "GPL", uses: ["dma_buf_export"] }).errno).toBe("EINVAL");
    expect(k.loadModule({ name: "imports", license: "GPL", importNs: ["DMA_BUF"], uses: ["dma_buf_export"] }).state).toBe("live");
    expect(k.modules.lookup("dma_buf_export")).toEqual({ decl: { name: "dma_buf_export", license: "GPL", namespace: "DMA_BUF" }, owner: "vmlinux" });
  });

  it.each([
    { desc: "same name", second: "provider", errno: "EEXIST" },
    { desc: "same name after dash mangling", second: "pro-vider", first: "pro_vider", errno: "EEXIST" },
  ])("refuses a second module of the $desc", ({ second, first, errno }) => {
    k.loadModule({ name: first ?? "provider", license: "GPL" });
    expect(loadErr(k, { name: second, license: "GPL" }).errno).toBe(errno);
  });

  it("refuses a duplicate export with ENOEXEC", () => {
    k.loadModule(providerModule(exportSymbol(SECRET), "a"));
    expect(loadErr(k, providerModule(exportSymbol(SECRET), "b")).errno).toBe("ENOEXEC");
    expect(k.printk.contains("b: exports duplicate symbol secret_map_phys (owned by a)")).toBe(true);
  });

  it("fails the load with init's errno and withdraws what init provided", () => {
    const token = Symbol("hook");
    let exitHook = 0;
    const e = loadErr(k, {
      name: "failing",
      license: "GPL",
      init(ctx) {
        ctx.provide(token, "x");
        ctx.onExit(() => exitHook++);
        throw new KernelError("ENODEV", "failing_init");
      },
    });
    expect(e.errno).toBe("ENODEV");
    expect(exitHook).toBe(1);
    expect(k.providers(token)).toEqual([]);
    expect(k.modules.find("failing")).toBeUndefined();
  });

  it("unload: EAGAIN while used or referenced, ENOENT when absent; withdraws exports", () => {
    k.loadModule(providerModule(exportSymbol(SECRET)));
    k.loadModule(user("consumer"));
    expect(() => k.unloadModule("provider")).toThrow(expect.objectContaining({ errno: "EAGAIN" }));
    k.unloadModule("consumer");
    const p = k.modules.find("provider")!;
    expect(k.modules.tryModuleGet(p)).toBe(true);
    expect(() => k.unloadModule("provider")).toThrow(expect.objectContaining({ errno: "EAGAIN" }));
    k.modules.modulePut(p);
    k.unloadModule("provider");
    expect(k.modules.lookup(SECRET.name)).toBeUndefined();
    expect(() => k.unloadModule("provider")).toThrow(expect.objectContaining({ errno: "ENOENT" }));
    expect(k.modules.tryModuleGet(p)).toBe(false);
  });

  it("modprobe loads what a module requires first", () => {
    const p = providerModule(exportSymbol(SECRET));
    k.modprobe(user("consumer", { requires: [p] }));
    expect(k.modules.modules().map((m) => m.name)).toEqual(["provider", "consumer"]);
  });

  describe("runtime guarantee for a restricted symbol", () => {
    const decl = exportSymbolForModules(SECRET, "iommufd");

    it("the granted module gets the value from ctx.symbol and its own context's container", () => {
      k.loadModule(providerModule(decl));
      let viaCtx: (() => string) | undefined;
      let viaContainer: (() => string) | undefined;
      const m = k.loadModule({
        name: "iommufd",
        license: "GPL",
        uses: [SECRET],
        init: (ctx) => {
          viaCtx = ctx.symbol(SECRET);
          viaContainer = ctx.container.resolve(SECRET.token);
        },
      });
      expect(viaCtx!()).toBe("secret");
      expect(viaContainer).toBe(viaCtx);
      expect("container" in m).toBe(false);
    });

    it("no other module can resolve its DI token, nor the kernel's container", () => {
      k.loadModule(providerModule(decl));
      k.loadModule({ name: "iommufd", license: "GPL", uses: [SECRET] });
      let otherContainer: { resolve(t: unknown): unknown } | undefined;
      k.loadModule({ name: "other", license: "GPL", init: (ctx) => (otherContainer = ctx.container) });
      expect(() => otherContainer!.resolve(SECRET.token)).toThrow(/unregistered dependency token/);
      expect(() => k.container.resolve(SECRET.token)).toThrow(/unregistered dependency token/);
      let err: unknown;
      k.loadModule({
        name: "other2",
        license: "GPL",
        init: (ctx) => {
          try {
            ctx.symbol(SECRET);
          } catch (e) {
            err = e;
          }
        },
      });
      expect(err).toMatchObject({ errno: "ENOENT" });
    });

    it("replaying the provider's init with a forged or foreign context does not hand out the function", () => {
      const p = providerModule(decl);
      k.loadModule(p);
      const forged = { symbol: () => undefined, provide: () => undefined } as unknown as ModuleContext;
      expect(() => p.init!(forged)).toThrow(KernelBug);
      let caught: unknown;
      k.loadModule({
        name: "thief",
        license: "GPL",
        init: (ctx) => {
          try {
            p.init!(ctx);
          } catch (e) {
            caught = e;
          }
        },
      });
      expect(caught).toBeInstanceOf(KernelBug);
      expect(String(caught)).toMatch(/provider module_init called with the context of thief/);
    });

    it("a deep import of the package is refused by its exports map", () => {
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", "await import('@dmabuf-sdk/dmabuf-core/dist/kernel/module.js')"], {
        cwd: fileURLToPath(new URL("../..", import.meta.url)),
        encoding: "utf8",
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
    });
  });

  describe("modpost", () => {
    it.each([
      { desc: "clean", mods: [{ name: "iommufd", license: "GPL", uses: [SECRET] }], errors: [] },
      {
        desc: "restricted symbol used by another module",
        mods: [{ name: "kvm", license: "GPL", importNs: ["DMA_BUF"], uses: [SECRET] }],
        errors: ["ERROR: modpost: module kvm uses symbol secret_map_phys from namespace module:iommufd, but does not import it."],
      },
      {
        desc: "explicit import of a module: namespace",
        mods: [{ name: "iommufd", license: "GPL", importNs: ["module:iommufd"], uses: [SECRET] }],
        errors: ['ERROR: modpost: iommufd: explicitly importing namespace "module:iommufd" is not allowed.'],
      },
      { desc: "undefined symbol", mods: [{ name: "m", license: "GPL", uses: ["nope"] }], errors: ['ERROR: modpost: "nope" [m.ko] undefined!'] },
      {
        desc: "GPL-only symbol in a proprietary module",
        mods: [{ name: "iommufd", license: "Proprietary", uses: [SECRET] }],
        errors: ["ERROR: modpost: GPL-incompatible module iommufd.ko uses GPL-only symbol 'secret_map_phys'"],
      },
      {
        desc: "core symbol without MODULE_IMPORT_NS(DMA_BUF)",
        mods: [{ name: "drv", license: "GPL", uses: ["dma_buf_export"] }],
        errors: ["ERROR: modpost: module drv uses symbol dma_buf_export from namespace DMA_BUF, but does not import it."],
      },
      { desc: "modpost does not mangle dashes", mods: [{ name: "iommu_fd", license: "GPL", uses: [SECRET] }], restrict: "iommu-fd", errors: ["ERROR: modpost: module iommu_fd uses symbol secret_map_phys from namespace module:iommu-fd, but does not import it."] },
    ])("$desc", ({ mods, errors, restrict }) => {
      const provider: KernelModule = { name: "map_pal", license: "GPL", exports: [exportSymbolForModules(SECRET, restrict ?? "iommufd")] };
      const r = modpost({ modules: [provider, ...mods], vmlinux: VMLINUX_EXPORTS });
      expect(r.errors).toEqual(errors);
    });

    it("-N makes namespace errors warnings", () => {
      const r = modpost({ modules: [{ name: "drv", license: "GPL", uses: ["dma_buf_export"] }], vmlinux: VMLINUX_EXPORTS, allowMissingNamespaceImports: true });
      expect(r.errors).toEqual([]);
      expect(r.warnings).toHaveLength(1);
    });

    it("reports a symbol exported twice", () => {
      const r = modpost({ modules: [{ name: "a", license: "GPL", exports: [exportSymbol("dma_buf_export")] }], vmlinux: VMLINUX_EXPORTS });
      expect(r.errors).toEqual(["ERROR: modpost: a: 'dma_buf_export' exported twice. Previous export was in vmlinux"]);
    });
  });
});
