// EXPORT_SYMBOL*() (include/linux/export.h): kernel symbols with their namespace, license and typed DI token.
import type { InjectionToken } from "tsyringe";

/**
 * A kernel symbol with a typed DI token. The package that defines a function
 * owns its symbol; the value is reachable only through the module loader
 * (`ctx.symbol()` or the module's own container), never through a package
 * entry point.
 * @public
 */
export interface KernelSymbol<T> {
  /** The kernel name, e.g. `'dma_buf_pal_map_phys'`. */
  readonly name: string;
  /** Token under which a granted module's container holds the value. */
  readonly token: InjectionToken<T>;
}

// One frozen descriptor per name: the module loader asks for one per linked symbol of every load.
const SYMBOLS = new Map<string, KernelSymbol<unknown>>();

/** Declares a kernel symbol and its token (`Symbol.for('@dmabuf-sdk/symbol/<name>')`). @public */
export function kernelSymbol<T>(name: string): KernelSymbol<T> {
  let sym = SYMBOLS.get(name);
  if (!sym) SYMBOLS.set(name, (sym = Object.freeze({ name, token: Symbol.for(`@dmabuf-sdk/symbol/${name}`) })));
  return sym as KernelSymbol<T>;
}

/** Export license of a symbol: `EXPORT_SYMBOL` (`''`) or `EXPORT_SYMBOL_GPL` (`'GPL'`). @public */
export type ExportLicense = "" | "GPL";

/** A `__ksymtab` entry: what a module declares it exports. @public */
export interface SymbolExport {
  readonly name: string;
  readonly license: ExportLicense;
  /** Symbol namespace; `''` for none, `'module:a,b-*'` for EXPORT_SYMBOL_FOR_MODULES. */
  readonly namespace: string;
}

/** A symbol named by its kernel name or its {@link KernelSymbol}. @public */
export type SymbolRef = string | KernelSymbol<unknown>;
const nameOf = (s: SymbolRef): string => (typeof s === "string" ? s : s.name);

/** `EXPORT_SYMBOL(sym)`. @public */
export function exportSymbol(sym: SymbolRef): SymbolExport {
  return { name: nameOf(sym), license: "", namespace: "" };
}
/** `EXPORT_SYMBOL_GPL(sym)`. @public */
export function exportSymbolGpl(sym: SymbolRef): SymbolExport {
  return { name: nameOf(sym), license: "GPL", namespace: "" };
}
/** `EXPORT_SYMBOL_NS(sym, ns)`. @public */
export function exportSymbolNs(sym: SymbolRef, ns: string): SymbolExport {
  return { name: nameOf(sym), license: "", namespace: ns };
}
/** `EXPORT_SYMBOL_NS_GPL(sym, ns)`. @public */
export function exportSymbolNsGpl(sym: SymbolRef, ns: string): SymbolExport {
  return { name: nameOf(sym), license: "GPL", namespace: ns };
}
/**
 * `EXPORT_SYMBOL_FOR_MODULES(sym, mods)`: a GPL-only export in the namespace
 * `"module:" + mods`, usable only by modules whose name matches `mods`.
 * @public
 */
export function exportSymbolForModules(sym: SymbolRef, mods: string): SymbolExport {
  return { name: nameOf(sym), license: "GPL", namespace: `module:${mods}` };
}
