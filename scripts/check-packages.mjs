#!/usr/bin/env node
// Publishability of every non-private workspace package (a publint-style check,
// written here so that it runs on Node 20 with no extra dependency).
//
// For each package: `pnpm pack` into a temp dir, then check the packed
// manifest and the tarball's file list:
//   - manifest fields of the package template (CONTRIBUTING.md): name, version,
//     description, license, "type": "module", not private
//   - `exports` (optional only for a CLI-only app under apps/ with a bin):
//     "." present, `types` first and `default` last in every
//     condition object, every target shipped in the tarball
//   - `types`/`main`/`bin` targets shipped, bins start with a node shebang
//   - `files` ships dist (no .tsbuildinfo, no tests, no node_modules)
//   - every source map's `sources` is in the tarball (so `src` ships)
//   - README.md shipped; CHANGELOG.md listed in `files` and shipped once it exists
//   - no `workspace:` protocol left in the packed manifest
//   - plugins (packages/*) take every @dmabuf-sdk/* package they use, core
//     first of all, as a peerDependency, never a dependency, with a range that
//     the workspace version satisfies; nothing bundled
//   - the workspace package.json has the template's scripts (api/api:update
//     may be left out only by a CLI-only app under apps/ without exports) and the
//     "dmabuf-sdk": {"module": ...} field that modpost reads
//   - every typed entry point of `exports` has an api-extractor config whose
//     report is committed under etc/, and the `api`/`api:update` scripts run it
// Before that it proves on broken fixtures that each check can fail.
//
// Usage: node scripts/check-packages.mjs [--no-build]
// Writes reports/check-packages.summary.json ({"passed": N, "failed": N}).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize, posix } from "node:path";
import { CORE, assert, nxBuild, pnpmPath, publishablePackages, root, run, suite, workspacePackages } from "./lib/release.mjs";

const REQUIRED_SCRIPTS = ["build", "test", "lint", "typecheck", "api", "api:update", "modpost"];
const DEP_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies", "devDependencies"];

/** Minimal semver for `^x.y.z`, `~x.y.z`, `x.y.z` and `>=x.y.z` ranges (what `workspace:^`/`~`/`*` pack to). */
export function satisfies(version, range) {
  const parse = (v) => {
    const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(v);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4]] : undefined;
  };
  const v = parse(version);
  const r = /^(\^|~|>=)?\s*(\S+)$/.exec(range.trim());
  const b = r && parse(r[2]);
  if (!v || !b) return false;
  const cmp = (a, c) => a[0] - c[0] || a[1] - c[1] || a[2] - c[2] || (a[3] === c[3] ? 0 : a[3] === undefined ? 1 : c[3] === undefined ? -1 : a[3] < c[3] ? -1 : 1);
  if (cmp(v, b) < 0) return false;
  switch (r[1]) {
    case undefined:
      return cmp(v, b) === 0;
    case ">=":
      return true;
    case "~":
      return v[0] === b[0] && v[1] === b[1];
    case "^":
      if (b[0] > 0) return v[0] === b[0];
      if (b[1] > 0) return v[0] === 0 && v[1] === b[1];
      return v[0] === 0 && v[1] === 0 && v[2] === b[2];
  }
  return false;
}

/** Every string target of an exports value, with the key path that leads to it. */
function exportTargets(value, path, out) {
  if (typeof value === "string") out.push({ path, target: value });
  else if (Array.isArray(value)) value.forEach((v, i) => exportTargets(v, `${path}[${i}]`, out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) exportTargets(v, `${path}.${k}`, out);
  return out;
}

/** Condition objects (not subpath maps) in an exports value, with their paths. */
function conditionObjects(value, path, out) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (!keys.some((k) => k.startsWith("."))) out.push({ path, keys });
    for (const [k, v] of Object.entries(value)) conditionObjects(v, `${path}.${k}`, out);
  }
  return out;
}

