import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "src/gen/", "coverage/", ".synapse/", ".e2e/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/no-explicit-any": "error",
      "no-console": ["error", { allow: ["warn", "error"] }],
      "no-restricted-imports": [
        "error",
        {
          paths: [
            {
              name: "matrix-appservice-bridge",
              message:
                "Import from src/matrix/appservice-bridge.ts (it guards the Matrix crypto binding).",
            },
          ],
        },
      ],
    },
  },
  {
    // The GKI/1 library stands alone (docs/architecture.md): it may use src/gen and src/util, never the bridge.
    files: ["src/gatekeeper/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "**/core/**",
                "**/matrix/**",
                "**/connector/**",
                "**/db/**",
                "**/sandbox/**",
                "**/provisioning/**",
                "**/config/**",
                "**/bridge.js",
              ],
              message: "src/gatekeeper is the GKI/1 library and imports nothing of the bridge.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/matrix/appservice-bridge.ts"],
    rules: { "no-restricted-imports": "off" },
  },
  {
    files: ["src/**/cli.ts", "src/**/cli/**/*.ts", "bench/**/*.ts", "scripts/**/*.ts"],
    rules: { "no-console": "off" },
  },
);
