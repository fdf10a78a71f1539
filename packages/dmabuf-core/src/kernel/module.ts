// struct module and module_init()'s view of it (include/linux/module.h, kernel/module/main.c).
import type { DependencyContainer, InjectionToken } from "tsyringe";
import { KernelBug, KernelError } from "./kernel-error.js";
import { MODULE_NS_PREFIX } from "./module-namespace.js";
import type { KernelSymbol, SymbolExport } from "./symbol.js";
import type { Kernel } from "./kernel.js";

/**
 * A module descriptor: what `modinfo` and `__ksymtab` say about a `.ko`, plus
 * its `module_init`/`module_exit`. Each package exports exactly one, built
 * with {@link defineModule}. Loading it (`kernel.loadModule()`) is `insmod`:
 * the loader reads the descriptor once, checks the license, namespaces and
 * restricted exports exactly as `kernel/module/main.c` does, and only then
 * runs `init`.
 * @public
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

/** `enum module_state`. @public */
export type ModuleState = "unformed" | "coming" | "live" | "going";

/** Where a symbol came from: a loaded module, or the built-in kernel. @public */
export interface SymbolOwner {
  readonly name: string;
}

/**
 * A loaded module (`struct module`) as anyone may see it (`lsmod`,
 * `/sys/module`): no symbol values and no container; those are reachable
 * only through the module's own {@link ModuleContext}.
 * @public
 */
export interface LoadedModule extends SymbolOwner {
  /** The frozen snapshot of the descriptor the loader read once at load. */
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
  readonly kernel: Kernel;
}

/** What the loader keeps behind one context; never reachable from outside this file and the loader. */
interface ContextState {
  readonly kernel: Kernel;
  readonly module: LoadedModule;
  /** The loaded snapshot this context was minted for. */
  readonly snapshot: KernelModule;
  readonly container: DependencyContainer;
  readonly symbols: ReadonlyMap<string, unknown>;
  readonly provided: Map<InjectionToken<unknown>, unknown[]>;
  readonly exitHooks: (() => void)[];
  readonly defineExport: (name: string, value: unknown) => void;
  phase: "init" | "live" | "exit";
}

/** Module-private: the one key that makes the ModuleContext constructor yield a context. */
const MINT = Symbol("module context mint");
// A context's state is a private field: only objects the constructor built (with the key) have
// one. Not a module-level WeakMap: every load adds a context, and V8 11's scavenger keeps a
// WeakMap's young values alive until the next full GC.
let readState: (ctx: object) => ContextState | undefined;

function stateOf(ctx: unknown, what: string): ContextState {
  const s = typeof ctx === "object" && ctx !== null ? readState(ctx) : undefined;
  if (!s) throw new KernelBug("module", `${what}: not a module context created by the loader`);
  return s;
}

/**
 * What `init`/`exit` receive: a capability minted by the module loader only,
 * bound to the frozen snapshot of the loaded descriptor. The constructor
 * refuses every caller but the loader; every field is private; the class and
 * its prototype are frozen; a context that did not come from the loader, or
 * that was minted for another module, is refused by every function taking one.
 * @public
 */
export class ModuleContext {
  readonly #state: ContextState;

