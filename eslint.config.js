// Flat config shared by every package (`eslint src` in a package finds it).
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/coverage/**", "**/temp/**", "**/reports/**", "**/*.config.ts", "**/bench/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Deep imports bypass a package's exports map; restricted symbols come only from the loader.
      "no-restricted-imports": ["error", { patterns: [{ group: ["@dmabuf-sdk/*/dist/*", "@dmabuf-sdk/*/src/*"], message: "Import packages by their public name." }] }],
    },
  },
  {
    files: ["**/*.test.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off", "@typescript-eslint/no-explicit-any": "off" },
  },
);
