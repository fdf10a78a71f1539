// scripts/mod/modpost.c: the build-time check of a module's symbol imports, namespaces and licenses.
import type { KernelModule } from "./module.js";
import { MODULE_NS_PREFIX, licenseIsGplCompatible, strncmp, verifyModuleNamespace } from "./module-namespace.js";
import type { SymbolExport } from "./symbol.js";

/** Input of {@link modpost}: the modules of a build and the kernel image's exports. @public */
export interface ModpostInput {
  readonly modules: readonly KernelModule[];
  /** Exports of vmlinux (the built-in core). */
  readonly vmlinux: readonly SymbolExport[];
  /** `-N` (CONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS or KBUILD_NSDEPS): namespace errors become warnings. */
  readonly allowMissingNamespaceImports?: boolean;
}

/** What modpost printed. @public */
export interface ModpostResult {
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * The build-time half of symbol checking (`scripts/mod/modpost.c`): the same
 * rules as the loader, reported before anything runs. Module names are
 * compared unmangled, with plain `strncmp`, as modpost sees them.
 * @public
 */
export function modpost(input: ModpostInput): ModpostResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const exports = new Map<string, { decl: SymbolExport; owner: string }>();

  for (const e of input.vmlinux) exports.set(e.name, { decl: e, owner: "vmlinux" });
  for (const m of input.modules) {
    for (const e of m.exports ?? []) {
      const prev = exports.get(e.name);
      if (prev) errors.push(`ERROR: modpost: ${m.name}: '${e.name}' exported twice. Previous export was in ${prev.owner}${prev.owner === "vmlinux" ? "" : ".ko"}`);
      else exports.set(e.name, { decl: e, owner: m.name });
    }
  }

  for (const m of input.modules) {
    if (!m.license) errors.push(`ERROR: modpost: missing MODULE_LICENSE() in ${m.name}.o`);
    for (const ns of m.importNs ?? []) {
      if (ns.startsWith(MODULE_NS_PREFIX)) errors.push(`ERROR: modpost: ${m.name}: explicitly importing namespace "${ns}" is not allowed.`);
    }
    const gpl = licenseIsGplCompatible(m.license);
    for (const use of m.uses ?? []) {
      const sym = typeof use === "string" ? use : use.name;
      const exp = exports.get(sym);
      if (!exp) {
        errors.push(`ERROR: modpost: "${sym}" [${m.name}.ko] undefined!`);
        continue;
      }
      if (exp.decl.license === "GPL" && !gpl) errors.push(`ERROR: modpost: GPL-incompatible module ${m.name}.ko uses GPL-only symbol '${sym}'`);
      const ns = exp.decl.namespace;
      if (ns && !verifyModuleNamespace(ns, m.name, strncmp) && !(m.importNs ?? []).includes(ns)) {
        const msg = `module ${m.name} uses symbol ${sym} from namespace ${ns}, but does not import it.`;
        if (input.allowMissingNamespaceImports) warnings.push(`WARNING: modpost: ${msg}`);
        else errors.push(`ERROR: modpost: ${msg}`);
      }
    }
  }
  return { errors, warnings };
}
