#!/usr/bin/env node
// The boundary check of a package's `lint` (run from the package folder): its
// nx tag and manifest, then dependency-cruiser over src (with src/testing and
// the tests), test/, e2e/ and bench/ against the layers of docs/architecture.md.
//
// Usage: node ../../scripts/lint-boundaries.mjs [--root DIR] [PACKAGE_DIR]
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { checkProject } from "./lib/boundaries.mjs";

const args = process.argv.slice(2);
const i = args.indexOf("--root");
const root = resolve(i >= 0 ? args.splice(i, 2)[1] : fileURLToPath(new URL("..", import.meta.url)));
const dir = resolve(args[0] ?? process.cwd());
const errs = await checkProject(root, dir);
for (const e of errs) console.error(`boundaries: ${e}`);
if (errs.length) {
  console.error(`boundaries: ${errs.length} problem(s); the rules are in docs/architecture.md`);
  process.exit(1);
}
console.log(`boundaries: ${dir.slice(root.length + 1) || "."} follows the package rules`);
