import { TOPOLOGY_NAMES } from "@dmabuf-sdk/dmabuf-core";
import type { CaseResult, ConformanceReport } from "../types.js";
import { STATUS_MARK, cellLabel } from "./label.js";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function cell(c: CaseResult): string {
  return `<td class="cell ${c.status}" data-testid="case-cell" data-case-id="${esc(c.id)}" title="${esc(c.id)}" tabindex="0">${STATUS_MARK[c.status]} ${esc(cellLabel(c))}</td>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24}
h1{font-size:1.3rem} h2{font-size:1.05rem;margin-top:1.6rem}
.summary span{margin-right:1rem}
table.matrix{border-collapse:collapse;margin:.4rem 0}
table.matrix th,table.matrix td{border:1px solid #c9ced6;padding:.3rem .5rem;white-space:nowrap}
table.matrix th{background:#f2f4f7;font-weight:600}
td.cell{cursor:pointer;font-family:ui-monospace,monospace}
td.pass{background:#d7f5dd} td.fail{background:#fbd4d4} td.unverified{background:#fdf0c4} td.skip{background:#e6e8eb}
td.cell.selected{outline:3px solid #2f6fde;outline-offset:-3px}
#details{position:sticky;bottom:0;background:#fff;border-top:2px solid #2f6fde;padding:.6rem 0;margin-top:1rem}
#details[hidden]{display:none}
#details pre{background:#f6f8fa;padding:.5rem;overflow:auto;max-height:40vh}
`;

const SCRIPT = `
const data = JSON.parse(document.getElementById("report-data").textContent);
const byId = new Map(data.cases.map((c) => [c.id, c]));
const details = document.getElementById("details");
function show(id) {
  const c = byId.get(id);
  if (!c) return;
  document.querySelectorAll("td.cell.selected").forEach((e) => e.classList.remove("selected"));
  document.querySelector('td.cell[data-case-id="' + CSS.escape(id) + '"]').classList.add("selected");
  details.hidden = false;
  document.getElementById("details-id").textContent = c.id;
  document.getElementById("details-status").textContent = c.status;
  document.getElementById("details-expected").textContent = c.expected ? JSON.stringify(c.expected) : "(no oracle entry)";
  document.getElementById("details-actual").textContent = JSON.stringify(c.actual);
  document.getElementById("details-messages").textContent = c.messages.join("\\n") || "(none)";
  document.getElementById("details-steps").textContent = c.steps.join("\\n");
}
document.addEventListener("click", (ev) => {
  const td = ev.target.closest("td.cell");
  if (td) show(td.dataset.caseId);
});
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && ev.target.matches && ev.target.matches("td.cell")) show(ev.target.dataset.caseId);
});
`;

/**
 * A self-contained HTML page: the matrix of each topology as a coloured grid
 * (one cell per case), the scenarios, and a details panel that shows a case
 * when its cell is clicked. The report is embedded as JSON.
 */
export function formatHtml(report: ConformanceReport): string {
  const s = report.summary;
  const parts: string[] = [];
  for (const topo of TOPOLOGY_NAMES) {
    const cases = report.cases.filter((c) => c.topology === topo && c.exporter !== null && c.scenario === "lifecycle");
    if (!cases.length) continue;
    const exporters = [...new Set(cases.map((c) => c.exporter!))];
    const importers = [...new Set(cases.map((c) => c.importer!))];
    parts.push(`<h2>${esc(topo)}</h2><table class="matrix" data-topology="${esc(topo)}"><thead><tr><th>exporter \\ importer</th>${importers.map((i) => `<th>${esc(i)}</th>`).join("")}</tr></thead><tbody>`);
    for (const e of exporters) {
      parts.push(`<tr><th>${esc(e)}</th>`);
      for (const i of importers) {
        const c = cases.find((x) => x.exporter === e && x.importer === i);
        parts.push(c ? cell(c) : "<td></td>");
      }
      parts.push("</tr>");
    }
    parts.push("</tbody></table>");
  }
  // Pair families beyond the lifecycle (the unplug family): one row per case.
  const families = report.cases.filter((c) => c.exporter !== null && c.scenario !== "lifecycle");
  if (families.length) {
    parts.push('<h2>pair families</h2><table class="matrix" data-topology="families"><tbody>');
    for (const c of families) parts.push(`<tr><th>${esc(c.id)}</th>${cell(c)}</tr>`);
    parts.push("</tbody></table>");
  }
  const scenarios = report.cases.filter((c) => c.exporter === null);
  if (scenarios.length) {
    parts.push('<h2>scenarios</h2><table class="matrix" data-topology="scenarios"><tbody>');
    for (const c of scenarios) parts.push(`<tr><th>${esc(c.id)}</th>${cell(c)}</tr>`);
    parts.push("</tbody></table>");
  }
  const json = JSON.stringify(report, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dmabuf-conformance report</title><style>${STYLE}</style></head>
<body>
<h1>dmabuf-conformance</h1>
<p class="summary" data-testid="summary"><span>${report.cases.length} cases</span><span>${s.passed} passed</span><span>${s.failed} failed</span><span>${s.skipped} skipped</span><span>${s.unverified} unverified</span><span>seed ${report.seed}${report.shard ? `, shard ${esc(report.shard)}` : ""}</span></p>
<p>Cell: status, then the negotiated mapping type and P2P route, or the errno and the step that returned it. Click a cell for the case.</p>
${parts.join("\n")}
<section id="details" hidden data-testid="details">
<h2 id="details-id"></h2>
<p>status: <b id="details-status"></b></p>
<p>expected: <code id="details-expected"></code></p>
<p>actual: <code id="details-actual"></code></p>
<h3>messages</h3><pre id="details-messages"></pre>
<h3>steps</h3><pre id="details-steps"></pre>
</section>
<script type="application/json" id="report-data">${json}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
