// The self-contained HTML report: failures first, then per topology with negotiation traces and PCI routes.
import { TOPOLOGY_NAMES, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import type { CaseResult, ConformanceReport } from "../types.js";
import { STATUS_MARK, cellLabel } from "./label.js";
import { drawTopology } from "./topology-svg.js";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const bad = (c: CaseResult): boolean => c.status === "fail" || c.status === "unverified";

function cell(c: CaseResult): string {
  return `<td class="cell ${c.status}" data-testid="case-cell" data-case-id="${esc(c.id)}" title="${esc(c.id)}" tabindex="0">${STATUS_MARK[c.status]} ${esc(cellLabel(c))}</td>`;
}

function counts(cases: readonly CaseResult[]): string {
  const n = (s: CaseResult["status"]) => cases.filter((c) => c.status === s).length;
  return `${cases.length} cases: ${n("pass")} passed, ${n("fail")} failed, ${n("unverified")} unverified${n("skip") ? `, ${n("skip")} skipped` : ""}`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24}
h1{font-size:1.3rem} h2{font-size:1.05rem;margin-top:1.6rem} h3{font-size:.95rem;margin:.8rem 0 .3rem}
.meta{color:#57606a}
.summary span{margin-right:1rem}
.counts{font-weight:400;color:#57606a;margin-left:.6rem;font-size:.9rem}
table.matrix{border-collapse:collapse;margin:.4rem 0}
table.matrix th,table.matrix td{border:1px solid #c9ced6;padding:.3rem .5rem;white-space:nowrap}
table.matrix th{background:#f2f4f7;font-weight:600}
td.cell{cursor:pointer;font-family:ui-monospace,monospace}
td.pass{background:#d7f5dd} td.fail{background:#fbd4d4} td.unverified{background:#fdf0c4} td.skip{background:#e6e8eb}
td.cell.selected{outline:3px solid #2f6fde;outline-offset:-3px}
#failures li{margin:.2rem 0} #failures button{font:inherit;font-family:ui-monospace,monospace;cursor:pointer;background:#fbd4d4;border:1px solid #d1242f;border-radius:4px}
#failures button.unverified{background:#fdf0c4;border-color:#9a6700}
#details{position:fixed;inset:auto 0 0 0;max-height:70vh;overflow:auto;background:#fff;border-top:3px solid #2f6fde;padding:.6rem 1.5rem;box-shadow:0 -4px 16px #0002}
#details[hidden]{display:none}
body.details-open{padding-bottom:72vh}
#details pre{background:#f6f8fa;padding:.5rem;overflow:auto;max-height:24vh;margin:0}
#details .close{float:right}
table.trace{border-collapse:collapse} table.trace td,table.trace th{border:1px solid #d0d7de;padding:.2rem .4rem;font-family:ui-monospace,monospace;font-size:12px;text-align:left}
tr.matched td{background:#d7f5dd} tr.type-mismatch td{color:#57606a} tr.p2p-distance td,tr.match-refused td,tr.match-aborted td{background:#fff1e5}
svg.topology{max-width:100%;height:auto} svg .node rect{fill:#f6f8fa;stroke:#8c959f} svg .node.slot rect{stroke-width:2}
svg text{font:12px ui-monospace,monospace;fill:#1b1f24} svg text.sub{font-size:10px;fill:#57606a}
svg .edge{stroke:#8c959f;stroke-width:2} svg .route rect{fill:#ddf4ff;stroke:#0969da;stroke-width:3} svg line.route{stroke:#0969da;stroke-width:5}
`;

const SCRIPT = `
const data = JSON.parse(document.getElementById("report-data").textContent);
const routes = JSON.parse(document.getElementById("route-data").textContent);
const byId = new Map(data.cases.map((c) => [c.id, c]));
const details = document.getElementById("details");
let opener = null;
const text = (id, t) => { document.getElementById(id).textContent = t; };
function traceRows(n) {
  const body = document.getElementById("details-tries");
  body.replaceChildren();
  for (const t of n ? n.tries : []) {
    const tr = document.createElement("tr");
    tr.className = t.verdict;
    tr.dataset.testid = "trace-try";
    for (const v of [n.exporter[t.exp], n.importer[t.imp], t.verdict, t.why || ""]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    body.append(tr);
  }
}
function list(id, items) {
  const ol = document.getElementById(id);
  ol.replaceChildren(...items.map((s) => { const li = document.createElement("li"); li.textContent = s; return li; }));
}
function drawRoute(c) {
  const holder = document.getElementById("details-topology");
  const tpl = document.getElementById("topo-" + c.topology);
  holder.replaceChildren();
  if (!tpl) { text("details-route", "(no PCI topology for this case)"); return; }
  holder.append(tpl.content.cloneNode(true));
  const r = routes[c.topology];
  let ids = [], what;
  if (c.actual.p2p === "BUS_ADDR") { ids = r.busAddr; what = "peer-to-peer through the common switch (BUS_ADDR)"; }
  else if (c.actual.p2p === "THRU_HOST_BRIDGE") { ids = r.hostBridge; what = "peer-to-peer through the host bridge (THRU_HOST_BRIDGE)"; }
  else if (c.actual.mapType === "IOV") { ids = r.busAddr; what = "SR-IOV interconnect: the PF reaches its VF's memory inside the device (no P2P map type)"; }
  else if (c.actual.mapType === "PAL") { ids = r.hostBridge; what = "physical address list: the importer's IOMMU maps the exporter's MMIO, through the host bridge (no P2P map type computed)"; }
  else if (c.actual.mapType) { ids = r.memory; what = "importer to system memory through the host bridge (no P2P map type)"; }
  else what = "no route";
  if (c.actual.errno) what += (ids.length ? "; then " : ": ") + c.actual.errno + " at " + c.actual.step;
  for (const id of ids) holder.querySelector("#" + CSS.escape(id))?.classList.add("route");
  text("details-route", what);
}
function show(id, from) {
  const c = byId.get(id);
  if (!c) return;
  opener = from || document.querySelector('td.cell[data-case-id="' + CSS.escape(id) + '"]');
  document.querySelectorAll("td.cell.selected").forEach((e) => e.classList.remove("selected"));
  document.querySelector('td.cell[data-case-id="' + CSS.escape(id) + '"]')?.classList.add("selected");
  details.hidden = false;
  // The panel covers the bottom of the page: room below the matrix keeps every cell reachable.
  document.body.classList.add("details-open");
  text("details-id", c.id);
  text("details-status", c.status);
  text("details-duration", c.durationMs.toFixed(3) + " ms");
  text("details-expected", c.expected ? JSON.stringify(c.expected) : "(no oracle entry)");
  text("details-reason", c.reason || "(no oracle entry: the outcome is not verified)");
  text("details-actual", JSON.stringify(c.actual));
  text("details-messages", c.messages.join("\\n") || "(none)");
  text("details-steps", c.steps.join("\\n"));
  text("details-log", c.log ? c.log.join("\\n") || "(empty)" : "(kept for cases that did not pass)");
  text("details-rerun", c.rerun || "dmabuf-conformance run '" + c.id + "' --seed " + data.seed);
  const n = c.negotiation;
  document.getElementById("details-negotiation").hidden = !n;
  list("details-offers", n ? n.exporter : []);
  list("details-accepts", n ? n.importer : []);
  traceRows(n);
  drawRoute(c);
  document.getElementById("details-close").focus();
}
function hide() {
  if (details.hidden) return;
  details.hidden = true;
  document.body.classList.remove("details-open");
  document.querySelectorAll("td.cell.selected").forEach((e) => e.classList.remove("selected"));
  opener?.focus();
}
document.addEventListener("click", (ev) => {
  const td = ev.target.closest("td.cell, button[data-case-id]");
  if (td) show(td.dataset.caseId, td);
});
document.getElementById("details-close").addEventListener("click", hide);
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") hide();
  else if (ev.key === "Enter" && ev.target.matches && ev.target.matches("td.cell")) {
    // Focus moves to the close button: the Enter must not press it too.
    ev.preventDefault();
    show(ev.target.dataset.caseId, ev.target);
  }
});
`;

/**
 * A self-contained HTML page: the failures first, then per topology (those
 * with failures first) its counts and the matrix as a coloured grid; a case's
 * details give the oracle's expectation and reason, the negotiation trace
 * (exporter offers, importer list, each pair tried and why it was not taken),
 * the PCI topology as SVG with the case's route highlighted, the steps, the
 * kernel log and the rerun command. Esc closes the details.
 * @public
 */
export function formatHtml(report: ConformanceReport): string {
  const s = report.summary;
  const parts: string[] = [];
  const failing = report.cases.filter(bad);
  parts.push(`<section id="failures" data-testid="failures"><h2>Failures <span class="counts">${failing.length} of ${report.cases.length} cases failed or are unverified</span></h2>`);
  parts.push(
    failing.length
      ? `<ul>${failing.map((c) => `<li><button type="button" class="${c.status}" data-case-id="${esc(c.id)}" data-testid="failure">${STATUS_MARK[c.status]} ${esc(c.id)}</button> ${esc(cellLabel(c))}: ${esc(c.messages[0] ?? "")}</li>`).join("")}</ul>`
      : "<p>None: every case passed.</p>",
  );
  parts.push("</section>");
  const present = TOPOLOGY_NAMES.filter((t) => report.cases.some((c) => c.topology === t));
  const order = [...present].sort((a, b) => report.cases.filter((c) => c.topology === b && bad(c)).length - report.cases.filter((c) => c.topology === a && bad(c)).length);
  for (const topo of order) {
    const all = report.cases.filter((c) => c.topology === topo);
    // The lifecycle draws the exporter × importer grid; pair families (the unplug family) and scenarios are rows.
    const pairs = all.filter((c) => c.exporter !== null && c.scenario === "lifecycle");
    const others = all.filter((c) => c.exporter === null || c.scenario !== "lifecycle");
    parts.push(`<section class="topology" data-topology="${esc(topo)}"><h2>${esc(topo)}<span class="counts" data-testid="topology-counts">${esc(counts(all))}</span></h2>`);
    if (pairs.length) {
      const exporters = [...new Set(pairs.map((c) => c.exporter!))];
      const importers = [...new Set(pairs.map((c) => c.importer!))];
      parts.push(`<table class="matrix" data-topology="${esc(topo)}"><thead><tr><th>exporter \\ importer</th>${importers.map((i) => `<th>${esc(i)}</th>`).join("")}</tr></thead><tbody>`);
      for (const e of exporters) {
        parts.push(`<tr><th>${esc(e)}</th>`);
        for (const i of importers) {
          const c = pairs.find((x) => x.exporter === e && x.importer === i);
          parts.push(c ? cell(c) : "<td></td>");
        }
        parts.push("</tr>");
      }
      parts.push("</tbody></table>");
    }
    if (others.length) {
      parts.push(`<table class="matrix scenarios" data-topology="${esc(topo)}"><tbody>`);
      for (const c of others) parts.push(`<tr><th>${esc(c.id)}</th>${cell(c)}</tr>`);
      parts.push("</tbody></table>");
    }
    parts.push("</section>");
  }
  const drawings = present.map((t) => [t, drawTopology(t as TopologyName)] as const);
  const templates = drawings.map(([t, d]) => `<template id="topo-${esc(t)}">${d.svg}</template>`).join("\n");
  const routes = Object.fromEntries(drawings.map(([t, d]) => [t, { busAddr: d.busAddr, hostBridge: d.hostBridge, memory: d.memory }]));
  const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x)).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dmabuf-conformance report</title><style>${STYLE}</style></head>
<body>
<h1>dmabuf-conformance</h1>
<p class="summary" data-testid="summary"><span>${report.cases.length} cases</span><span>${s.passed} passed</span><span>${s.failed} failed</span><span>${s.skipped} skipped</span><span>${s.unverified} unverified</span><span>seed ${report.seed}${report.shard ? `, shard ${esc(report.shard)}` : ""}</span></p>
<p class="meta" data-testid="meta">${esc(report.tool.name)} ${esc(report.tool.version)} on node ${esc(report.tool.node)} · started ${esc(report.startedAt)}, finished ${esc(report.finishedAt)} (${report.durationMs.toFixed(1)} ms) · ${report.packages.map((p) => `${esc(p.name)}@${esc(p.version)}`).join(", ")}</p>
<p>Cell: status, then the negotiated mapping type and P2P route, or the errno and the step that returned it. Click a cell (or press Enter on it) for the case; Esc closes it.</p>
${parts.join("\n")}
<section id="details" hidden data-testid="details" aria-live="polite">
<button type="button" class="close" id="details-close" aria-label="close (Esc)">close ✕</button>
<h2 id="details-id"></h2>
<p>status: <b id="details-status"></b> · <span id="details-duration"></span></p>
<p>expected: <code id="details-expected"></code> — <span id="details-reason" data-testid="oracle-reason"></span></p>
<p>actual: <code id="details-actual"></code></p>
<h3>messages</h3><pre id="details-messages"></pre>
<div id="details-negotiation" data-testid="negotiation">
<h3>negotiation (dma_buf_match_mapping)</h3>
<p>exporter offers, in priority order:</p><ol id="details-offers" data-testid="exporter-offers"></ol>
<p>importer list:</p><ol id="details-accepts" data-testid="importer-list"></ol>
<table class="trace"><thead><tr><th>exporter entry</th><th>importer entry</th><th>verdict</th><th>why</th></tr></thead><tbody id="details-tries"></tbody></table>
</div>
<h3>PCI topology and route: <span id="details-route" data-testid="route"></span></h3>
<div id="details-topology" data-testid="topology"></div>
<h3>steps</h3><pre id="details-steps"></pre>
<h3>kernel log</h3><pre id="details-log" data-testid="kernel-log"></pre>
<h3>rerun</h3><pre id="details-rerun" data-testid="rerun"></pre>
</section>
${templates}
<script type="application/json" id="report-data">${json(report)}</script>
<script type="application/json" id="route-data">${json(routes)}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
