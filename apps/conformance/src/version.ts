// The app's own version and the versions of the packages a run loads, for every report format.
import { readFileSync } from "node:fs";
import { packageFile } from "./package-dir.js";

/** The app's name and version, from its package.json. @public */
export function toolInfo(): { name: string; version: string; node: string } {
  const pj = JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as { version: string };
  return { name: "dmabuf-conformance", version: pj.version, node: process.version };
}
