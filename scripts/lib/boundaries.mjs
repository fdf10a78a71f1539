// The package dependency rules of docs/architecture.md, as code: nx tags, the
// layers they allow, the dependency-cruiser rule set and the manifest check.
// Used by scripts/lint-boundaries.mjs (every package's `lint`) and its test.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

/** The kinds of project, by their `type:*` nx tag. */
export const TYPES = ["core", "mapping", "subsystem", "driver", "app", "example"];

/**
 * Which kinds a kind may depend on. A driver may also depend on a subsystem,
 * but only on the one it belongs to: the subsystem and its drivers carry the
 * same `subsystem:<name>` tag (see `allowed`).
 */
export const LAYERS = {
  core: [],
  mapping: ["core"],
  subsystem: ["core", "mapping"],
  driver: ["core", "mapping", "subsystem"],
  example: ["core", "mapping", "subsystem", "driver"],
  app: ["core", "mapping", "subsystem", "driver", "app", "example"],
};

/** The command every package's `lint` script must run. */
export const LINT_COMMAND = "scripts/lint-boundaries.mjs";

const DEP_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies", "devDependencies", "peerDependenciesMeta"];
const SCOPES = ["@dmabuf-sdk/", "@dmabuf-sdk-examples/"];
const GROUPS = ["packages", "apps", "examples"];

/** Workspace projects under `root`: { name, rel, dir, pkg, tags, type, subsystems }. */
export function projects(root) {
  const out = [];
  for (const g of GROUPS) {
    const base = join(root, g);
    if (!existsSync(base)) continue;
    for (const n of readdirSync(base).sort()) {
      const file = join(base, n, "package.json");
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, "utf8"));
      const tags = Array.isArray(pkg.nx?.tags) ? pkg.nx.tags : [];
      const types = tags.filter((t) => t.startsWith("type:")).map((t) => t.slice(5));
      out.push({
        name: pkg.name,
        rel: `${g}/${n}`,
        dir: join(base, n),
        pkg,
        tags,
        type: types.length === 1 ? types[0] : undefined,
        types,
        subsystems: tags.filter((t) => t.startsWith("subsystem:")).map((t) => t.slice(10)),
      });
    }
  }
  return out;
}

/** Whether `from` may depend on `to` (both projects); a reason when it may not. */
export function allowed(from, to) {
  if (from.name === to.name) return { ok: true };
  if (!from.type || !to.type) return { ok: false, why: `${!from.type ? from.name : to.name} has no single type:* tag` };
  if (!LAYERS[from.type].includes(to.type)) return { ok: false, why: `a ${from.type} may not depend on a ${to.type} (${from.type} → ${LAYERS[from.type].join(", ") || "nothing"})` };
  if (from.type === "driver" && to.type === "subsystem" && !to.subsystems.some((s) => from.subsystems.includes(s))) {
    return { ok: false, why: `a driver depends only on its own subsystem: tag both with the same subsystem:<name> (${to.name} has ${to.subsystems.map((s) => `subsystem:${s}`).join(", ") || "none"})` };
  }
  return { ok: true };
}

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A path regex of everything that is project `p`: its folder, or its name when the import did not resolve. */
function pathOf(p) {
  return `^${esc(p.rel)}/|(^|/)node_modules/${esc(p.name)}/|^${esc(p.name)}(/|$)`;
}

/** The dependency-cruiser rule set for project `p`: one forbidden rule per project it may not use. */
export function ruleSet(all, p) {
  const forbidden = [];
  for (const q of all) {
    const a = allowed(p, q);
    if (a.ok) continue;
    forbidden.push({
      name: `no-${p.type ?? "untyped"}-to-${q.name.replace(/^@[^/]+\//, "")}`,
      comment: a.why,
      severity: "error",
      from: { path: `^${esc(p.rel)}/` },
      to: { path: pathOf(q) },
    });
  }
  return { forbidden };
}

/** The project that the dependency `d` (of a cruise result) lands in, if any. */
function target(all, d) {
  const r = d.resolved ?? d.module;
  return all.find((q) => r.startsWith(`${q.rel}/`) || r.includes(`node_modules/${q.name}/`) || d.module === q.name || d.module.startsWith(`${q.name}/`));
}

