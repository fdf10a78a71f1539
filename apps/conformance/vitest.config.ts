import { fileURLToPath } from "node:url";
import { defineProject, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

export default mergeConfig(
  shared,
  defineProject({
    resolve: { alias: [{ find: /^@dmabuf-sdk\/conformance$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }] },
    test: { name: "conformance", testTimeout: 120_000 },
  }),
);
