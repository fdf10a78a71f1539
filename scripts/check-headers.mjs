#!/usr/bin/env node
// Every source file under packages/*/src, apps/*/src and examples/*/src (tests
// included) opens with ONE line comment naming the kernel file or concept it
// models, or for a test what it tests: `// drivers/dma-buf/dma-fence.c: ...`
// (a bin's `#!` line comes first, then the header).
// First it proves on fixtures that the check can fail.
//
// Usage: node scripts/check-headers.mjs
// Writes reports/check-headers.summary.json ({"passed": N, "failed": N}).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assert, root, suite } from "./lib/release.mjs";

const GROUPS = ["packages", "apps", "examples"];
const SKIP = new Set(["node_modules", "dist"]);

/** The .ts files under <group>/<project>/src of `base`, as paths relative to it. */
export function sourceFiles(base) {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(base, rel), { withFileTypes: true })) {
      if (SKIP.has(e.name)) continue;
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith(".ts")) out.push(r);
    }
  };
  for (const g of GROUPS) {
    if (!existsSync(join(base, g))) continue;
    for (const p of readdirSync(join(base, g))) {
      const src = `${g}/${p}/src`;
      if (existsSync(join(base, src)) && statSync(join(base, src)).isDirectory()) walk(src);
    }
  }
  return out.sort();
}

/** Why `text` lacks the header, or undefined: the first line (after a `#!` line) must be a `// <what it models>` comment. */
export function headerProblem(text) {
  const lines = text.split("\n", 2);
  const first = (lines[0]?.startsWith("#!") ? lines[1] : lines[0]) ?? "";
  if (!/^\/\/ \S.{7,}$/.test(first)) return `first line is not a one-line "// ..." comment naming what the file models: ${JSON.stringify(first.slice(0, 60))}`;
  return undefined;
}

/** Every file of `base` whose header is missing, as "path: why". */
export function checkHeaders(base) {
  const errs = [];
  for (const f of sourceFiles(base)) {
    const why = headerProblem(readFileSync(join(base, f), "utf8"));
    if (why) errs.push(`${f}: ${why}`);
  }
  return errs;
}

async function main() {
  const t = suite("check-headers");
  const tmp = mkdtempSync(join(tmpdir(), "dmabuf-headers-"));
  try {
    const put = (rel, text) => {
      mkdirSync(join(tmp, rel, ".."), { recursive: true });
      writeFileSync(join(tmp, rel), text);
    };
    put("packages/a/src/good.ts", "// drivers/dma-buf/dma-fence.c: struct dma_fence.\nexport const x = 1;\n");
    put("packages/a/src/good.test.ts", "// dma-fence: signalling order and callbacks.\nimport {} from 'vitest';\n");
    put("packages/a/src/bin/cli.ts", "#!/usr/bin/env node\n// dmabuf-cli: the command line of package a.\nexport {};\n");
    put("packages/a/dist/ignored.ts", "export const y = 2;\n");
    await t.check("self-test: files with a header (after a #! line for a bin) pass, dist is not looked at", () => {
      const errs = checkHeaders(tmp);
      assert(errs.length === 0, errs.join("\n"));
    });
    put("apps/b/src/deep/no-header.ts", "import x from 'y';\n");
    put("examples/c/src/jsdoc.test.ts", "/** A doc comment is not the header. */\nexport {};\n");
    put("packages/a/src/short.ts", "//\nexport {};\n");
    put("packages/a/src/bin/bare.ts", "#!/usr/bin/env node\nimport x from 'y';\n");
    await t.check("self-test: catches a file without a header, a JSDoc first line, an empty comment and a bare #! line", () => {
      const errs = checkHeaders(tmp);
      assert(errs.length === 4, `expected 4 problems, got:\n${errs.join("\n")}`);
      for (const f of ["apps/b/src/deep/no-header.ts", "examples/c/src/jsdoc.test.ts", "packages/a/src/short.ts", "packages/a/src/bin/bare.ts"]) {
        assert(errs.some((e) => e.startsWith(f)), `${f} not reported`);
      }
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const files = sourceFiles(root);
  await t.check(`every source file under */*/src opens with a one-line header (${files.length} files)`, () => {
    assert(files.length > 0, "no source files found");
    const errs = checkHeaders(root);
    assert(errs.length === 0, `${errs.length} file(s):\n${errs.join("\n")}`);
  });
  process.exitCode = t.finish();
}

await main();
