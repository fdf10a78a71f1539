// Tests of the HTML report in headless Chromium.
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drawTopology, formatHtml, runMatrix, type CaseResult, type ConformanceReport } from "@dmabuf-sdk/conformance";
import { APP, tmp } from "../test/tools.ts";

/** Debian's chromium, installed by the project's test script (scripts/install-test-tools.mjs). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Kept after the run as the test's artifact (CI uploads apps/conformance/reports/). */
const SCREENSHOT = join(APP, "reports", "html-report.png");

describe("HTML report in headless Chromium", () => {
  let browser: Browser;
  let report: ConformanceReport;
  let url: string;
  const errors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run the README's test command, which installs Debian's chromium`);
    // The in-tree matrix plus a plugin with a failing and unverified cases, so failures exist.
    report = await runMatrix({ modules: ["./test/fixtures/plugin-mismatch"], cwd: APP });
    const file = join(tmp("conformance-html-"), "report.html");
    writeFileSync(file, formatHtml(report));
    url = pathToFileURL(file).href;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root in a sandbox without network: no Chrome sandbox, no background connections.
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  async function open(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") errors.push(m.text());
    });
    await page.goto(url);
    return page;
  }
  const find = (id: string): CaseResult => report.cases.find((c) => c.id === id)!;

  it("renders the summary, the versions and one grid cell per case, with no console error", async () => {
    const page = await open();
    expect(await page.title()).toBe("dmabuf-conformance report");
    expect(await page.getByTestId("summary").textContent()).toContain(`${report.cases.length} cases`);
    expect(await page.getByTestId("meta").textContent()).toContain(`${report.tool.name} ${report.tool.version}`);
    const ids = await page.getByTestId("case-cell").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.caseId));
    expect(ids.sort()).toEqual(report.cases.map((c) => c.id).sort());
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows the failures first, and the topologies with failures before the others, each with its counts", async () => {
    const page = await open();
    const failing = report.cases.filter((c) => c.status === "fail" || c.status === "unverified");
    expect(failing.length).toBeGreaterThan(0);
    const order = await page.locator("body > section").evaluateAll((els) => els.map((e) => e.id || (e as HTMLElement).dataset.topology));
    expect(order[0]).toBe("failures");
    expect(await page.getByTestId("failure").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.caseId))).toEqual(failing.map((c) => c.id));
    const topologies = order.slice(1, -1) as string[];
    const bad = (t: string) => failing.filter((c) => c.topology === t).length;
    expect(topologies.map(bad)).toEqual([...topologies.map(bad)].sort((a, b) => b - a));
    for (const t of topologies) {
      const cs = report.cases.filter((c) => c.topology === t);
      const n = (s: string) => cs.filter((c) => c.status === s).length;
      expect(await page.locator(`section[data-topology="${t}"] [data-testid="topology-counts"]`).textContent()).toBe(`${cs.length} cases: ${n("pass")} passed, ${n("fail")} failed, ${n("unverified")} unverified`);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it("a failure's details: the oracle's reason, the kernel log, the rerun command; Esc closes them", async () => {
    const page = await open();
    const c = report.cases.find((x) => x.status === "fail")!;
    expect(await page.getByTestId("details").isVisible()).toBe(false);
    await page.locator(`button[data-case-id="${c.id}"]`).click();
    expect(await page.getByTestId("details").isVisible()).toBe(true);
    expect(await page.locator("#details-id").textContent()).toBe(c.id);
    expect(await page.getByTestId("oracle-reason").textContent()).toBe(c.reason);
    expect(await page.locator("#details-messages").textContent()).toBe(c.messages.join("\n"));
    expect(await page.getByTestId("kernel-log").textContent()).toBe(c.log!.join("\n") || "(empty)");
    expect(await page.getByTestId("rerun").textContent()).toBe(c.rerun);
    // A reviewer's view of a failing case, kept as the test's artifact.
    mkdirSync(join(APP, "reports"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: false });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    await page.keyboard.press("Escape");
    expect(await page.getByTestId("details").isVisible()).toBe(false);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.caseId)).toBe(c.id);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("the negotiation trace: exporter offers, importer list, each pair tried and why it was skipped", async () => {
    const page = await open();
    const c = find("cross-root-no-p2p/vfio-pci/compat-dynamic-importer");
    await page.locator(`td[data-case-id="${c.id}"]`).click();
    expect(await page.getByTestId("exporter-offers").locator("li").allTextContents()).toEqual(c.negotiation!.exporter);
    expect(c.negotiation!.exporter.map((e) => e.split(" ")[0])).toEqual(["PAL", "SGT"]);
    expect(await page.getByTestId("importer-list").locator("li").allTextContents()).toEqual(c.negotiation!.importer);
    const rows = await page.locator('[data-testid="trace-try"]').evaluateAll((els) => els.map((tr) => [...tr.children].map((td) => td.textContent)));
    expect(rows.map((r) => r[2])).toEqual(["type-mismatch", "p2p-distance"]);
    expect(rows[1]![3]).toMatch(/cannot be used for peer-to-peer DMA as the client and provider \(.*\) do not share an upstream bridge or whitelisted host bridge/);
    // A matched pair.
    await page.locator(`td[data-case-id="same-switch/vfio-pci/iommufd"]`).click();
    const ok = await page.locator('[data-testid="trace-try"]').evaluateAll((els) => els.map((tr) => tr.children[2]!.textContent));
    expect(ok).toEqual(["matched"]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it.each([
    { id: "same-switch/vfio-pci/compat-dynamic-importer", route: /BUS_ADDR/, through: "switch", hostBridge: false },
    { id: "cross-root/vfio-pci/compat-dynamic-importer", route: /THRU_HOST_BRIDGE/, through: "host bridge", hostBridge: true },
    { id: "sriov/system-heap/xe", route: /^importer to system memory through the host bridge/, through: "memory", hostBridge: true },
    { id: "sriov/vfio-pci/xe", route: /^SR-IOV interconnect/, through: "the PF", hostBridge: false },
    { id: "cross-root/vfio-pci/iommufd", route: /^physical address list/, through: "the IOMMU", hostBridge: true },
    { id: "cross-root-no-p2p/vfio-pci/iommufd", route: /^physical address list.*; then EIO at dma$/, through: "a host bridge that cannot forward it", hostBridge: true },
    { id: "same-switch/vfio-pci/compat-static-importer", route: /^no route: EINVAL at attach$/, through: "nothing", hostBridge: false },
  ])("draws the PCI topology as SVG and highlights the route of $id ($through)", async ({ id, route, hostBridge }) => {
    const page = await open();
    const c = find(id);
    await page.locator(`td[data-case-id="${id}"]`).click();
    const svg = page.getByTestId("topology").locator("svg");
    expect(await svg.getAttribute("data-topology")).toBe(c.topology);
    expect(await page.getByTestId("route").textContent()).toMatch(route);
    const lit = await svg.locator(".route").evaluateAll((els) => els.map((e) => e.id));
    const d = drawTopology(c.topology);
    if (!c.actual.mapType) expect(lit).toEqual([]);
    else {
      expect(lit).toContain(d.importerSlot);
      expect(lit.includes("n-host-bridge")).toBe(hostBridge);
      expect(lit.includes("n-memory")).toBe(c.actual.mapType === "SGT" && !c.actual.p2p);
      expect(lit.includes(d.exporterSlot)).toBe(!lit.includes("n-memory"));
      expect(lit.some((x) => x.startsWith("e-"))).toBe(true);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it("Enter on a focused cell opens it; another cell replaces it", async () => {
    const page = await open();
    const a = report.cases[3]!;
    const b = report.cases[7]!;
    await page.locator(`td[data-case-id="${a.id}"]`).focus();
    await page.keyboard.press("Enter");
    expect(await page.locator("#details-id").textContent()).toBe(a.id);
    await expect(page.locator(`td[data-case-id="${a.id}"]`).getAttribute("class")).resolves.toContain("selected");
    await page.locator(`td[data-case-id="${b.id}"]`).click();
    expect(await page.locator("#details-id").textContent()).toBe(b.id);
    expect(await page.locator("#details-actual").textContent()).toBe(JSON.stringify(b.actual));
    await page.getByRole("button", { name: "close (Esc)" }).click();
    expect(await page.getByTestId("details").isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });
});
