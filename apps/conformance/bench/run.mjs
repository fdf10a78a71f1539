// Benchmark of the conformance app (`pnpm bench`): wall time and cases per
// second of the full default matrix with --jobs 1 and --jobs 2.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../dist/bin/dmabuf-conformance.js", import.meta.url));
const results = {};
for (const jobs of [1, 2]) {
  const times = [];
  let cases = 0;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, [cli, "run", "--format", "json", "--jobs", String(jobs)], { encoding: "utf8", maxBuffer: 1 << 28 });
    times.push((performance.now() - t0) / 1000);
    if (p.status !== 0) throw new Error(`matrix failed:\n${p.stderr}${p.stdout.slice(0, 2000)}`);
    cases = JSON.parse(p.stdout).cases.length;
  }
  const best = Math.min(...times);
  results[`full default matrix, --jobs ${jobs}`] = { wallSeconds: best, cases, casesPerSecond: cases / best, target: "< 10 s" };
  console.log(`full default matrix, --jobs ${jobs}: ${cases} cases in ${best.toFixed(2)} s (${(cases / best).toFixed(1)} cases/s, target < 10 s)`);
}
writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2) + "\n");
