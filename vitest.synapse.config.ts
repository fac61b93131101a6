import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * `npm run test:synapse`: the e2e tests that talk to a homeserver, against a real Synapse
 * (scripts/test-synapse starts it and sets E2E_HOMESERVER_URL). The other e2e folders (client,
 * sandbox, demo) never reach a homeserver, so `npm test` covers them once.
 */
export default defineConfig({
  test: {
    ...base.test,
    include: ["test/e2e/bridge*/**/*.test.ts"],
    // A real server is slower than the in-process one, and retries pushes with backoff.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
