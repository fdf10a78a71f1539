// The module loader and symbol table (kernel/module/main.c).
import type { DependencyContainer, InjectionToken } from "tsyringe";
import { errnoNumber, type Errno } from "./errno.js";
import { KernelBug, KernelError, isKernelError } from "./kernel-error.js";
import {
  claimModuleContextMinter,
  isDefinedModule,
  isRestrictedExport,
  sealClass,
  snapshotModule,
  type KernelModule,
  type LoadedModule,
  type ModuleContext,
  type ModuleState,
} from "./module.js";
import { MODULE_NS_PREFIX, licenseIsGplCompatible, verifyModuleNamespace } from "./module-namespace.js";
import { kernelSymbol, type SymbolExport } from "./symbol.js";
import type { Kernel } from "./kernel.js";

/** Options of `ModuleLoader.load`. @public */
export interface LoadOptions {
  /**
   * Link the module into the kernel image (`=y`) instead of loading it:
   * built-in code is resolved at link time, so namespace and
   * `EXPORT_SYMBOL_FOR_MODULES` restrictions do not apply.
   */
  builtin?: boolean;
}

interface SymbolEntry {
  readonly decl: SymbolExport;
  readonly owner: ModuleRecord | null; // null: vmlinux
  value: unknown;
}

/** Name as kbuild mangles it (`KBUILD_MODNAME`): dashes become underscores. */
export function moduleMangledName(name: string): string {
  return name.replace(/-/g, "_");
}

/** The loader's side of contexts; claimed once, when this file is first evaluated. */
const CTX = claimModuleContextMinter();

/** The loader's record of a module: private to this file, never handed out. */
class ModuleRecord {
  state: ModuleState = "unformed";
  proprietary = false;
  refcount = 0;
  readonly usedByRecords = new Set<ModuleRecord>();
  readonly uses = new Set<ModuleRecord>();
  readonly provided = new Map<InjectionToken<unknown>, unknown[]>();
  ctx: ModuleContext | null = null;
  readonly view: LoadedModule;
  constructor(
    /** The snapshot read once at load. */
    readonly descriptor: KernelModule,
    readonly kernel: Kernel,
    readonly container: DependencyContainer,
    readonly builtin: boolean,
  ) {
    this.view = new LoadedModuleView(this);
  }
  get name(): string {
    return this.descriptor.name;
  }
}

// The record behind a view is a private field (not a module-level WeakMap, whose young values
// V8 11's scavenger keeps alive until the next full GC).
let readRecord: (m: object) => ModuleRecord | undefined;

/** What `find()`/`modules()` hand out: read-only, no container, no context. */
class LoadedModuleView implements LoadedModule {
  readonly #rec: ModuleRecord;

  static {
    readRecord = (m) => (#rec in m ? (m as LoadedModuleView).#rec : undefined);
  }

  constructor(rec: ModuleRecord) {
    this.#rec = rec;
  }
  get name(): string {
    return recordOf(this).descriptor.name;
  }
  get descriptor(): KernelModule {
    return recordOf(this).descriptor;
  }
  get state(): ModuleState {
    return recordOf(this).state;
  }
  get builtin(): boolean {
    return recordOf(this).builtin;
  }
  get proprietary(): boolean {
    return recordOf(this).proprietary;
  }
  get refcount(): number {
    return recordOf(this).refcount;
  }
  get usedBy(): readonly string[] {
    return [...recordOf(this).usedByRecords].map((m) => m.name);
  }
  get kernel(): Kernel {
    return recordOf(this).kernel;
  }
  toString(): string {
    return `module ${this.name}`;
  }
}
sealClass(LoadedModuleView, "LoadedModule");

function recordOf(m: unknown): ModuleRecord {
  const r = typeof m === "object" && m !== null ? readRecord(m) : undefined;
  if (!r) throw new KernelBug("module", "not a module handed out by the loader");
  return r;
}

/** Kernels that already have their loader: one symbol table per kernel. */
const LOADERS = new WeakSet<object>();

/**
 * The module loader and symbol table (`kernel/module/main.c`). Built-in
 * symbols of the core are registered at boot; modules add theirs when their
 * `init` succeeds and withdraw them at unload.
 * @public
 */
export class ModuleLoader {
  readonly #kernel: Kernel;
  readonly #symbols = new Map<string, SymbolEntry>();
  readonly #modules: ModuleRecord[] = [];
  #taintedProprietary = false;
  /** The built-in kernel image as a module (owner of built-in exporters, never unloaded). */
  readonly vmlinux: LoadedModule;

