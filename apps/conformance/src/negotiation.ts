// The report's view of the `dma_buf_match_mapping` tracepoint: both offered lists and every pair tried, in loop order.
import type { DmaBufMappingMatch, DmaBufMatchTrace } from "@dmabuf-sdk/dmabuf-core";
import type { Negotiation, NegotiationTry } from "./types.js";

function fieldText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "object") return typeof (v as { name?: unknown }).name === "string" ? (v as { name: string }).name : undefined;
  return String(v);
}

/** An entry as reports show it: the type's short name and its data (`SGT exporterRequiresP2p=… exportingP2pDevice=0000:03:00.0`). @public */
export function describeEntry(m: DmaBufMappingMatch): string {
  const data =
    m.data && typeof m.data === "object"
      ? Object.entries(m.data as Record<string, unknown>)
          .map(([k, v]) => [k, fieldText(v)] as const)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${v}`)
      : [];
  return [m.type.shortName ?? m.type.name, ...data].join(" ");
}

/** The report's view of a match trace: a refusal that logged a P2P distance failure is `p2p-distance`. @public */
export function negotiationOf(t: DmaBufMatchTrace): Negotiation {
  const tries = t.tries.map((x): NegotiationTry => {
    const why = [...x.log, ...(x.errno ? [`-${x.errno}`] : [])].join("; ") || undefined;
    const verdict =
      x.verdict === "refused"
        ? x.log.some((l) => l.includes("peer-to-peer DMA"))
          ? "p2p-distance"
          : "match-refused"
        : x.verdict === "aborted"
          ? "match-aborted"
          : x.verdict;
    return { exp: x.exp, imp: x.imp, verdict, ...(why ? { why } : {}) };
  });
  return { exporter: t.exporter.map(describeEntry), importer: t.importer.map(describeEntry), tries };
}
