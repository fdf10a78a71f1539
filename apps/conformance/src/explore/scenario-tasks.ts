// A scenario file's `tasks:` as an explorer scenario: the set-up once per schedule, each task a process whose steps the explorer interleaves.
import { ExploreError, type ExploreScenario, type ExploreStep } from "@dmabuf-sdk/dmabuf-core";
import { ScenarioInstance, scenarioStem, stepKind, type PreparedScenario } from "../scenario-file.js";

function label(raw: Readonly<Record<string, unknown>>): string {
  const kind = stepKind(raw);
  const args = raw[kind];
  const call = kind === "syscall" && args && typeof args === "object" ? ` ${String((args as { call?: unknown }).call)}` : "";
  return `${kind}${call}${typeof raw.as === "string" ? ` as $${raw.as}` : ""}`;
}

/**
 * The explorer scenario of a scenario file with `tasks:`. Every schedule
 * boots the file's kernel, runs `steps:` (a failing set-up step is an
 * `ExploreError`: the file is wrong, not the kernel), forks one process
 * per task and lets the explorer order the tasks' steps; `teardown:` runs at
 * the end. A step's unmet `expect`/`expectOneOf` is an assertion failure; the
 * file's `checks` turn the leak and lockdep checks off.
 * @public
 */
export function scenarioFileExplorer(prep: PreparedScenario): ExploreScenario {
  const file = prep.file;
  if (!file.tasks) throw new ExploreError("scenario", `${file.path}: no \`tasks:\` to interleave`);
  return {
    name: `file:${scenarioStem(file)}`,
    boot: () => ScenarioInstance.boot(file),
    build(kernel) {
      const inst = new ScenarioInstance(prep, kernel, true);
      for (const raw of file.steps ?? []) {
        const r = inst.runStep(raw);
        if (!r.ok) throw new ExploreError("scenario", `${file.path}: set-up step ${r.index} (${r.step}) failed: ${r.detail}`);
      }
      const tasks = Object.entries(file.tasks!).map(([name, steps]) => {
        const task = inst.spawn(name);
        return { name, task, steps: steps.map((raw, i): ExploreStep => ({ label: label(raw), run: () => inst.runStep(raw, task, `${name} step ${i + 1}`) })) };
      });
      return {
        tasks,
        finish() {
          for (const raw of file.teardown ?? []) inst.runStep(raw);
          inst.finish();
        },
        // By task and position, not by run order: the same failure has one signature whatever the schedule.
        check: () => inst.results.filter((r) => !r.ok).map((r) => `${r.step}: ${r.detail}`),
        skipChecks: [...(file.checks?.leaks === false ? (["leak"] as const) : []), ...(file.checks?.lockdep === false ? (["lockdep"] as const) : [])],
      };
    },
  };
}
