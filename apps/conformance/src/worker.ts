// A matrix worker thread: loads the fixtures itself, runs the cases it is
// given and posts each result back.
import { parentPort, workerData } from "node:worker_threads";
import { enumerateCases } from "./cases.js";
import { loadFixtures } from "./discovery.js";
import { runCase, type WorkerJob } from "./matrix.js";
import { oracleFor } from "./oracle.js";

const job = workerData as WorkerJob;
try {
  const set = await loadFixtures(job.requests);
  const oracle = oracleFor(set, job.oracle);
  const specs = new Map(enumerateCases(set, job.filter).map((s) => [s.id, s]));
  for (const id of job.ids) {
    const spec = specs.get(id);
    if (!spec) throw new Error(`worker: unknown case ${id}`);
    parentPort!.postMessage({ kind: "case", result: runCase(set, spec, job.seed, oracle) });
  }
  parentPort!.postMessage({ kind: "done" });
} catch (e) {
  parentPort!.postMessage({ kind: "error", message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
