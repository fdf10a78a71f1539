// Where the app's package lies on disk: the files it ships beside its code (the worker, the schema, package.json).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const selfRequire = createRequire(import.meta.url);
let root: string | undefined;

/**
 * `rel` under the package's root. Resolved through the package's own name, not
 * from this file's URL: the build bundles the code into files at other depths.
 * @internal
 */
export function packageFile(rel: string): string {
  root ??= dirname(selfRequire.resolve("@dmabuf-sdk/conformance/package.json"));
  return join(root, rel);
}
