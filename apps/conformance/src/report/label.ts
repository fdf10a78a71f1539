// A matrix cell's text: the negotiated mapping type and route, or the stopping errno and step.
import type { CaseResult } from "../types.js";

/** A cell's text: the negotiated type and route, the stopping errno and step, or a scenario's outcome. @public */
export function cellLabel(c: CaseResult): string {
  const a = c.actual;
  if (c.exporter === null) return a.outcome ?? (a.errno ? `${a.errno}@${a.step ?? "?"}` : "-");
  if (a.errno) return `${a.errno}@${a.step ?? "?"}`;
  // A pair family (the unplug family) is labelled by what happened after its event.
  if (c.scenario !== "lifecycle" && a.outcome) return a.outcome;
  if (!a.mapType) return "-";
  return a.p2p ? `${a.mapType}/${a.p2p}` : a.mapType;
}

/** One-character status marks. @public */
export const STATUS_MARK: Record<CaseResult["status"], string> = { pass: "✓", fail: "✗", skip: "-", unverified: "?" };
