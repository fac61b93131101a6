import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * `npm run test:synapse`: the e2e tests that talk to a homeserver, against a real Synapse
 * (scripts/test-synapse starts it and sets E2E_HOMESERVER_URL). The other e2e folders (client,
 * sandbox, demo) never reach a homeserver, so `npm test` covers them once. The files that
 * restart the homeserver run after all the others, alone: a restart would break whatever
 * else talks to it at that moment.
 */
const RESTARTS = "test/e2e/bridge*/**/homeserver-restart*.test.ts";
const shared = {
  ...base.test,
  // A real server is slower than the in-process one, and retries pushes with backoff.
  testTimeout: 120_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    reporters: base.test?.reporters,
    projects: [
      {
        test: {
          ...shared,
          name: "synapse",
          include: ["test/e2e/bridge*/**/*.test.ts"],
          exclude: [RESTARTS],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: "synapse-restarts",
          include: [RESTARTS],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
