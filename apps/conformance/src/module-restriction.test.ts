// Bypass suite for EXPORT_SYMBOL_FOR_MODULES(dma_buf_pal_map_phys, "iommufd") (kernel/module/main.c, drivers/dma-buf).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import {
  Kernel,
  KernelBug,
  KernelError,
  ModuleContext,
  ModuleLoader,
  defineModule,
  exportSymbolForModules,
  exportSymbolGpl,
  kernelSymbol,
  provideSymbol,
  type DmaBuf,
  type KernelModule,
  type LoadedModule,
} from "@dmabuf-sdk/dmabuf-core";
// After core, whose kernel module loads the reflect-metadata polyfill tsyringe needs.
import { container as rootContainer, type DependencyContainer } from "tsyringe";
import * as corePackage from "@dmabuf-sdk/dmabuf-core";
import { DMA_BUF_PAL_MAP_PHYS, DMA_BUF_PAL_UNMAP_PHYS, DMA_BUF_MAPPING_PAL_TYPE, dmaBufPalModule } from "@dmabuf-sdk/map-pal";
import * as palPackage from "@dmabuf-sdk/map-pal";
import { IoptPages, iommufdModule } from "@dmabuf-sdk/driver-iommufd";
import * as iommufdPackage from "@dmabuf-sdk/driver-iommufd";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const resolve = createRequire(import.meta.url).resolve;
const distOf = (pkg: string, file: string): string => join(dirname(resolve(pkg)), file);

/** The function itself, as the loader grants it to a module named iommufd in a kernel of its own. */
function theFunction(): unknown {
  const k0 = new Kernel();
  k0.modprobe(dmaBufPalModule);
  let fn: unknown;
  k0.loadModule({ name: "iommufd", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS], init: (ctx) => (fn = ctx.symbol(DMA_BUF_PAL_MAP_PHYS)) });
  expect(typeof fn).toBe("function");
  return fn;
}
const PAL_MAP_PHYS = theFunction();

/** Everything a hostile module gathered; the suite asserts the function is never among it. */
let loot: unknown[];
const grab = (v: unknown): void => void loot.push(v);

/** Every value reachable from `root` through own properties and accessors, a few levels deep. */
function reachable(root: unknown, depth = 5, seen = new Set<unknown>()): Set<unknown> {
  if (root === null || (typeof root !== "object" && typeof root !== "function") || seen.has(root) || depth < 0) return seen;
  seen.add(root);
  for (const key of Reflect.ownKeys(root as object)) {
    let v: unknown;
    try {
      v = (root as Record<PropertyKey, unknown>)[key];
    } catch {
      continue;
    }
    reachable(v, depth - 1, seen);
  }
  return seen;
}

/** A plain GPL copy of PAL's exports, under another module's name. */
const PAL_EXPORTS_PLAIN = [DMA_BUF_MAPPING_PAL_TYPE, DMA_BUF_PAL_UNMAP_PHYS, DMA_BUF_PAL_MAP_PHYS].map((s) => exportSymbolGpl(s));

function thief(extra: Partial<KernelModule> & { init?: KernelModule["init"] }): KernelModule {
  return { name: "thief", license: "GPL", importNs: ["DMA_BUF"], ...extra };
}

/** Runs `attempt`, returning what it threw (undefined if nothing). */
function outcome(attempt: () => unknown): unknown {
  try {
    attempt();
  } catch (e) {
    return e;
  }
  return undefined;
}

let insideInitSeq = 0;

/** Runs `fn` inside a module's init and returns what it threw there. */
function insideInit(k: Kernel, fn: (ctx: ModuleContext) => void, mod: Partial<KernelModule> = {}): unknown {
  let caught: unknown = "init did not run";
  // Copy accessors as accessors: the loader, not this helper, must be the one reading them.
  const desc = Object.defineProperties({ name: `m${(insideInitSeq += 1)}`, license: "GPL" }, Object.getOwnPropertyDescriptors(mod)) as KernelModule & { init?: unknown };
  Object.defineProperty(desc, "init", {
    value: (ctx: ModuleContext) => {
      caught = outcome(() => fn(ctx));
    },
  });
  k.loadModule(desc);
  return caught;
}

type Expect = { errno: string } | { bug: RegExp };

function expectRefused(e: unknown, want: Expect): void {
  if ("errno" in want) {
    expect(e).toBeInstanceOf(KernelError);
    expect((e as KernelError).errno).toBe(want.errno);
  } else {
    expect(e).toBeInstanceOf(KernelBug);
    expect(String(e)).toMatch(want.bug);
  }
}

