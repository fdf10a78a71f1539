import { defineConfig } from "vitest/config";

// One run over every package (each package also runs alone through nx).
export default defineConfig({
  test: { projects: ["packages/*", "apps/*"] },
});
