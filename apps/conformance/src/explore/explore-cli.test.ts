// `dmabuf-conformance explore`: listing, exploring, replaying, scenario files with tasks, report formats, input errors.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseJsonReport, type ConformanceReport } from "@dmabuf-sdk/conformance";
import { cli, tmp } from "../../test/tools.ts";
import { RACE_SCENARIOS } from "./race-scenarios.js";

/** A data race written as a scenario file: the reader expects the writer's second value. */
const RACY = `name: read after write
topology: same-switch
packages: ["@dmabuf-sdk/map-sgt"]
steps:
  - export: { fixture: compat-exporter, size: 4096 }
    as: buf
tasks:
  writer:
    - write: { buffer: $buf, data: "first" }
    - write: { buffer: $buf, data: "again" }
  reader:
    - read: { buffer: $buf, length: 5 }
      expect: "again"
teardown:
  - release: { buffer: $buf }
`;

function file(text: string, name = "race.yaml"): string {
  const f = join(tmp("explore-"), name);
  writeFileSync(f, text);
  return f;
}

describe("dmabuf-conformance explore", () => {
  it("--help explains every option and the exit codes", () => {
    const r = cli(["explore", "--help"]);
    expect(r.status).toBe(0);
    for (const o of ["--list", "--all", "--strategy", "--preemption-bound", "--max-schedules", "--iterations", "--depth", "--seed", "--replay", "--no-shrink", "--format", "--out"]) expect(r.stdout).toContain(o);
    expect(r.stdout).toMatch(/Exit status:\n {2}0 {2}.*\n {2}1 {2}a schedule failed.*\n {2}2 {2}usage or input error/);
  });

  it("--list names every shipped race with its form", () => {
    const r = cli(["explore", "--list"]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => l.split(/\s+/).slice(0, 2))).toEqual(RACE_SCENARIOS.map((x) => [x.id, x.form]));
  });

  it("a pre-fix race: found (exit 0), and the printed replay command reruns that schedule with its trace and kernel log (exit 1)", () => {
    const r = cli(["explore", "vfio-close-vs-attach/v1"]);
    expect(r.status).toBe(0);
    const cmd = /replay: dmabuf-conformance (explore \S+ --replay (e1\.\S*))/.exec(r.stdout);
    expect(cmd, r.stdout).not.toBeNull();
    const again = cli(cmd![1]!.split(" "));
    expect(again.status).toBe(1);
    expect(again.stdout).toContain("<- preemption");
    expect(again.stdout).toContain("kernel log:\n      [    0.000000] BUG: kernel NULL pointer dereference in vfio_pci_dma_buf_match_mapping");
  });

  it("--all --format json: every race as expected, the report valid against its schema, with the explore data", () => {
    const r = cli(["explore", "--all", "--format", "json"]);
    expect(r.status, r.stderr).toBe(0);
    const report: ConformanceReport = parseJsonReport(r.stdout, "explore.json");
    expect(report.cases.map((c) => [c.id, c.status])).toEqual(RACE_SCENARIOS.map((x) => [`${x.topology}/explore:${x.id}`, "pass"]));
    for (const [c, race] of report.cases.map((c, i) => [c, RACE_SCENARIOS[i]!] as const)) {
      expect(c.explore!.strategy).toBe("dfs");
      if (race.expect) {
        expect(c.explore!.failures.map((f) => f.signature)).toContainEqual(expect.stringMatching(`^${race.expect.replace(/[()[\]]/g, "\\$&")}`));
        expect(c.rerun).toMatch(/^dmabuf-conformance explore \S+ --replay e1\./);
      } else expect([c.explore!.failures, c.explore!.complete]).toEqual([[], true]);
    }
  });

  it.each([
    ["junit", /<testcase [^>]*name="explore drm-sched-kill-vs-irq\/pre-487df8b"/],
    ["ktap", /^ {4}ok \d+ explore:drm-sched-kill-vs-irq\/post-487df8b$/m],
    ["html", /explore:vfio-close-vs-attach\/v1/],
  ])("--format %s carries explore cases", (format, pattern) => {
    const r = cli(["explore", "--all", "--format", format]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(pattern);
  });

  it("a scenario file with tasks: the race is found, shrunk, and replayable; `scenario` runs the tasks in order", () => {
    const f = file(RACY);
    const r = cli(["explore", f, "--format", "json"]);
    expect(r.status).toBe(1);
    const c = parseJsonReport(r.stdout, "x.json").cases[0]!;
    // The reader can run before both writes, or between them.
    const sigs = c.explore!.failures.map((x) => x.signature);
    expect([...sigs].sort()).toEqual(["assertion: reader step 1: read: expected [97,103,97,105,110], got [0,0,0,0,0]", "assertion: reader step 1: read: expected [97,103,97,105,110], got [102,105,114,115,116]"]);
    const shrunk = c.explore!.failures[sigs.findIndex((x) => x.endsWith("[102,105,114,115,116]"))]!.shrunk;
    const replay = cli(["explore", f, "--replay", shrunk]);
    expect(replay.status).toBe(1);
    expect(replay.stdout).toContain("got [102,105,114,115,116]");
    expect(cli(["scenario", f]).status).toBe(0);
  });

  it("pct finds the same race with a seed", () => {
    const r = cli(["explore", file(RACY), "--strategy", "pct", "--iterations", "50", "--seed", "3", "--format", "json"]);
    const c = parseJsonReport(r.stdout, "x.json").cases[0]!;
    expect([c.explore!.strategy, c.explore!.schedules, c.explore!.failures.length > 0]).toEqual(["pct", 50, true]);
  });

  it.each([
    { args: ["explore", "no-such-race"], err: /no-such-race is neither a shipped race \(see --list\) nor a scenario file/ },
    { args: ["explore"], err: /name a shipped race/ },
    { args: ["explore", "--all", "vfio-revoke-vs-unmap"], err: /not both/ },
    { args: ["explore", "vfio-revoke-vs-unmap", "--replay", "x1.0"], err: /does not start with e1\./ },
    { args: ["explore", "vfio-revoke-vs-unmap", "--replay", "e1.z"], err: /schedule divergence at decision 0/ },
    { args: ["explore", "vfio-revoke-vs-unmap", "--preemption-bound", "-1"], err: /--preemption-bound wants an integer >= 0/ },
    { args: ["explore", "vfio-revoke-vs-unmap", "--strategy", "bfs"], err: /Allowed choices are dfs, pct/ },
  ])("$args: exit 2, saying why", ({ args, err }) => {
    const r = cli(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(err);
  });

  it("a scenario file's tasks are schema-checked with file:line:col, and a file without tasks cannot be explored", () => {
    const bad = file(RACY.replace("    - read: { buffer: $buf, length: 5 }", "    - read: { buffer: $buf, lenght: 5 }"));
    const r = cli(["explore", bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/race\.yaml:\d+:\d+: unknown key `lenght` in `tasks\.reader\.0\.read`/);
    const plain = file("name: plain\ntopology: same-switch\nsteps:\n  - set: { value: 1 }\n", "plain.yaml");
    const p = cli(["explore", plain]);
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/plain\.yaml:1:1: no `tasks:` to interleave/);
    const neither = file("name: empty\ntopology: same-switch\n", "empty.yaml");
    expect(cli(["scenario", neither]).stderr).toMatch(/empty\.yaml:1:1: the file needs `steps` or `tasks`/);
  });
});
