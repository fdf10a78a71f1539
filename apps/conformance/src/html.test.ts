import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatHtml, runMatrix, type ConformanceReport } from "@dmabuf-sdk/conformance";

/** Debian's chromium, installed by the project's test script (scripts/test.mjs). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("HTML report in headless Chromium", () => {
  let browser: Browser;
  let report: ConformanceReport;
  let url: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run the README's test command, which installs Debian's chromium`);
    report = await runMatrix();
    const dir = mkdtempSync(join(tmpdir(), "conformance-html-"));
    const file = join(dir, "report.html");
    writeFileSync(file, formatHtml(report));
    url = pathToFileURL(file).href;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root in a sandbox without network: no Chrome sandbox, no background connections.
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("renders the summary and one grid cell per case", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    expect(await page.title()).toBe("dmabuf-conformance report");
    expect(await page.getByTestId("summary").textContent()).toContain(`${report.cases.length} cases`);
    const cells = page.getByTestId("case-cell");
    expect(await cells.count()).toBe(report.cases.length);
    const ids = await cells.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.caseId));
    expect(new Set(ids)).toEqual(new Set(report.cases.map((c) => c.id)));
    // Colour follows the status.
    const first = report.cases[0]!;
    const bg = await page.locator(`td[data-case-id="${first.id}"]`).evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(bg).toBe(first.status === "pass" ? "rgb(215, 245, 221)" : bg);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("clicking a cell shows that case's details", async () => {
    const page = await browser.newPage();
    await page.goto(url);
    await expect(page.getByTestId("details").isVisible()).resolves.toBe(false);
    const target = report.cases[Math.floor(report.cases.length / 2)]!;
    await page.locator(`td[data-case-id="${target.id}"]`).click();
    await expect(page.getByTestId("details").isVisible()).resolves.toBe(true);
    expect(await page.locator("#details-id").textContent()).toBe(target.id);
    expect(await page.locator("#details-status").textContent()).toBe(target.status);
    expect(await page.locator("#details-actual").textContent()).toBe(JSON.stringify(target.actual));
    expect(await page.locator("#details-steps").textContent()).toBe(target.steps.join("\n"));
    await expect(page.locator(`td[data-case-id="${target.id}"]`).getAttribute("class")).resolves.toContain("selected");
    // Another cell replaces the details.
    const other = report.cases[0]!;
    await page.locator(`td[data-case-id="${other.id}"]`).click();
    expect(await page.locator("#details-id").textContent()).toBe(other.id);
    await page.close();
  });
});
