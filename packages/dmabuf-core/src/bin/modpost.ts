#!/usr/bin/env node
// dmabuf-modpost, the CLI of scripts/mod/modpost: check a package's module against the kernel's exports.
/**
 * dmabuf-modpost: the build-time symbol check of a package (scripts/mod/modpost).
 * Run in a package directory after its build: it loads the module
 * descriptor named by `package.json` "dmabuf-sdk".module from `dist/`, the
 * descriptors of every `@dmabuf-sdk/*` package it depends on, and the
 * built-in exports of core, and prints modpost's errors. Exit status 1 on error.
 */
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { modpost } from "../kernel/modpost.js";
import type { KernelModule } from "../kernel/module.js";
import { VMLINUX_EXPORTS } from "../vmlinux.js";

interface Pkg {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  "dmabuf-sdk"?: { module?: string | null };
}

const isModule = (v: unknown): v is KernelModule =>
  typeof v === "object" && v !== null && typeof (v as KernelModule).name === "string" && typeof (v as KernelModule).license === "string";

/**
 * The module descriptors a package exports: the one named in package.json
 * ("dmabuf-sdk".module) first, then any other exported descriptor (fixture
 * drivers and the like), and what they require.
 */
async function descriptorsOf(dir: string): Promise<KernelModule[]> {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Pkg;
  const exportName = pkg["dmabuf-sdk"]?.module;
  if (!exportName) return [];
  const entry = join(dir, "dist", "index.js");
  if (!existsSync(entry)) throw new Error(`${pkg.name}: ${entry} is missing; build first`);
  const mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  const main = mod[exportName];
  if (!isModule(main)) throw new Error(`${pkg.name}: export "${exportName}" is not a module descriptor`);
  const out = [main, ...Object.values(mod).filter(isModule)];
  for (const m of [...out]) out.push(...(m.requires ?? []));
  return out;
}

async function main(): Promise<number> {
  const dir = resolve(process.argv[2] ?? ".");
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Pkg;
  const self = await descriptorsOf(dir);
  const modules: KernelModule[] = [];
  const req = createRequire(join(dir, "package.json"));
  const deps = { ...pkg.peerDependencies, ...pkg.devDependencies, ...pkg.dependencies };
  for (const name of Object.keys(deps).filter((n) => n.startsWith("@dmabuf-sdk/"))) {
    modules.push(...(await descriptorsOf(dirname(req.resolve(`${name}/package.json`)))));
  }
  modules.push(...self);
  const unique = [...new Map(modules.map((m) => [m.name, m])).values()];
  const r = modpost({ modules: unique, vmlinux: VMLINUX_EXPORTS });
  for (const w of r.warnings) console.warn(w);
  for (const e of r.errors) console.error(e);
  console.log(`modpost: ${pkg.name}: ${unique.length} module(s), ${r.errors.length} error(s), ${r.warnings.length} warning(s)`);
  return r.errors.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