/** Names of the workspace packages a manifest names, by field. */
function named(pkg) {
  const out = [];
  for (const f of DEP_FIELDS) for (const n of Object.keys(pkg[f] ?? {})) if (SCOPES.some((s) => n.startsWith(s))) out.push({ field: f, name: n });
  return out;
}

/**
 * The manifest check of project `p`: one type:* tag of a known kind, and every
 * workspace package its package.json names allowed by the layers. Also that
 * every project's lint runs the boundary check, so a new package cannot skip it.
 */
export function checkManifests(all, p) {
  const errs = [];
  if (p.types.length !== 1 || !TYPES.includes(p.type)) errs.push(`${p.rel}/package.json: "nx": {"tags"} must hold exactly one of ${TYPES.map((t) => `type:${t}`).join(", ")} (has ${p.tags.join(", ") || "none"})`);
  for (const { field, name } of named(p.pkg)) {
    const q = all.find((x) => x.name === name);
    if (!q) {
      errs.push(`${p.rel}/package.json: ${field} names ${name}, which is not a workspace package`);
      continue;
    }
    const a = allowed(p, q);
    if (!a.ok) errs.push(`${p.rel}/package.json: ${field} names ${name}: ${a.why}`);
  }
  for (const q of all) if (!(q.pkg.scripts?.lint ?? "").includes(LINT_COMMAND)) errs.push(`${q.rel}/package.json: the "lint" script does not run ${LINT_COMMAND}`);
  return errs;
}

/** The folders of `p` that hold code: sources (with src/testing and the tests), test/, e2e/ and bench/. */
export function codeDirs(root, p) {
  return ["src", "test", "e2e", "bench"].map((d) => `${p.rel}/${d}`).filter((d) => existsSync(join(root, d)));
}

/**
 * Cruises the code of `p` with the rule set (dependency-cruiser) and checks
 * what the rules cannot say alone: every workspace package imported is
 * declared in the manifest, no relative import leaves the package, and (but
 * for apps, which load plugins by name) every workspace package declared is
 * imported. Returns error lines.
 */
export async function checkImports(root, all, p) {
  const { cruise } = await import("dependency-cruiser");
  const dirs = codeDirs(root, p);
  if (dirs.length === 0) return [];
  const prev = process.cwd();
  process.chdir(root);
  let result;
  try {
    result = await cruise(dirs, {
      baseDir: root,
      validate: true,
      ruleSet: ruleSet(all, p),
      doNotFollow: { path: "node_modules|/dist/" },
      exclude: { path: "/(dist|coverage|reports|temp)/" },
      tsPreCompilationDeps: true,
      moduleSystems: ["es6", "cjs"],
      outputType: "json",
    });
  } finally {
    process.chdir(prev);
  }
  const out = typeof result.output === "string" ? JSON.parse(result.output) : result.output;
  const errs = [];
  for (const v of out.summary.violations ?? []) errs.push(`${v.from} → ${v.to}: ${v.rule.name} (${all.length && ruleSet(all, p).forbidden.find((r) => r.name === v.rule.name)?.comment})`);
  const declared = new Set(named(p.pkg).map((n) => n.name));
  const used = new Set();
  for (const m of out.modules) {
    if (!m.source.startsWith(`${p.rel}/`)) continue;
    for (const d of m.dependencies) {
      const q = target(all, d);
      if (!q) continue;
      if (d.module.startsWith(".") && q.name !== p.name) errs.push(`${m.source} → ${d.module}: a relative import that leaves ${p.rel}; import ${q.name} by its public name`);
      if (q.name === p.name) continue;
      used.add(q.name);
      if (!declared.has(q.name)) errs.push(`${m.source} → ${d.module}: ${q.name} is not declared in ${p.rel}/package.json`);
    }
  }
  if (p.type !== "app") {
    for (const n of declared) if (!used.has(n)) errs.push(`${p.rel}/package.json names ${n}, which no file of ${p.rel} imports: drop it`);
  }
  return errs;
}

/** The whole check of the project in `dir` (a package folder under `root`). */
export async function checkProject(root, dir) {
  const all = projects(root);
  const rel = relative(root, dir);
  const p = all.find((x) => x.rel === rel);
  if (!p) return [`${dir} is not a workspace project under ${root}`];
  return [...checkManifests(all, p), ...(await checkImports(root, all, p))];
}
