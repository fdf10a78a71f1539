// Shared helpers of the release checks (check-packages, check-api-reports,
// check-changesets, publish-e2e). Node built-ins only: these scripts must run
// on a fresh clone right after `pnpm install`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
export const CORE = "@dmabuf-sdk/dmabuf-core";
export const PNPM_VERSION = "10.34.9";

/** Folder globs of pnpm-workspace.yaml (only the `dir/*` and `dir` forms are used here). */
export function workspaceGlobs() {
  const text = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const globs = [];
  let inPackages = false;
  for (const line of text.split("\n")) {
    if (/^packages:\s*$/.test(line)) {
      inPackages = true;
      continue;
    }
    if (inPackages) {
      const m = /^\s+-\s+["']?([^"'#]+?)["']?\s*$/.exec(line);
      if (m) globs.push(m[1]);
      else if (/^\S/.test(line)) inPackages = false;
    }
  }
  return globs;
}

/**
 * Every workspace package: { name, version, dir, rel, group, pkg }, where
 * group is the first folder ("packages", "apps", "examples").
 */
export function workspacePackages() {
  const out = [];
  for (const g of workspaceGlobs()) {
    const dirs = [];
    if (g.endsWith("/*")) {
      const base = join(root, g.slice(0, -2));
      if (!existsSync(base)) continue;
      for (const n of readdirSync(base).sort()) dirs.push(join(base, n));
    } else dirs.push(join(root, g));
    for (const dir of dirs) {
      const file = join(dir, "package.json");
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, "utf8"));
      const rel = relative(root, dir);
      out.push({ name: pkg.name, version: pkg.version, dir, rel, group: rel.split("/")[0], pkg });
    }
  }
  return out;
}

/** The packages that get published: every workspace package without "private": true. */
export function publishablePackages() {
  return workspacePackages().filter((p) => p.pkg.private !== true);
}

let pnpmBin;
/**
 * Absolute path of a pnpm 10.34.9 executable. `pnpm` on PATH if it is that
 * version (it is under `npx -y pnpm@10.34.9 test`), else the one npx caches.
 */
export function pnpmPath() {
  if (pnpmBin) return pnpmBin;
  const onPath = spawnSync("sh", ["-c", "command -v pnpm"], { encoding: "utf8" }).stdout.trim();
  if (onPath && spawnSync(onPath, ["--version"], { encoding: "utf8" }).stdout?.trim() === PNPM_VERSION) return (pnpmBin = onPath);
  const r = spawnSync("npx", ["-y", "-p", `pnpm@${PNPM_VERSION}`, "sh", "-c", "command -v pnpm"], { encoding: "utf8", cwd: root });
  const p = (r.stdout ?? "").trim().split("\n").pop();
  if (r.status !== 0 || !p) throw new Error(`cannot get pnpm ${PNPM_VERSION} through npx: ${r.stderr}`);
  return (pnpmBin = p);
}

/** PATH with pnpm 10.34.9 and the workspace's node_modules/.bin first (changesets spawns `pnpm`). */
export function toolPath() {
  return [dirname(pnpmPath()), join(root, "node_modules", ".bin"), process.env.PATH].join(":");
}

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28, ...opts });
  return { status: r.status ?? (r.error ? -1 : 1), out: `${r.stdout ?? ""}${r.stderr ?? ""}`, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}

/**
 * A tiny test recorder: `t.check(name, fn)` runs fn (sync or async); a throw is
 * a failure. `t.finish()` prints "<suite>: N passed, N failed", writes
 * reports/<suite>.summary.json (added up by scripts/test-summary.mjs) and
 * returns the exit code.
 */
export function suite(name) {
  let passed = 0;
  let failed = 0;
  const failures = [];
  const t = {
    name,
    async check(title, fn) {
      try {
        await fn();
        passed++;
        console.log(`  ok   ${title}`);
      } catch (e) {
        failed++;
        const msg = e instanceof Error ? e.message : String(e);
        failures.push(`${title}: ${msg}`);
        console.log(`  FAIL ${title}\n       ${msg.replace(/\n/g, "\n       ")}`);
      }
    },
    fail(title, msg) {
      failed++;
      failures.push(`${title}: ${msg}`);
      console.log(`  FAIL ${title}\n       ${msg}`);
    },
    finish() {
      const dir = join(root, "reports");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${name}.summary.json`), JSON.stringify({ passed, failed, failures }, null, 2) + "\n");
      console.log(`${name}: ${passed} passed, ${failed} failed`);
      return failed > 0 || passed === 0 ? 1 : 0;
    },
    get counts() {
      return { passed, failed };
    },
  };
  return t;
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Build the given projects through nx (cached); returns { status, out }. */
export function nxBuild(names) {
  if (!names.length) return { status: 0, out: "" };
  return run(join(root, "node_modules", ".bin", "nx"), ["run-many", "-t", "build", "--projects", names.join(","), "--output-style=static"], {
    cwd: root,
    env: { ...process.env, NX_NO_CLOUD: "true", NX_DAEMON: "false", NX_TUI: "false" },
  });
}
