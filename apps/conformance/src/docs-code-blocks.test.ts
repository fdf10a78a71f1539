// Tests: the code blocks of the README, the conformance app's and the example plugin's docs run as written.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { parseScenarioFile, runScenarioFile } from "@dmabuf-sdk/conformance";
import { APP, CLI, ROOT } from "../test/tools.ts";

/** A fenced code block: its info string, text and the line it starts on. */
interface Block {
  readonly lang: string;
  readonly text: string;
  readonly line: number;
}

function blocks(file: string): Block[] {
  const out: Block[] = [];
  const lines = readFileSync(file, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!m || !m[1]) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== "```"; i++) body.push(lines[i]!);
    out.push({ lang: m[1], text: `${body.join("\n")}\n`, line: start + 1 });
  }
  return out;
}

const README = join(ROOT, "README.md");
const APP_README = join(APP, "README.md");
const PLUGIN_README = join(ROOT, "examples", "plugin-xlink", "README.md");
/** Where extracted TypeScript runs: inside the app, so every workspace package resolves. */
const WORK = join(APP, "reports", "readme");

/** What a block's `console.log(...); // expected` comments say it prints, in order. */
function expectedOutput(code: string): string[] {
  return code
    .split("\n")
    .filter((l) => /^\s*console\.log\(/.test(l) && l.includes("; // "))
    .map((l) => l.slice(l.lastIndexOf("; // ") + 5).trim());
}

/** The environment of a user's terminal-less shell: no forced colours (nx sets FORCE_COLOR for its tasks). */
function plainEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env.FORCE_COLOR;
  return env;
}

function runTs(b: Block, name: string) {
  mkdirSync(WORK, { recursive: true });
  const js = ts.transpileModule(b.text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const file = join(WORK, `${name}.mjs`);
  writeFileSync(file, js);
  return spawnSync(process.execPath, [file], { cwd: WORK, encoding: "utf8", env: plainEnv() });
}

function runSh(text: string, cwd: string) {
  return spawnSync("bash", ["-euo", "pipefail", "-c", text], { cwd, encoding: "utf8", env: plainEnv(), maxBuffer: 1 << 28 });
}

describe("the README's code blocks run as written", () => {
  const root = blocks(README);

  it("the README has TypeScript and shell blocks", () => {
    expect(root.filter((b) => b.lang === "ts").length).toBeGreaterThanOrEqual(2);
    expect(root.filter((b) => b.lang === "sh").length).toBeGreaterThanOrEqual(2);
  });

  it.each(root.filter((b) => b.lang === "ts").map((b) => [b.line, b] as const))("README.md:%i (ts) runs and prints what its comments say", (line, b) => {
    const r = runTs(b, `readme-${line}`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const want = expectedOutput(b.text);
    expect(want.length).toBeGreaterThan(0);
    expect(r.stdout.trimEnd().split("\n")).toEqual(want);
  });

  it("the set-up block is exactly what CI runs on a clean clone, with the pinned pnpm", () => {
    const setup = root.find((b) => b.lang === "sh" && b.text.includes("install --frozen-lockfile"))!;
    const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string>; packageManager: string }).scripts;
    const pm = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { packageManager: string }).packageManager;
    const ci = readFileSync(join(ROOT, ".ci", "run"), "utf8");
    for (const m of setup.text.matchAll(/npx -y (pnpm@\S+) (\S+)/g)) {
      expect(m[1]).toBe(pm);
      if (m[2] !== "install") expect(Object.keys(scripts)).toContain(m[2]);
    }
    // CI runs the install and the test command of this block (the block itself cannot run inside the test it starts).
    expect(ci).toContain(`npx -y ${pm} install --frozen-lockfile`);
    expect(ci).toContain(`npx -y ${pm} test`);
    expect(setup.text).toContain(`npx -y ${pm} test`);
  });

  it.each(root.filter((b) => b.lang === "sh" && !b.text.includes("install --frozen-lockfile")).map((b) => [b.line, b] as const))("README.md:%i (sh) runs from the repository root", (_line, b) => {
    const r = runSh(b.text, ROOT);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/### dmabuf-conformance: ✅ 0 regressions/);
    expect(r.stdout).toMatch(/xlink-gpu .*✓ XLINK/);
  });

  it("the packages table names each package's module export, as its package.json declares it", () => {
    const text = readFileSync(README, "utf8");
    for (const group of ["packages", "apps", "examples"]) {
      for (const dir of readdirSync(join(ROOT, group))) {
        const pjFile = join(ROOT, group, dir, "package.json");
        if (!existsSync(pjFile)) continue;
        const pj = JSON.parse(readFileSync(pjFile, "utf8")) as { name: string; "dmabuf-sdk"?: { module?: string | null } };
        const row = text.split("\n").find((l) => l.startsWith(`| [${group}/${dir}](${group}/${dir}) |`));
        expect(row, `${group}/${dir} has a row`).toBeDefined();
        const cells = row!.split("|").map((c) => c.trim());
        expect(cells[2]).toContain(`\`${pj.name}\``);
        expect(cells[3]).toBe(pj["dmabuf-sdk"]?.module ? `\`${pj["dmabuf-sdk"].module}\`` : "—");
      }
    }
  });
});

describe("the conformance app's README", () => {
  const app = blocks(APP_README);

  it.each(app.filter((b) => b.lang === "yaml").map((b) => [b.line, b] as const))("apps/conformance/README.md:%i (yaml) is a valid scenario that passes", async (line, b) => {
    const r = await runScenarioFile(parseScenarioFile(b.text, `README.md:${line}.yaml`));
    expect(r.steps.filter((s) => !s.ok)).toEqual([]);
    expect(r.passed).toBe(true);
  });

  it.each(app.filter((b) => b.lang === "sh").map((b) => [b.line, b] as const))("apps/conformance/README.md:%i (sh) runs, with the built bin standing in for the installed one", (_line, b) => {
    const dir = join(WORK, "app");
    mkdirSync(dir, { recursive: true });
    // `npm install` of the published package is what scripts/publish-e2e.mjs does against a real registry.
    const text = b.text
      .split("\n")
      .filter((l) => !l.startsWith("npm install "))
      .join("\n")
      .replace(/\bnpx dmabuf-conformance\b/g, `node ${CLI}`)
      .replace(/^dmabuf-conformance\b/gm, `node ${CLI}`);
    const r = runSh(text, ROOT);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("the example plugin's README", () => {
  it("exists and its shell blocks run from the repository root", () => {
    const b = blocks(PLUGIN_README).filter((x) => x.lang === "sh");
    expect(b.length).toBeGreaterThan(0);
    for (const x of b) {
      const r = runSh(x.text, ROOT);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/xlink-gpu/);
    }
  });
});
