// Tests: dma_buf_pal_map_phys is reachable only by iommufd, through the loader, and no other way.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import {
  Kernel,
  KernelBug,
  KernelError,
  VMLINUX_EXPORTS,
  modpost,
  type KernelModule,
  type KernelSymbol,
  type ModuleContext,
} from "@dmabuf-sdk/dmabuf-core";
// After core, whose kernel module loads the reflect-metadata polyfill tsyringe needs.
import { container as rootContainer, type DependencyContainer } from "tsyringe";
import * as palPackage from "@dmabuf-sdk/map-pal";
import {
  DMA_BUF_MAPPING_PAL_TYPE,
  DMA_BUF_PAL_MAP_PHYS,
  DMA_BUF_PAL_UNMAP_PHYS,
  dmaBufMappingPalType,
  dmaBufPalModule,
  dmaBufPalModuleBuild,
  dmaBufPalUnmapPhys,
  type DmaBufPalMapPhys,
} from "@dmabuf-sdk/map-pal";

const PKG_DIR = fileURLToPath(new URL("..", import.meta.url));

function loadErr(k: Kernel, m: KernelModule): KernelError {
  try {
    k.loadModule(m);
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error(`${m.name} loaded`);
}

/** The real function, as the loader hands it to the granted module. */
function granted(k: Kernel, seen?: { container?: DependencyContainer }): DmaBufPalMapPhys {
  let fn: DmaBufPalMapPhys | undefined;
  k.loadModule({
    name: "iommufd",
    license: "GPL",
    importNs: ["DMA_BUF"],
    uses: [DMA_BUF_PAL_MAP_PHYS],
    init: (ctx) => {
      fn = ctx.symbol(DMA_BUF_PAL_MAP_PHYS);
      if (seen) seen.container = ctx.container;
    },
  });
  expect(typeof fn).toBe("function");
  return fn!;
}

/** Every value reachable from `root` through own properties, a few levels deep. */
function reachable(root: unknown, depth = 4, seen = new Set<unknown>()): Set<unknown> {
  if (root === null || (typeof root !== "object" && typeof root !== "function") || seen.has(root) || depth < 0) return seen;
  seen.add(root);
  for (const key of Reflect.ownKeys(root as object)) {
    const d = Object.getOwnPropertyDescriptor(root, key);
    if (d && "value" in d) reachable(d.value, depth - 1, seen);
  }
  return seen;
}

describe("dma_buf_pal_map_phys is EXPORT_SYMBOL_FOR_MODULES(…, \"iommufd\")", () => {
  let k: Kernel;
  beforeEach(() => {
    k = new Kernel();
    k.loadModule(dmaBufPalModule);
  });

  it("the module's __ksymtab: the type and unmap_phys in DMA_BUF, map_phys in module:iommufd, all GPL", () => {
    expect([DMA_BUF_MAPPING_PAL_TYPE, DMA_BUF_PAL_UNMAP_PHYS, DMA_BUF_PAL_MAP_PHYS].map((s) => k.modules.lookup(s.name))).toEqual([
      { decl: { name: "dma_buf_mapping_pal_type", license: "GPL", namespace: "DMA_BUF" }, owner: "dma_buf_mapping_pal" },
      { decl: { name: "dma_buf_pal_unmap_phys", license: "GPL", namespace: "DMA_BUF" }, owner: "dma_buf_mapping_pal" },
      { decl: { name: "dma_buf_pal_map_phys", license: "GPL", namespace: "module:iommufd" }, owner: "dma_buf_mapping_pal" },
    ]);
  });

  it.each([
    { desc: "iommufd", mod: { name: "iommufd" }, errno: undefined },
    { desc: "iommufd without MODULE_IMPORT_NS(DMA_BUF) (the module: match is enough)", mod: { name: "iommufd", importNs: [] }, errno: undefined },
    { desc: "kvm, importing DMA_BUF", mod: { name: "kvm" }, errno: "EINVAL" },
    { desc: "vfio_pci", mod: { name: "vfio_pci" }, errno: "EINVAL" },
    { desc: "a name with iommufd as a prefix", mod: { name: "iommufd_test" }, errno: "EINVAL" },
    { desc: "a name that only differs by a dash", mod: { name: "iommu-fd" }, errno: "EINVAL" },
    { desc: "iommufd importing DMA_BUF and module:iommufd", mod: { name: "iommufd", importNs: ["DMA_BUF", "module:iommufd"] }, errno: "EPERM" },
    { desc: "a proprietary iommufd (GPL-only export)", mod: { name: "iommufd", license: "Proprietary" }, errno: "ENOENT" },
  ])("a module using it: $desc → $errno", ({ mod, errno }) => {
    const m: KernelModule = { license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS], ...mod };
    if (!errno) {
      expect(k.loadModule(m).state).toBe("live");
      expect(k.modules.find("dma_buf_mapping_pal")!.usedBy).toEqual([m.name]);
      return;
    }
    expect(loadErr(k, m).errno).toBe(errno);
    expect(k.modules.find(m.name)).toBeUndefined();
  });

  it("refuses any other module with EINVAL and the kernel's two messages", () => {
    expect(loadErr(k, { name: "kvm", license: "GPL", importNs: ["DMA_BUF"], uses: ["dma_buf_pal_map_phys"] }).errno).toBe("EINVAL");
    expect(k.printk.contains("kvm: module uses symbol (dma_buf_pal_map_phys) from namespace module:iommufd, but does not import it.")).toBe(true);
    expect(k.printk.contains("kvm: Unknown symbol dma_buf_pal_map_phys (err -22)")).toBe(true);
  });

  it.each([
    { desc: "dma_buf_pal_unmap_phys", sym: DMA_BUF_PAL_UNMAP_PHYS, value: dmaBufPalUnmapPhys },
    { desc: "dma_buf_mapping_pal_type", sym: DMA_BUF_MAPPING_PAL_TYPE, value: dmaBufMappingPalType },
  ])("$desc is an ordinary DMA_BUF export: any importer of DMA_BUF gets it, others fail with EINVAL", ({ sym, value }) => {
    let got: unknown;
    k.loadModule({ name: "kvm", license: "GPL", importNs: ["DMA_BUF"], uses: [sym], init: (ctx) => (got = ctx.symbol(sym as KernelSymbol<unknown>)) });
    expect(got).toBe(value);
    expect(loadErr(k, { name: "noimport", license: "GPL", uses: [sym] }).errno).toBe("EINVAL");
    expect(k.printk.contains(`noimport: module uses symbol (${sym.name}) from namespace DMA_BUF, but does not import it.`)).toBe(true);
  });

  it("a module that does not list it gets ENOENT from ctx.symbol", () => {
    let err: unknown;
    k.loadModule({
      name: "iommufd",
      license: "GPL",
      importNs: ["DMA_BUF"],
      uses: [DMA_BUF_PAL_UNMAP_PHYS],
      init: (ctx) => {
        try {
          ctx.symbol(DMA_BUF_PAL_MAP_PHYS);
        } catch (e) {
          err = e;
        }
      },
    });
    expect(err).toMatchObject({ errno: "ENOENT" });
  });

  describe("it cannot be reached any other way", () => {
    it("the granted module gets one function, through ctx.symbol and through its own context's container", () => {
      const seen: { container?: DependencyContainer } = {};
      const fn = granted(k, seen);
      expect(seen.container!.resolve(DMA_BUF_PAL_MAP_PHYS.token)).toBe(fn);
      expect("container" in k.modules.find("iommufd")!).toBe(false);
    });

    it("no value reachable from the package's entry point is the function", () => {
      const fn = granted(k);
      expect(reachable(palPackage).has(fn)).toBe(false);
      expect(Object.keys(palPackage).filter((n) => /map_?phys/i.test(n) && !/unmap/i.test(n))).toEqual(["DMA_BUF_PAL_MAP_PHYS"]);
      expect(Object.keys(DMA_BUF_PAL_MAP_PHYS).sort()).toEqual(["name", "token"]);
    });

    it("tsc's per-file module.js, imported by path past the exports map, exports only the descriptor", async () => {
      const fn = granted(k);
      const file = (await import(pathToFileURL(`${PKG_DIR}dist/.tsc/module.js`).href)) as Record<string, unknown>;
      // The descriptor, the factory of differently restricted builds and the kernel's list: none is the function.
      expect(Object.keys(file).sort()).toEqual(["DMA_BUF_PAL_IMPORTERS", "dmaBufPalModule", "dmaBufPalModuleBuild"]);
      expect(reachable(file).has(fn)).toBe(false);
    });

    it("no shipped bundle file (entries and shared chunks), imported by path past the exports map, reaches the function", async () => {
      const fn = granted(k);
      const dist = `${PKG_DIR}dist`;
      const files = readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js") && !f.startsWith(".tsc"));
      expect(files).toContain("index.js");
      expect(files.length).toBeGreaterThan(1);
      for (const f of files) {
        const file = (await import(pathToFileURL(join(dist, f)).href)) as Record<string, unknown>;
        expect(reachable(file).has(fn), f).toBe(false);
      }
    });

    it.each(["@dmabuf-sdk/map-pal/dist/module.js", "@dmabuf-sdk/map-pal/src/module.ts", "@dmabuf-sdk/map-pal/dist/dma-buf-mapping-pal.js"])(
      "a deep import of %s is refused by the exports map",
      (spec) => {
        const r = spawnSync(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(spec)})`], { cwd: PKG_DIR, encoding: "utf8" });
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
      },
    );

    it("no container resolves it: another module's, the kernel's, tsyringe's root", () => {
      granted(k);
      let other: DependencyContainer | undefined;
      k.loadModule({ name: "kvm", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_UNMAP_PHYS], init: (ctx) => (other = ctx.container) });
      for (const c of [other!, k.container, rootContainer]) {
        expect(() => c.resolve(DMA_BUF_PAL_MAP_PHYS.token)).toThrow(/unregistered dependency token/);
      }
    });

    it("a build for another list hands the function only to the modules it names, and its init cannot be replayed either", () => {
      const k2 = new Kernel();
      const build = dmaBufPalModuleBuild("iommufd,kvm");
      k2.loadModule(build);
      expect(k2.modules.lookup(DMA_BUF_PAL_MAP_PHYS.name)!.decl.namespace).toBe("module:iommufd,kvm");
      expect(loadErr(k2, { name: "vfio_pci", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS] }).errno).toBe("EINVAL");
      let fn: unknown;
      k2.loadModule({ name: "kvm", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS], init: (ctx) => (fn = ctx.symbol(DMA_BUF_PAL_MAP_PHYS)) });
      expect(typeof fn).toBe("function");
      expect(reachable(build).has(fn)).toBe(false);
      expect(() => build.init!({ kernel: k2 } as unknown as ModuleContext)).toThrow(KernelBug);
    });

    it("a patched build cannot be loaded next to the real PAL module, in either order (EEXIST: same module name, add_unformed_module; the first keeps the symbol)", () => {
      for (const [first, second, ns] of [
        [dmaBufPalModule, dmaBufPalModuleBuild("iommufd,kvm"), "module:iommufd"],
        [dmaBufPalModuleBuild("iommufd,kvm"), dmaBufPalModule, "module:iommufd,kvm"],
      ] as const) {
        const k3 = new Kernel();
        k3.loadModule(first);
        expect(loadErr(k3, second).errno).toBe("EEXIST");
        expect(k3.modules.lookup(DMA_BUF_PAL_MAP_PHYS.name)!.decl.namespace).toBe(ns);
        expect(k3.leakReport().empty).toBe(true);
      }
    });

    it("replaying the module's init with a forged or foreign context does not hand it out", () => {
      const forged = { kernel: k, symbol: () => undefined, provide: () => undefined } as unknown as ModuleContext;
      expect(() => dmaBufPalModule.init!(forged)).toThrow(KernelBug);
      let caught: unknown;
      k.loadModule({
        name: "thief",
        license: "GPL",
        init: (ctx) => {
          try {
            dmaBufPalModule.init!(ctx);
          } catch (e) {
            caught = e;
          }
        },
      });
      expect(caught).toBeInstanceOf(KernelBug);
      expect(String(caught)).toMatch(/dma_buf_mapping_pal module_init called with the context of thief/);
    });

    it("a second kernel's iommufd does not see the first kernel's module", () => {
      const k2 = new Kernel();
      expect(loadErr(k2, { name: "iommufd", license: "GPL", uses: [DMA_BUF_PAL_MAP_PHYS] }).errno).toBe("ENOENT");
    });
  });

  it.each([
    { desc: "iommufd", mod: { name: "iommufd", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS] }, errors: [] },
    {
      desc: "kvm",
      mod: { name: "kvm", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS] },
      errors: ["ERROR: modpost: module kvm uses symbol dma_buf_pal_map_phys from namespace module:iommufd, but does not import it."],
    },
    {
      desc: "iommufd importing module:iommufd",
      mod: { name: "iommufd", license: "GPL", importNs: ["module:iommufd"], uses: [DMA_BUF_PAL_MAP_PHYS] },
      errors: ['ERROR: modpost: iommufd: explicitly importing namespace "module:iommufd" is not allowed.'],
    },
  ])("modpost reports the same at build time: $desc", ({ mod, errors }) => {
    expect(modpost({ modules: [dmaBufPalModule, mod], vmlinux: VMLINUX_EXPORTS }).errors).toEqual(errors);
  });
});
