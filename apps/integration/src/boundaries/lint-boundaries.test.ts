// The package boundary rules (docs/architecture.md) fire: scripts/lint-boundaries.mjs, which every package's `lint` runs, on small workspaces.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../../../scripts/lint-boundaries.mjs", import.meta.url));
const LINT = "eslint src && node ../../scripts/lint-boundaries.mjs";

interface Pkg {
  tags: string[];
  peers?: string[];
  lint?: string;
  files: Record<string, string>;
}

/** A workspace of packages/<name> projects (scope @w) with the given manifests and sources. */
function workspace(pkgs: Record<string, Pkg>): string {
  const root = mkdtempSync(join(tmpdir(), "dmabuf-boundaries-"));
  for (const [name, p] of Object.entries(pkgs)) {
    const dir = join(root, "packages", name);
    mkdirSync(join(dir, "src"), { recursive: true });
    const peers = Object.fromEntries((p.peers ?? []).map((n) => [`@dmabuf-sdk/${n}`, "workspace:^"]));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `@dmabuf-sdk/${name}`, version: "0.1.0", type: "module", nx: { tags: p.tags }, scripts: { lint: p.lint ?? LINT }, peerDependencies: peers }));
    for (const [f, text] of Object.entries(p.files)) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
  }
  return root;
}

let roots: string[] = [];
afterEach(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
});

