// Tests of the GitHub Actions workflow: shard fan-out and merge, with its own steps run here.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ROOT } from "../test/tools.ts";

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string;
  if?: string;
  strategy?: { matrix: { shard: number[] } };
  steps: Step[];
}
const wf = parse(readFileSync(join(ROOT, ".github", "workflows", "conformance.yml"), "utf8")) as { env: Record<string, string>; jobs: Record<string, Job> };
const OUT = join(ROOT, "reports", "conformance");

/** A step's shell text as the runner would see it for one matrix value. */
function script(step: Step, shard?: number): string {
  return step.run!.replace(/\$\{\{ matrix\.shard \}\}/g, String(shard));
}

function sh(text: string) {
  return spawnSync("bash", ["-eo", "pipefail", "-c", text], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...wf.env, NO_COLOR: "1", GITHUB_STEP_SUMMARY: join(OUT, "summary.md") } });
}

describe("the GitHub Actions workflow", () => {
  it("fans the matrix out over every shard 1..SHARDS and merges after all of them, even when one failed", () => {
    const n = Number(wf.env.SHARDS);
    expect(wf.jobs.shard!.strategy!.matrix.shard).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(wf.jobs.merge!.needs).toBe("shard");
    expect(wf.jobs.merge!.if).toBe("${{ always() }}");
    const upload = wf.jobs.shard!.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"))!;
    expect(upload.with).toMatchObject({ "if-no-files-found": "error" });
    const download = wf.jobs.merge!.steps.find((s) => s.uses?.startsWith("actions/download-artifact"))!;
    expect(download.with).toMatchObject({ pattern: "conformance-shard-*", "merge-multiple": true });
  });

  it("its own shard and merge steps, run here: the full set merges into the whole matrix, and a lost shard fails the merge", () => {
    rmSync(OUT, { recursive: true, force: true });
    const run = wf.jobs.shard!.steps.find((s) => s.run?.includes("--shard"))!;
    const merge = wf.jobs.merge!.steps.find((s) => s.run?.includes(" merge "))!;
    const verdict = wf.jobs.merge!.steps.at(-1)!;
    for (const k of wf.jobs.shard!.strategy!.matrix.shard) {
      const r = sh(script(run, k));
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    }
    const m = sh(script(merge));
    expect(m.status).toBe(0);
    const merged = JSON.parse(readFileSync(join(OUT, "conformance.json"), "utf8")) as { cases: unknown[]; total: number; shard: null };
    expect(merged.cases.length).toBe(merged.total);
    expect(readFileSync(join(OUT, "summary.md"), "utf8")).toMatch(/^```\ndmabuf-conformance: \d+ cases: \d+ passed, 0 failed/);
    for (const f of ["junit", "ktap", "html"]) expect(readFileSync(join(OUT, `conformance.${f}`), "utf8").length).toBeGreaterThan(1000);
    expect(sh(script(verdict)).status).toBe(0);
    // A shard whose job died uploads nothing: the merge refuses, and the workflow fails.
    rmSync(join(OUT, "shard-3.json"));
    const lost = sh(script(merge));
    expect(lost.status).not.toBe(0);
    expect(lost.stderr).toContain(`merge: incomplete shard set: missing shard 3/${wf.env.SHARDS}`);
    expect(sh(script(verdict)).status).toBe(2);
  });
});