  /** @throws KernelBug for a second loader of the same kernel. */
  constructor(kernel: Kernel) {
    if (LOADERS.has(kernel)) throw new KernelBug("module", "the kernel already has its module loader");
    LOADERS.add(kernel);
    this.#kernel = kernel;
    const v = new ModuleRecord(Object.freeze({ name: "vmlinux", license: "GPL" }), kernel, kernel.container, true);
    v.state = "live";
    this.vmlinux = v.view;
  }

  /** Registers a built-in (vmlinux) export. Called by the kernel at boot. */
  registerBuiltin(decl: SymbolExport, value: unknown): void {
    if (this.#symbols.has(decl.name)) throw new KernelBug("module", `duplicate built-in symbol ${decl.name}`);
    if (isRestrictedExport(decl)) throw new KernelBug("module", `built-in ${decl.name}: restricted exports belong to modules`);
    this.#symbols.set(decl.name, { decl, owner: null, value });
  }

  /** Loaded modules, in load order (`lsmod` lists them newest first). */
  modules(): readonly LoadedModule[] {
    return this.#modules.filter((m) => m.state === "live" || m.state === "coming").map((m) => m.view);
  }

  /** The loaded module called `name` (`-`/`_` equivalent), if any. */
  find(name: string): LoadedModule | undefined {
    const m = moduleMangledName(name);
    return this.#modules.find((r) => moduleMangledName(r.name) === m && r.state !== "unformed")?.view;
  }

  /** The export declaration of a symbol and its owner (`'vmlinux'` for built-in). */
  lookup(name: string): { decl: SymbolExport; owner: string } | undefined {
    const e = this.#symbols.get(name);
    return e && { decl: e.decl, owner: e.owner?.name ?? "vmlinux" };
  }

  /** Every value registered under `token` by live modules, in load order. */
  providers<T>(token: InjectionToken<T>): T[] {
    const out: T[] = [];
    for (const m of this.#modules) {
      if (m.state !== "live" && m.state !== "coming") continue;
      const list = m.provided.get(token as InjectionToken<unknown>);
      if (list) out.push(...(list as T[]));
    }
    return out;
  }

  /**
   * `init_module()`: loads `desc`. Fails with the errno `insmod` would print,
   * after logging the kernel's messages:
   * - `EEXIST` when a module of that name is loaded;
   * - `EPERM` for `MODULE_IMPORT_NS("module:…")`;
   * - `ENOENT` for a symbol that is not exported (or GPL-only to a non-GPL module);
   * - `EINVAL` for a namespace the module did not import, including a
   *   `module:` namespace whose pattern does not name it;
   * - `ENOEXEC` for a duplicate export; whatever `init` throws.
   * When several symbols fail, the last one's errno is returned, as
   * `simplify_symbols()` does.
   */
  load(descriptor: KernelModule, opts: LoadOptions = {}): LoadedModule {
    const k = this.#kernel;
    // Read once: every check below and the context see this frozen snapshot.
    const desc = snapshotModule(descriptor);
    const name = desc.name;
    if (!name || !/^[A-Za-z0-9_-]+$/.test(name)) throw new KernelError("EINVAL", "init_module", `bad module name "${name}"`);
    if (this.find(name)) throw new KernelError("EEXIST", "init_module", `${name} is already loaded`);
    if ((desc.exports ?? []).some(isRestrictedExport) && !isDefinedModule(desc)) {
      throw new KernelBug("module", `${name} declares an EXPORT_SYMBOL_FOR_MODULES export but was not built with defineModule()`);
    }

    const rec = new ModuleRecord(desc, k, k.container.createChildContainer(), opts.builtin ?? false);
    this.#modules.push(rec);
    const fail = (errno: Errno, detail: string, cause?: unknown): never => {
      this.#unlinkRefs(rec);
      rec.state = "unformed";
      this.#modules.splice(this.#modules.indexOf(rec), 1);
      k.trace.emit("module_load_failed", { name, errno });
      throw new KernelError(errno, "init_module", detail, { cause });
    };

    // set_license()
    if (!licenseIsGplCompatible(desc.license)) {
      rec.proprietary = true;
      if (!this.#taintedProprietary) {
        k.printk.warn(`${name}: module license '${desc.license || "unspecified"}' taints kernel.`);
        k.printk.warn("Disabling lock debugging due to kernel taint");
        this.#taintedProprietary = true;
      }
    }

    // setup_modinfo(): 'module:' namespaces are implicit, explicit imports are refused.
    for (const ns of desc.importNs ?? []) {
      if (ns.startsWith(MODULE_NS_PREFIX)) {
        k.printk.err(`${name}: module tries to import module namespace: ${ns}`);
        fail("EPERM", `${name} imports ${ns}`);
      }
    }

    // simplify_symbols(): resolve every undefined symbol; the last failure wins.
    const linked = new Map<string, unknown>();
    let ret: Errno | undefined;
    let usingGplOnly = false;
    for (const use of desc.uses ?? []) {
      const symName = typeof use === "string" ? use : use.name;
      const r = this.#resolve(rec, symName, () => usingGplOnly, (v) => (usingGplOnly = v));
      if (r.ok) {
        linked.set(symName, r.value);
        continue;
      }
      ret = r.errno;
      k.printk.warn(`${name}: Unknown symbol ${symName} (err -${errnoNumber(r.errno)})`);
    }
    if (ret) fail(ret, `unresolved symbols in ${name}`);

    // complete_formation(): verify_exported_symbols().
    this.#checkDuplicates(rec, fail);

    for (const [symName, value] of linked) rec.container.register(kernelSymbol(symName).token, { useValue: value });
    const defined = new Map<string, unknown>();
    const ctx = CTX.mint({
      kernel: k,
      module: rec.view,
      snapshot: desc,
      container: rec.container,
      symbols: linked,
      provided: rec.provided,
      defineExport: (n, v) => {
        if (defined.has(n)) throw new KernelBug("module", `${name} provides ${n} twice`);
        defined.set(n, v);
      },
    });
    rec.ctx = ctx;
    rec.state = "coming";
    k.trace.emit("module_load", { name, taints: rec.proprietary ? "P" : "" });

    const unwindInit = (): void => {
      try {
        CTX.runExitHooks(ctx);
      } finally {
        rec.provided.clear();
      }
    };
    try {
      desc.init?.(ctx);
    } catch (e) {
      unwindInit();
      if (isKernelError(e)) fail(e.errno, `${name} init failed: ${e.message}`, e);
      this.#unlinkRefs(rec);
      this.#modules.splice(this.#modules.indexOf(rec), 1);
      rec.state = "unformed";
      throw e;
    }
    // Another module of the same export may have gone live while init ran (a nested load).
    this.#checkDuplicates(rec, (errno, detail) => {
      unwindInit();
      return fail(errno, detail);
    });
    const missing = (desc.exports ?? []).find((e) => !defined.has(e.name));
    if (missing) {
      unwindInit();
      this.#unlinkRefs(rec);
      this.#modules.splice(this.#modules.indexOf(rec), 1);
      rec.state = "unformed";
      throw new KernelBug("module", `${name} declares export ${missing.name} but its init did not provide it`);
    }
    for (const e of desc.exports ?? []) this.#symbols.set(e.name, { decl: e, owner: rec, value: defined.get(e.name) });
    CTX.setLive(ctx);
    rec.state = "live";
    return rec.view;
  }

