// Child of bench/run.mjs: one matrix in a fresh process, as the CLI runs it, with one thread or a forced second one; prints cases and milliseconds.
import { runMatrix } from "../dist/index.js";

const [threads, plugin] = process.argv.slice(2);
const opts = plugin ? { modules: ["@dmabuf-sdk-examples/plugin-xlink"], cwd: plugin } : {};
const t0 = performance.now();
const r = await runMatrix({ ...opts, seed: 1, jobs: Number(threads), minCasesPerThread: 1 });
console.log(`${r.cases.length} ${performance.now() - t0}`);
