import { fileURLToPath } from "node:url";
import { defineProject, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

export default mergeConfig(
  shared,
  defineProject({
    resolve: { alias: [{ find: /^@dmabuf-sdk-examples\/plugin-xlink$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }] },
    test: { name: "plugin-xlink" },
  }),
);