let k: Kernel;
beforeEach(() => {
  loot = [];
  k = new Kernel();
});

/**
 * Attempts refused with the kernel's errno or a KernelBug. Each row loads
 * whatever it needs into `k` and returns the error it got; afterwards the
 * function is neither in the loot nor in PAL's hands of anyone but iommufd.
 */
const ATTEMPTS: { name: string; run: () => unknown; want: Expect }[] = [
  // ---- forged contexts ------------------------------------------------------
  {
    name: "forged context from the issue: new ModuleContext(kernel, {descriptor}, maps, callback)",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => {
        const Ctor = ModuleContext as unknown as new (...a: unknown[]) => ModuleContext;
        const ctx = new Ctor(k, { name: "x", descriptor: { exports: dmaBufPalModule.exports } }, new Map(), new Map(), (_n: string, v: unknown) => grab(v));
        dmaBufPalModule.init!(ctx);
      });
    },
    want: { bug: /only be created by the module loader/ },
  },
  {
    name: "forged context with a look-alike mint symbol",
    run: () => outcome(() => Reflect.construct(ModuleContext, [Symbol("module context mint"), { snapshot: dmaBufPalModule, defineExport: (_n: string, v: unknown) => grab(v) }])),
    want: { bug: /only be created by the module loader/ },
  },
  {
    name: "forged context with the registry symbol Symbol.for('module context mint')",
    run: () => outcome(() => Reflect.construct(ModuleContext, [Symbol.for("module context mint"), {}])),
    want: { bug: /only be created by the module loader/ },
  },
  {
    name: "a subclass of ModuleContext calling super()",
    run: () =>
      outcome(() => {
        class Evil extends (ModuleContext as unknown as new (...a: unknown[]) => object) {
          constructor() {
            super(undefined, { snapshot: dmaBufPalModule });
          }
        }
        dmaBufPalModule.init!(new Evil() as ModuleContext);
      }),
    want: { bug: /only be created by the module loader/ },
  },
  {
    name: "Object.create(ModuleContext.prototype) handed to PAL's init",
    run: () => outcome(() => dmaBufPalModule.init!(Object.create(ModuleContext.prototype) as ModuleContext)),
    want: { bug: /not a module context created by the loader/ },
  },
  {
    name: "a duck-typed object with symbol/provide/onExit handed to PAL's init",
    run: () =>
      outcome(() =>
        dmaBufPalModule.init!({ kernel: k, module: { name: "dma_buf_mapping_pal" }, symbol: grab, provide: grab, onExit: grab, container: rootContainer } as unknown as ModuleContext),
      ),
    want: { bug: /not a module context created by the loader/ },
  },
  {
    name: "provideSymbol() with a forged context",
    run: () => outcome(() => provideSymbol({} as ModuleContext, DMA_BUF_PAL_MAP_PHYS, grab as never)),
    want: { bug: /not a module context created by the loader/ },
  },
  {
    name: "a Proxy around a genuine context handed to PAL's init",
    run: () => {
      let e: unknown;
      outcome(() => k.loadModule(thief({ exports: PAL_EXPORTS_PLAIN, init: (ctx) => (e = outcome(() => dmaBufPalModule.init!(new Proxy(ctx, {})))) })));
      return e;
    },
    want: { bug: /not a module context created by the loader/ },
  },
  {
    name: "iommufd's init with a forged context (to make it take the function from the loader)",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => iommufdModule.init!({ kernel: k, symbol: grab, onExit: grab, provide: grab } as unknown as ModuleContext));
    },
    want: { bug: /not a module context created by the loader/ },
  },
  // ---- replayed contexts ----------------------------------------------------
  {
    name: "a context saved in init and replayed into PAL's init after load",
    run: () => {
      let saved: ModuleContext | undefined;
      k.loadModule(thief({ exports: PAL_EXPORTS_PLAIN.slice(0, 0), init: (ctx) => (saved = ctx) }));
      return outcome(() => dmaBufPalModule.init!(saved!));
    },
    want: { bug: /dma_buf_mapping_pal module_init called with the context of thief/ },
  },
  {
    name: "a context saved in init and replayed into provideSymbol after load",
    run: () => {
      let saved: ModuleContext | undefined;
      k.loadModule(defineModule({ name: "thief", license: "GPL", exports: [exportSymbolGpl("thief_fn")], init: (ctx) => ((saved = ctx), provideSymbol(ctx, "thief_fn", grab)) }));
      return outcome(() => provideSymbol(saved!, "thief_fn", grab));
    },
    want: { bug: /outside module_init of thief/ },
  },
  {
    name: "the context of an unloaded module replayed into iommufd's init",
    run: () => {
      let saved: ModuleContext | undefined;
      k.loadModule({ name: "gone", license: "GPL", init: (ctx) => (saved = ctx) });
      k.unloadModule("gone");
      k.modprobe(dmaBufPalModule);
      return outcome(() => iommufdModule.init!(saved!));
    },
    want: { bug: /iommufd module_init called with the context of gone/ },
  },
  {
    name: "a spread copy of PAL's descriptor loaded under PAL's name",
    run: () => outcome(() => k.loadModule({ ...dmaBufPalModule })),
    want: { bug: /dma_buf_mapping_pal declares an EXPORT_SYMBOL_FOR_MODULES export but was not built with defineModule/ },
  },
  {
    name: "a spread copy of iommufd's descriptor under iommufd's name",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule({ ...iommufdModule }));
    },
    want: { bug: /iommufd module_init called with the context of iommufd/ },
  },
  // ---- re-hosted inits ------------------------------------------------------
  {
    name: "re-hosting PAL's init from the issue: plain GPL copies of its exports, PAL not loaded",
    run: () => outcome(() => k.loadModule(thief({ exports: PAL_EXPORTS_PLAIN, init: (ctx) => dmaBufPalModule.init!(ctx) }))),
    want: { bug: /dma_buf_mapping_pal module_init called with the context of thief/ },
  },
  {
    name: "re-hosting PAL's init with Function.prototype.call and another this",
    run: () => outcome(() => k.loadModule(thief({ exports: PAL_EXPORTS_PLAIN, init: (ctx) => dmaBufPalModule.init!.call({ name: "dma_buf_mapping_pal" }, ctx) }))),
    want: { bug: /module_init called with the context of thief/ },
  },
  {
    name: "re-hosting PAL's init from a module that was itself built with defineModule",
    run: () => outcome(() => k.loadModule(defineModule(thief({ exports: PAL_EXPORTS_PLAIN, init: (ctx) => dmaBufPalModule.init!(ctx) })))),
    want: { bug: /module_init called with the context of thief/ },
  },
  {
    name: "re-hosting PAL's init with PAL already loaded",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule(thief({ exports: PAL_EXPORTS_PLAIN, init: (ctx) => dmaBufPalModule.init!(ctx) })));
    },
    want: { errno: "ENOEXEC" },
  },
  {
    name: "re-hosting iommufd's init (to be handed the function by the loader)",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule(thief({ uses: [DMA_BUF_PAL_UNMAP_PHYS], init: (ctx) => iommufdModule.init!(ctx) })));
    },
    want: { bug: /iommufd module_init called with the context of thief/ },
  },
  {
    name: "a restricted export declared by a descriptor not built with defineModule",
    run: () => outcome(() => k.loadModule(thief({ exports: [exportSymbolForModules("my_secret", "thief")], init: (ctx) => provideSymbol(ctx, "my_secret", grab) }))),
    want: { bug: /not built with defineModule/ },
  },
  {
    name: "modprobe of PAL from inside the init of a module re-declaring its export (nested load, duplicate at registration)",
    run: () =>
      outcome(() =>
        k.loadModule(
          thief({
            exports: [exportSymbolGpl(DMA_BUF_PAL_MAP_PHYS)],
            init: (ctx) => {
              ctx.kernel.modprobe(dmaBufPalModule);
              provideSymbol(ctx, DMA_BUF_PAL_MAP_PHYS, grab as never);
            },
          }),
        ),
      ),
    want: { errno: "ENOEXEC" },
  },
  // ---- getters and proxies --------------------------------------------------
  {
    name: "exports getter from the issue: [] at the duplicate check, the full list afterwards (PAL loaded)",
    run: () => {
      k.modprobe(dmaBufPalModule);
      let reads = 0;
      const desc = {
        name: "thief",
        license: "GPL",
        get exports() {
          return reads++ === 0 ? [] : PAL_EXPORTS_PLAIN;
        },
        init: (ctx: ModuleContext) => provideSymbol(ctx, DMA_BUF_PAL_MAP_PHYS, grab as never),
      };
      const e = outcome(() => k.loadModule(desc));
      expect(reads).toBe(1);
      expect(k.modules.lookup(DMA_BUF_PAL_MAP_PHYS.name)?.owner).toBe("dma_buf_mapping_pal");
      return e;
    },
    want: { bug: /thief does not export dma_buf_pal_map_phys/ },
  },
  {
    name: "exports getter: the full list first, [] afterwards (PAL loaded)",
    run: () => {
      k.modprobe(dmaBufPalModule);
      let reads = 0;
      return outcome(() =>
        k.loadModule({
          name: "thief",
          license: "GPL",
          get exports() {
            return reads++ === 0 ? PAL_EXPORTS_PLAIN : [];
          },
        }),
      );
    },
    want: { errno: "ENOEXEC" },
  },
  {
    name: "uses getter: [] at resolution, the restricted symbol afterwards",
    run: () => {
      k.modprobe(dmaBufPalModule);
      let reads = 0;
      return insideInit(k, (ctx) => grab(ctx.symbol(DMA_BUF_PAL_MAP_PHYS)), {
        get uses() {
          return reads++ === 0 ? [] : [DMA_BUF_PAL_MAP_PHYS];
        },
      } as Partial<KernelModule>);
    },
    want: { errno: "ENOENT" },
  },
  {
    name: "name getter: 'iommufd' for the namespace check, another name for the duplicate check (iommufd loaded)",
    run: () => {
      k.modprobe(iommufdModule);
      let reads = 0;
      return outcome(() =>
        k.loadModule({
          get name() {
            return reads++ === 0 ? "iommufd" : "thief";
          },
          license: "GPL",
          importNs: ["DMA_BUF"],
          uses: [DMA_BUF_PAL_MAP_PHYS],
        }),
      );
    },
    want: { errno: "EEXIST" },
  },
  {
    name: "importNs getter: DMA_BUF first, module:iommufd afterwards",
    run: () => {
      k.modprobe(dmaBufPalModule);
      let reads = 0;
      return outcome(() =>
        k.loadModule({
          name: "thief",
          license: "GPL",
          get importNs() {
            return reads++ === 0 ? ["DMA_BUF"] : ["DMA_BUF", "module:thief"];
          },
          uses: [DMA_BUF_PAL_MAP_PHYS],
        }),
      );
    },
    want: { errno: "EINVAL" },
  },
  {
    name: "a KernelSymbol in uses whose name getter changes between reads",
    run: () => {
      k.modprobe(dmaBufPalModule);
      let reads = 0;
      const sym = {
        get name() {
          return reads++ === 0 ? "dma_buf_pal_unmap_phys" : "dma_buf_pal_map_phys";
        },
        token: DMA_BUF_PAL_MAP_PHYS.token,
      };
      return insideInit(k, (ctx) => grab(ctx.symbol(DMA_BUF_PAL_MAP_PHYS)), { importNs: ["DMA_BUF"], uses: [sym] });
    },
    want: { errno: "ENOENT" },
  },
  {
    name: "ctx.symbol() with an object whose name getter says one thing then another",
    run: () => {
      k.modprobe(dmaBufPalModule);
      let reads = 0;
      const sym = {
        get name() {
          return reads++ === 0 ? "dma_buf_pal_map_phys" : "dma_buf_pal_unmap_phys";
        },
        token: DMA_BUF_PAL_MAP_PHYS.token,
      };
      return insideInit(k, (ctx) => grab(ctx.symbol(sym)), { importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_UNMAP_PHYS] });
    },
    want: { errno: "ENOENT" },
  },
  {
    name: "a Proxy descriptor whose get trap changes every answer",
    run: () => {
      k.modprobe(iommufdModule);
      const reads = new Map<PropertyKey, number>();
      const target = {
        name: "thief",
        license: "GPL",
        exports: [] as unknown[],
        uses: [] as unknown[],
        importNs: ["DMA_BUF"],
        init: (ctx: ModuleContext) => provideSymbol(ctx, DMA_BUF_PAL_MAP_PHYS, grab as never),
      };
      const desc = new Proxy(target, {
        get(t, p) {
          const n = (reads.get(p) ?? 0) + 1;
          reads.set(p, n);
          if (p === "exports") return n === 1 ? [] : PAL_EXPORTS_PLAIN;
          if (p === "uses") return n === 1 ? [] : [DMA_BUF_PAL_MAP_PHYS];
          return (t as Record<PropertyKey, unknown>)[p as string];
        },
      });
      const e = outcome(() => k.loadModule(desc as unknown as KernelModule));
      expect(Math.max(...reads.values())).toBe(1);
      return e;
    },
    want: { bug: /thief does not export dma_buf_pal_map_phys/ },
  },
  // ---- prototype patching ---------------------------------------------------
  {
    name: "wrapping ModuleContext.prototype.symbol before iommufd loads",
    run: () => outcome(() => ((ModuleContext.prototype as unknown as Record<string, unknown>).symbol = grab)),
    want: { bug: /ModuleContext.prototype.symbol is sealed/ },
  },
  {
    name: "wrapping ModuleContext.prototype.provide",
    run: () => outcome(() => ((ModuleContext.prototype as unknown as Record<string, unknown>).provide = grab)),
    want: { bug: /ModuleContext.prototype.provide is sealed/ },
  },
  {
    name: "replacing the ModuleContext.prototype.container getter",
    run: () => outcome(() => ((ModuleContext.prototype as unknown as Record<string, unknown>).container = rootContainer)),
    want: { bug: /ModuleContext.prototype.container is sealed/ },
  },
  {
    name: "shadowing symbol() on a genuine context instance",
    run: () => insideInit(k, (ctx) => ((ctx as unknown as Record<string, unknown>).symbol = grab)),
    want: { bug: /ModuleContext.prototype.symbol is sealed/ },
  },
  {
    name: "wrapping ModuleLoader.prototype.load",
    run: () => outcome(() => ((ModuleLoader.prototype as unknown as Record<string, unknown>).load = grab)),
    want: { bug: /ModuleLoader.prototype.load is sealed/ },
  },
  {
    name: "replacing load() on the kernel's loader instance",
    run: () => outcome(() => ((k.modules as unknown as Record<string, unknown>).load = grab)),
    want: { bug: /ModuleLoader.prototype.load is sealed/ },
  },
  {
    name: "replacing the descriptor of a loaded module's view",
    run: () => {
      k.modprobe(iommufdModule);
      return outcome(() => ((k.modules.find("iommufd") as unknown as Record<string, unknown>).descriptor = { name: "iommufd" }));
    },
    want: { bug: /LoadedModule.prototype.descriptor is sealed/ },
  },
  // ---- loader internals -----------------------------------------------------
  {
    name: "a second ModuleLoader for the same kernel",
    run: () => outcome(() => new ModuleLoader(k)),
    want: { bug: /already has its module loader/ },
  },
  {
    name: "tryModuleGet() with a forged module record",
    run: () => outcome(() => k.modules.tryModuleGet({ name: "iommufd", state: "live", refcount: 0 } as unknown as LoadedModule)),
    want: { bug: /not a module handed out by the loader/ },
  },
  {
    name: "registerBuiltin() of a restricted export naming the caller",
    run: () => outcome(() => k.modules.registerBuiltin(exportSymbolForModules(DMA_BUF_PAL_MAP_PHYS, "thief"), grab)),
    want: { bug: /restricted exports belong to modules/ },
  },
  {
    name: "registerBuiltin() of the function's name, PAL loaded",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.modules.registerBuiltin(exportSymbolGpl(DMA_BUF_PAL_MAP_PHYS), grab));
    },
    want: { bug: /duplicate built-in symbol dma_buf_pal_map_phys/ },
  },
  // ---- -/_ look-alikes and other names ----------------------------------------
  ...["iommu-fd", "iommu_fd", "IOMMUFD", "iommufd2", "iommufdx", "xiommufd", "iommu"].map((name) => ({
    name: `a module named ${name} using the function`,
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule(thief({ name, uses: [DMA_BUF_PAL_MAP_PHYS] })));
    },
    want: { errno: "EINVAL" } as Expect,
  })),
  ...["iommufd ", "iommufd\u200b", "iommufd\0", "io.mmufd", "iommufd/"].map((name) => ({
    name: `a module named ${JSON.stringify(name)} (not a module name)`,
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule(thief({ name, uses: [DMA_BUF_PAL_MAP_PHYS] })));
    },
    want: { errno: "EINVAL" } as Expect,
  })),
  {
    name: "dma-buf-mapping-pal (the - look-alike of PAL's name) re-declaring its exports, PAL loaded",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule(thief({ name: "dma-buf-mapping-pal", exports: PAL_EXPORTS_PLAIN })));
    },
    want: { errno: "EEXIST" },
  },
  {
    name: "MODULE_IMPORT_NS(module:iommufd)",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule(thief({ importNs: ["DMA_BUF", "module:iommufd"], uses: [DMA_BUF_PAL_MAP_PHYS] })));
    },
    want: { errno: "EPERM" },
  },
  {
    name: "MODULE_IMPORT_NS(module:*)",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule(thief({ importNs: ["module:*"], uses: [DMA_BUF_PAL_MAP_PHYS] })));
    },
    want: { errno: "EPERM" },
  },
  {
    name: "a proprietary module named iommufd (GPL-only symbol)",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule(thief({ name: "iommufd", license: "Proprietary", uses: [DMA_BUF_PAL_MAP_PHYS] })));
    },
    want: { errno: "ENOENT" },
  },
  // ---- duplicate names ------------------------------------------------------
  {
    name: "a second module named iommufd while iommufd is loaded",
    run: () => {
      k.modprobe(iommufdModule);
      return outcome(() => k.loadModule(thief({ name: "iommufd", uses: [DMA_BUF_PAL_MAP_PHYS], init: (ctx) => grab(ctx.symbol(DMA_BUF_PAL_MAP_PHYS)) })));
    },
    want: { errno: "EEXIST" },
  },
  {
    name: "a module re-declaring only dma_buf_pal_map_phys, PAL loaded",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return outcome(() => k.loadModule(thief({ exports: [exportSymbolGpl(DMA_BUF_PAL_MAP_PHYS)], init: (ctx) => provideSymbol(ctx, DMA_BUF_PAL_MAP_PHYS, grab as never) })));
    },
    want: { errno: "ENOEXEC" },
  },
  {
    name: "a module declaring the same export twice",
    run: () => outcome(() => k.loadModule(thief({ exports: [exportSymbolGpl("x_fn"), exportSymbolGpl("x_fn")] }))),
    want: { errno: "ENOEXEC" },
  },
  {
    name: "providing the same symbol twice in init",
    run: () => outcome(() => k.loadModule(thief({ exports: [exportSymbolGpl("x_fn")], init: (ctx) => (provideSymbol(ctx, "x_fn", 1), provideSymbol(ctx, "x_fn", 2)) }))),
    want: { bug: /provides x_fn twice/ },
  },
  // ---- references leaked through callbacks and contexts -----------------------
  {
    name: "ctx.symbol() of the function without listing it in uses",
    run: () => {
      k.modprobe(dmaBufPalModule);
      return insideInit(k, (ctx) => grab(ctx.symbol(DMA_BUF_PAL_MAP_PHYS)), { importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_UNMAP_PHYS] });
    },
    want: { errno: "ENOENT" },
  },
  {
    name: "modprobe of PAL from init, then ctx.symbol() (not linked at load)",
    run: () => insideInit(k, (ctx) => (ctx.kernel.modprobe(dmaBufPalModule), grab(ctx.symbol(DMA_BUF_PAL_MAP_PHYS)))),
    want: { errno: "ENOENT" },
  },
  {
    name: "provideSymbol() from an onExit hook",
    run: () => {
      let e: unknown;
      k.loadModule(defineModule({ name: "thief", license: "GPL", exports: [exportSymbolGpl("x_fn")], init: (ctx) => (provideSymbol(ctx, "x_fn", 1), ctx.onExit(() => (e = outcome(() => provideSymbol(ctx, "x_fn", 2))))) }));
      k.unloadModule("thief");
      return e;
    },
    want: { bug: /outside module_init of thief/ },
  },
  // ---- exported helper classes ----------------------------------------------
  {
    name: "new IoptPages(k, anyDmabuf, 0n, 1, true) from the issue",
    run: () => {
      k.modprobe(iommufdModule);
      const Ctor = IoptPages as unknown as new (...a: unknown[]) => unknown;
      return outcome(() => new Ctor(k, {} as DmaBuf, 0n, 1, true));
    },
    want: { bug: /built by IOMMU_IOAS_MAP_FILE only/ },
  },
  {
    name: "new IoptPages with a look-alike key",
    run: () => {
      k.modprobe(iommufdModule);
      return outcome(() => Reflect.construct(IoptPages, [Symbol("iopt_pages"), k, {} as DmaBuf, 0n, 1, true]));
    },
    want: { bug: /built by IOMMU_IOAS_MAP_FILE only/ },
  },
  {
    name: "a subclass of IoptPages",
    run: () =>
      outcome(() => {
        class Evil extends (IoptPages as unknown as new (...a: unknown[]) => object) {}
        return new Evil(undefined, k, {} as DmaBuf, 0n, 1, true);
      }),
    want: { bug: /built by IOMMU_IOAS_MAP_FILE only/ },
  },
];

