import { fileURLToPath } from "node:url";
import { defineProject, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// Tests import the package by its public name; inside the package that name
// means its own source (exact match only: deep imports still go through the
// exports map and fail, as they must).
export default mergeConfig(
  shared,
  defineProject({
    resolve: { alias: [{ find: /^@dmabuf-sdk\/dmabuf-core\/testing$/, replacement: fileURLToPath(new URL("./src/testing/index.ts", import.meta.url)) }, { find: /^@dmabuf-sdk\/dmabuf-core$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }] },
    test: { name: "dmabuf-core" },
  }),
);
