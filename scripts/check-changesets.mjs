#!/usr/bin/env node
// Checks the changesets set-up without touching the real tree: copies the
// release-relevant files (root manifest, workspace file, .changeset/, every
// workspace package.json and CHANGELOG.md) into a temp git repository, adds a
// probe changeset (so the flow is exercised even when no changeset is
// pending), then runs `changeset status` and `changeset version` there and
// checks:
//   - status succeeds (config valid, every changeset names real packages)
//   - no package gets a major bump unless some changeset asks for a major
//     (guards against the peer-dependency cascade: see CONTRIBUTING.md)
//   - the members of each fixed group leave with one version
//   - version writes what status planned, a CHANGELOG.md per released
//     package with the new version and each changeset's summary, deletes the
//     consumed changesets, and keeps the workspace: ranges
// Usage: node scripts/check-changesets.mjs
// Writes reports/check-changesets.summary.json.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { CORE, assert, root, run, suite, workspacePackages } from "./lib/release.mjs";

const PROBE_ID = "release-check-probe";
const PROBE_SUMMARY = "Release check probe: exercises changeset version (never committed).";

function copyRepo() {
  const tmp = mkdtempSync(join(tmpdir(), "dmabuf-changesets-"));
  const copy = (rel) => {
    if (!existsSync(join(root, rel))) return;
    mkdirSync(dirname(join(tmp, rel)), { recursive: true });
    cpSync(join(root, rel), join(tmp, rel), { recursive: true });
  };
  for (const f of ["package.json", "pnpm-workspace.yaml", ".changeset"]) copy(f);
  for (const p of workspacePackages()) for (const f of ["package.json", "CHANGELOG.md"]) copy(join(p.rel, f));
  symlinkSync(join(root, "node_modules"), join(tmp, "node_modules"));
  writeFileSync(join(tmp, ".gitignore"), "node_modules\n");
  return tmp;
}

/** Parse the front matter of a changeset file: { releases: {name: type}, summary }. */
function parseChangeset(text) {
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text.replace(/\r\n/g, "\n"));
  if (!m) return undefined;
  const releases = {};
  for (const line of m[1].split("\n")) {
    const r = /^\s*["']?([^"':]+)["']?\s*:\s*(major|minor|patch|none)\s*$/.exec(line);
    if (r) releases[r[1]] = r[2];
  }
  return { releases, summary: m[2].trim() };
}

