// Every shipped race: the pre-fix form is found (and its shrunk schedule replays it), the fixed form is clean within the bound.
import { describe, expect, it } from "vitest";
import { explore, replaySchedule } from "@dmabuf-sdk/dmabuf-core";
import { RACE_SCENARIOS } from "./race-scenarios.js";

describe("shipped race scenarios", () => {
  it.each(RACE_SCENARIOS.filter((r) => r.form === "pre-fix"))("$id: the explorer finds the pre-fix bug and the shrunk schedule replays it", (race) => {
    const r = explore(race.scenario(), race.options);
    const f = r.failures.find((x) => x.signature.startsWith(race.expect!));
    expect(f, r.failures.map((x) => x.signature).join("\n")).toBeDefined();
    const again = replaySchedule(race.scenario(), f!.shrunk);
    expect(again.failures.map((x) => x.signature)).toContain(f!.signature);
    expect(f!.preemptions).toBeLessThanOrEqual(race.options.preemptionBound ?? 2);
  });

  it.each(RACE_SCENARIOS.filter((r) => r.form === "fixed"))("$id: every schedule within the bound is clean", (race) => {
    const r = explore(race.scenario(), race.options);
    expect(r.failures.map((f) => `${f.signature} (${f.shrunk})\n${f.trace.join("\n")}\n${f.messages.join("\n")}`)).toEqual([]);
    expect(r.complete).toBe(true);
    expect(r.schedules).toBeGreaterThan(1);
  });

  it("the v1 match_mapping window needs exactly one preemption, inside the match", () => {
    const race = RACE_SCENARIOS.find((r) => r.id === "vfio-close-vs-attach/v1")!;
    expect(explore(race.scenario(), { ...race.options, preemptionBound: 0 }).failures).toEqual([]);
    const f = explore(race.scenario(), { ...race.options, preemptionBound: 1 }).failures[0]!;
    expect(f.preemptions).toBe(1);
    expect(f.trace).toEqual(["importer: dma_buf_dynamic_attach", "  vmm: close(device fd): vfio_pci_dma_buf_cleanup (at vfio_pci_dma_buf_match_mapping: after the priv->vdev check)  <- preemption"]);
  });

  it("ids are unique and each race comes with its fix", () => {
    expect(new Set(RACE_SCENARIOS.map((r) => r.id)).size).toBe(RACE_SCENARIOS.length);
    for (const r of RACE_SCENARIOS) expect([r.fix.length > 0, (r.form === "pre-fix") === (r.expect !== null)]).toEqual([true, true]);
  });
});