const inTarball = (files, p) => files.has(posix.normalize(p.replace(/^\.\//, "")));

/**
 * The checks on one packed package. `m` is the packed manifest, `files` the
 * Set of paths in the tarball (without the "package/" prefix), `read(path)`
 * reads a packed file, `src` the workspace package.json, `group` its first
 * folder, `versions` the workspace versions by package name, `hasChangelog`
 * whether CHANGELOG.md exists in the package folder, `privateNames` the
 * workspace packages that are not published.
 * Returns [[title, errorMessages[]], ...].
 */
export function checkPacked({ m, files, read, src, group, versions, hasChangelog, privateNames = new Set() }) {
  const results = [];
  const check = (title, fn) => {
    const errs = [];
    try {
      fn((cond, msg) => cond || errs.push(msg));
    } catch (e) {
      errs.push(e instanceof Error ? e.message : String(e));
    }
    results.push([title, errs]);
  };

  check("manifest fields", (ok) => {
    ok(typeof m.name === "string" && m.name.startsWith("@dmabuf-sdk/"), `name "${m.name}" is not in the @dmabuf-sdk scope`);
    ok(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(m.version ?? ""), `version "${m.version}" is not semver`);
    ok(typeof m.description === "string" && m.description.length > 0, "no description");
    ok(typeof m.license === "string" && m.license.length > 0 && m.license !== "UNLICENSED", "no license field");
    ok(m.type === "module", `"type" is ${JSON.stringify(m.type)}, not "module"`);
    ok(m.private !== true, "private");
  });

  check("exports map: types first, default last, targets shipped", (ok) => {
    const ex = m.exports;
    if (ex === undefined && group === "apps" && m.bin) return; // a CLI-only application
    ok(ex && typeof ex === "object" && !Array.isArray(ex), "no exports map (an object of subpaths)");
    if (!ex || typeof ex !== "object") return;
    ok("." in ex, 'no "." entry in exports');
    for (const { path, keys } of conditionObjects(ex, "exports", [])) {
      if (keys.includes("types")) ok(keys[0] === "types", `${path}: "types" must be the first condition (got ${keys.join(", ")})`);
      if (keys.includes("default")) ok(keys[keys.length - 1] === "default", `${path}: "default" must be the last condition (got ${keys.join(", ")})`);
    }
    for (const [sub, v] of Object.entries(ex)) {
      if (sub === "./package.json") continue;
      const t = exportTargets(v, `exports["${sub}"]`, []);
      ok(t.some((x) => /\.d\.[mc]?ts$/.test(x.target)), `exports["${sub}"] has no "types" target`);
    }
    for (const { path, target } of exportTargets(ex, "exports", [])) {
      ok(target.startsWith("./"), `${path}: target "${target}" does not start with "./"`);
      if (!target.includes("*")) ok(inTarball(files, target), `${path}: "${target}" is not in the tarball`);
    }
  });

  check("types/main/bin targets shipped", (ok) => {
    for (const f of ["types", "typings", "main", "module"]) if (typeof m[f] === "string") ok(inTarball(files, m[f]), `"${f}": "${m[f]}" is not in the tarball`);
    const bins = typeof m.bin === "string" ? { [m.name.split("/").pop()]: m.bin } : (m.bin ?? {});
    for (const [name, p] of Object.entries(bins)) {
      if (!inTarball(files, p)) {
        ok(false, `bin "${name}": "${p}" is not in the tarball`);
        continue;
      }
      ok(read(p).startsWith("#!/usr/bin/env node"), `bin "${name}": "${p}" does not start with "#!/usr/bin/env node"`);
    }
  });

  check("files ships dist, no build info, tests or node_modules", (ok) => {
    ok(Array.isArray(m.files) && m.files.includes("dist"), '"files" does not list "dist"');
    ok([...files].some((f) => f.startsWith("dist/")), "no dist/ in the tarball (built?)");
    const bad = [...files].filter((f) => /(^|\/)node_modules\/|\.tsbuildinfo$|\.test\.[cm]?[jt]s$|(^|\/)(coverage|reports|temp)\//.test(f));
    ok(bad.length === 0, `should not ship: ${bad.slice(0, 5).join(", ")}${bad.length > 5 ? ", ..." : ""}`);
  });

  check("source maps point at shipped files", (ok) => {
    const missing = new Set();
    for (const f of files) {
      if (!f.endsWith(".map")) continue;
      let map;
      try {
        map = JSON.parse(read(f));
      } catch {
        ok(false, `${f}: not JSON`);
        continue;
      }
      for (const s of map.sources ?? []) {
        const p = posix.normalize(posix.join(posix.dirname(f), map.sourceRoot ?? "", s));
        if (!files.has(p)) missing.add(`${p} (from ${f})`);
      }
    }
    ok(missing.size === 0, `sources not in the tarball: ${[...missing].slice(0, 3).join(", ")}${missing.size > 3 ? ` and ${missing.size - 3} more` : ""} (add "src" to "files")`);
  });

  check("README.md and CHANGELOG.md", (ok) => {
    ok(files.has("README.md"), "README.md is not in the tarball");
    ok(Array.isArray(m.files) && m.files.includes("CHANGELOG.md"), '"files" does not list "CHANGELOG.md" (npm does not pack it by default)');
    if (hasChangelog) ok(files.has("CHANGELOG.md"), "CHANGELOG.md exists but is not in the tarball");
  });

  check("no workspace: protocol in the packed manifest", (ok) => {
    for (const f of DEP_FIELDS) for (const [n, r] of Object.entries(m[f] ?? {})) ok(!String(r).startsWith("workspace:"), `${f}["${n}"] is "${r}"`);
    ok(!JSON.stringify(m).includes("workspace:"), '"workspace:" left in the manifest');
  });

  check(`@dmabuf-sdk/* (${CORE} first) as peerDependencies, not bundled`, (ok) => {
    const own = (f) => Object.keys(m[f] ?? {}).filter((n) => n.startsWith("@dmabuf-sdk/"));
    const used = new Set(DEP_FIELDS.flatMap(own));
    used.delete(m.name);
    for (const f of ["bundleDependencies", "bundledDependencies"]) {
      const b = Array.isArray(m[f]) ? m[f] : m[f] === true ? Object.keys(m.dependencies ?? {}) : [];
      ok(!b.some((n) => n.startsWith("@dmabuf-sdk/")), `${f} bundles ${b.join(", ")}`);
    }
    ok(![...files].some((f) => f.includes("node_modules/")), "node_modules/ in the tarball");
    if (used.size && m.name !== CORE) ok(used.has(CORE), `uses ${[...used].join(", ")} but not ${CORE}`);
    for (const n of used) {
      const peer = m.peerDependencies?.[n];
      const dep = m.dependencies?.[n];
      if (group === "apps") {
        // An application is installed by end users: it may own its copy of core.
        ok(peer || dep, `${n} is only a devDependency: an installed app could not import it`);
      } else {
        ok(peer, `${n} is not in peerDependencies (a second copy would break type identity)`);
        ok(!dep, `${n} is in dependencies: make it a peerDependency (and a devDependency for the workspace)`);
      }
      if ((peer || dep) && privateNames.has(n)) ok(false, `${n} is private: it cannot be installed from the registry`);
      const range = peer ?? dep;
      if (range && versions[n]) ok(satisfies(versions[n], range), `${n}@${versions[n]} (workspace) does not satisfy "${range}"`);
    }
  });

  check('template: scripts and "dmabuf-sdk".module', (ok) => {
    const library = src.exports !== undefined || group !== "apps";
    for (const s of REQUIRED_SCRIPTS) if (library || !s.startsWith("api")) ok(typeof src.scripts?.[s] === "string", `no "${s}" script`);
    const d = src["dmabuf-sdk"];
    ok(d && typeof d === "object" && "module" in d && (d.module === null || typeof d.module === "string"), 'no "dmabuf-sdk": {"module": "<export name>" | null} for modpost');
  });

  return results;
}

/** JSON with // and /* comments (api-extractor configs allow them). */
function readJsonc(file) {
  const text = readFileSync(file, "utf8").replace(/("(?:\\.|[^"\\])*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (_, s) => s ?? "");
  return JSON.parse(text);
}

/** The merged api-extractor config (its `extends` chain), with paths still holding <projectFolder>. */
function apiConfig(file) {
  const c = readJsonc(file);
  if (!c.extends) return c;
  const base = apiConfig(join(dirname(file), c.extends));
  return { ...base, ...c, apiReport: { ...base.apiReport, ...c.apiReport } };
}

/**
 * Every typed entry point of `exports` has a config, a committed report, and
 * is run by the `api` and `api:update` scripts. Returns error messages.
 */
export function checkApiReports(dir, pkg) {
  const errs = [];
  const unscoped = pkg.name.split("/").pop();
  const configs = readdirSync(dir).filter((f) => /^api-extractor(\..+)?\.json$/.test(f));
  const byEntry = new Map();
  for (const f of configs) {
    const c = apiConfig(join(dir, f));
    const entry = normalize((c.mainEntryPointFilePath ?? "<projectFolder>/dist/index.d.ts").replace("<projectFolder>/", ""));
    const name = (c.apiReport?.reportFileName ?? "<unscopedPackageName>").replace("<unscopedPackageName>", unscoped);
    const report = join(c.apiReport?.reportFolder?.replace("<projectFolder>/", "") ?? "etc/", name.endsWith(".api.md") ? name : `${name}.api.md`);
    byEntry.set(entry, { file: f, report, enabled: c.apiReport?.enabled === true });
  }
  if (/--local\b/.test(pkg.scripts?.api ?? "")) errs.push('"api" script runs api-extractor with --local: it would rewrite the report instead of failing');
  for (const [sub, v] of Object.entries(pkg.exports ?? {})) {
    if (sub === "./package.json") continue;
    const types = exportTargets(v, "", []).find((t) => /\.d\.[mc]?ts$/.test(t.target));
    if (!types) continue;
    const c = byEntry.get(normalize(types.target.replace(/^\.\//, "")));
    if (!c) {
      errs.push(`exports["${sub}"] (${types.target}): no api-extractor*.json with that mainEntryPointFilePath`);
      continue;
    }
    if (!c.enabled) errs.push(`${c.file}: apiReport is not enabled`);
    if (!existsSync(join(dir, c.report))) errs.push(`${c.file}: report ${c.report} is not committed (run pnpm api:update)`);
    if (c.file !== "api-extractor.json") {
      for (const s of ["api", "api:update"]) if (!(pkg.scripts?.[s] ?? "").includes(c.file)) errs.push(`"${s}" script does not run ${c.file}`);
    } else {
      for (const s of ["api", "api:update"]) if (!/api-extractor run/.test(pkg.scripts?.[s] ?? "")) errs.push(`"${s}" script does not run api-extractor`);
    }
  }
  return errs;
}

// ---------------------------------------------------------------------------

/** A correct synthetic package, then one mutation per check: each must be caught. */
async function selfTest(t) {
  const good = () => ({
    m: {
      name: "@dmabuf-sdk/fixture",
      version: "0.1.0",
      description: "fixture",
      license: "GPL-2.0-only",
      type: "module",
      exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" }, "./package.json": "./package.json" },
      bin: { fx: "./dist/bin/fx.js" },
      files: ["dist", "src", "README.md", "CHANGELOG.md"],
      peerDependencies: { [CORE]: "^0.1.0" },
      devDependencies: { [CORE]: "^0.1.0" },
    },
    fileList: ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/index.js.map", "dist/bin/fx.js", "src/index.ts"],
    contents: { "dist/index.js.map": JSON.stringify({ sources: ["../src/index.ts"] }), "dist/bin/fx.js": "#!/usr/bin/env node\n" },
    src: { scripts: Object.fromEntries(REQUIRED_SCRIPTS.map((s) => [s, "x"])), "dmabuf-sdk": { module: "fx" } },
    group: "packages",
    versions: { [CORE]: "0.1.0" },
    hasChangelog: false,
  });
  const runOn = (f) =>
    checkPacked({ m: f.m, files: new Set(f.fileList), read: (p) => f.contents[p.replace(/^\.\//, "")] ?? "", src: f.src, group: f.group, versions: f.versions, hasChangelog: f.hasChangelog, privateNames: f.privateNames })
      .filter(([, e]) => e.length)
      .map(([title, e]) => `${title}: ${e.join("; ")}`);

  await t.check("self-test: a correct fixture passes every check", () => {
    const errs = runOn(good());
    assert(errs.length === 0, errs.join("\n"));
  });
  const cases = [
    ["types not first", (f) => (f.m.exports["."] = { default: "./dist/index.js", types: "./dist/index.d.ts" }), /"types" must be the first/],
    ["export target not packed", (f) => (f.fileList = f.fileList.filter((x) => x !== "dist/index.d.ts")), /"\.\/dist\/index\.d\.ts" is not in the tarball/],
    ["bin target not packed", (f) => (f.fileList = f.fileList.filter((x) => x !== "dist/bin/fx.js")), /bin "fx"/],
    ["src not shipped for the source maps", (f) => (f.fileList = f.fileList.filter((x) => !x.startsWith("src/"))), /sources not in the tarball: src\/index\.ts/],
    ["no README", (f) => (f.fileList = f.fileList.filter((x) => x !== "README.md")), /README\.md is not in the tarball/],
    ["CHANGELOG exists but not packed", (f) => (f.hasChangelog = true), /CHANGELOG\.md exists but is not in the tarball/],
    ["no license", (f) => delete f.m.license, /no license field/],
    ["workspace: left", (f) => (f.m.peerDependencies[CORE] = "workspace:^"), /workspace:/],
    ["core as a dependency", (f) => (delete f.m.peerDependencies[CORE], (f.m.dependencies = { [CORE]: "^0.1.0" })), /not in peerDependencies/],
    ["a peer that is not published", (f) => (f.privateNames = new Set([CORE])), /is private/],
    ["core bundled", (f) => (f.m.bundleDependencies = [CORE]), /bundleDependencies bundles/],
    ["peer range the workspace version does not satisfy", (f) => (f.versions[CORE] = "0.2.0"), /does not satisfy "\^0\.1\.0"/],
    ["an app without exports or bin", (f) => ((f.group = "apps"), delete f.m.exports, delete f.m.bin), /no exports map/],
    ["no modpost module field", (f) => delete f.src["dmabuf-sdk"], /modpost/],
    ["missing api script", (f) => delete f.src.scripts.api, /no "api" script/],
  ];
  for (const [name, mutate, expect] of cases) {
    await t.check(`self-test: catches ${name}`, () => {
      const f = good();
      mutate(f);
      const errs = runOn(f);
      assert(errs.some((e) => expect.test(e)), `expected an error matching ${expect}, got: ${errs.join(" | ") || "none"}`);
    });
  }
  await t.check("self-test: catches a typed entry point without an API report config, and an api script with --local", () => {
    const dir = mkdtempSync(join(tmpdir(), "dmabuf-apicheck-"));
    try {
      mkdirSync(join(dir, "etc"));
      writeFileSync(join(dir, "etc", "fixture.api.md"), "");
      writeFileSync(join(dir, "api-extractor.json"), JSON.stringify({ mainEntryPointFilePath: "<projectFolder>/dist/index.d.ts", apiReport: { enabled: true } }));
      const pkg = {
        name: "@dmabuf-sdk/fixture",
        exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" }, "./extra": { types: "./dist/extra.d.ts", default: "./dist/extra.js" } },
        scripts: { api: "api-extractor run", "api:update": "api-extractor run --local" },
      };
      let errs = checkApiReports(dir, pkg);
      assert(errs.length === 1 && /exports\["\.\/extra"\]/.test(errs[0]), `expected one error for ./extra, got: ${errs.join(" | ") || "none"}`);
      delete pkg.exports["./extra"];
      assert(checkApiReports(dir, pkg).length === 0, "the fixed fixture still fails");
      pkg.scripts.api = "api-extractor run --local";
      errs = checkApiReports(dir, pkg);
      assert(errs.length === 1 && /--local/.test(errs[0]), `expected the --local api script to be refused, got: ${errs.join(" | ") || "none"}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function main() {
  const t = suite("check-packages");
  const pkgs = publishablePackages();
  const versions = Object.fromEntries(workspacePackages().map((p) => [p.name, p.version]));
  const privateNames = new Set(workspacePackages().filter((p) => p.pkg.private === true).map((p) => p.name));
  console.log(`check-packages: ${pkgs.length} publishable package(s): ${pkgs.map((p) => p.name).join(", ")}`);

  await selfTest(t);

  if (!process.argv.includes("--no-build")) {
    const b = nxBuild(pkgs.map((p) => p.name));
    if (b.status !== 0) console.log(b.out.split("\n").slice(-30).join("\n"));
  }

  const pnpm = pnpmPath();
  const tmp = mkdtempSync(join(tmpdir(), "dmabuf-pack-"));
  try {
    for (const p of pkgs) {
      console.log(`${p.name}@${p.version} (${p.rel})`);
      const dest = join(tmp, p.rel.replace(/\//g, "_"));
      mkdirSync(dest, { recursive: true });
      const r = run(pnpm, ["pack", "--pack-destination", dest], { cwd: p.dir });
      const tgz = existsSync(dest) ? readdirSync(dest).find((f) => f.endsWith(".tgz")) : undefined;
      if (r.status !== 0 || !tgz) {
        t.fail(`${p.name}: pnpm pack`, r.out.split("\n").slice(-10).join("\n"));
        continue;
      }
      const x = run("tar", ["-xzf", join(dest, tgz), "-C", dest]);
      if (x.status !== 0) {
        t.fail(`${p.name}: unpack`, x.out);
        continue;
      }
      const list = run("tar", ["-tzf", join(dest, tgz)]).stdout.split("\n").filter(Boolean);
      const files = new Set(list.map((f) => f.replace(/^package\//, "")));
      const read = (f) => readFileSync(join(dest, "package", f), "utf8");
      const m = JSON.parse(read("package.json"));
      const results = checkPacked({ m, files, read, src: p.pkg, group: p.group, versions, privateNames, hasChangelog: existsSync(join(p.dir, "CHANGELOG.md")) });
      for (const [title, errs] of results) {
        await t.check(`${p.name}: ${title}`, () => assert(errs.length === 0, errs.join("\n")));
      }
      await t.check(`${p.name}: API report committed for every typed entry point`, () => {
        const errs = checkApiReports(p.dir, p.pkg);
        assert(errs.length === 0, errs.join("\n"));
      });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  process.exitCode = t.finish();
}

await main();