  static {
    readState = (ctx) => (#state in ctx ? (ctx as ModuleContext).#state : undefined);
  }

  /** @internal Refuses every caller: only the loader holds the key. */
  constructor(key: unknown, state: unknown) {
    if (key !== MINT) throw new KernelBug("module", "a ModuleContext can only be created by the module loader");
    this.#state = state as ContextState;
  }

  /** The kernel the module is loaded into. */
  get kernel(): Kernel {
    return stateOf(this, "ctx.kernel").kernel;
  }

  /** The loaded module this context belongs to. */
  get module(): LoadedModule {
    return stateOf(this, "ctx.module").module;
  }

  /** The module's own container: the symbols it linked are registered under their tokens. */
  get container(): DependencyContainer {
    return stateOf(this, "ctx.container").container;
  }

  /**
   * A symbol this module declared in `uses` and the loader resolved.
   * @throws KernelError `ENOENT` when the symbol was not linked into this module.
   */
  symbol<T>(sym: KernelSymbol<T> | string): T {
    const s = stateOf(this, "ctx.symbol");
    const name = typeof sym === "string" ? sym : sym?.name;
    if (typeof name !== "string" || !s.symbols.has(name)) throw new KernelError("ENOENT", "symbol", `${s.snapshot.name} did not link ${String(name)}`);
    return s.symbols.get(name) as T;
  }

  /**
   * Registers `value` under `token` for the kernel to find with
   * `kernel.providers(token)` (hooks such as leak sources). Withdrawn at unload.
   */
  provide<T>(token: InjectionToken<T>, value: T): void {
    const s = stateOf(this, "ctx.provide");
    if (s.phase === "exit") throw new KernelBug("module", `${s.snapshot.name}: provide() during module_exit`);
    let list = s.provided.get(token as InjectionToken<unknown>);
    if (!list) s.provided.set(token as InjectionToken<unknown>, (list = []));
    list.push(value);
  }

  /** Runs `fn` at unload, before `exit` (LIFO). */
  onExit(fn: () => void): void {
    const s = stateOf(this, "ctx.onExit");
    if (typeof fn !== "function") throw new KernelBug("module", `${s.snapshot.name}: onExit() without a function`);
    s.exitHooks.push(fn);
  }
}
sealClass(ModuleContext, "ModuleContext");

/**
 * Freezes a class and its prototype so that no method can be wrapped or
 * replaced: each method becomes a non-configurable accessor whose setter
 * raises a {@link KernelBug}; redefining one is refused by the frozen object.
 */
export function sealClass(cls: abstract new (...args: never[]) => unknown, what: string): void {
  const proto = cls.prototype as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(proto)) {
    if (key === "constructor") continue;
    const d = Object.getOwnPropertyDescriptor(proto, key)!;
    if (!("value" in d)) {
      Object.defineProperty(proto, key, { get: d.get, set: d.set ?? refuse(what, key), enumerable: false, configurable: false });
      continue;
    }
    const fn = d.value as unknown;
    Object.defineProperty(proto, key, { get: () => fn, set: refuse(what, key), enumerable: false, configurable: false });
  }
  Object.freeze(proto);
  Object.freeze(cls);
}

function refuse(what: string, key: string): (v: unknown) => never {
  return () => {
    throw new KernelBug("module", `${what}.prototype.${key} is sealed`);
  };
}

/** The loader's side of a context: minting and phase changes. Claimed once by the loader. */
export interface ModuleContextMinter {
  mint(init: Omit<ContextState, "phase" | "exitHooks">): ModuleContext;
  setLive(ctx: ModuleContext): void;
  runExitHooks(ctx: ModuleContext): void;
  /** The snapshot a context was minted for. */
  snapshotOf(ctx: ModuleContext): KernelModule;
}

let minterClaimed = false;

/**
 * @internal Hands the minter to the module loader, once per realm: a second
 * claim (a deep import of this file by anyone else) raises a {@link KernelBug}
 * and, if it came first, makes the loader itself fail to load — fail closed.
 */
export function claimModuleContextMinter(): ModuleContextMinter {
  if (minterClaimed) throw new KernelBug("module", "the module context minter is already claimed by the loader");
  minterClaimed = true;
  return Object.freeze({
    mint: (init) => new ModuleContext(MINT, { ...init, phase: "init", exitHooks: [] }),
    setLive: (ctx) => void (stateOf(ctx, "setLive").phase = "live"),
    runExitHooks: (ctx) => {
      const s = stateOf(ctx, "module_exit");
      s.phase = "exit";
      while (s.exitHooks.length) s.exitHooks.pop()!();
    },
    snapshotOf: (ctx) => stateOf(ctx, "snapshot").snapshot,
  } satisfies ModuleContextMinter);
}

/** Descriptors built by {@link defineModule}: the frozen object is its own snapshot. */
const DEFINED = new WeakSet<object>();

/** @internal True for a descriptor built by {@link defineModule}. */
export function isDefinedModule(desc: unknown): boolean {
  return typeof desc === "object" && desc !== null && DEFINED.has(desc);
}

/**
 * Reads a descriptor once into a deep-frozen plain object: every later look
 * (the duplicate check, the symbol table, `provideSymbol`) sees the same
 * name, exports and uses, whatever getters or proxies the original has.
 * @throws KernelError `EINVAL` for a descriptor that is not an object or
 * whose fields have the wrong types.
 */