/** Runs the lint's boundary check of packages/<name> in `pkgs`. */
function lint(pkgs: Record<string, Pkg>, name: string): { status: number | null; out: string } {
  const root = workspace(pkgs);
  roots.push(root);
  const r = spawnSync(process.execPath, [SCRIPT, "--root", root, join(root, "packages", name)], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const core: Pkg = { tags: ["type:core"], files: { "src/index.ts": "export const k = 1;\n" } };
const sgt: Pkg = { tags: ["type:mapping"], peers: ["core"], files: { "src/index.ts": 'export { k } from "@dmabuf-sdk/core";\n' } };
const drm: Pkg = { tags: ["type:subsystem", "subsystem:drm"], peers: ["core"], files: { "src/index.ts": 'export { k } from "@dmabuf-sdk/core";\n' } };
const iouring: Pkg = { tags: ["type:subsystem", "subsystem:io-uring"], peers: ["core"], files: { "src/index.ts": 'export { k } from "@dmabuf-sdk/core";\n' } };
const vfio: Pkg = { tags: ["type:driver"], peers: ["core"], files: { "src/index.ts": 'export { k } from "@dmabuf-sdk/core";\nexport const vfio = 2;\n' } };
const driver = (p: Partial<Pkg> & { files: Record<string, string> }): Pkg => ({ tags: ["type:driver", "subsystem:drm"], peers: ["core"], ...p });
const base = { core, sgt, drm, "io-uring": iouring, vfio };

describe("scripts/lint-boundaries.mjs", () => {
  it.each([
    { desc: "a driver importing core, a mapping type and its own subsystem", pkgs: { xe: driver({ peers: ["core", "sgt", "drm"], files: { "src/index.ts": 'import "@dmabuf-sdk/core";\nimport "@dmabuf-sdk/sgt";\nimport "@dmabuf-sdk/drm";\n' } }) } },
    { desc: "a driver's test importing its own package and its test kit", pkgs: { xe: driver({ files: { "src/index.ts": 'import "@dmabuf-sdk/core";\n', "src/a.test.ts": 'import "@dmabuf-sdk/xe";\nimport "@dmabuf-sdk/xe/testing";\n' } }) } },
  ])("passes: $desc", ({ pkgs }) => {
    const r = lint({ ...base, ...pkgs }, "xe");
    expect(r.out).toContain("follows the package rules");
    expect(r.status).toBe(0);
  });

  it.each([
    { desc: "a driver's test importing another driver by name", file: "src/a.test.ts", text: 'import { vfio } from "@dmabuf-sdk/vfio";\n', peers: ["core", "vfio"], why: /src\/a\.test\.ts → @dmabuf-sdk\/vfio: no-driver-to-vfio/ },
    { desc: "a driver's test kit importing another driver's test kit", file: "src/testing/index.ts", text: 'export * from "@dmabuf-sdk/vfio/testing";\n', peers: ["core", "vfio"], why: /src\/testing\/index\.ts → @dmabuf-sdk\/vfio\/testing: no-driver-to-vfio/ },
    { desc: "a driver reaching into another driver's source by a relative path", file: "src/b.ts", text: 'export { vfio } from "../../vfio/src/index.js";\n', peers: ["core"], why: /no-driver-to-vfio/ },
    { desc: "a driver importing a subsystem it does not belong to", file: "src/c.ts", text: 'import "@dmabuf-sdk/io-uring";\n', peers: ["core", "io-uring"], why: /no-driver-to-io-uring/ },
    { desc: "a driver importing an app", file: "test/d.test.ts", text: 'import "@dmabuf-sdk/app";\n', peers: ["core"], why: /no-driver-to-app/ },
  ])("fails on a forbidden import: $desc", ({ file, text, peers, why }) => {
    const r = lint({ ...base, app: { tags: ["type:app"], files: { "src/index.ts": "" } }, xe: driver({ peers, files: { "src/index.ts": 'import "@dmabuf-sdk/core";\n', [file]: text } }) }, "xe");
    expect(r.status).toBe(1);
    expect(r.out).toMatch(why);
  });

  it.each([
    { desc: "core depending on a mapping type", name: "core", pkgs: { core: { tags: ["type:core"], peers: ["sgt"], files: { "src/index.ts": 'import "@dmabuf-sdk/sgt";\n' } } }, why: /peerDependencies names @dmabuf-sdk\/sgt: a core may not depend on a mapping/ },
    { desc: "a mapping type depending on a driver", name: "sgt", pkgs: { sgt: { tags: ["type:mapping"], peers: ["core", "vfio"], files: { "src/index.ts": 'import "@dmabuf-sdk/core";\nimport "@dmabuf-sdk/vfio";\n' } } }, why: /a mapping may not depend on a driver/ },
    { desc: "a subsystem depending on a driver", name: "drm", pkgs: { drm: { tags: ["type:subsystem", "subsystem:drm"], peers: ["core", "vfio"], files: { "src/index.ts": 'import "@dmabuf-sdk/core";\nimport "@dmabuf-sdk/vfio";\n' } } }, why: /a subsystem may not depend on a driver/ },
    { desc: "a driver naming another driver in its manifest only", name: "xe", pkgs: { xe: driver({ peers: ["core", "vfio"], files: { "src/index.ts": 'import "@dmabuf-sdk/core";\n' } }) }, why: /peerDependencies names @dmabuf-sdk\/vfio: a driver may not depend on a driver/ },
    { desc: "a driver naming a mapping type it does not use", name: "xe", pkgs: { xe: driver({ peers: ["core", "sgt"], files: { "src/index.ts": 'import "@dmabuf-sdk/core";\n' } }) }, why: /names @dmabuf-sdk\/sgt, which no file of packages\/xe imports/ },
    { desc: "a driver importing a package it does not declare", name: "xe", pkgs: { xe: driver({ files: { "src/index.ts": 'import "@dmabuf-sdk/core";\nimport "@dmabuf-sdk/sgt";\n' } }) }, why: /@dmabuf-sdk\/sgt is not declared in packages\/xe\/package\.json/ },
    { desc: "a project without a type tag", name: "xe", pkgs: { xe: driver({ tags: [], files: { "src/index.ts": 'import "@dmabuf-sdk/core";\n' } }) }, why: /must hold exactly one of type:core/ },
    { desc: "a project whose lint skips the boundary check", name: "xe", pkgs: { xe: driver({ lint: "eslint src", files: { "src/index.ts": 'import "@dmabuf-sdk/core";\n' } }) }, why: /the "lint" script does not run scripts\/lint-boundaries\.mjs/ },
  ] as { desc: string; name: string; pkgs: Record<string, Pkg>; why: RegExp }[])("fails: $desc", ({ name, pkgs, why }) => {
    const r = lint({ ...base, ...pkgs }, name);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(why);
  });
});
