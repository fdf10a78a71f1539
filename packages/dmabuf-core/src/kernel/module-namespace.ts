// kernel/module/main.c: symbol namespaces (MODULE_IMPORT_NS, EXPORT_SYMBOL_FOR_MODULES) and license checks.
/** Prefix of the implicit per-module namespaces of `EXPORT_SYMBOL_FOR_MODULES()`. */
export const MODULE_NS_PREFIX = "module:";

/**
 * `mod_strncmp()`: compares `n` characters of two module names with `-` and
 * `_` equal, as the loader must after kbuild's `s/-/_/` name mangling.
 * Returns 0 when equal, like `strncmp`.
 * @internal
 */
export function modStrncmp(a: string, b: string, n: number): number {
  for (let i = 0; i < n; i++) {
    let ca = i < a.length ? a.charCodeAt(i) : 0;
    let cb = i < b.length ? b.charCodeAt(i) : 0;
    if (ca === 0x2d) ca = 0x5f;
    if (cb === 0x2d) cb = 0x5f;
    const d = ca - cb;
    if (d) return d;
    if (!ca) break;
  }
  return 0;
}

/** Plain `strncmp()` (modpost compares unmangled basenames). @internal */
export function strncmp(a: string, b: string, n: number): number {
  for (let i = 0; i < n; i++) {
    const ca = i < a.length ? a.charCodeAt(i) : 0;
    const cb = i < b.length ? b.charCodeAt(i) : 0;
    const d = ca - cb;
    if (d) return d;
    if (!ca) break;
  }
  return 0;
}

/**
 * `verify_module_namespace()`: does `modname` match one of the comma-separated
 * patterns of a `"module:"` namespace? Each entry is an exact name or, when its
 * last character is `*`, a prefix (tail glob only; `*` elsewhere is literal).
 * No whitespace trimming; an empty entry matches nothing; `"*"` matches all.
 *
 * @param compare - `modStrncmp` at load time, `strncmp` in modpost.
 * @internal
 */
export function verifyModuleNamespace(
  namespace: string,
  modname: string,
  compare: (a: string, b: string, n: number) => number = modStrncmp,
): boolean {
  if (!namespace.startsWith(MODULE_NS_PREFIX)) return false;
  const modlen = modname.length;
  let pos = MODULE_NS_PREFIX.length;
  while (pos < namespace.length) {
    let sep = namespace.indexOf(",", pos);
    if (sep < 0) sep = namespace.length;
    let len = sep - pos;
    let glob = false;
    // The C code looks at sep[-1], which for an empty entry is the separator before it.
    if (namespace[sep - 1] === "*") {
      len--;
      glob = true;
    }
    const entry = namespace.slice(pos, pos + Math.max(0, len));
    if (len >= 0 && compare(entry, modname, len) === 0 && (glob || len === modlen)) return true;
    pos = sep < namespace.length ? sep + 1 : sep;
  }
  return false;
}

const GPL_COMPATIBLE = new Set([
  "GPL",
  "GPL v2",
  "GPL and additional rights",
  "Dual BSD/GPL",
  "Dual MIT/GPL",
  "Dual MPL/GPL",
]);

/** `license_is_gpl_compatible()`. @internal */
export function licenseIsGplCompatible(license: string): boolean {
  return GPL_COMPATIBLE.has(license);
}