export function snapshotModule(desc: KernelModule): KernelModule {
  if (isDefinedModule(desc)) return desc;
  if (typeof desc !== "object" || desc === null) throw new KernelError("EINVAL", "init_module", "not a module descriptor");
  const list = <T>(v: unknown, field: string): readonly T[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw new KernelError("EINVAL", "init_module", `${field} is not a list`);
    return Object.freeze([...(v as T[])]);
  };
  const name = desc.name;
  const license = desc.license;
  const description = desc.description;
  if (typeof name !== "string" || typeof license !== "string") throw new KernelError("EINVAL", "init_module", "name and license must be strings");
  const importNs = list<string>(desc.importNs, "importNs");
  const uses = list<string | KernelSymbol<unknown>>(desc.uses, "uses");
  const exportsRaw = list<SymbolExport>(desc.exports, "exports");
  const exports = exportsRaw && Object.freeze(exportsRaw.map((e) => snapshotExport(e)));
  const requires = list<KernelModule>(desc.requires, "requires");
  const init = desc.init;
  const exit = desc.exit;
  if ((init !== undefined && typeof init !== "function") || (exit !== undefined && typeof exit !== "function")) {
    throw new KernelError("EINVAL", "init_module", "init and exit must be functions");
  }
  if (importNs?.some((n) => typeof n !== "string")) throw new KernelError("EINVAL", "init_module", "importNs entries must be strings");
  const usesNames = uses?.map((u) => (typeof u === "string" ? u : (u as { name?: unknown })?.name));
  if (usesNames?.some((n) => typeof n !== "string")) throw new KernelError("EINVAL", "init_module", "uses entries must be symbol names");
  return Object.freeze({
    name,
    license,
    ...(typeof description === "string" ? { description } : {}),
    ...(importNs ? { importNs } : {}),
    ...(uses ? { uses: Object.freeze(usesNames as string[]) } : {}),
    ...(exports ? { exports } : {}),
    ...(requires ? { requires } : {}),
    ...(init ? { init: (ctx: ModuleContext) => init.call(desc, ctx) } : {}),
    ...(exit ? { exit: (ctx: ModuleContext) => exit.call(desc, ctx) } : {}),
  });
}

function snapshotExport(e: SymbolExport): SymbolExport {
  if (typeof e !== "object" || e === null) throw new KernelError("EINVAL", "init_module", "export is not a declaration");
  const { name, license, namespace } = e;
  if (typeof name !== "string" || (license !== "" && license !== "GPL") || typeof namespace !== "string") {
    throw new KernelError("EINVAL", "init_module", `bad export declaration ${String(name)}`);
  }
  return Object.freeze({ name, license, namespace });
}

/** True when `decl` is an `EXPORT_SYMBOL_FOR_MODULES()` export. */
export function isRestrictedExport(decl: SymbolExport): boolean {
  return decl.namespace.startsWith(MODULE_NS_PREFIX);
}

/**
 * Builds a package's module descriptor: reads `desc` once into a deep-frozen
 * snapshot and binds its `init` and `exit` to it, so that they run only with
 * a context the loader minted for this very descriptor. Replaying the `init`
 * from another module's `init` (re-hosting it to capture what it provides),
 * or with a forged context, raises a {@link KernelBug}. A descriptor that
 * declares an `EXPORT_SYMBOL_FOR_MODULES()` export must be built this way.
 * @public
 */
export function defineModule(desc: KernelModule): KernelModule {
  const snap = snapshotModule(desc);
  const bind = (fn: ((ctx: ModuleContext) => void) | undefined, hook: string) =>
    fn &&
    ((ctx: ModuleContext): void => {
      const s = stateOf(ctx, `${snap.name} ${hook}`);
      if (s.snapshot !== defined) throw new KernelBug("module", `${snap.name} ${hook} called with the context of ${s.snapshot.name}`);
      fn(ctx);
    });
  const { init, exit, ...rest } = snap;
  const defined: KernelModule = Object.freeze({
    ...rest,
    ...(init ? { init: bind(init, "module_init") } : {}),
    ...(exit ? { exit: bind(exit, "module_exit") } : {}),
  });
  DEFINED.add(defined);
  return defined;
}

/**
 * Gives the implementation of a symbol the module declared in `exports`.
 * Call from `init` with the loader's context; the value then reaches exactly
 * the modules the export's license and namespace allow.
 * @throws KernelBug for a context the loader did not mint, outside `init`, or
 * for a symbol the loaded snapshot does not declare.
 * @public
 */
export function provideSymbol<T>(ctx: ModuleContext, sym: KernelSymbol<T> | string, value: T): void {
  const name = typeof sym === "string" ? sym : sym?.name;
  const s = stateOf(ctx, "provideSymbol");
  if (s.phase !== "init") throw new KernelBug("module", `provideSymbol(${String(name)}) outside module_init of ${s.snapshot.name}`);
  if (typeof name !== "string" || !(s.snapshot.exports ?? []).some((e) => e.name === name)) {
    throw new KernelBug("module", `${s.snapshot.name} does not export ${String(name)}`);
  }
  s.defineExport(name, value);
}
