#!/usr/bin/env node
// `pnpm test:publish`: a real publish to a local registry, then installs from it.
//
//  1. start verdaccio 6.8.0 on 127.0.0.1 (free port) with temporary storage and
//     config: no uplinks, `publish: $authenticated` for @dmabuf-sdk/*;
//  2. create a user with one HTTP PUT and take its token;
//  3. `changeset publish --no-git-tag` with npm_config_registry exported
//     (changesets ignores .npmrc registries: tooling.md P10);
//  4. every non-private package@version must be on the registry, with no
//     `workspace:` protocol left, its tarball served by the local registry;
//  5. for each package, in an empty directory outside the workspace:
//     `npm install <name>@<version>` alone (@dmabuf-sdk/* from the local
//     registry, anything else from the default one), check it came from the
//     local registry and without its e2e/ folder, then run the package's
//     post-install check <package>/e2e/consumer.mjs (kept in the repo, not in
//     the tarball) with node; a package without one gets a generic check that
//     imports every entry point of its exports map.
// verdaccio is killed on exit (normal, error or signal); every wait is bounded.
//
// Usage: node scripts/publish-e2e.mjs [--no-build]
// Writes reports/publish-e2e.summary.json.
import { spawn } from "node:child_process";
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assert, nxBuild, publishablePackages, root, suite, toolPath } from "./lib/release.mjs";

const started = Date.now();
const t = suite("publish-e2e");
const tmp = mkdtempSync(join(tmpdir(), "dmabuf-publish-"));
let verdaccio;

