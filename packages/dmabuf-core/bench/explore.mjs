// Benchmark of the interleaving explorer: schedules per second of a two-task, ten-operation scenario beside
// the same ten operations run straight on a fresh kernel, and how the schedule count grows with the preemption bound.
import { pathToFileURL } from "node:url";
import { load, paired, recordRatio } from "../../../scripts/bench-lib.mjs";
import { Kernel, SpinLock, countSchedules, explore, runExecution } from "@dmabuf-sdk/dmabuf-core";

/** Ten operations, five per task: each takes the shared spinlock, bumps a counter, drops it. */
function scenario(perTask = 5) {
  return {
    name: "two tasks, ten operations",
    boot: () => {
      const k = new Kernel();
      k.trace.enabled = false;
      return k;
    },
    build(k) {
      const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "counter", "&counter->lock");
      const shared = { n: 0 };
      const op = () => {
        lock.lock();
        shared.n++;
        lock.unlock();
      };
      const task = (name) => ({ name, steps: Array.from({ length: perTask }, (_, i) => ({ label: `op ${i}`, run: op })) });
      return { tasks: [task("A"), task("B")], check: () => (shared.n === 2 * perTask ? [] : [`n is ${shared.n}`]) };
    },
  };
}

/** The scenario's operations in one fixed order on a fresh kernel, with the leak report, and no explorer. */
function straightRun(s) {
  const k = s.boot();
  const inst = s.build(k);
  for (const t of inst.tasks) for (const st of t.steps) k.runAs(k.init, st.run);
  return k.leakReport().empty;
}

/** C(n, k): every interleaving of two tasks of k steps each, n = 2k, the unbounded schedule count. */
function choose(n, k) {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

export async function benchExplore(ratios) {
  const s = scenario();
  const bound = 2;
  const perRun = explore(s, { preemptionBound: bound, shrink: false }).schedules;
  const { project, anchor } = paired(
    3,
    (n) => {
      let total = 0;
      for (let i = 0; i < n; i++) total += explore(s, { preemptionBound: bound, shrink: false }).schedules;
      return total;
    },
    (n) => {
      // The anchor: the same ten operations, one fixed order, each on a fresh kernel, with no explorer (the schedule's floor).
      const runs = n * perRun;
      for (let i = 0; i < runs; i++) straightRun(s);
      return runs;
    },
    5,
  );
  recordRatio(ratios, `explore: schedules/s, two tasks x five operations, DFS preemption bound ${bound} (${perRun} schedules)`, project, "schedules/s", "the same operations on a fresh kernel, no explorer", anchor, ">= 0.25x");
  // One execution under the default schedule, to size the per-schedule cost without the DFS bookkeeping.
  const one = paired(
    200,
    (n) => {
      for (let i = 0; i < n; i++) runExecution(s, { choose: () => 0 }, { maxSteps: 2000, maxPointDepth: 1 });
      return n;
    },
    (n) => {
      for (let i = 0; i < n; i++) straightRun(s);
      return n;
    },
    5,
  );
  recordRatio(ratios, "explore: one execution (fresh kernel, checks) per second", one.project, "executions/s", "the same operations on a fresh kernel, no explorer", one.anchor, ">= 0.25x");
  const all = choose(10, 5);
  const counts = countSchedules(s, 5, { maxSchedules: 100_000 });
  console.log(`explore: schedule count by preemption bound (two tasks x five operations; ${all} interleavings in all; load ${load()}):`);
  for (const c of counts) recordRatio(ratios, `explore: schedules within preemption bound ${c.bound}`, c.schedules, "schedules", "every interleaving (C(10,5))", all);
  return counts;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchExplore({});
