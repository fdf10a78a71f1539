// Tests of the dmabuf-conformance CLI: help, version, validation, exit codes, selection and merge.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diffReports, formatDiffMarkdown, type ConformanceReport } from "@dmabuf-sdk/conformance";
import { MISMATCH, ROOT, cli, tmp } from "../test/tools.ts";

const json = (args: string[]) => JSON.parse(cli([...args, "--format", "json", "--no-progress"]).stdout) as ConformanceReport;

describe("the CLI", () => {
  describe("help, version, validation, exit codes", () => {
    it("--version prints the package version", () => {
      const pj = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as { version: string };
      const r = cli(["--version"]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${pj.version}\n`);
    });

    it.each([
      { cmd: "run", options: ["--format", "--out", "--shard", "--seed", "--jobs", "--module", "--exporter", "--importer", "--topology", "--exclude", "--scenario", "--list", "--bail", "--rerun-failed", "--no-in-tree", "--no-progress"] },
      { cmd: "merge", options: ["--format", "--out", "<shards...>"] },
      { cmd: "diff", options: ["--format", "--out", "<base>", "<head>", "markdown"] },
      { cmd: "scenario", options: ["--format", "--out", "<paths...>"] },
    ])("$cmd --help explains every option and the exit codes", ({ cmd, options }) => {
      const r = cli([cmd, "--help"]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: dmabuf-conformance ${cmd} `));
      for (const o of options) expect(r.stdout).toContain(o);
      expect(r.stdout).toMatch(/Exit status:\n {2}0 {2}.*\n {2}1 {2}.*\n {2}2 {2}usage or input error/);
    });

    it("--help lists the commands", () => {
      const r = cli(["--help"]);
      expect(r.status).toBe(0);
      for (const c of ["run", "merge", "diff", "scenario"]) expect(r.stdout).toMatch(new RegExp(`\\n {2}${c} `));
    });

    it.each([
      { args: ["run", "--jobs", "abc"], err: /option '-j, --jobs <n>' argument 'abc' is invalid\. --jobs wants an integer >= 1/ },
      { args: ["run", "--jobs", "0"], err: /--jobs wants an integer >= 1/ },
      { args: ["run", "--seed", "1.5"], err: /--seed wants an integer/ },
      { args: ["run", "--shard", "0/2"], err: /wants k\/n with 1 <= k <= n, got "0\/2"/ },
      { args: ["run", "--format", "xml"], err: /argument 'xml' is invalid\. Allowed choices are table, json, junit, ktap, html/ },
      { args: ["frobnicate", "x"], err: /no case matches "frobnicate", "x"/ },
      { args: ["run", "--bogus"], err: /unknown option '--bogus'/ },
      { args: ["merge"], err: /missing required argument 'shards'/ },
      { args: ["diff", "a.json"], err: /missing required argument 'head'/ },
      { args: ["run", "--topology", "nowhere"], err: /the selection holds no case/ },
      { args: ["run", "no/such/case"], err: /no case matches "no\/such\/case" \(list the cases with --list\)/ },
      { args: ["run", "--module", "@nobody/nothing"], err: /cannot find package @nobody\/nothing/ },
      { args: ["run", "--out", "/nonexistent-dir/r.json"], err: /--out \/nonexistent-dir\/r\.json: directory \/nonexistent-dir does not exist/ },
      { args: ["run", "--rerun-failed", "/nonexistent.json"], err: /^dmabuf-conformance: \/nonexistent\.json:1:1: no such file$/m },
    ])("$args: exit 2 before running anything, saying why", ({ args, err }) => {
      const r = cli(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(err);
      expect(r.stdout).toBe("");
    });

    it("a bad --out fails before the run, not after it", () => {
      const dir = tmp();
      writeFileSync(join(dir, "file"), "");
      const r = cli(["run", "--out", join(dir, "file", "r.json")]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/is not a directory/);
      expect(r.stdout).toBe("");
    });
  });

  describe("selection", () => {
    it("--list prints the selected ids with the filters applied, and runs nothing", () => {
      const all = cli(["run", "--list"]).stdout.trim().split("\n");
      expect(all.length).toBeGreaterThan(100);
      const r = cli(["run", "--list", "sriov/*", "--exclude", "*/xe,*/iommufd", "--importer", "compat-*"]);
      expect(r.status).toBe(0);
      const ids = r.stdout.trim().split("\n");
      // Ids are <topology>/<exporter>/<importer>[/<family>]: the importer filter applies to the third part.
      expect(ids).toEqual(all.filter((id) => id.startsWith("sriov/") && id.split("/")[2]!.startsWith("compat-") && !/\/(xe|iommufd)$/.test(id)));
      expect(cli(["run", "--list", "--shard", "2/3"]).stdout.trim().split("\n")).toEqual(all.filter((_, i) => i % 3 === 1));
    });

    it("selects by exact id and by glob; the report holds exactly those cases", () => {
      const r = json(["run", "sriov/vfio-pci/xe", "same-switch/*/iommufd"]);
      expect(r.cases.map((c) => c.id)).toEqual(["same-switch/compat-exporter/iommufd", "same-switch/system-heap/iommufd", "same-switch/vfio-pci/iommufd", "same-switch/xe-system/iommufd", "same-switch/xe-vram/iommufd", "sriov/vfio-pci/xe"]);
      expect(r.total).toBe(6);
    });

    it("each failing case prints the command that reruns it alone, and that command reruns it", () => {
      const r = cli(["run", ...MISMATCH, "--topology", "cross-root"]);
      expect(r.status).toBe(1);
      const reruns = [...r.stdout.matchAll(/rerun: (dmabuf-conformance run .*)$/gm)].map((m) => m[1]!);
      const report = json(["run", ...MISMATCH, "--topology", "cross-root"]);
      expect(reruns).toEqual(report.cases.filter((c) => c.status !== "pass").map((c) => c.rerun));
      expect(reruns.length).toBeGreaterThan(1);
      const again = cli([...reruns[0]!.split(" ").slice(1), "--format", "json"]);
      const one = JSON.parse(again.stdout) as ConformanceReport;
      expect(one.cases.map((c) => c.id)).toEqual([reruns[0]!.split(" ")[2]]);
      expect(again.status).toBe(1);
      // Other formats on stdout: the rerun lines go to stderr.
      expect(cli(["run", ...MISMATCH, "--topology", "cross-root", "--format", "json"]).stderr).toContain("fail cross-root/echo-exporter/compat-dynamic-importer: rerun with: dmabuf-conformance run");
    });

    it("--bail stops at the first case that does not pass and says how many did not run", () => {
      const r = json(["run", ...MISMATCH, "--bail"]);
      expect(r.cases).toHaveLength(1);
      expect(r.cases[0]!.status).not.toBe("pass");
      expect(r.notRun).toBe(r.total - 1);
      const t = cli(["run", ...MISMATCH, "--bail"]);
      expect(t.status).toBe(1);
      expect(t.stdout).toContain(`stopped at the first failure (--bail): ${r.total - 1} selected cases not run`);
      // Nothing fails: --bail runs everything.
      expect(json(["run", "--bail", "--topology", "sriov"]).notRun).toBe(0);
    });

    it("--rerun-failed runs only the failed and unverified cases of a report, with its seed", () => {
      const dir = tmp();
      const first = join(dir, "first.json");
      expect(cli(["run", ...MISMATCH, "--seed", "9", "--format", "json", "--out", first]).status).toBe(1);
      const prev = JSON.parse(readFileSync(first, "utf8")) as ConformanceReport;
      const again = json(["run", "--module", "./test/fixtures/plugin-mismatch", "--rerun-failed", first]);
      expect(again.seed).toBe(9);
      expect(again.cases.map((c) => c.id)).toEqual(prev.cases.filter((c) => c.status !== "pass").map((c) => c.id));
      expect(again.cases.map((c) => c.seed)).toEqual(prev.cases.filter((c) => c.status !== "pass").map((c) => c.seed));
      const clean = join(dir, "clean.json");
      expect(cli(["run", "--topology", "sriov", "--format", "json", "--out", clean]).status).toBe(0);
      const none = cli(["run", "--rerun-failed", clean]);
      expect(none.status).toBe(0);
      expect(none.stderr).toContain("no failed or unverified case to rerun");
    });
  });

  describe("merge", () => {
    const shards = (n: number, extra: string[] = []) => {
      const dir = tmp();
      return Array.from({ length: n }, (_, i) => {
        const f = join(dir, `s${i + 1}.json`);
        expect(cli(["run", "--shard", `${i + 1}/${n}`, "--format", "json", "--out", f, ...extra]).status).toBe(0);
        return f;
      });
    };

    it("merges a complete shard set into the single-run report", () => {
      const files = shards(3, ["--topology", "same-switch,sriov"]);
      const merged = cli(["merge", ...files, "--format", "json"]);
      expect(merged.status).toBe(0);
      const single = json(["run", "--topology", "same-switch,sriov"]);
      const strip = (r: ConformanceReport) => ({ ...r, startedAt: "", finishedAt: "", durationMs: 0, cases: r.cases.map((c) => ({ ...c, durationMs: 0 })) });
      expect(strip(JSON.parse(merged.stdout) as ConformanceReport)).toEqual(strip(single));
    });

    it("refuses an incomplete set, a shard given twice, a whole run, and shards of another selection", () => {
      const files = shards(3, ["--topology", "iommu-off"]);
      const missing = cli(["merge", files[0]!, files[1]!]);
      expect(missing.status).toBe(2);
      expect(missing.stderr).toBe("dmabuf-conformance: merge: incomplete shard set: missing shard 3/3\n");
      expect(cli(["merge", files[0]!, files[0]!, files[2]!]).stderr).toMatch(/shard 1\/3 given twice/);
      const dir = tmp();
      const whole = join(dir, "whole.json");
      cli(["run", "--topology", "iommu-off", "--format", "json", "--out", whole]);
      expect(cli(["merge", whole]).stderr).toMatch(/is a whole run, not a shard/);
      const other = shards(3, ["--topology", "sriov"]);
      expect(cli(["merge", files[0]!, files[1]!, other[2]!]).stderr).toMatch(/different selections/);
    });
  });

  describe("diff", () => {
    it("reports regressions, fixes, changed cells and added or removed cases; exit 1 on a regression", () => {
      const dir = tmp();
      const base = join(dir, "base.json");
      const head = join(dir, "head.json");
      cli(["run", "--topology", "cross-root", "--format", "json", "--out", base]);
      expect(cli(["run", ...MISMATCH.slice(0, 2), "--topology", "cross-root", "--exclude", "*/xe-vram/*", "--format", "json", "--out", head]).status).toBe(1);
      const same = cli(["diff", base, base]);
      expect(same.status).toBe(0);
      expect(same.stdout).toMatch(/^dmabuf-conformance diff: 0 regressions, 0 fixes, 0 changed, 0 added, 0 removed, \d+ unchanged\n/);
      const r = cli(["diff", base, head, "--format", "json"]);
      expect(r.status).toBe(1);
      const d = JSON.parse(r.stdout) as ReturnType<typeof diffReports>;
      // Derived from the two reports, so another package's new column or family does not change the test.
      const baseR = JSON.parse(readFileSync(base, "utf8")) as ConformanceReport;
      const headR = JSON.parse(readFileSync(head, "utf8")) as ConformanceReport;
      const baseIds = new Set(baseR.cases.map((c) => c.id));
      const headIds = new Set(headR.cases.map((c) => c.id));
      const passing = (s: string | undefined) => s === "pass" || s === "skip";
      const regressions = headR.cases.filter((c) => !passing(c.status) && (!baseIds.has(c.id) || passing(baseR.cases.find((b) => b.id === c.id)?.status))).length;
      const removed = [...baseIds].filter((id) => !headIds.has(id)).length;
      expect(regressions).toBeGreaterThan(1);
      expect(removed).toBeGreaterThan(1);
      expect(d.counts).toMatchObject({ regression: regressions, removed, fix: 0, changed: 0, added: 0 });
      expect(d.entries.find((e) => e.id === "cross-root/echo-exporter/compat-dynamic-importer")).toMatchObject({ kind: "regression", base: null, head: { status: "fail", cell: "SGT" } });
      expect(d.entries.filter((e) => e.kind === "removed").every((e) => e.id.startsWith("cross-root/xe-vram/"))).toBe(true);
      const md = cli(["diff", base, head, "--format", "markdown"]);
      expect(md.stdout).toMatch(new RegExp(`^### dmabuf-conformance: ❌ ${regressions} regressions, 0 fixes, 0 changed, 0 added, ${removed} removed`));
      expect(md.stdout).toContain("| regression | `cross-root/echo-exporter/compat-dynamic-importer` | — | fail SGT | status — → fail<br>mapping type: expected PAL, got SGT |");
      expect(cli(["diff", head, base]).status).toBe(0);
    });

    it("a changed cell names the field: mapping type, P2P route, errno and step", () => {
      const base = json(["run", "same-switch/vfio-pci/compat-dynamic-importer", "same-switch/vfio-pci/iommufd"]);
      const head: ConformanceReport = {
        ...base,
        cases: base.cases.map((c) => (c.importer === "iommufd" ? { ...c, actual: { errno: "EINVAL", step: "attach" } } : { ...c, actual: { ...c.actual, p2p: "THRU_HOST_BRIDGE" } })),
      };
      const d = diffReports(base, head);
      expect(d.entries.map((e) => [e.id, e.kind, e.changes.map((c) => `${c.field}:${c.base}->${c.head}`)])).toEqual([
        ["same-switch/vfio-pci/compat-dynamic-importer", "changed", ["p2p:BUS_ADDR->THRU_HOST_BRIDGE"]],
        ["same-switch/vfio-pci/iommufd", "changed", ["mapType:PAL->null", "errno:null->EINVAL", "step:null->attach"]],
      ]);
      const fixed = diffReports({ ...base, cases: base.cases.map((c) => ({ ...c, status: "fail" as const })) }, base);
      expect(fixed.counts.fix).toBe(2);
      expect(formatDiffMarkdown(fixed)).toMatch(/^### dmabuf-conformance: ✅ 0 regressions, 2 fixes/);
    });
  });

  it("--module @dmabuf-sdk-examples/plugin-xlink works from the repository root", () => {
    const r = cli(["run", "--module", "@dmabuf-sdk-examples/plugin-xlink", "--exporter", "xlink-gpu", "--topology", "same-switch"], ROOT);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/xlink-gpu .*✓ XLINK/);
  });

  it("writes every format to --out, the table to stdout", () => {
    const dir = mkdtempSync(join(tmp(), "out-"));
    for (const f of ["json", "junit", "ktap", "html"]) {
      const out = join(dir, `r.${f}`);
      const r = cli(["run", "--format", f, "--out", out, "--topology", "same-switch"]);
      expect(r.status).toBe(0);
      expect(readFileSync(out, "utf8").length).toBeGreaterThan(100);
      expect(r.stdout).toMatch(/^dmabuf-conformance: /);
    }
  });
});
