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
    files: ["src/matrix/appservice-bridge.ts"],
    rules: { "no-restricted-imports": "off" },
  },
  {
    files: ["src/**/cli.ts", "src/**/cli/**/*.ts", "bench/**/*.ts", "scripts/**/*.ts"],
    rules: { "no-console": "off" },
  },
);
