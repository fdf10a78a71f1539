// Tests of the conformance matrix: cases, oracle rows, a broken fixture, and the CLI.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { dmaBufDetach, dmaBufMappingAttach, type ExporterFixture, type ImporterFixture } from "@dmabuf-sdk/dmabuf-core";
import { compatDynamicImporterFixture, compatExporterFixture, dmaBufImappingSgt } from "@dmabuf-sdk/map-sgt";
import {
  IN_TREE_ORACLE,
  formatJunit,
  formatKtap,
  formatTable,
  judge,
  matrixWorkers,
  mergeReports,
  parseShard,
  runMatrix,
  runPairCase,
  selectShard,
  useColour,
  type CaseSpec,
  type ConformanceReport,
} from "@dmabuf-sdk/conformance";

const APP = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(APP, "dist", "bin", "dmabuf-conformance.js");
const PLUGIN_DIR = fileURLToPath(new URL("../../../examples/plugin-xlink", import.meta.url));

function cli(args: string[], cwd = APP, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env }, maxBuffer: 1 << 28 });
}

/** Strips what legitimately differs between runs of the same matrix: the shard, times and durations. */
function canonical(r: ConformanceReport): unknown {
  return { ...r, shard: null, startedAt: "", finishedAt: "", durationMs: 0, cases: r.cases.map((c) => ({ ...c, durationMs: 0 })) };
}

describe("conformance matrix under issue 13's rules", () => {
  it("cases run with deferred work on kworkers, device completions in hard-IRQ context and lockdep's IRQ rules: 0 reports", async () => {
    const { loadFixtures, defaultRequests } = await import("@dmabuf-sdk/conformance");
    const set = await loadFixtures(defaultRequests());
    const exp = (n: string) => set.exporters.find((e) => e.fixture.name === n)!.fixture;
    const imp = (n: string) => set.importers.find((e) => e.fixture.name === n)!.fixture;
    // Xe on both sides: migrations, clears and binds are drm_sched jobs (kworker run_job, IRQ completion).
    const xe = runPairCase("same-switch", exp("xe-vram"), imp("xe"), 1);
    expect(xe.violations).toEqual([]);
    expect(xe.contexts!.kworkerWork).toBeGreaterThan(0);
    expect(xe.contexts!.hardirqEvents).toBeGreaterThan(0);
    // vfio-pci's revoke drops the last file reference from delayed_fput_work on a kworker.
    const vfio = runPairCase("same-switch", exp("vfio-pci"), imp("xe"), 1);
    expect(vfio.violations).toEqual([]);
    expect(vfio.contexts!.kworkerWork).toBeGreaterThan(0);
  });
});