describe("EXPORT_SYMBOL_FOR_MODULES cannot be bypassed: refused with the kernel's errno or a KernelBug", () => {
  it("has at least 40 such attempts", () => {
    expect(ATTEMPTS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(ATTEMPTS)("$name", ({ run, want }) => {
    const e = run();
    expectRefused(e, want);
    expect(loot).not.toContain(PAL_MAP_PHYS);
    expect(reachable(loot).has(PAL_MAP_PHYS)).toBe(false);
    const owner = k.modules.lookup(DMA_BUF_PAL_MAP_PHYS.name);
    if (owner) expect(owner.owner).toBe("dma_buf_mapping_pal");
  });
});

/** Every JavaScript file a package ships: its bundles and their chunks (`files` leaves tsc's per-file dist/.tsc out). */
function shippedFiles(pkg: string): string[] {
  const dist = dirname(resolve(pkg));
  return readdirSync(dist, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".js") && !f.startsWith(".tsc"))
    .map((f) => join(dist, f));
}

const ONE_SHOT_CLAIMS = [
  { pkg: "@dmabuf-sdk/dmabuf-core", file: "kernel/module.js", claim: "claimModuleContextMinter", msg: /minter is already claimed/ },
  // The accessor of every kernel's per-package state (iommufd keeps dma_buf_pal_map_phys there).
  { pkg: "@dmabuf-sdk/dmabuf-core", file: "kernel/kernel-local.js", claim: "installKernelLocals", msg: /per-kernel state accessor is already installed/ },
  { pkg: "@dmabuf-sdk/driver-iommufd", file: "pages.js", claim: "claimIoptPagesAlloc", msg: /iopt_alloc_dmabuf_pages is already claimed/ },
  { pkg: "@dmabuf-sdk/driver-iommufd", file: "pages.js", claim: "claimPalMapPhysSlot", msg: /dma_buf_pal_map_phys slot is already claimed/ },
];

/** Per-realm one-shot capabilities: a deep import by path past the exports map, in this process. */
describe("deep imports by file path in the same process", () => {
  it.each(ONE_SHOT_CLAIMS)("every file $pkg ships, imported by path: $claim is out of reach or already claimed", async ({ pkg, claim, msg }) => {
    const files = shippedFiles(pkg);
    // The shipped code does define it: the loop below has something to miss.
    expect(files.some((f) => new RegExp(`\\b${claim}\\b`).test(readFileSync(f, "utf8")))).toBe(true);
    for (const f of files) {
      // A bin runs its command when imported; it exports nothing to reach.
      if (/[\\/]bin[\\/]/.test(f)) {
        expect(readFileSync(f, "utf8")).not.toMatch(/^export (?!\{\};$)/m);
        continue;
      }
      const mod = (await import(pathToFileURL(f).href)) as Record<string, unknown>;
      for (const v of Object.values(mod)) {
        if (typeof v !== "function" || !v.name.startsWith(claim)) continue;
        expect(() => (v as () => unknown)()).toThrow(KernelBug);
        expect(() => (v as () => unknown)()).toThrow(msg);
      }
    }
  });

  it.each(ONE_SHOT_CLAIMS)("tsc's per-file build (dist/.tsc, not shipped): $file's $claim is claimed once its entry is loaded", async ({ pkg, file, claim, msg }) => {
    await import(pathToFileURL(distOf(pkg, ".tsc/index.js")).href);
    const mod = (await import(pathToFileURL(distOf(pkg, `.tsc/${file}`)).href)) as Record<string, () => unknown>;
    // That build's own KernelBug class, not the bundle's.
    expect(() => mod[claim]!()).toThrow(expect.objectContaining({ name: "KernelBug", message: expect.stringMatching(msg) }));
  });

  it("the map-pal module file of the per-file build holds only the descriptor, its importer list and the build of a patched tree; no shipped file reaches the function", async () => {
    const mod = (await import(pathToFileURL(distOf("@dmabuf-sdk/map-pal", ".tsc/module.js")).href)) as Record<string, unknown>;
    expect(Object.keys(mod).sort()).toEqual(["DMA_BUF_PAL_IMPORTERS", "dmaBufPalModule", "dmaBufPalModuleBuild"]);
    expect(reachable(mod).has(PAL_MAP_PHYS)).toBe(false);
    for (const f of shippedFiles("@dmabuf-sdk/map-pal")) {
      const m = (await import(pathToFileURL(f).href)) as Record<string, unknown>;
      expect(reachable(m).has(PAL_MAP_PHYS), f).toBe(false);
    }
  });

  it("claiming the minter before the core is loaded makes the core itself fail to load (fail closed)", () => {
    const moduleFile = pathToFileURL(distOf("@dmabuf-sdk/dmabuf-core", ".tsc/kernel/module.js")).href;
    const entry = pathToFileURL(distOf("@dmabuf-sdk/dmabuf-core", ".tsc/index.js")).href;
    const script = `const m = await import(${JSON.stringify(moduleFile)}); m.claimModuleContextMinter(); await import(${JSON.stringify(entry)});`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: APP_DIR, encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/KernelBug: module: the module context minter is already claimed by the loader/);
  });

  it("claiming the iopt_pages factory before iommufd is loaded makes iommufd fail to load", () => {
    const pagesFile = pathToFileURL(distOf("@dmabuf-sdk/driver-iommufd", ".tsc/pages.js")).href;
    const entry = pathToFileURL(distOf("@dmabuf-sdk/driver-iommufd", ".tsc/index.js")).href;
    const script = `const m = await import(${JSON.stringify(pagesFile)}); m.claimIoptPagesAlloc(); await import(${JSON.stringify(entry)});`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: APP_DIR, encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/iopt_alloc_dmabuf_pages is already claimed/);
  });
});

