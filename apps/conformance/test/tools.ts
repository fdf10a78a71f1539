// Helpers of the conformance app's tests: the CLI as a user runs it, and the real validators
// scripts/install-test-tools.mjs installs (xmllint, the kernel's kunit_parser.py).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const APP = fileURLToPath(new URL("..", import.meta.url));
export const ROOT = join(APP, "..", "..");
export const CLI = join(APP, "dist", "bin", "dmabuf-conformance.js");
/** A plugin whose cases fail or are unverified (test/fixtures/plugin-mismatch). */
export const MISMATCH = ["--module", "./test/fixtures/plugin-mismatch", "--exporter", "echo-exporter"];
export const KUNIT_DIR = process.env.KUNIT_DIR ?? join(ROOT, "node_modules", ".cache", "linux-kunit");
export const XSD = join(APP, "schema", "junit-10.xsd");

/** Runs the built CLI; no colour. */
export function cli(args: readonly string[], cwd = APP, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env }, maxBuffer: 1 << 28 });
}

export function tmp(prefix = "conformance-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

const PARSE = `
import json, sys
sys.path.insert(0, sys.argv[1])
import kunit_parser
test = kunit_parser.parse_run_tests(open(sys.argv[2]).read().splitlines())
c = test.counts
print("VERDICT " + json.dumps({"status": test.status.name, "passed": c.passed, "failed": c.failed, "skipped": c.skipped, "crashed": c.crashed, "errors": c.errors}))
`;

/** What the kernel's tools/testing/kunit/kunit_parser.py makes of a KTAP text. */
export function kunitVerdict(ktap: string): { status: string; passed: number; failed: number; skipped: number; crashed: number; errors: number } {
  if (!existsSync(join(KUNIT_DIR, "kunit_parser.py"))) throw new Error(`${KUNIT_DIR}/kunit_parser.py is missing: run the README's test command (scripts/install-test-tools.mjs extracts it)`);
  const f = join(tmp("ktap-"), "run.ktap");
  writeFileSync(f, ktap);
  const r = spawnSync("python3", ["-c", PARSE, KUNIT_DIR, f], { encoding: "utf8" });
  const line = r.stdout.split("\n").find((l) => l.startsWith("VERDICT "));
  if (!line) throw new Error(`kunit_parser failed: ${r.stderr}${r.stdout}`);
  return JSON.parse(line.slice(8)) as ReturnType<typeof kunitVerdict>;
}

/** Validates an XML text against junit-10.xsd with Debian's xmllint. */
export function xmllint(xml: string): { ok: boolean; output: string } {
  const f = join(tmp("junit-"), "report.xml");
  writeFileSync(f, xml);
  const r = spawnSync("xmllint", ["--noout", "--schema", XSD, f], { encoding: "utf8" });
  if (r.error) throw new Error(`xmllint is missing (${r.error.message}): run the README's test command (scripts/install-test-tools.mjs installs libxml2-utils)`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