describe("conformance matrix", () => {
  it("the default matrix over every in-tree package passes, with nothing unverified and every package available", async () => {
    const r = await runMatrix();
    const bad = r.cases.filter((c) => c.status !== "pass").map((c) => `${c.id}: ${c.status}: ${c.messages.join("; ")}`);
    expect(bad).toEqual([]);
    expect(r.summary.unverified).toBe(0);
    expect(r.cases.length).toBeGreaterThan(0);
    const { loadFixtures, defaultRequests } = await import("@dmabuf-sdk/conformance");
    expect((await loadFixtures(defaultRequests())).unavailable).toEqual([]);
  });

  it("every in-tree pair that can be placed has an oracle row (reviewed), and no row is left unused", async () => {
    const r = await runMatrix();
    const used = new Set(r.cases.filter((c) => c.exporter).map((c) => `${c.exporter}|${c.importer}`));
    const rows = IN_TREE_ORACLE.pairs.map((p) => `${p.exporter}|${p.importer}`);
    expect(rows.filter((k) => !used.has(k))).toEqual([]);
  });

  it.each([
    { jobs: 1, cases: 10_000, min: 150, cores: 8, workers: 0 },
    { jobs: 2, cases: 124, min: 150, cores: 2, workers: 0 },
    { jobs: 2, cases: 299, min: 150, cores: 2, workers: 0 },
    { jobs: 2, cases: 300, min: 150, cores: 2, workers: 1 },
    { jobs: 4, cases: 10_000, min: 150, cores: 2, workers: 1 },
    { jobs: 4, cases: 450, min: 150, cores: 8, workers: 2 },
    { jobs: 8, cases: 10_000, min: 150, cores: 8, workers: 7 },
    { jobs: 2, cases: 0, min: 150, cores: 2, workers: 0 },
  ])("--jobs $jobs over $cases cases ($cores cores, $min a thread): $workers worker(s) beside the main thread", ({ jobs, cases, min, cores, workers }) => {
    expect(matrixWorkers(jobs, cases, min, cores)).toBe(workers);
  });

  it.each([
    { desc: "shared between this thread and a worker", opts: { jobs: 2, minCasesPerThread: 1, cores: 2 } },
    { desc: "all run by two workers", opts: { jobs: 2, mainThreadRuns: false } },
  ])("cases $desc give the same report as one thread", async ({ opts }) => {
    // The built runner: its worker thread runs dist/worker.js.
    const built = (await import(pathToFileURL(join(APP, "dist", "index.js")).href)) as { runMatrix: typeof runMatrix };
    const one = await built.runMatrix({ seed: 3 });
    const shared = await built.runMatrix({ seed: 3, ...opts });
    expect(canonical(shared)).toEqual(canonical(one));
  });

  it("shard k/n is a deterministic slice and merging the shards equals one run", async () => {
    const whole = await runMatrix({ seed: 7 });
    const shards = await Promise.all([1, 2, 3].map((index) => runMatrix({ seed: 7, shard: { index, count: 3 } })));
    expect(shards.map((s) => s.shard)).toEqual(["1/3", "2/3", "3/3"]);
    expect(shards.reduce((n, s) => n + s.cases.length, 0)).toBe(whole.cases.length);
    expect(canonical(mergeReports(shards))).toEqual(canonical(whole));
    expect(() => mergeReports([shards[0]!, shards[0]!, shards[2]!])).toThrow(/shard 1\/3 given twice/);
    expect(() => mergeReports([shards[0]!, shards[2]!])).toThrow(/incomplete shard set: missing shard 2\/3/);
    expect(() => mergeReports([{ ...shards[0]!, cases: shards[0]!.cases.slice(1) }, shards[1]!, shards[2]!])).toThrow(/the shards hold \d+ cases, the selection has \d+/);
    expect(selectShard([0, 1, 2, 3, 4], parseShard("2/2"))).toEqual([1, 3]);
    expect(() => parseShard("3/2")).toThrow(/1 <= k <= n/);
  });

  it("the same seed gives the same report", async () => {
    expect(canonical(await runMatrix({ seed: 3 }))).toEqual(canonical(await runMatrix({ seed: 3 })));
  });

  describe("a broken fixture fails the run with a clear message", () => {
    const spec = (e: string, i: string): CaseSpec => ({ id: `cross-root/${e}/${i}`, topology: "cross-root", exporter: e, importer: i, scenario: "lifecycle", packages: ["test"] });

    it("an importer that keeps using its mapping after invalidation", async () => {
      const { xlinkExporterFixture } = (await import(join(PLUGIN_DIR, "dist", "index.js"))) as { xlinkExporterFixture: ExporterFixture };
      const sticky: ImporterFixture = {
        ...compatDynamicImporterFixture,
        name: "sticky-importer",
        import(ctx, buffer) {
          // Registers invalidate_mappings but ignores it: keeps its mapping and goes on reading.
          const a = dmaBufMappingAttach(buffer.dmabuf, [dmaBufImappingSgt(ctx.topology.importerSlot, true)], { allowPeer2peer: true, invalidateMappings: () => undefined });
          let mapped = false;
          return {
            attachment: a,
            map: () => void (mapped = true),
            get mapped() {
              return mapped;
            },
            route: () => undefined,
            dmaRead: (o, n) => buffer.read(o, n),
            unmap: () => void (mapped = false),
            detach: () => dmaBufDetach(buffer.dmabuf, a),
          };
        },
      };
      const run = runPairCase("cross-root", xlinkExporterFixture, sticky, 1);
      const r = judge(spec("xlink-gpu", "sticky-importer"), run, IN_TREE_ORACLE, 1);
      expect(r.status).toBe("fail");
      expect(r.messages.join("\n")).toMatch(/after migrate: the importer kept its mapping \(invalidate_mappings did not drop it\)/);
    });

    it("an exporter that leaks an attachment", () => {
      const leaky: ExporterFixture = {
        ...compatExporterFixture,
        name: "leaky-exporter",
        export(ctx, size) {
          const b = compatExporterFixture.export(ctx, size);
          dmaBufMappingAttach(b.dmabuf, [dmaBufImappingSgt(ctx.topology.exporterSlot, false)]); // never detached
          return b;
        },
      };
      const run = runPairCase("cross-root", leaky, compatDynamicImporterFixture, 1);
      const r = judge(spec("leaky-exporter", "compat-dynamic-importer"), run, IN_TREE_ORACLE, 1);
      expect(r.status).toBe("fail");
      const text = r.messages.join("\n");
      expect(text).toMatch(/leak report not empty after release:\n.*dma_buf_attachment/s);
      expect(text).toMatch(/WARN: dma_buf_release: 1 attachment\(s\) still on dma-buf/);
    });

    it("an importer whose DMA reads other bytes than the exporter wrote", () => {
      const liar: ImporterFixture = {
        ...compatDynamicImporterFixture,
        name: "liar",
        import(ctx, buffer) {
          const inner = compatDynamicImporterFixture.import(ctx, buffer);
          return { ...inner, get mapped() { return inner.mapped; }, attachment: inner.attachment, dmaRead: (o, n) => new Uint8Array(n) };
        },
      };
      const r = judge(spec("compat-exporter", "liar"), runPairCase("cross-root", compatExporterFixture, liar, 1), IN_TREE_ORACLE, 1);
      expect(r.status).toBe("fail");
      expect(r.messages[0]).toMatch(/data path \(first\): the importer's DMA read other bytes than the exporter wrote/);
    });

    it("a pair with no oracle row is unverified, never pass", () => {
      const r = judge(spec("compat-exporter", "compat-dynamic-importer"), runPairCase("cross-root", compatExporterFixture, compatDynamicImporterFixture, 1), { pairs: [], scenarios: [] }, 1);
      expect(r.status).toBe("unverified");
    });

    it("an outcome other than the oracle's fails", () => {
      const r = judge(
        spec("compat-exporter", "compat-dynamic-importer"),
        runPairCase("cross-root", compatExporterFixture, compatDynamicImporterFixture, 1),
        { pairs: [{ exporter: "compat-exporter", importer: "compat-dynamic-importer", topology: "*", expect: { mapType: "PAL" }, why: "test" }], scenarios: [] },
        1,
      );
      expect(r.status).toBe("fail");
      expect(r.messages).toEqual(["mapping type: expected PAL, got SGT"]);
    });
  });

  describe("the CLI", () => {
    it("runs the default matrix and prints the terminal matrix; exit 0 when all pass", () => {
      const r = cli(["run"]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^dmabuf-conformance: \d+ cases: \d+ passed, 0 failed, 0 skipped, 0 unverified \(seed 1\)/);
      expect(r.stdout).toMatch(/\ncross-root-no-p2p\n/);
      expect(r.stdout).not.toMatch(/\x1b\[/);
    });

    it("cross-tests the example plugin against every in-tree driver, with no change to core or the app", () => {
      const r = cli(["run", "--module", "@dmabuf-sdk-examples/plugin-xlink", "--format", "json"], PLUGIN_DIR);
      expect(r.status).toBe(0);
      const report = JSON.parse(r.stdout) as ConformanceReport;
      const plugin = report.cases.filter((c) => c.exporter === "xlink-gpu" || c.importer === "xlink-gpu");
      const inTreeNames = new Set(report.cases.flatMap((c) => [c.exporter, c.importer]).filter((n) => n && n !== "xlink-gpu"));
      // Every in-tree fixture meets the plugin on some topology.
      for (const n of inTreeNames) expect(plugin.some((c) => c.exporter === n || c.importer === n)).toBe(true);
      expect(plugin.filter((c) => c.status !== "pass").map((c) => c.id)).toEqual([]);
      expect(plugin.find((c) => c.id === "same-switch/xlink-gpu/xlink-gpu")!.actual.mapType).toBe("XLINK");
    });

    it("--jobs 2 gives the same report as --jobs 1", () => {
      const one = JSON.parse(cli(["run", "--format", "json", "--jobs", "1"]).stdout) as ConformanceReport;
      const two = cli(["run", "--format", "json", "--jobs", "2"]);
      expect(two.status).toBe(0);
      expect(canonical(JSON.parse(two.stdout) as ConformanceReport)).toEqual(canonical(one));
    });

    it("shard reports written with --out merge into the single-run report", () => {
      const dir = mkdtempSync(join(tmpdir(), "conformance-"));
      const files = [1, 2].map((k) => {
        const f = join(dir, `shard${k}.json`);
        expect(cli(["run", "--shard", `${k}/2`, "--format", "json", "--out", f]).status).toBe(0);
        return f;
      });
      const merged = cli(["merge", ...files, "--format", "json"]);
      expect(merged.status).toBe(0);
      const single = JSON.parse(cli(["run", "--format", "json"]).stdout) as ConformanceReport;
      expect(canonical(JSON.parse(merged.stdout) as ConformanceReport)).toEqual(canonical(single));
    });

    it("filters by exporter, importer and topology", () => {
      const r = JSON.parse(cli(["run", "--format", "json", "--topology", "same-switch,iommu-off", "--importer", "compat-*"]).stdout) as ConformanceReport;
      expect(new Set(r.cases.map((c) => c.topology))).toEqual(new Set(["same-switch", "iommu-off"]));
      expect(r.cases.every((c) => c.importer?.startsWith("compat-"))).toBe(true);
    });

    it("refuses bad arguments with exit status 2", () => {
      expect(cli(["run", "--shard", "0/2"]).status).toBe(2);
      expect(cli(["run", "--format", "xml"]).status).toBe(2);
      expect(cli(["frobnicate"]).status).toBe(2);
    });
  });

  describe("reports", () => {
    it("the JSON report follows the schema of DESIGN.md", async () => {
      const r = await runMatrix({ filter: { topology: "same-switch" } });
      expect(r.schema).toBe("dmabuf-conformance/v1");
      for (const c of r.cases) {
        expect(Object.keys(c)).toEqual(expect.arrayContaining(["id", "exporter", "importer", "topology", "scenario", "status", "expected", "actual"]));
        expect(["pass", "fail", "skip", "unverified"]).toContain(c.status);
      }
      expect(Object.keys(r.summary).sort()).toEqual(["failed", "passed", "skipped", "unverified"]);
    });

    it("KTAP: nested subtests per topology, plans, unverified is not ok, kselftest totals", async () => {
      const r = await runMatrix({ filter: { topology: "cross-root" } });
      const unverified: ConformanceReport = { ...r, cases: r.cases.map((c, i) => (i === 0 ? { ...c, status: "unverified" as const } : c)), summary: { ...r.summary, passed: r.summary.passed - 1, unverified: 1 } };
      const k = formatKtap(unverified).split("\n");
      expect(k.slice(0, 2)).toEqual(["KTAP version 1", "1..1"]);
      expect(k.slice(5, 8)).toEqual(["    KTAP version 1", "    # Subtest: cross-root", `    1..${r.cases.length}`]);
      expect(k.slice(8, 11).join("\n")).toMatch(/^ {4}# \S+: .* ms\n {4}# unverified: .* has no oracle entry\n {4}not ok 1 \S+$/);
      expect(k).toContain("not ok 1 cross-root");
      expect(k.at(-2)).toBe(`# Totals: pass:${r.summary.passed - 1} fail:1 xfail:0 xpass:0 skip:0 error:0`);
    });

    it("JUnit: one testsuite per topology, failures with their messages", async () => {
      const r = await runMatrix({ filter: { topology: "iommu-off" } });
      const failed: ConformanceReport = { ...r, cases: r.cases.map((c, i) => (i === 0 ? { ...c, status: "fail" as const, messages: ['data path <broken> & "stale"'] } : c)), summary: { ...r.summary, failed: 1, passed: r.summary.passed - 1 } };
      const x = formatJunit(failed);
      expect(x).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="dmabuf-conformance" tests="\d+" failures="1" errors="0"/);
      expect(x).toContain('<testsuite name="iommu-off"');
      expect(x).toContain('<failure type="fail" message="data path &lt;broken&gt; &amp; &quot;stale&quot;">');
    });

    it("colour only on a TTY and never with NO_COLOR", async () => {
      expect(useColour({ isTTY: true }, {})).toBe(true);
      expect(useColour({ isTTY: false }, {})).toBe(false);
      expect(useColour({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
      expect(useColour({ isTTY: true }, { NO_COLOR: "" })).toBe(false);
      const r = await runMatrix({ filter: { topology: "sriov" } });
      expect(formatTable(r, true)).toMatch(/\x1b\[32m✓/);
      expect(formatTable(r, false)).not.toMatch(/\x1b/);
    });
  });

  it("the installed bin runs from another directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "conformance-cwd-"));
    writeFileSync(join(dir, "package.json"), "{}");
    const out = execFileSync(process.execPath, [CLI, "run", "--topology", "sriov"], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    expect(out).toMatch(/\nsriov\n/);
  });
});
