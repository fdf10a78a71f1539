// Tests of the memcg-lsm conformance fixtures and scenarios.
import { describe, expect, it } from "vitest";
import { ConformanceFixtures, Kernel, buildTopology, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { memcgLsmFixtures, memcgLsmScenarios, systemHeapModule } from "@dmabuf-sdk/memcg-lsm";

/** What the kernel does in each scenario (the oracle the conformance app's table should carry). */
const EXPECTED: Record<string, string> = {
  "memcg-lsm/charge-other-allowed": "ok",
  "memcg-lsm/charge-other-denied": "EACCES",
  "memcg-lsm/charge-other-permissive": "ok",
  "memcg-lsm/charge-other-permissive-domain": "ok",
  "memcg-lsm/charge-self-pidfd": "ok",
  "memcg-lsm/handle-unknown-allow": "ok",
  "memcg-lsm/bad-pidfd": "EBADF",
  "memcg-lsm/reaped-target": "ESRCH",
  "memcg-lsm/zombie-target": "ok",
  "memcg-lsm/over-limit": "ENOMEM",
  "memcg-lsm/oom-kill-in-target": "ok",
  "memcg-lsm/release-after-handoff": "ok",
};

/** Runs a scenario as the conformance app does: a fresh kernel for its topology, its modules, a user task, then the universal checks. */
function runScenario(name: string) {
  const s = memcgLsmScenarios.find((x) => x.name === name)!;
  const k = new Kernel(topologyKernelOptions(s.topology));
  const topology = buildTopology(k, s.topology);
  for (const m of s.modules) k.modprobe(m);
  const task = k.fork({ comm: "case", parent: k.init });
  const r = s.run({ kernel: k, topology, task });
  k.exitTask(task, 0);
  return { r, k };
}

describe("conformance", () => {
  it("the system_heap module provides the package's fixtures and every scenario, named after the package", () => {
    const k = new Kernel(topologyKernelOptions("same-switch"));
    k.modprobe(systemHeapModule);
    expect(k.providers(ConformanceFixtures)).toContain(memcgLsmFixtures);
    expect(memcgLsmFixtures.exporters.map((e) => e.name)).toEqual(["system-heap"]);
    expect(memcgLsmFixtures.scenarios!.map((s) => s.name).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const s of memcgLsmScenarios) expect(s.description).toContain(`expected: ${EXPECTED[s.name]}`);
  });

  it.each(Object.entries(EXPECTED).map(([name, outcome]) => ({ name, outcome })))("$name → $outcome, leaving nothing behind", ({ name, outcome }) => {
    const { r, k } = runScenario(name);
    expect(r.outcome).toBe(outcome);
    expect(k.leakReport().text()).toBe("");
    expect(k.oopses()).toEqual([]);
    expect(k.warnings()).toEqual([]);
    expect(k.lockdep.reports()).toEqual([]);
    expect(k.tasks().map((t) => t.comm)).toEqual(["init"]);
  });

  it("a scenario run without the modules it names fails loudly (ENOENT) instead of reporting an outcome", () => {
    // Without SELinux the "denied" scenario's allocation would succeed.
    const s = memcgLsmScenarios.find((x) => x.name === "memcg-lsm/charge-other-denied")!;
    const k = new Kernel(topologyKernelOptions(s.topology));
    const topology = buildTopology(k, s.topology);
    for (const m of s.modules) k.modprobe(m);
    k.unloadModule("selinux");
    const task = k.fork({ comm: "case", parent: k.init });
    expect(() => s.run({ kernel: k, topology, task })).toThrow(expect.objectContaining({ errno: "ENOENT" }));
  });
});
