import { defineProject, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// Every package comes from its dist (built by nx before the tests), as an outside user would get it.
export default mergeConfig(shared, defineProject({ test: { name: "integration" } }));
