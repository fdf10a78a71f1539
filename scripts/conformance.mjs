#!/usr/bin/env node
// The README's first command after install: build every package (quietly; the
// log is shown only if the build fails), then run the full default
// conformance matrix and print the terminal matrix. Arguments go to
// `dmabuf-conformance` (default: `run`).
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const build = spawnSync(join(root, "node_modules", ".bin", "nx"), ["run-many", "-t", "build", "--output-style=static"], {
  cwd: root,
  encoding: "utf8",
  env: { ...process.env, NX_NO_CLOUD: "true", NX_DAEMON: "false", NX_TUI: "false" },
  maxBuffer: 1 << 28,
});
if (build.status !== 0) {
  process.stdout.write(build.stdout ?? "");
  process.stderr.write(build.stderr ?? "");
  process.exit(build.status ?? 1);
}
const args = process.argv.slice(2);
const run = spawnSync(process.execPath, [join(root, "apps", "conformance", "dist", "bin", "dmabuf-conformance.js"), ...(args.length ? args : ["run"])], { cwd: root, stdio: "inherit" });
process.exit(run.status ?? 1);
