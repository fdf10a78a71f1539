#!/usr/bin/env node
// Adds up every project's vitest JSON report and prints the line CI reads:
// "N passed, N failed". Exits 1 if anything failed or nothing ran.
import { readFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const group of ["packages", "apps", "examples"]) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) {
    const pkgDir = join(dir, name);
    if (!existsSync(join(pkgDir, "package.json"))) continue;
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
    if (!pkg.scripts?.test) continue;
    const report = join(pkgDir, "reports", "vitest.json");
    if (!existsSync(report)) {
      missing.push(pkg.name);
      continue;
    }
    const r = JSON.parse(readFileSync(report, "utf8"));
    passed += r.numPassedTests ?? 0;
    failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0);
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  }
}
// Extra suites (publish e2e, modpost) write "<name>: N passed, N failed" files here.
const extra = join(root, "reports");
if (existsSync(extra)) {
  for (const f of readdirSync(extra).filter((f) => f.endsWith(".summary.json"))) {
    const r = JSON.parse(readFileSync(join(extra, f), "utf8"));
    passed += r.passed ?? 0;
    failed += r.failed ?? 0;
  }
}
for (const m of missing) {
  console.error(`no test report for ${m}`);
  failed++;
}
if (skipped) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
