#!/usr/bin/env node
// The second half of a package's build: bundles tsc's per-file output into one file per entry point.
//
// Run in a package directory after `tsc -b`, which writes JavaScript to dist/.tsc/ and declarations to
// dist/. Every entry point of the package (the `default` targets of its exports map, the dist/bin/*
// files its bin shims import, and the extra "dmabuf-sdk".entries) becomes one file at the path the
// exports map names, with code shared between entries in one chunk beside them, so that an entry and
// the ./testing kit share one copy of every class. Every import that is not relative (other
// @dmabuf-sdk packages, npm packages, node: builtins) stays an import: a package never carries a
// copy of another.
//
// Why: Node 20 has no module compile cache, and loading an ES module costs about 1 ms of CPU whatever
// its size; the conformance CLI loaded 241 of them at start-up (issue 18).
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { build } from "rolldown";

const pkgDir = process.cwd();
const dist = join(pkgDir, "dist");
const tscOut = join(dist, ".tsc");
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));

/** "./dist/testing/index.js" → "testing/index" (the entry's name, its output path under dist/). */
function entryName(target) {
  const m = /^\.\/dist\/(.+)\.js$/.exec(target);
  if (!m) throw new Error(`${pkg.name}: entry ${target} is not a .js file under ./dist`);
  return m[1];
}

const targets = new Set();
const collect = (v) => {
  if (typeof v === "string") {
    if (v.endsWith(".js")) targets.add(v);
  } else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) if (k !== "types") collect(x);
};
collect(pkg.exports);
for (const shim of Object.values(typeof pkg.bin === "string" ? { bin: pkg.bin } : (pkg.bin ?? {}))) {
  // A committed shim (bin/x.js) imports the built file: `import "../dist/bin/x.js"`.
  const m = /["']\.\.\/(dist\/[^"']+\.js)["']/.exec(readFileSync(join(pkgDir, shim), "utf8"));
  if (m) targets.add(`./${m[1]}`);
}
for (const e of pkg["dmabuf-sdk"]?.entries ?? []) targets.add(e);

const input = {};
for (const t of targets) {
  const name = entryName(t);
  const file = join(tscOut, `${name}.js`);
  if (!existsSync(file)) throw new Error(`${pkg.name}: ${relative(pkgDir, file)} is missing (tsc -b writes dist/.tsc)`);
  input[name] = file;
}

// What a previous build bundled (or an older per-file build left): every .js and .js.map outside .tsc.
(function clean(dir) {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (p === tscOut) continue;
    if (statSync(p).isDirectory()) clean(p);
    else if (f.endsWith(".js") || f.endsWith(".js.map")) rmSync(p);
  }
})(dist);

// tsc's source maps come in with the code, so the bundle's map points at src/*.ts, not at dist/.tsc.
const tscSourceMaps = {
  name: "tsc-source-maps",
  load(id) {
    if (!id.startsWith(tscOut) || !id.endsWith(".js")) return null;
    const code = readFileSync(id, "utf8").replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
    const mapFile = `${id}.map`;
    return existsSync(mapFile) ? { code, map: readFileSync(mapFile, "utf8") } : { code };
  },
};

const out = await build({
  input,
  cwd: pkgDir,
  platform: "node",
  // Relative imports are the package's own files; everything else is another package or a builtin.
  external: (id, importer) => importer !== undefined && !id.startsWith(".") && !isAbsolute(id),
  // The code as tsc wrote it: nothing dropped on a guess about side effects.
  treeshake: false,
  plugins: [tscSourceMaps],
  logLevel: "warn",
  output: {
    dir: dist,
    format: "esm",
    sourcemap: true,
    entryFileNames: "[name].js",
    chunkFileNames: "chunk-[hash].js",
  },
});

// A package never carries another's code: every module in the output is one of its own files.
for (const o of out.output) {
  for (const id of o.type === "chunk" ? (o.moduleIds ?? Object.keys(o.modules)) : []) {
    if (!id.startsWith(tscOut) && !id.startsWith("\0") && !id.startsWith("rolldown:")) throw new Error(`${pkg.name}: ${o.fileName} bundled ${id}, which is not the package's own code`);
  }
}
