// security/selinux/ss/policydb.c: a policy's classes, permissions, type rules and handle_unknown.
import { KernelError } from "@dmabuf-sdk/dmabuf-core";

/** `handle_unknown` of a policy: what the kernel does with classes and permissions the policy does not define. @public */
export type SelinuxHandleUnknown = "allow" | "deny" | "reject";

/** The access vector rules of one (source type, target type, class). @public */
export interface SelinuxAvRule {
  readonly allow: ReadonlySet<string>;
  readonly auditallow: ReadonlySet<string>;
  readonly dontaudit: ReadonlySet<string>;
}

/**
 * A compiled policy: the classes it defines, the type enforcement rules by
 * (source, target, class), the permissive domains and `handle_unknown`.
 * @public
 */
export interface SelinuxPolicy {
  readonly handleUnknown: SelinuxHandleUnknown;
  /** Classes the policy defines, with their permissions. */
  readonly classes: ReadonlyMap<string, ReadonlySet<string>>;
  /** Types declared with `type` or used in a rule. */
  readonly types: ReadonlySet<string>;
  /** Domains declared with `permissive`. */
  readonly permissive: ReadonlySet<string>;
  /** Number of (source, target, class, kind) rules after expanding sets. */
  readonly ruleCount: number;
  /** The rules of one (source type, target type, class), or undefined. */
  rule(source: string, target: string, tclass: string): SelinuxAvRule | undefined;
}

interface MutableRule {
  allow: Set<string>;
  auditallow: Set<string>;
  dontaudit: Set<string>;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Splits the text into statements (`;`-terminated, `class` may end with `}`), keeping line numbers. */
function statements(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let cur = "";
  let start = 1;
  let line = 1;
  let depth = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    line = i + 1;
    const raw = lines[i]!.replace(/#.*/, "");
    for (const ch of raw) {
      if (!cur.trim() && ch.trim()) start = line;
      if (ch === "{") depth++;
      if (ch === "}") depth--;
      if (ch === ";" && depth === 0) {
        out.push({ text: cur.trim(), line: start });
        cur = "";
        continue;
      }
      cur += ch;
      if (ch === "}" && depth === 0 && /^class\b/.test(cur.trim())) {
        out.push({ text: cur.trim(), line: start });
        cur = "";
      }
    }
    cur += " ";
  }
  if (cur.trim()) throw new KernelError("EINVAL", "security_load_policy", `line ${start}: missing ';' after "${cur.trim()}"`);
  return out;
}

/** `a`, `{ a b }` → names. */
function names(s: string, line: number, what: string): string[] {
  const t = s.trim();
  const list = t.startsWith("{") ? (t.endsWith("}") ? t.slice(1, -1).trim().split(/\s+/).filter(Boolean) : null) : [t];
  if (!list || list.length === 0 || list.some((n) => !IDENT.test(n))) throw new KernelError("EINVAL", "security_load_policy", `line ${line}: bad ${what} "${t}"`);
  return list;
}

/**
 * Compiles a small SELinux policy text (a subset of the kernel policy
 * language, one statement per `;`, `#` comments):
 *
 * ```
 * handle_unknown deny;                       # allow | deny | reject (default deny)
 * class dma_heap { charge_to }               # optional: a class used in a rule is defined too
 * type allocator_app_t;                      # optional
 * allow allocator_app_t client_app_t:dma_heap charge_to;
 * allow { a_t b_t } { c_t self }:dma_heap { charge_to };
 * auditallow a_t c_t:dma_heap charge_to;     # log grants
 * dontaudit a_t d_t:dma_heap charge_to;      # do not log denials
 * permissive allocator_app_t;                # a permissive domain
 * ```
 *
 * `self` as a target means the source type. A class (and its permissions) is
 * defined when a `class` statement or any rule names it.
 * @throws KernelError `EINVAL` with the line of the first error.
 * @public
 */
export function parseSelinuxPolicy(text: string): SelinuxPolicy {
  let handleUnknown: SelinuxHandleUnknown = "deny";
  const classes = new Map<string, Set<string>>();
  const types = new Set<string>();
  const permissive = new Set<string>();
  const rules = new Map<string, MutableRule>();
  let ruleCount = 0;
  const bad = (line: number, msg: string): never => {
    throw new KernelError("EINVAL", "security_load_policy", `line ${line}: ${msg}`);
  };
  const defineClass = (name: string, perms: readonly string[]): void => {
    let set = classes.get(name);
    if (!set) classes.set(name, (set = new Set()));
    for (const p of perms) set.add(p);
  };

  for (const { text: st, line } of statements(text)) {
    const kw = /^(\S+)\s*(.*)$/s.exec(st);
    if (!kw) continue;
    const [, keyword, rest] = kw as unknown as [string, string, string];
    switch (keyword) {
      case "handle_unknown": {
        const v = rest.trim();
        if (v !== "allow" && v !== "deny" && v !== "reject") bad(line, `handle_unknown must be allow, deny or reject, not "${v}"`);
        handleUnknown = v as SelinuxHandleUnknown;
        break;
      }
      case "class": {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(\{[^}]*\})?$/.exec(rest.trim());
        if (!m) bad(line, `bad class statement "${st}"`);
        defineClass(m![1]!, m![2] ? names(m![2], line, "permission set") : []);
        break;
      }
      case "type":
      case "permissive": {
        for (const t of names(rest, line, "type")) {
          types.add(t);
          if (keyword === "permissive") permissive.add(t);
        }
        break;
      }
      case "allow":
      case "auditallow":
      case "dontaudit": {
        const m = /^(\{[^}]*\}|\S+)\s+(\{[^}]*\}|[^\s:{]+)\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s+(\{[^}]*\}|\S+)$/.exec(rest.trim());
        if (!m) bad(line, `bad ${keyword} rule "${st}" (expected: ${keyword} source target:class perms)`);
        const [, src, tgt, tclass, perms] = m!;
        const sources = names(src!, line, "source type");
        const targets = names(tgt!, line, "target type");
        const permList = names(perms!, line, "permission");
        if (sources.includes("self")) bad(line, `"self" is only valid as a target`);
        defineClass(tclass!, permList);
        for (const s of sources) {
          types.add(s);
          for (const t0 of targets) {
            const t = t0 === "self" ? s : t0;
            types.add(t);
            const key = `${s}\u0000${t}\u0000${tclass}`;
            let r = rules.get(key);
            if (!r) rules.set(key, (r = { allow: new Set(), auditallow: new Set(), dontaudit: new Set() }));
            for (const p of permList) r[keyword].add(p);
            ruleCount++;
          }
        }
        break;
      }
      default:
        bad(line, `unknown statement "${keyword}"`);
    }
  }
  return {
    handleUnknown,
    classes,
    types,
    permissive,
    ruleCount,
    rule: (source, target, tclass) => rules.get(`${source}\u0000${target}\u0000${tclass}`),
  };
}
