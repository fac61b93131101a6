import { defineConfig } from "vitest/config";

/** `npm run test:chaos`: the chaos test of several bridge processes (issue 12), minutes long. */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.test.ts"],
    testTimeout: 1_200_000,
    hookTimeout: 1_200_000,
    pool: "forks",
    execArgv: ["--disable-warning=DEP0060"],
    reporters: ["default"],
  },
});