function cleanup() {
  if (verdaccio && verdaccio.exitCode === null) {
    try {
      verdaccio.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
  if (!process.env.DMABUF_E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}
// The whole run is bounded too.
const watchdog = setTimeout(() => {
  console.log("publish-e2e: timed out after 240 s");
  t.fail("publish-e2e finishes in time", "timed out after 240 s");
  t.finish();
  process.exit(1);
}, 240_000);
watchdog.unref();

/** Spawn with a timeout; resolves { status, out }. */
function exec(cmd, args, { cwd, env, timeout = 120_000 } = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[killed after ${timeout / 1000} s]`;
      p.kill("SIGKILL");
    }, timeout);
    p.on("error", (e) => (out += `\n${e.message}`));
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? 1, out });
    });
  });
}

const tail = (s, n = 15) => s.trim().split("\n").slice(-n).join("\n");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The environment without the npm_config_* that pnpm or npm put there. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && !/^PNPM_/.test(k)) env[k] = v;
  return { ...env, FORCE_COLOR: "0", NO_UPDATE_NOTIFIER: "1", npm_config_update_notifier: "false", ...extra };
}

async function startRegistry() {
  const port = await freePort();
  const reg = `http://127.0.0.1:${port}/`;
  const config = join(tmp, "verdaccio.yaml");
  writeFileSync(
    config,
    [
      `storage: ${join(tmp, "storage")}`,
      "auth:",
      "  htpasswd:",
      `    file: ${join(tmp, "htpasswd")}`,
      "    max_users: 100",
      "uplinks: {}",
      "packages:",
      "  '@dmabuf-sdk/*':",
      "    access: $all",
      "    publish: $authenticated",
      "    unpublish: $authenticated",
      "  '**':",
      "    access: $all",
      "    publish: $authenticated",
      "web:",
      "  enable: false",
      "max_body_size: 200mb",
      "log: { type: stdout, format: pretty, level: warn }",
      "",
    ].join("\n"),
  );
  const log = createWriteStream(join(tmp, "verdaccio.log"));
  verdaccio = spawn(process.execPath, [join(root, "node_modules", "verdaccio", "bin", "verdaccio"), "--config", config, "--listen", `127.0.0.1:${port}`], {
    cwd: tmp,
    env: cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  verdaccio.stdout.pipe(log);
  verdaccio.stderr.pipe(log);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (verdaccio.exitCode !== null) throw new Error(`verdaccio exited with ${verdaccio.exitCode}:\n${readFileSync(join(tmp, "verdaccio.log"), "utf8")}`);
    try {
      const r = await fetch(`${reg}-/ping`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return reg;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`verdaccio did not answer /-/ping within 20 s:\n${readFileSync(join(tmp, "verdaccio.log"), "utf8")}`);
}

async function main() {
  const pkgs = publishablePackages();
  console.log(`publish-e2e: ${pkgs.length} publishable package(s): ${pkgs.map((p) => `${p.name}@${p.version}`).join(", ")}`);
  if (!pkgs.length) {
    t.fail("publishable packages", "no non-private workspace package");
    return;
  }
  if (!process.argv.includes("--no-build")) {
    const b = nxBuild(pkgs.map((p) => p.name));
    if (b.status !== 0) console.log(tail(b.out, 30));
  }

  let reg;
  await t.check("verdaccio 6.8.0 starts on 127.0.0.1", async () => {
    reg = await startRegistry();
    const v = JSON.parse(readFileSync(join(root, "node_modules", "verdaccio", "package.json"), "utf8")).version;
    assert(v === "6.8.0", `verdaccio ${v} installed, 6.8.0 pinned`);
  });
  if (!reg) return;
  console.log(`  registry ${reg}`);

  let token;
  await t.check("a user PUT returns a token", async () => {
    const r = await fetch(`${reg}-/user/org.couchdb.user:ci`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "ci", password: "ci-password-e2e", email: "ci@localhost" }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await r.json();
    assert(r.status === 201 && body.token, `HTTP ${r.status}: ${JSON.stringify(body)}`);
    token = body.token;
  });
  if (!token) return;

  const host = reg.replace(/^http:/, "");
  const npmrc = join(tmp, "publish.npmrc");
  writeFileSync(npmrc, `registry=${reg}\n${host}:_authToken=${token}\n`);
  const publishEnv = cleanEnv({
    PATH: toolPath(),
    npm_config_registry: reg, // changesets passes its own registry to pnpm publish unless this is set (P10)
    NPM_CONFIG_USERCONFIG: npmrc,
    npm_config_userconfig: npmrc,
  });

  await t.check("changeset publish --no-git-tag to the local registry", async () => {
    // Nine packs and uploads: minutes on a loaded 2-core machine.
    const r = await exec(join(root, "node_modules", ".bin", "changeset"), ["publish", "--no-git-tag"], { cwd: root, env: publishEnv, timeout: 600_000 });
    console.log(tail(r.out, 4).replace(/^/gm, "       "));
    assert(r.status === 0, tail(r.out, 25));
    assert(!/npmjs\.org/.test(r.out) || /127\.0\.0\.1/.test(r.out), `changeset publish talked to npmjs:\n${tail(r.out)}`);
  });

  for (const p of pkgs) {
    await t.check(`${p.name}@${p.version} is on the registry, without workspace:`, async () => {
      const r = await fetch(`${reg}${p.name.replace("/", "%2f")}`, { signal: AbortSignal.timeout(10_000) });
      assert(r.ok, `GET ${p.name}: HTTP ${r.status}`);
      const doc = await r.json();
      const v = doc.versions?.[p.version];
      assert(v, `${p.version} not published (have ${Object.keys(doc.versions ?? {}).join(", ") || "none"})`);
      assert(doc["dist-tags"]?.latest === p.version, `latest is ${doc["dist-tags"]?.latest}`);
      assert(!JSON.stringify(v).includes("workspace:"), `"workspace:" in the published manifest: ${JSON.stringify({ dependencies: v.dependencies, peerDependencies: v.peerDependencies })}`);
      assert(v.dist?.tarball?.startsWith(reg), `tarball ${v.dist?.tarball} is not served by ${reg}`);
      const tgz = await fetch(v.dist.tarball, { signal: AbortSignal.timeout(10_000) });
      assert(tgz.ok, `GET ${v.dist.tarball}: HTTP ${tgz.status}`);
    });
  }

  // Consumers, two at a time, each in its own empty directory outside the workspace.
  const queue = [...pkgs];
  const consumerEnv = cleanEnv({ DMABUF_E2E_REGISTRY: reg });
  const consume = async (p) => {
    const dir = join(tmp, "consumers", p.name.replace("/", "__"));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "dmabuf-e2e-consumer", version: "0.0.0", private: true, type: "module" }, null, 2));
    writeFileSync(join(dir, ".npmrc"), `@dmabuf-sdk:registry=${reg}\naudit=false\nfund=false\n`);
    let installed = false;
    await t.check(`${p.name}: npm install ${p.name}@${p.version} alone, outside the workspace`, async () => {
      const r = await exec("npm", ["install", `${p.name}@${p.version}`, "--no-audit", "--no-fund", "--loglevel=error", "--omit-lockfile-registry-resolved=false"], { cwd: dir, env: consumerEnv, timeout: 300_000 });
      assert(r.status === 0, tail(r.out));
      const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8"));
      const ours = Object.entries(lock.packages ?? {}).filter(([k]) => k.includes("node_modules/@dmabuf-sdk/"));
      assert(ours.some(([k]) => k === `node_modules/${p.name}`), `${p.name} not in package-lock.json`);
      for (const [k, v] of ours) {
        assert(!v.link, `${k} is a link`);
        assert(v.resolved?.startsWith(reg), `${k} resolved from ${v.resolved}, not ${reg}`);
      }
      assert(!existsSync(join(dir, "node_modules", p.name, "e2e")), "the e2e/ folder was published");
      installed = true;
    });
    if (!installed) return;
    const check = join(p.dir, "e2e", "consumer.mjs");
    if (existsSync(check)) {
      cpSync(check, join(dir, "consumer.mjs"));
      await t.check(`${p.name}: ${p.rel}/e2e/consumer.mjs passes against the installed package`, async () => {
        const r = await exec(process.execPath, ["consumer.mjs"], { cwd: dir, env: consumerEnv, timeout: 120_000 });
        console.log(r.out.trimEnd().replace(/^/gm, "     "));
        assert(r.status === 0, `exit ${r.status}`);
      });
    } else {
      await t.check(`${p.name}: every entry point imports, every bin is linked (no e2e/consumer.mjs)`, async () => {
        const bins = typeof p.pkg.bin === "string" ? [p.name.split("/").pop()] : Object.keys(p.pkg.bin ?? {});
        for (const b of bins) assert(existsSync(join(dir, "node_modules", ".bin", b)), `bin ${b} is not in node_modules/.bin`);
        const subpaths = Object.keys(p.pkg.exports ?? (bins.length ? {} : { ".": "" })).filter((s) => s !== "./package.json" && !s.includes("*"));
        const specs = subpaths.map((s) => (s === "." ? p.name : `${p.name}/${s.slice(2)}`));
        const code = `for (const s of ${JSON.stringify(specs)}) { const m = await import(s); if (!Object.keys(m).length) throw new Error(s + " exports nothing"); console.log("  imported " + s); }`;
        const r = await exec(process.execPath, ["--input-type=module", "-e", code], { cwd: dir, env: consumerEnv, timeout: 60_000 });
        console.log(r.out.trimEnd().replace(/^/gm, "     "));
        assert(r.status === 0, `exit ${r.status}`);
      });
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(2, queue.length) }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) await consume(p);
    }),
  );
}

try {
  await main();
} catch (e) {
  t.fail("publish-e2e", e instanceof Error ? e.stack ?? e.message : String(e));
}
console.log(`publish-e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = t.finish();
cleanup();
process.exit();
