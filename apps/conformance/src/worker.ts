// A matrix worker thread: loads the fixtures itself, then asks the main thread for batches of case ids
// (an empty batch: stop) and posts each result back.
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
  parentPort!.on("message", (ids: string[]) => {
    try {
      if (!ids.length) {
        parentPort!.close();
        return;
      }
      for (const id of ids) {
        const spec = specs.get(id);
        if (!spec) throw new Error(`worker: unknown case ${id}`);
        parentPort!.postMessage({ kind: "case", result: runCase(set, spec, job.seed, oracle) });
      }
    } catch (e) {
      parentPort!.postMessage({ kind: "error", message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  });
  parentPort!.postMessage({ kind: "ready" });
} catch (e) {
  parentPort!.postMessage({ kind: "error", message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
