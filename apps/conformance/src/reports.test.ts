// Tests: the KTAP, JUnit and JSON reports validate against kunit_parser, junit-10.xsd and the schema.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { formatHtml, formatJson, formatJunit, formatKtap, formatTable, parseJsonReport, reportSchema, type ConformanceReport } from "@dmabuf-sdk/conformance";
import { MISMATCH, cli, kunitVerdict, tmp, xmllint } from "../test/tools.ts";

const addFormats = addFormatsModule as unknown as (a: Ajv2020) => Ajv2020;

/** A passing run and a run with a failed and unverified cases, both through the CLI. */
let good: { report: ConformanceReport; status: number | null };
let bad: { report: ConformanceReport; status: number | null };

beforeAll(() => {
  const run = (args: string[]) => {
    const r = cli(["run", "--format", "json", "--no-progress", ...args]);
    return { report: JSON.parse(r.stdout) as ConformanceReport, status: r.status };
  };
  good = run(["--topology", "same-switch,cross-root-no-p2p"]);
  bad = run([...MISMATCH, "--topology", "same-switch,cross-root"]);
});

const FORMATS = { ktap: formatKtap, junit: formatJunit, table: (r: ConformanceReport) => formatTable(r), html: formatHtml, json: formatJson };

describe("reports a machine can trust", () => {
  it("the runs behind these tests: one passes (exit 0), one has a failure and unverified cases (exit 1)", () => {
    expect(good.status).toBe(0);
    expect(good.report.summary).toMatchObject({ failed: 0, unverified: 0 });
    expect(bad.status).toBe(1);
    // The plugin's wrong row fails its pair on each topology; every other echo-exporter case (whatever importers and
    // families the in-tree packages add) has no oracle row.
    const wrong = bad.report.cases.filter((c) => c.importer === "compat-dynamic-importer" && c.scenario === "lifecycle");
    expect(wrong.map((c) => c.topology).sort()).toEqual(["cross-root", "same-switch"]);
    expect(bad.report.cases.filter((c) => c.status === "fail")).toEqual(wrong);
    expect(bad.report.summary.failed).toBe(wrong.length);
    expect(bad.report.summary.unverified).toBe(bad.report.total - wrong.length);
    expect(bad.report.summary.unverified).toBeGreaterThan(0);
  });

  it.each([
    { run: "passing", pick: () => good, status: "SUCCESS" },
    { run: "failing", pick: () => bad, status: "FAILURE" },
  ])("KTAP: the kernel's kunit_parser gives the $run run the exit status's verdict ($status)", ({ pick, status }) => {
    const { report, status: rc } = pick();
    const v = kunitVerdict(formatKtap(report));
    expect(v.status).toBe(status);
    expect(v.status === "SUCCESS").toBe(rc === 0);
    expect(v.passed).toBe(report.summary.passed);
    // Unverified cases are `not ok`: kunit counts them as failures, never as skips.
    expect(v.failed).toBe(report.summary.failed + report.summary.unverified);
    expect(v.skipped).toBe(0);
    expect(v.crashed).toBe(0);
    expect(v.errors).toBe(0);
  });

  it("KTAP: an unverified case alone makes kunit_parser call the run a FAILURE", () => {
    const one = { ...good.report, cases: good.report.cases.map((c, i) => (i === 0 ? { ...c, status: "unverified" as const, log: [], rerun: "x" } : c)) };
    expect(kunitVerdict(formatKtap(one)).status).toBe("FAILURE");
  });

  it.each([
    { run: "passing", pick: () => good },
    { run: "failing", pick: () => bad },
  ])("JUnit: the $run run's report is valid against the Jenkins xUnit junit-10.xsd (xmllint)", ({ pick }) => {
    const xml = formatJunit(pick().report);
    const v = xmllint(xml);
    expect(v.output).toMatch(/validates/);
    expect(v.ok).toBe(true);
  });

  it("JUnit: xmllint rejects what junit-10.xsd forbids (the schema really checks)", () => {
    const xml = formatJunit(good.report).replace(/ errors="0" skipped=/, " skipped=");
    expect(xmllint(xml).ok).toBe(false);
    expect(xmllint(formatJunit(good.report).replace("<testsuites ", '<testsuites skipped="0" ')).ok).toBe(false);
  });

  it("JUnit: unverified cases are failures, not skips; counts add up", () => {
    const xml = formatJunit(bad.report);
    expect(xml).not.toContain("<skipped");
    expect((xml.match(/<failure type="unverified"/g) ?? []).length).toBe(bad.report.summary.unverified);
    expect((xml.match(/<failure type="fail"/g) ?? []).length).toBe(bad.report.summary.failed);
    expect(xml).toMatch(new RegExp(`<testsuites name="dmabuf-conformance" tests="${bad.report.cases.length}" failures="${bad.report.summary.failed + bad.report.summary.unverified}" errors="0"`));
  });

  it.each([
    { run: "passing", pick: () => good },
    { run: "failing", pick: () => bad },
  ])("JSON: the $run run's report is valid against the published JSON Schema (ajv + ajv-formats)", ({ pick }) => {
    const schema = JSON.parse(readFileSync(join(__dirname, "..", "schema", "report.schema.json"), "utf8")) as object;
    expect(schema).toEqual(reportSchema());
    const validate = addFormats(new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true })).compile(schema);
    expect(validate(pick().report), JSON.stringify(validate.errors)).toBe(true);
  });

  it("JSON: the schema rejects a case without its kernel log and rerun command when it failed", () => {
    const validate = addFormats(new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true })).compile(reportSchema());
    const c = bad.report.cases.find((x) => x.status === "fail")!;
    const { log: _log, ...noLog } = c;
    expect(validate({ ...bad.report, cases: [noLog] })).toBe(false);
    expect(validate({ ...bad.report, startedAt: "yesterday" })).toBe(false);
  });

  it.each(Object.keys(FORMATS))("%s carries the tool and package versions, the run's timestamps and every case's duration", (f) => {
    const r = bad.report;
    const text = FORMATS[f as keyof typeof FORMATS](r);
    expect(text).toContain(r.tool.version);
    for (const p of r.packages) expect(text).toContain(p.version);
    expect(text).toContain("@dmabuf-sdk/dmabuf-core".replace(f === "table" ? "@dmabuf-sdk/" : "", ""));
    expect(text).toContain(r.startedAt);
    expect(text).toContain(r.finishedAt);
    const durations: Record<string, (ms: number) => string> = {
      ktap: (ms) => `in ${ms.toFixed(3)} ms`,
      junit: (ms) => `time="${(ms / 1000).toFixed(3)}"`,
      table: (ms) => `${Math.round(ms)}`,
      html: (ms) => `"durationMs":${ms}`,
      json: (ms) => `"durationMs": ${ms}`,
    };
    for (const c of r.cases) expect(text).toContain(durations[f]!(c.durationMs));
  });

  it.each(["ktap", "junit", "table", "json"])("%s: each failure carries its case's kernel log and the command that reruns it", (f) => {
    const r = bad.report;
    const text = FORMATS[f as keyof typeof FORMATS](r);
    const failing = r.cases.filter((c) => c.status !== "pass");
    expect(failing.length).toBeGreaterThan(0);
    for (const c of failing) {
      expect(c.log).toBeDefined();
      expect(c.rerun).toBe(`dmabuf-conformance run ${c.id} --seed 1 --module ./test/fixtures/plugin-mismatch`);
      expect(text).toContain(c.rerun!);
      for (const l of c.log!) expect(text).toContain(f === "json" ? JSON.stringify(l) : f === "junit" ? l.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;") : l);
    }
    // The xe import logs its VRAM: a failing xe case shows it.
    expect(r.cases.find((c) => c.importer === "xe" && c.status !== "pass")!.log!.join("\n")).toMatch(/xe .*VRAM/);
  });

  it("a report that is not a report is refused at its line and column", () => {
    expect(() => parseJsonReport('{\n  "schema": "dmabuf-conformance/v1",\n  "seed": "x"\n}', "r.json")).toThrow(/^r\.json:1:1: not a dmabuf-conformance\/v1 report: must have required property 'tool'/m);
    expect(() => parseJsonReport('{\n  "schema": "dmabuf-conformance/v1",\n  "seed": "x"\n}', "r.json")).toThrow(/^r\.json:3:11: not a dmabuf-conformance\/v1 report: `seed` must be integer$/m);
    expect(() => parseJsonReport('{\n  "schema": 1,\n}', "r.json")).toThrow(/^r\.json:3:1: invalid JSON: Expected double-quoted property name$/);
    const dir = tmp();
    expect(cli(["diff", join(dir, "nope.json"), join(dir, "nope.json")]).stderr).toBe(`dmabuf-conformance: ${join(dir, "nope.json")}:1:1: no such file\n`);
  });
});
