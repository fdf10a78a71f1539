#!/usr/bin/env node
// Proves that the test run fails when an exported API changes without its
// committed report (etc/*.api.md) being updated.
//
// For every non-private package and every api-extractor config it has:
//   1. copy the package (with its dist/) into a temp workspace that mirrors the
//      repository layout (shared configs copied, node_modules and sibling
//      packages symlinked), run the package's own `api:update` script there so
//      the copy's report matches its current API (exit 0 expected);
//   2. add an export to the entry point's .d.ts in the copy and run the
//      package's own `api` script (what the nx `api` target and so the README's
//      test command run): it must exit non-zero, say that the API signature
//      changed, and write a temp report that contains the new export.
// The real tree is never written. The real tree's own reports are checked by
// the nx `api` target; scripts/test.mjs counts a failed `api` task as a failure.
//
// Usage: node scripts/check-api-reports.mjs [--no-build] [package-name ...]
// Writes reports/check-api-reports.summary.json.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { spawn } from "node:child_process";
import { assert, nxBuild, publishablePackages, root, suite, workspacePackages } from "./lib/release.mjs";

const PROBE = "__apiDriftProbe";

function sh(script, cwd) {
  return new Promise((resolve) => {
    const env = { ...process.env, PATH: [join(cwd, "node_modules", ".bin"), join(root, "node_modules", ".bin"), process.env.PATH].join(":"), FORCE_COLOR: "0" };
    const p = spawn("sh", ["-c", script], { cwd, env });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? 1, out });
    });
  });
}

const stripJsonc = (t) => t.replace(/("(?:\\.|[^"\\])*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (_, s) => s ?? "");
function config(file) {
  const c = JSON.parse(stripJsonc(readFileSync(file, "utf8")));
  if (!c.extends) return c;
  const base = config(join(dirname(file), c.extends));
  return { ...base, ...c, apiReport: { ...base.apiReport, ...c.apiReport } };
}

/** A temp tree that looks like the repository around one copied package. */
function scratchWorkspace(p) {
  const tmp = mkdtempSync(join(tmpdir(), "dmabuf-api-"));
  for (const f of readdirSync(root)) {
    if (/^(tsconfig.*|api-extractor.*)\.json$/.test(f)) cpSync(join(root, f), join(tmp, f));
  }
  symlinkSync(join(root, "node_modules"), join(tmp, "node_modules"));
  for (const w of workspacePackages()) {
    if (w.rel === p.rel) continue;
    mkdirSync(dirname(join(tmp, w.rel)), { recursive: true });
    symlinkSync(w.dir, join(tmp, w.rel));
  }
  const dest = join(tmp, p.rel);
  cpSync(p.dir, dest, {
    recursive: true,
    filter: (src) => !/^(node_modules|temp|coverage|reports)(\/|$)/.test(relative(p.dir, src)),
  });
  if (existsSync(join(p.dir, "node_modules"))) symlinkSync(join(p.dir, "node_modules"), join(dest, "node_modules"));
  return { tmp, dest };
}

/**
 * The part of a package's `api`/`api:update` script that runs `cfgFile` (the
 * scripts chain one `api-extractor run` per config with `&&`; the default
 * config is the one without `-c`), so each config is probed once.
 */
export function forConfig(script, cfgFile) {
  if (!script) return "false";
  const parts = script.split("&&").map((x) => x.trim());
  const mine = parts.filter((x) => (cfgFile === "api-extractor.json" ? !/\s-c\s/.test(x) || x.includes(`-c ${cfgFile}`) : x.includes(`-c ${cfgFile}`)));
  return mine.length ? mine.join(" && ") : script;
}

async function probePackage(t, p) {
  const configs = readdirSync(p.dir).filter((f) => /^api-extractor(\..+)?\.json$/.test(f));
  if (!configs.length) {
    t.fail(`${p.name}: has an api-extractor config`, "no api-extractor*.json");
    return;
  }
  for (const cfgFile of configs) {
    const c = config(join(p.dir, cfgFile));
    const entry = (c.mainEntryPointFilePath ?? "<projectFolder>/dist/index.d.ts").replace("<projectFolder>/", "");
    const unscoped = p.name.split("/").pop();
    const reportName = (c.apiReport?.reportFileName ?? "<unscopedPackageName>").replace("<unscopedPackageName>", unscoped).replace(/(\.api\.md)?$/, ".api.md");
    const label = `${p.name} (${cfgFile})`;
    const { tmp, dest } = scratchWorkspace(p);
    try {
      const base = await sh(forConfig(p.pkg.scripts?.["api:update"], cfgFile), dest);
      const ok1 = base.status === 0;
      await t.check(`${label}: api:update accepts the current API in a copy`, () => assert(ok1, base.out.split("\n").slice(-15).join("\n")));
      if (!ok1) continue;
      assert(existsSync(join(dest, entry)), `${entry} missing`);
      appendFileSync(join(dest, entry), `\n/** Added by scripts/check-api-reports.mjs. */\nexport declare function ${PROBE}(): void;\n`);
      const r = await sh(forConfig(p.pkg.scripts?.api, cfgFile), dest);
      await t.check(`${label}: api fails on a new export without a report update`, () => {
        assert(r.status !== 0, `the api script exited 0 after an export was added:\n${r.out.split("\n").slice(-10).join("\n")}`);
        assert(/changed the API signature/.test(r.out), `no "changed the API signature" message:\n${r.out.split("\n").slice(-10).join("\n")}`);
        const tempReport = join(dest, "temp", reportName);
        assert(existsSync(tempReport) && readFileSync(tempReport, "utf8").includes(PROBE), `temp/${reportName} does not show ${PROBE}`);
        assert(!readFileSync(join(dest, "etc", reportName), "utf8").includes(PROBE), `CI mode rewrote etc/${reportName}`);
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

async function main() {
  const t = suite("check-api-reports");
  const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const pkgs = publishablePackages().filter((p) => !only.length || only.includes(p.name));
  if (!process.argv.includes("--no-build")) {
    const b = nxBuild(pkgs.map((p) => p.name));
    if (b.status !== 0) console.log(b.out.split("\n").slice(-30).join("\n"));
  }
  // Two at a time: api-extractor is single-threaded and the box has 2 cores.
  const queue = [...pkgs];
  const workers = Array.from({ length: Math.min(2, queue.length) }, async () => {
    for (let p = queue.shift(); p; p = queue.shift()) await probePackage(t, p);
  });
  await Promise.all(workers);
  process.exitCode = t.finish();
}

await main();