  /** `verify_exported_symbols()`: a name declared by a loaded module or the kernel cannot be declared again. */
  #checkDuplicates(rec: ModuleRecord, fail: (errno: Errno, detail: string) => never): void {
    const seen = new Set<string>();
    for (const e of rec.descriptor.exports ?? []) {
      const dup = this.#symbols.get(e.name);
      if (dup || seen.has(e.name)) {
        this.#kernel.printk.err(`${rec.name}: exports duplicate symbol ${e.name} (owned by ${dup ? (dup.owner?.name ?? "kernel") : rec.name})`);
        fail("ENOEXEC", `${rec.name} exports duplicate symbol ${e.name}`);
      }
      seen.add(e.name);
    }
  }

  /** `resolve_symbol()`. */
  #resolve(
    rec: ModuleRecord,
    symName: string,
    usingGplOnly: () => boolean,
    setGplOnly: (v: boolean) => void,
  ): { ok: true; value: unknown } | { ok: false; errno: Errno } {
    const k = this.#kernel;
    const entry = this.#symbols.get(symName);
    // find_symbol() with gplok = !proprietary
    if (!entry || entry.owner?.state === "going" || entry.owner?.state === "unformed") return { ok: false, errno: "ENOENT" };
    if (entry.decl.license === "GPL" && rec.proprietary) return { ok: false, errno: "ENOENT" };
    if (entry.decl.license === "GPL") setGplOnly(true);

    // inherit_taint()
    if (entry.owner?.proprietary) {
      if (usingGplOnly()) {
        k.printk.err(`${rec.name}: module using GPL-only symbols uses symbols ${symName} from proprietary module ${entry.owner.name}.`);
        return { ok: false, errno: "ENOENT" };
      }
      if (!rec.proprietary) {
        k.printk.warn(`${rec.name}: module uses symbols ${symName} from proprietary module ${entry.owner.name}, inheriting taint.`);
        rec.proprietary = true;
      }
    }

    // verify_namespace_is_imported(); built-in code is linked, not checked.
    const ns = entry.decl.namespace;
    if (ns && !rec.builtin) {
      const ok = verifyModuleNamespace(ns, rec.name) || (rec.descriptor.importNs ?? []).includes(ns);
      if (!ok) {
        const msg = `${rec.name}: module uses symbol (${symName}) from namespace ${ns}, but does not import it.`;
        if (k.options.allowMissingNamespaceImports) k.printk.warn(msg);
        else {
          k.printk.err(msg);
          return { ok: false, errno: "EINVAL" };
        }
      }
    }

    // ref_module()
    if (entry.owner && entry.owner !== rec) {
      entry.owner.usedByRecords.add(rec);
      rec.uses.add(entry.owner);
    }
    return { ok: true, value: entry.value };
  }

  #unlinkRefs(rec: ModuleRecord): void {
    for (const m of rec.uses) m.usedByRecords.delete(rec);
    rec.uses.clear();
  }

  /**
   * `delete_module()`: `ENOENT` if not loaded, `EAGAIN` (EWOULDBLOCK) while
   * another module uses it or a reference is held (`try_module_get`).
   */
  unload(name: string): void {
    const rec = this.#modules.find((r) => moduleMangledName(r.name) === moduleMangledName(name) && r.state === "live");
    if (!rec || !rec.ctx) throw new KernelError("ENOENT", "delete_module", `${name} is not loaded`);
    const ctx = rec.ctx;
    if (rec.usedByRecords.size) throw new KernelError("EAGAIN", "delete_module", `${name} is in use by: ${rec.view.usedBy.join(" ")}`);
    if (rec.refcount) throw new KernelError("EAGAIN", "delete_module", `${name} has refcount ${rec.refcount}`);
    rec.state = "going";
    try {
      CTX.runExitHooks(ctx);
      rec.descriptor.exit?.(ctx);
    } finally {
      for (const [n, e] of this.#symbols) if (e.owner === rec) this.#symbols.delete(n);
      this.#unlinkRefs(rec);
      rec.provided.clear();
      this.#modules.splice(this.#modules.indexOf(rec), 1);
      rec.state = "unformed";
      this.#kernel.trace.emit("module_free", { name });
    }
  }

  /**
   * `symbol_get(name)` (`__symbol_get()`): the value of a symbol exported by
   * a live module or vmlinux, taking a reference on its owner (drop it with
   * {@link ModuleLoader.symbolPut}), or `undefined` when it is not exported.
   * Only GPL-only exports can be obtained this way (commit 9011e49d54dc), and,
   * in the model, a `module:` namespace must name `by` (so the lookup is no
   * way around `EXPORT_SYMBOL_FOR_MODULES`).
   */
  symbolGet(name: string, by: LoadedModule): unknown {
    const e = this.#symbols.get(name);
    if (!e || e.owner?.state === "going" || e.owner?.state === "unformed") return undefined;
    if (e.decl.license !== "GPL") return undefined;
    const ns = e.decl.namespace;
    if (ns?.startsWith(MODULE_NS_PREFIX) && !verifyModuleNamespace(ns, by.name)) return undefined;
    if (!this.tryModuleGet(e.owner?.view ?? null)) return undefined;
    return e.value;
  }

  /** `symbol_put(name)`: drops the reference `symbolGet` took on the owner. */
  symbolPut(name: string): void {
    const e = this.#symbols.get(name);
    if (!e) throw new KernelBug("module", `symbol_put(${name}): not exported`);
    this.modulePut(e.owner?.view ?? null);
  }

  /** `try_module_get()`: false once the module is going away. */
  tryModuleGet(mod: LoadedModule | null): boolean {
    if (mod === null || mod === this.vmlinux) return true; // built-in owner
    const rec = recordOf(mod);
    if (rec.state !== "live" && rec.state !== "coming") return false;
    rec.refcount++;
    return true;
  }

  /** `module_put()`. */
  modulePut(mod: LoadedModule | null): void {
    if (mod === null || mod === this.vmlinux) return;
    const rec = recordOf(mod);
    if (rec.refcount === 0) throw new KernelBug("module", `module_put(${rec.name}) below zero`);
    rec.refcount--;
  }
}
sealClass(ModuleLoader, "ModuleLoader");