async function main() {
  const t = suite("check-changesets");
  const changeset = join(root, "node_modules", ".bin", "changeset");
  const config = JSON.parse(readFileSync(join(root, ".changeset", "config.json"), "utf8"));
  const tmp = copyRepo();
  try {
    const git = (...a) => run("git", ["-c", "user.name=release-check", "-c", "user.email=release-check@localhost", "-c", "commit.gpgsign=false", ...a], { cwd: tmp });
    const cs = (...a) => run(changeset, a, { cwd: tmp, env: { ...process.env, FORCE_COLOR: "0" } });

    // The probe: a patch of core (always a workspace package).
    writeFileSync(join(tmp, ".changeset", `${PROBE_ID}.md`), `---\n"${CORE}": patch\n---\n\n${PROBE_SUMMARY}\n`);
    let r = git("init", "-q", "-b", config.baseBranch ?? "main");
    if (r.status === 0) r = git("add", "-A");
    if (r.status === 0) r = git("commit", "-q", "-m", "release check");
    if (r.status !== 0) {
      t.fail("temp git repository", r.out);
      process.exitCode = t.finish();
      return;
    }

    const changesets = readdirSync(join(tmp, ".changeset"))
      .filter((f) => f.endsWith(".md") && f !== "README.md")
      .map((f) => ({ id: f.replace(/\.md$/, ""), ...parseChangeset(readFileSync(join(tmp, ".changeset", f), "utf8")) }));
    const before = Object.fromEntries(workspacePackages().map((p) => [p.name, JSON.parse(readFileSync(join(tmp, p.rel, "package.json"), "utf8"))]));
    const relOf = Object.fromEntries(workspacePackages().map((p) => [p.name, p.rel]));

    let plan;
    await t.check(`changeset status (${changesets.length} changeset(s) incl. the probe)`, () => {
      for (const c of changesets) assert(c.releases && Object.keys(c.releases).length, `.changeset/${c.id}.md: no releases in the front matter`);
      const s = cs("status", "--output=status.json");
      assert(s.status === 0, s.out.split("\n").slice(-15).join("\n"));
      plan = JSON.parse(readFileSync(join(tmp, "status.json"), "utf8"));
      rmSync(join(tmp, "status.json"));
      assert(plan.releases.some((x) => x.name === CORE), `the probe did not plan a release of ${CORE}`);
      for (const x of plan.releases) console.log(`       ${x.name}: ${x.oldVersion} -> ${x.newVersion} (${x.type})`);
    });
    if (!plan) {
      process.exitCode = t.finish();
      return;
    }

    await t.check("no major bump that no changeset asked for", () => {
      const askedMajor = changesets.some((c) => Object.values(c.releases).includes("major"));
      const majors = plan.releases.filter((x) => x.type === "major");
      assert(
        askedMajor || majors.length === 0,
        `no changeset asks for a major, yet ${majors.map((x) => `${x.name} ${x.oldVersion} -> ${x.newVersion}`).join(", ")}: ` +
          "a minor (or major) release of a package that others take as a peer dependency with a range it leaves " +
          "bumps them all to a major. While 0.x, use patch for additive changes (CONTRIBUTING.md, \"Versioning\").",
      );
    });

    await t.check("each fixed group leaves with one version", () => {
      for (const group of config.fixed ?? []) {
        const vs = new Set(plan.releases.filter((x) => group.includes(x.name)).map((x) => x.newVersion));
        assert(vs.size <= 1, `fixed group [${group.join(", ")}] would get versions ${[...vs].join(", ")}`);
      }
    });

    await t.check("changeset version writes versions, CHANGELOGs, and consumes the changesets", () => {
      const v = cs("version");
      assert(v.status === 0, v.out.split("\n").slice(-15).join("\n"));
      const errs = [];
      for (const x of plan.releases) {
        const dir = join(tmp, relOf[x.name]);
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
        if (pkg.version !== x.newVersion) errs.push(`${x.name}: version ${pkg.version}, planned ${x.newVersion}`);
        const logFile = join(dir, "CHANGELOG.md");
        if (!existsSync(logFile)) {
          errs.push(`${x.name}: no CHANGELOG.md`);
          continue;
        }
        const log = readFileSync(logFile, "utf8");
        const first = /^## (\S+)/m.exec(log)?.[1];
        if (first !== x.newVersion) errs.push(`${x.name}: CHANGELOG.md starts with ${first}, not ${x.newVersion}`);
        for (const id of x.changesets) {
          const c = changesets.find((c) => c.id === id);
          const line = c?.summary.split("\n")[0];
          if (line && !log.includes(line)) errs.push(`${x.name}: CHANGELOG.md lacks the summary of ${id}`);
        }
      }
      for (const c of changesets) if (existsSync(join(tmp, ".changeset", `${c.id}.md`))) errs.push(`.changeset/${c.id}.md was not consumed`);
      assert(errs.length === 0, errs.join("\n"));
    });

    await t.check("changeset version keeps the workspace: ranges", () => {
      const errs = [];
      for (const [name, pkg] of Object.entries(before)) {
        const after = JSON.parse(readFileSync(join(tmp, relOf[name], "package.json"), "utf8"));
        for (const f of ["dependencies", "peerDependencies", "devDependencies", "optionalDependencies"]) {
          for (const [dep, range] of Object.entries(pkg[f] ?? {})) {
            if (range.startsWith("workspace:") && after[f]?.[dep] !== range) errs.push(`${name} ${f}["${dep}"]: ${range} -> ${after[f]?.[dep]}`);
          }
        }
      }
      assert(errs.length === 0, errs.join("\n"));
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  process.exitCode = t.finish();
}

await main();
