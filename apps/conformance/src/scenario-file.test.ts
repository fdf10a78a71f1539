import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseScenarioFile, runScenarioFile, runScenarioPath } from "@dmabuf-sdk/conformance";

const EXAMPLES = fileURLToPath(new URL("../examples", import.meta.url));
const CLI = fileURLToPath(new URL("../dist/bin/dmabuf-conformance.js", import.meta.url));

describe("scenario files", () => {
  it.each(["map-fault.yaml", "pidfd.yaml", "gpu-unplug-syncobj.yaml", "exporter-unplug.yaml", "xe-unplug.yaml"])("the README example %s passes", async (file) => {
    const r = await runScenarioPath(join(EXAMPLES, file));
    expect(r.steps.filter((s) => !s.ok)).toEqual([]);
    expect(r.checks).toEqual([]);
    expect(r.passed).toBe(true);
  });

  it("a step whose outcome differs from its expect fails the scenario and says why", async () => {
    const r = await runScenarioFile(
      parseScenarioFile(`
name: wrong expectation
topology: iommu-off
packages: ["@dmabuf-sdk/map-sgt"]
steps:
  - export: { fixture: compat-exporter, size: 4096 }
    as: buf
  - write: { buffer: $buf, data: "abc" }
  - read: { buffer: $buf, length: 3 }
    expect: "abd"
  - release: { buffer: $buf }
`),
    );
    expect(r.passed).toBe(false);
    expect(r.steps[2]).toMatchObject({ ok: false, detail: "expected [97,98,100], got [97,98,99]" });
  });

  it("a scenario that leaves a buffer behind fails its end checks", async () => {
    const r = await runScenarioFile(parseScenarioFile('name: leak\ntopology: same-switch\npackages: ["@dmabuf-sdk/map-sgt"]\nsteps:\n  - export: { fixture: compat-exporter, size: 4096 }\n'));
    expect(r.passed).toBe(false);
    expect(r.checks[0]).toMatch(/^leak report not empty:\n.*dma_buf/s);
  });

  it.each([
    { desc: "no name", text: "topology: same-switch\nsteps: [{ fork: {} }]", err: /`name` is required/ },
    { desc: "unknown topology", text: "name: x\ntopology: mesh\nsteps: [{ fork: {} }]", err: /`topology` must be one of/ },
    { desc: "no steps", text: "name: x\ntopology: sriov\nsteps: []", err: /`steps` must be a non-empty list/ },
    { desc: "unknown step", text: "name: x\ntopology: sriov\nsteps: [{ teleport: {} }]", err: /step 1 must have exactly one of/ },
  ])("rejects a file with $desc", ({ text, err }) => {
    expect(() => parseScenarioFile(text, "x.yaml")).toThrow(err);
  });

  it("reads JSON as well as YAML", () => {
    const s = parseScenarioFile(JSON.stringify({ name: "j", topology: "cross-root", steps: [{ fork: { comm: "a" } }] }), "s.json");
    expect(s.steps).toHaveLength(1);
  });

  it("the CLI runs a scenario file and exits 0 on PASS, 1 on FAIL", () => {
    const ok = spawnSync(process.execPath, [CLI, "scenario", join(EXAMPLES, "pidfd.yaml")], { encoding: "utf8" });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^scenario: pidfds of a child\n/);
    expect(ok.stdout.trimEnd().split("\n").at(-1)).toBe("PASS");
    const dir = mkdtempSync(join(tmpdir(), "scn-"));
    writeFileSync(join(dir, "bad.yaml"), "name: bad\ntopology: cross-root\npackages: []\nsteps:\n  - syscall: { call: close, fd: 42 }\n    expect: 0\n");
    const bad = spawnSync(process.execPath, [CLI, "scenario", join(dir, "bad.yaml")], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("✗  1 syscall: expected 0, got EBADF");
  });
});
