import { fileURLToPath } from "node:url";
import { defineProject, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// Tests import this package by its public name (its source); other packages come from their dist.
export default mergeConfig(
  shared,
  defineProject({
    resolve: {
      alias: [
        { find: /^@dmabuf-sdk\/driver-nvme\/testing$/, replacement: fileURLToPath(new URL("./src/testing/index.ts", import.meta.url)) },
        { find: /^@dmabuf-sdk\/driver-nvme$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      ],
    },
    test: { name: "driver-nvme" },
  }),
);
