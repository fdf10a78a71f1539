// The PCI tree of a named topology as SVG, with the node and edge ids of each possible DMA route.
import { Kernel, buildTopology, topologyKernelOptions, type PciDev, type TopologyName } from "@dmabuf-sdk/dmabuf-core";

interface TreeNode {
  readonly id: string;
  readonly label: string;
  readonly sub: string;
  readonly parent: string | null;
  readonly depth: number;
  x: number;
}

/** The SVG and the ids (nodes and edges) of each route between the topology's slots. @public */
export interface TopologyDrawing {
  readonly svg: string;
  /** Importer to exporter through their lowest common upstream port (`BUS_ADDR`). */
  readonly busAddr: readonly string[];
  /** Importer to exporter through the host bridge (`THRU_HOST_BRIDGE`). */
  readonly hostBridge: readonly string[];
  /** Importer to system memory through the host bridge (no P2P map type). */
  readonly memory: readonly string[];
  readonly exporterSlot: string;
  readonly importerSlot: string;
}

const W = 168;
const H = 44;
const GX = 16;
const GY = 40;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const nodeId = (name: string): string => `n-${name.replace(/[^A-Za-z0-9]/g, "-")}`;

function role(d: PciDev): string {
  if (d.isVirtfn) return "VF";
  if (d.sriov) return "PF";
  return d.portType;
}

/**
 * Draws topology `name` as built by `buildTopology()` on a scratch kernel:
 * system memory and the host bridge on top, then each bus level; the two slot
 * endpoints are marked "exporter slot" and "importer slot".
 * @public
 */
export function drawTopology(name: TopologyName): TopologyDrawing {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name);
  const nodes: TreeNode[] = [];
  const hb = "n-host-bridge";
  nodes.push({ id: "n-memory", label: "system memory", sub: "RAM", parent: null, depth: 0, x: 0 });
  nodes.push({ id: hb, label: `host bridge ${t.hostBridge.domain}`, sub: t.hostBridge.p2pCapable ? "P2P capable" : "no P2P forwarding", parent: null, depth: 0, x: 0 });
  const parentOf = new Map<string, string>();
  const walk = (devs: readonly PciDev[], parent: string, depth: number): void => {
    for (const d of devs) {
      const id = nodeId(d.name);
      const slot = d === t.exporterSlot ? " · exporter slot" : d === t.importerSlot ? " · importer slot" : "";
      const acs = d.acs && (d.acs.requestRedirect || d.acs.completionRedirect) ? " · ACS redirect" : "";
      nodes.push({ id, label: d.name, sub: `${role(d)}${slot}${acs}`, parent, depth, x: 0 });
      parentOf.set(id, parent);
      if (d.subordinate) walk(d.subordinate.devices, id, depth + 1);
    }
  };
  walk(t.hostBridge.rootBus.devices, hb, 1);
  // Leaves left to right, parents centred over their children.
  let next = 0;
  const place = (id: string): number => {
    const kids = nodes.filter((n) => n.parent === id);
    const n = nodes.find((x) => x.id === id)!;
    n.x = kids.length ? kids.map((c) => place(c.id)).reduce((a, b) => a + b, 0) / kids.length : next++;
    return n.x;
  };
  place(hb);
  nodes[0]!.x = nodes[1]!.x - 1.15;
  const minX = Math.min(...nodes.map((n) => n.x));
  for (const n of nodes) n.x -= minX;
  const px = (n: TreeNode) => 10 + n.x * (W + GX);
  const py = (n: TreeNode) => 10 + n.depth * (H + GY);
  const width = Math.max(...nodes.map(px)) + W + 10;
  const height = Math.max(...nodes.map(py)) + H + 10;
  const parts: string[] = [];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const edge = (a: TreeNode, b: TreeNode, id: string) =>
    `<line id="${id}" class="edge" x1="${px(a) + W / 2}" y1="${py(a) + H}" x2="${px(b) + W / 2}" y2="${py(b)}"/>`;
  for (const n of nodes) if (n.parent) parts.push(edge(byId.get(n.parent)!, n, `e-${n.id}`));
  const mem = byId.get("n-memory")!;
  const hbn = byId.get(hb)!;
  parts.push(`<line id="e-n-memory" class="edge" x1="${px(mem) + W}" y1="${py(mem) + H / 2}" x2="${px(hbn)}" y2="${py(hbn) + H / 2}"/>`);
  for (const n of nodes) {
    parts.push(
      `<g id="${n.id}" class="node${n.sub.includes("slot") ? " slot" : ""}"><rect x="${px(n)}" y="${py(n)}" width="${W}" height="${H}" rx="6"/>` +
        `<text x="${px(n) + W / 2}" y="${py(n) + 17}" text-anchor="middle">${esc(n.label)}</text>` +
        `<text class="sub" x="${px(n) + W / 2}" y="${py(n) + 34}" text-anchor="middle">${esc(n.sub)}</text></g>`,
    );
  }
  const up = (id: string): string[] => {
    const out = [id];
    for (let p = parentOf.get(id); p; p = parentOf.get(p)) out.push(p);
    return out;
  };
  const exp = up(nodeId(t.exporterSlot.name));
  const imp = up(nodeId(t.importerSlot.name));
  const lca = exp.find((x) => imp.includes(x))!;
  const upTo = (path: string[], stop: string) => path.slice(0, path.indexOf(stop) + 1);
  const withEdges = (ids: string[], top: string) => [...ids, ...ids.filter((x) => x !== top).map((x) => `e-${x}`)];
  const busAddr = [...new Set([...withEdges(upTo(exp, lca), lca), ...withEdges(upTo(imp, lca), lca)])];
  const hostBridge = [...new Set([...withEdges(exp, hb), ...withEdges(imp, hb)])];
  const memory = [...withEdges(imp, hb), "n-memory", "e-n-memory"];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" class="topology" data-topology="${esc(name)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="PCI topology ${esc(name)}">${parts.join("")}</svg>`;
  return { svg, busAddr, hostBridge, memory, exporterSlot: nodeId(t.exporterSlot.name), importerSlot: nodeId(t.importerSlot.name) };
}