/** Refusals that are JavaScript's own, not the model's: the value simply is not there, or the object is frozen. */
describe("refused by the language or the package manager", () => {
  it.each([
    "@dmabuf-sdk/dmabuf-core/dist/kernel/module.js",
    "@dmabuf-sdk/dmabuf-core/dist/kernel/module-loader.js",
    "@dmabuf-sdk/driver-iommufd/dist/pages.js",
    "@dmabuf-sdk/map-pal/dist/module.js",
    "@dmabuf-sdk/map-pal/src/module.ts",
    "@dmabuf-sdk/dmabuf-core/dist/.tsc/kernel/module.js",
    "@dmabuf-sdk/driver-iommufd/dist/.tsc/pages.js",
    "@dmabuf-sdk/map-pal/dist/.tsc/module.js",
  ])("a deep import of %s is refused by the exports map", (spec) => {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(spec)})`], { cwd: APP_DIR, encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it("no DI container resolves the function: the root, the kernel's, a foreign module's, PAL's own", () => {
    k.modprobe(iommufdModule);
    let foreign: DependencyContainer | undefined;
    k.loadModule({ name: "kvm", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_UNMAP_PHYS], init: (ctx) => (foreign = ctx.container) });
    for (const c of [rootContainer, k.container, foreign!, k.container.createChildContainer()]) {
      expect(() => c.resolve(DMA_BUF_PAL_MAP_PHYS.token)).toThrow(/unregistered dependency token/);
      expect(c.isRegistered(DMA_BUF_PAL_MAP_PHYS.token, true)).toBe(false);
    }
    expect(k.providers(DMA_BUF_PAL_MAP_PHYS.token)).toEqual([]);
  });

  it("a loaded module's view carries no container, context or symbol values", () => {
    k.modprobe(iommufdModule);
    for (const m of k.modules.modules()) {
      expect("container" in m).toBe(false);
      expect("ctx" in m).toBe(false);
      expect(reachable(m).has(PAL_MAP_PHYS)).toBe(false);
    }
  });

  it("frozen objects refuse new properties and redefinitions (TypeError)", () => {
    expect(() => Object.defineProperty(ModuleContext.prototype, "symbol", { value: grab })).toThrow(TypeError);
    expect(() => Object.defineProperty(ModuleContext.prototype, "_define", { value: grab })).toThrow(TypeError);
    expect(() => Object.setPrototypeOf(ModuleContext.prototype, { symbol: grab })).toThrow(TypeError);
    expect(() => ((dmaBufPalModule as { init?: unknown }).init = grab)).toThrow(TypeError);
    expect(() => ((dmaBufPalModule.exports as unknown[]).length = 0)).toThrow(TypeError);
    expect(() => ((IoptPages.prototype as unknown as Record<string, unknown>).fillDomain = grab)).toThrow(TypeError);
    expect(() => ((corePackage as Record<string, unknown>).provideSymbol = grab)).toThrow(TypeError);
  });

  it("nothing reachable from the core, map-pal or iommufd entry points is the function", () => {
    k.modprobe(iommufdModule);
    for (const pkg of [corePackage, palPackage, iommufdPackage]) expect(reachable(pkg).has(PAL_MAP_PHYS)).toBe(false);
    expect(kernelSymbol(DMA_BUF_PAL_MAP_PHYS.name).token).toBe(DMA_BUF_PAL_MAP_PHYS.token);
  });
});
