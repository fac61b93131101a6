import { describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import {
  ensureMatrixCryptoBinding,
  MatrixCryptoUnavailableError,
} from "../../../src/matrix/crypto-binding.js";

describe("matrix-appservice-bridge import without the Matrix crypto binary", () => {
  it("imports matrix-appservice-bridge and its Bridge class", async () => {
    const mab = await import("../../../src/matrix/appservice-bridge.js");
    expect(typeof mab.Bridge).toBe("function");
    expect(typeof mab.AppServiceRegistration).toBe("function");
  });

  it("uses the native binding where it loads, otherwise fails clearly on use", () => {
    const state = ensureMatrixCryptoBinding();
    expect(["native", "unavailable"]).toContain(state.state);
    const require = createRequire(import.meta.url);
    const bridgeEntry = require.resolve("matrix-appservice-bridge");
    const botSdk = createRequire(createRequire(bridgeEntry).resolve("@vector-im/matrix-bot-sdk"));
    const crypto = botSdk("@matrix-org/matrix-sdk-crypto-nodejs") as Record<string, unknown>;
    if (state.state === "native") {
      expect(typeof crypto.OlmMachine).toBe("function");
      return;
    }
    const UserId = crypto.UserId as new (id: string) => unknown;
    expect(() => new UserId("@a:b")).toThrow(MatrixCryptoUnavailableError);
    expect(() => new UserId("@a:b")).toThrow(/could not be loaded/);
  });
});
