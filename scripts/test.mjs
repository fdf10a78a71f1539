#!/usr/bin/env node
// The README's test command: every nx target that checks something (build,
// test, lint, typecheck, api, modpost) over every project, the release checks
// (scripts/check-headers, check-packages, check-api-reports, check-changesets, publish-e2e;
// DMABUF_TEST_RELEASE=0 skips them), then one closing line
// "N passed, N failed" that adds up the vitest reports and counts each failed
// non-test task as a failure, so a red lint or API report cannot hide.
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const nx = join(root, "node_modules", ".bin", "nx");
const targets = process.env.DMABUF_TEST_TARGETS ?? "build,test,lint,typecheck,api,modpost";
rmSync(join(root, "reports"), { recursive: true, force: true });

// Real validators for the conformance app's reports (chromium, xmllint, the kernel's
// kunit_parser.py), installed from Debian when the machine does not have them yet.
spawnSync(process.execPath, [join(root, "scripts", "install-test-tools.mjs")], { stdio: "inherit", timeout: 1_800_000 });

const r = spawnSync(nx, ["run-many", "-t", ...targets.split(","), "--output-style=static"], {
  cwd: root,
  encoding: "utf8",
  env: { ...process.env, NX_NO_CLOUD: "true", NX_DAEMON: "false", NX_TUI: "false" },
  maxBuffer: 1 << 30,
});
process.stdout.write(r.stdout ?? "");
process.stderr.write(r.stderr ?? "");

// nx lists failed tasks after "Failed tasks:" as "- project:target".
const failedTasks = [];
const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
const idx = out.lastIndexOf("Failed tasks:");
if (idx >= 0) {
  for (const line of out.slice(idx).split("\n").slice(1)) {
    const m = /^\s*-\s+(\S+:\S+)/.exec(line);
    if (m) failedTasks.push(m[1]);
    else if (line.trim() && failedTasks.length) break;
  }
}
const extra = [];
for (const t of failedTasks) if (!t.endsWith(":test")) extra.push(t);
if (r.status !== 0 && failedTasks.length === 0) extra.push("nx run-many");

// Release checks after the nx run (they use its build): publishability of every
// non-private package, API-report drift, changesets, and the real publish to a
// local registry. Each writes reports/<name>.summary.json, which
// test-summary.mjs adds up; one that dies without writing it counts as failed.
const release = [
  ["check-headers", []],
  ["check-packages", ["--no-build"]],
  ["check-api-reports", ["--no-build"]],
  ["check-changesets", []],
  ["publish-e2e", ["--no-build"]],
];
if (process.env.DMABUF_TEST_RELEASE !== "0") {
  for (const [name, args] of release) {
    console.log(`\n> node scripts/${name}.mjs ${args.join(" ")}`);
    const c = spawnSync(process.execPath, [join(root, "scripts", `${name}.mjs`), ...args], { cwd: root, stdio: "inherit", timeout: 1_800_000 });
    if (c.status !== 0 && !existsSync(join(root, "reports", `${name}.summary.json`))) extra.push(`scripts/${name}.mjs`);
  }
}

const s = spawnSync(process.execPath, [join(root, "scripts", "test-summary.mjs")], { cwd: root, encoding: "utf8" });
const lines = (s.stdout ?? "").trim().split("\n");
const last = lines.pop() ?? "0 passed, 0 failed";
process.stderr.write(s.stderr ?? "");
for (const l of lines) console.log(l);
const m = /^(\d+) passed, (\d+) failed$/.exec(last);
let passed = m ? Number(m[1]) : 0;
let failed = m ? Number(m[2]) : 1;
for (const t of extra) {
  console.log(`failed task: ${t}`);
  failed++;
}
if (!existsSync(nx)) failed++;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
