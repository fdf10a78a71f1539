// Every shipped race: the pre-fix form is found (and its shrunk schedule replays it), the fixed form is clean within the bound.
import { describe, expect, it } from "vitest";
import { explore, replaySchedule } from "@dmabuf-sdk/dmabuf-core";
import { RACE_SCENARIOS, raceScenario } from "./race-scenarios.js";

const race = (id: string) => raceScenario(id)!;

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

  it("pre-1a8a5227f229: a revoke only notifies, so one preemption is not enough (the restore must not come first); with two the in-flight transfer faults", () => {
    const r = race("vfio-revoke-vs-unmap/pre-1a8a5227f229");
    expect(explore(r.scenario(), { ...r.options, preemptionBound: 1 }).failures).toEqual([]);
    const f = explore(r.scenario(), r.options).failures;
    expect(f.map((x) => [x.signature, x.preemptions])).toEqual([[r.expect, 2]]);
    expect(f[0]!.messages[0]).toMatch(/^a mapping outlived the revoke: .*\ndma_write: EIO \(0000:04:00\.0 unsupported-request at 0x[0-9a-f]+\)$/);
  });

  it("pre-1a8a5227f229: an unplug while the transfer is in flight reaches the removed function with one preemption; the same schedule is clean on the current driver", () => {
    const pre = explore(race("vfio-unplug-vs-dma/pre-1a8a5227f229").scenario(), { preemptionBound: 1 }).failures;
    expect(pre.map((x) => [x.signature, x.preemptions])).toEqual([[race("vfio-unplug-vs-dma/pre-1a8a5227f229").expect, 1]]);
    expect(replaySchedule(race("vfio-unplug-vs-dma/post-1a8a5227f229").scenario(), pre[0]!.shrunk).failures).toEqual([]);
  });

  it("1a8a5227f229: revoke, then close (the default order) — refcount_t underflow, cleanup hung in its wait, the buffer leaked; the fixed form is clean in that order", () => {
    const bad = replaySchedule(race("vfio-revoke-vs-close/1a8a5227f229").scenario(), "e1.");
    expect(bad.failures.map((f) => f.signature)).toEqual(["oops: close", "WARN: refcount_t: underflow; use-after-free.", "leak: dma_buf, file"]);
    expect(bad.log).toMatch(/hung_task: vmm:\d+ blocked in vfio_pci_dma_buf_cleanup: 0 mapping reference\(s\)/);
    const good = replaySchedule(race("vfio-revoke-vs-close/post-2026-05-07").scenario(), "e1.");
    expect([good.failures, good.outcomes.map((o) => o.errno ?? "ok")]).toEqual([[], ["ok", "ok", "ENODEV", "ok"]]);
  });

  it.each([
    { schedule: "e1.", order: "close first", outcomes: ["ok", "EBADF", "ok", "ok", "ok"] },
    { schedule: "e1.1", order: "dma_buf_get first", outcomes: ["ok", "ok", "ok", "ok", "ok"] },
  ])("dma-buf close vs attach, $order: $outcomes", ({ schedule, outcomes }) => {
    const r = replaySchedule(race("dma-buf-close-vs-attach").scenario(), schedule);
    expect([r.failures, r.outcomes.map((o) => o.errno ?? "ok")]).toEqual([[], outcomes]);
  });

  it("xe unplug with the peer's DMA in flight: the removal waits for the fence (the transfer lands first) and the importer reads the bytes back from system memory", () => {
    const r = replaySchedule(race("xe-unplug-vs-dma").scenario(), "e1.1001");
    expect(r.trace.filter((l) => !l.startsWith(" "))).toEqual([
      "importer: map + read",
      "importer: post DMA write (fence in resv)",
      "importer: read again",
      "pci remove: xe_device_remove (hot-unplug)  <- preemption",
      "importer: wait for the DMA, detach",
    ]);
    expect([r.failures, r.outcomes.map((o) => o.errno ?? "ok")]).toEqual([[], ["ok", "ok", "ok", "ok", "ok"]]);
  });

  it("ids are unique and each race comes with its fix", () => {
    expect(new Set(RACE_SCENARIOS.map((r) => r.id)).size).toBe(RACE_SCENARIOS.length);
    for (const r of RACE_SCENARIOS) expect([r.fix.length > 0, (r.form === "pre-fix") === (r.expect !== null)]).toEqual([true, true]);
  });
});
