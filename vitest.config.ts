import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Minutes long, with the built CLI: `npm run test:chaos` (vitest.chaos.config.ts).
    exclude: ["test/chaos/**", "**/node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Native addons (libsignal, sqlite3) are safest in forked workers.
    pool: "forks",
    // bot-sdk's htmlencode dependency calls util._extend; the warning is not ours to fix.
    execArgv: ["--disable-warning=DEP0060"],
    reporters: ["default"],
  },
});
