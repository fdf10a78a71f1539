// Tests of scenario files and the scenario command.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { InputError, parseScenarioFile, runScenarioFile, runScenarioPath, scenarioSchema, SCENARIO_STEPS, type ConformanceReport } from "@dmabuf-sdk/conformance";
import { cli, tmp } from "../test/tools.ts";

const EXAMPLES = fileURLToPath(new URL("../examples", import.meta.url));

/** The problems of a scenario text, as `file:line:col: message` lines. */
function problems(text: string, file = "s.yaml"): string[] {
  try {
    parseScenarioFile(text, file);
  } catch (e) {
    if (e instanceof InputError) return e.message.split("\n");
    throw e;
  }
  return [];
}

describe("scenario files", () => {
  it.each(["map-fault.yaml", "pidfd.yaml", "nvme-fixed-io.yaml", "gpu-unplug-syncobj.yaml", "exporter-unplug.yaml", "xe-unplug.yaml", "kvm-memslot.yaml"])("the README example %s passes", async (file) => {
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

  const MAP = "name: x\ntopology: cross-root\nsteps:\n  - export: { fixture: compat-exporter }\n    as: buf\n";
  it.each([
    { desc: "a misspelled expect", text: `${MAP}  - map: { import: $imp }\n    expcet: PAL\n`, err: ["s.yaml:7:5: unknown key `expcet` in step 2 (step kinds: "] },
    { desc: "an unknown top-level key", text: `${MAP}topolgy: sriov\n`, err: ["s.yaml:6:1: unknown key `topolgy` in the file"] },
    { desc: "an unknown step argument", text: `${MAP}  - map: { import: $buf, at: 3 }\n`, err: ["s.yaml:6:26: unknown key `at` in `steps.1.map`"] },
    { desc: "a step argument of the wrong type", text: `${MAP}  - read: { buffer: $buf, length: [1] }\n`, err: ["s.yaml:6:35: `steps.1.read.length` has the wrong type (a value of the documented type or a $name reference)"] },
    { desc: "a missing required argument", text: `${MAP}  - read: { buffer: $buf }\n`, err: ["s.yaml:6:11: `steps.1.read` needs `length`"] },
    { desc: "an unknown syscall", text: `${MAP}  - syscall: { call: fork }\n`, err: ["s.yaml:6:22: `steps.1.syscall.call` must be one of open, close, ioctl, mmap, munmap, eventfd, read, poll, pidfd_open, peek, poke"] },
    { desc: "no name", text: "topology: same-switch\nsteps: [{ fork: {} }]", err: ["s.yaml:1:1: the file needs `name`"] },
    { desc: "an unknown topology", text: "name: x\ntopology: mesh\nsteps: [{ fork: {} }]", err: ["s.yaml:2:11: `topology` must be one of same-switch, same-switch-acs, cross-root, cross-root-no-p2p, iommu-off, sriov"] },
    { desc: "no steps", text: "name: x\ntopology: sriov\nsteps: []", err: ["s.yaml:3:8: `steps` must NOT have fewer than 1 items"] },
    { desc: "two step kinds in one step", text: "name: x\ntopology: sriov\nsteps:\n  - fork: {}\n    exit: {}\n", err: ["s.yaml:4:5: step 1 must have exactly one step kind, has fork, exit"] },
    { desc: "a YAML syntax error", text: "name: x\ntopology: [sriov\n", err: ["s.yaml:3:1: "] },
  ])("rejects $desc at its file, line and column", ({ text, err }) => {
    const got = problems(text);
    expect(got).toHaveLength(err.length);
    got.forEach((g, i) => expect(g.startsWith(err[i]!), g).toBe(true));
  });

  it("reports every problem of a file, not just the first", () => {
    expect(problems(`${MAP}  - map: { import: $imp }\n    expcet: PAL\nextra: 1\n`).map((p) => p.split(": ")[0])).toEqual(["s.yaml:8:1", "s.yaml:7:5"]);
  });

  it.each([
    { desc: "an unknown key", text: '{\n  "name": "j",\n  "topology": "cross-root",\n  "steps": [{ "fork": { "comm": "a", "nice": 1 } }]\n}', err: "s.json:4:38: unknown key `nice` in `steps.0.fork`" },
    { desc: "a syntax error", text: '{\n  "name": "j",\n  "topology": "cross-root",\n}', err: "s.json:4:1: invalid JSON: Expected double-quoted property name" },
    { desc: "a syntax error V8 gives no position for", text: '{\n  "name": "j",\n  "seed": }', err: "s.json:3:11: invalid JSON: Unexpected token '}'" },
  ])("JSON files: $desc is located too", ({ text, err }) => {
    expect(problems(text, "s.json")[0]).toBe(err);
  });

  it("reads JSON as well as YAML", () => {
    const s = parseScenarioFile(JSON.stringify({ name: "j", topology: "cross-root", steps: [{ fork: { comm: "a" } }] }), "s.json");
    expect(s.steps).toHaveLength(1);
  });

  it("the published schema is built from the step table, and the examples follow it", () => {
    expect(JSON.parse(readFileSync(join(__dirname, "..", "schema", "scenario.schema.json"), "utf8"))).toEqual(scenarioSchema());
    const validate = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(scenarioSchema());
    for (const f of ["map-fault.yaml", "pidfd.yaml", "gpu-unplug-syncobj.yaml", "exporter-unplug.yaml", "xe-unplug.yaml"]) expect(validate(parseYaml(readFileSync(join(EXAMPLES, f), "utf8"))), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(parseYaml(`${MAP}  - map: { import: $imp }\n    expcet: PAL\n`))).toBe(false);
    // Every step kind has a summary for the docs and a schema for its arguments.
    for (const [kind, d] of Object.entries(SCENARIO_STEPS)) {
      expect(d.summary.length, kind).toBeGreaterThan(10);
      expect(d.args).toMatchObject({ type: "object", additionalProperties: false });
    }
  });

  describe("the scenario command", () => {
    const dir = (files: Record<string, string>) => {
      const d = tmp("scn-");
      for (const [n, t] of Object.entries(files)) {
        mkdirSync(join(d, n, ".."), { recursive: true });
        writeFileSync(join(d, n), t);
      }
      return d;
    };
    const GOOD = "name: good\ntopology: cross-root\npackages: []\nsteps:\n  - syscall: { call: close, fd: 42 }\n    expect: EBADF\n";
    const BAD = "name: bad\ntopology: cross-root\npackages: []\nsteps:\n  - syscall: { call: close, fd: 42 }\n    expect: 0\n";

    it("runs every file it is given: a failing second file fails the run", () => {
      const d = dir({ "a.yaml": GOOD, "b.yaml": BAD });
      const r = cli(["scenario", join(d, "a.yaml"), join(d, "b.yaml")]);
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/^scenario: good \(.*a\.yaml\)\n {2}✓ {2}1 syscall: EBADF \(expected\)\nPASS in /);
      expect(r.stdout).toContain("✗  1 syscall: expected 0, got EBADF");
      expect(r.stdout).toMatch(/\n2 scenario files: 1 passed, 1 failed\n$/);
      expect(cli(["scenario", join(d, "a.yaml")]).status).toBe(0);
    });

    it("runs every scenario file of a directory, recursively", () => {
      const d = dir({ "a.yaml": GOOD, "sub/c.json": JSON.stringify(parseYaml(GOOD)), "notes.txt": "not a scenario" });
      const r = cli(["scenario", d, "--format", "json"]);
      expect(r.status).toBe(0);
      expect((JSON.parse(r.stdout) as ConformanceReport).cases.map((c) => c.id)).toEqual(["cross-root/file:a", "cross-root/file:c"]);
    });

    it("validates every file before running any; all problems with file:line:col; exit 2", () => {
      const d = dir({ "a.yaml": GOOD, "b.yaml": `${GOOD}bogus: 1\n`, "c.json": '{"name": 1}' });
      const r = cli(["scenario", d]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`dmabuf-conformance: ${join(d, "b.yaml")}:7:1: unknown key \`bogus\` in the file`);
      expect(r.stderr).toContain(`dmabuf-conformance: ${join(d, "c.json")}:1:10: \`name\` must be string`);
      expect(cli(["scenario", join(d, "missing.yaml")]).stderr).toBe(`dmabuf-conformance: ${join(d, "missing.yaml")}:1:1: no such file or directory\n`);
    });

    it.each(["json", "junit", "ktap", "html"])("honours --format %s", (format) => {
      const d = dir({ "a.yaml": GOOD, "b.yaml": BAD });
      const r = cli(["scenario", d, "--format", format]);
      expect(r.status).toBe(1);
      const marks = { json: '"id": "cross-root/file:b"', junit: '<testcase classname="dmabuf-conformance.cross-root" name="bad"', ktap: "not ok 2 file:b", html: 'data-case-id="cross-root/file:b"' };
      expect(r.stdout).toContain(marks[format as keyof typeof marks]);
      expect(r.stdout).toContain("dmabuf-conformance scenario ");
    });

    it("scenario files join a run with --scenario, and are selected, sharded and rerun like other cases", () => {
      const d = dir({ "a.yaml": GOOD, "b.yaml": BAD });
      const r = cli(["run", "--scenario", d, "--topology", "cross-root", "--format", "json"]);
      expect(r.status).toBe(1);
      const rep = JSON.parse(r.stdout) as ConformanceReport;
      const files = rep.cases.filter((c) => c.id.includes("/file:"));
      expect(files.map((c) => [c.id, c.status])).toEqual([
        ["cross-root/file:a", "pass"],
        ["cross-root/file:b", "fail"],
      ]);
      expect(rep.cases.length).toBeGreaterThan(2);
      const b = files[1]!;
      expect(b.rerun).toBe(`dmabuf-conformance run cross-root/file:b --seed 1 --scenario ${join(d, "b.yaml")}`);
      expect(b.messages).toEqual(["step 1 syscall: expected 0, got EBADF"]);
      const one = cli([...b.rerun!.split(" ").slice(1), "--format", "json"]);
      expect((JSON.parse(one.stdout) as ConformanceReport).cases.map((c) => c.id)).toEqual(["cross-root/file:b"]);
      expect(cli(["run", "--scenario", d, "--list", "*/file:*"]).stdout).toBe("cross-root/file:a\ncross-root/file:b\n");
    });
  });
});
