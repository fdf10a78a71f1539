// Post-install check (see CONTRIBUTING.md): after `npm install @dmabuf-sdk/conformance`
// alone, the installed CLI runs the full default matrix over the in-tree packages it
// brought with it, and every case passes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";

const json = execFileSync("npx", ["dmabuf-conformance", "run", "--format", "json"], { encoding: "utf8", maxBuffer: 1 << 28 });
const report = JSON.parse(json);
assert.equal(report.schema, "dmabuf-conformance/v1");
assert.ok(report.cases.length > 0, "no cases");
assert.equal(report.summary.failed, 0, "failed cases");
assert.equal(report.summary.unverified, 0, "unverified cases");
console.log(`consumer: npx dmabuf-conformance run: ${report.cases.length} cases, all passed`);

const table = execFileSync("npx", ["dmabuf-conformance", "run", "--topology", "cross-root"], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
assert.match(table, /^dmabuf-conformance: \d+ cases: \d+ passed, 0 failed/);
console.log("consumer: the terminal matrix prints");
