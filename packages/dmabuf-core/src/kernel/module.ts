import type { DependencyContainer, InjectionToken } from "tsyringe";
import { KernelBug, KernelError } from "./kernel-error.js";
import type { KernelSymbol, SymbolExport } from "./symbol.js";
import type { Kernel } from "./kernel.js";

/**
 * A module descriptor: what `modinfo` and `__ksymtab` say about a `.ko`, plus
 * its `module_init`/`module_exit`. Each package exports exactly one. Loading
 * it (`kernel.loadModule()`) is `insmod`: the loader checks the license,
 * namespaces and restricted exports exactly as `kernel/module/main.c` does,
 * and only then runs `init`.
 */
export interface KernelModule {
  /** Module name (`KBUILD_MODNAME`), e.g. `'iommufd'`, `'vfio-pci'`. */
  readonly name: string;
  /** `MODULE_LICENSE()`. Non-GPL-compatible licenses taint and cannot use GPL-only symbols. */
  readonly license: string;
  /** `MODULE_DESCRIPTION()`. */
  readonly description?: string;
  /** `MODULE_IMPORT_NS()` entries. */
  readonly importNs?: readonly string[];
  /** Undefined symbols the module links against; each is resolved at load. */
  readonly uses?: readonly (string | KernelSymbol<unknown>)[];
  /** What the module exports (`EXPORT_SYMBOL*()`); implementations are given in `init` with {@link provideSymbol}. */
  readonly exports?: readonly SymbolExport[];
  /** Modules `modprobe` loads first (the symbols' owners). */
  readonly requires?: readonly KernelModule[];
  /**
   * `module_init()`. Called with the resv-free, lock-free context of insmod.
   * Throw a `KernelError` to fail the load with that errno.
   */
  init?(ctx: ModuleContext): void;
  /** `module_exit()`: undo `init`. */
  exit?(ctx: ModuleContext): void;
}

/** `enum module_state`. */
export type ModuleState = "unformed" | "coming" | "live" | "going";

/** Where a symbol came from: a loaded module, or the built-in kernel. */
export interface SymbolOwner {
  readonly name: string;
}

/** A loaded module (`struct module`). */
export interface LoadedModule extends SymbolOwner {
  readonly descriptor: KernelModule;
  readonly state: ModuleState;
  /** Loaded as built-in code (`=y`): its symbol uses are linked, not checked. */
  readonly builtin: boolean;
  /** `TAINT_PROPRIETARY_MODULE`. */
  readonly proprietary: boolean;
  /** `module_refcount()`: references taken with `try_module_get()`. */
  readonly refcount: number;
  /** Names of modules that use this one's symbols (`source_list`). */
  readonly usedBy: readonly string[];
  /** The module's own child container: granted symbols and what it provides. */
  readonly container: DependencyContainer;
  readonly kernel: Kernel;
}

const GENUINE = new WeakSet<ModuleContext>();

/**
 * What `init`/`exit` receive. Created only by the module loader; a context
 * that did not come from the loader is refused by every core function that
 * takes one, so a descriptor's `init` cannot be replayed to capture symbols.
 */
export class ModuleContext {
  readonly kernel: Kernel;
  readonly module: LoadedModule;
  readonly #symbols: ReadonlyMap<string, unknown>;
  readonly #provided: Map<InjectionToken<unknown>, unknown[]>;
  readonly #exitHooks: (() => void)[] = [];
  readonly #defineExport: (name: string, value: unknown) => void;
  #phase: "init" | "live" | "exit" = "init";

  /** @internal Called by the module loader only. */
  constructor(
    kernel: Kernel,
    module: LoadedModule,
    symbols: ReadonlyMap<string, unknown>,
    provided: Map<InjectionToken<unknown>, unknown[]>,
    defineExport: (name: string, value: unknown) => void,
  ) {
    this.kernel = kernel;
    this.module = module;
    this.#symbols = symbols;
    this.#provided = provided;
    this.#defineExport = defineExport;
    GENUINE.add(this);
  }

  /** The module's own container (granted symbols are registered under their tokens). */
  get container(): DependencyContainer {
    return this.module.container;
  }

  /**
   * A symbol this module declared in `uses` and the loader resolved.
   * @throws KernelError `ENOENT` when the symbol was not linked into this module.
   */
  symbol<T>(sym: KernelSymbol<T> | string): T {
    const name = typeof sym === "string" ? sym : sym.name;
    if (!this.#symbols.has(name)) throw new KernelError("ENOENT", "symbol", `${this.module.name} did not link ${name}`);
    return this.#symbols.get(name) as T;
  }

  /**
   * Registers `value` under `token` for the kernel to find with
   * `kernel.providers(token)` (hooks such as leak sources). Withdrawn at unload.
   */
  provide<T>(token: InjectionToken<T>, value: T): void {
    let list = this.#provided.get(token as InjectionToken<unknown>);
    if (!list) this.#provided.set(token as InjectionToken<unknown>, (list = []));
    list.push(value);
  }

  /** Runs `fn` at unload, before `exit` (LIFO). */
  onExit(fn: () => void): void {
    this.#exitHooks.push(fn);
  }

  /** @internal */
  static _runExitHooks(ctx: ModuleContext): void {
    ctx.#phase = "exit";
    while (ctx.#exitHooks.length) ctx.#exitHooks.pop()!();
  }

  /** @internal */
  static _setLive(ctx: ModuleContext): void {
    ctx.#phase = "live";
  }

  /** @internal */
  static _define(ctx: unknown, name: string, value: unknown): void {
    if (!(ctx instanceof ModuleContext) || !GENUINE.has(ctx)) {
      throw new KernelBug("module", `provideSymbol(${name}): not a module context created by the loader`);
    }
    if (ctx.#phase !== "init") throw new KernelBug("module", `provideSymbol(${name}) outside module_init of ${ctx.module.name}`);
    if (!(ctx.module.descriptor.exports ?? []).some((e) => e.name === name)) {
      throw new KernelBug("module", `${ctx.module.name} does not export ${name}`);
    }
    ctx.#defineExport(name, value);
  }
}

/**
 * Gives the implementation of a symbol the module declared in `exports`.
 * Call from `init` with the loader's context; the value then reaches exactly
 * the modules the export's license and namespace allow.
 */
export function provideSymbol<T>(ctx: ModuleContext, sym: KernelSymbol<T> | string, value: T): void {
  ModuleContext._define(ctx, typeof sym === "string" ? sym : sym.name, value);
}
