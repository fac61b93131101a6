import { describe, expect, it } from "vitest";
import { isExpectedAnswer, quietExpectedAnswers } from "../../../src/matrix/bot-sdk-log.js";
import type { BotSdkLogger } from "../../../src/matrix/bot-sdk-log.js";

function recorder() {
  const lines: string[] = [];
  const at =
    (level: string) =>
    (module: string, ...parts: unknown[]): void =>
      void lines.push(`${level} ${module} ${parts.map((p) => JSON.stringify(p)).join(" ")}`);
  const logger: BotSdkLogger = {
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    debug: at("debug"),
    trace: at("trace"),
  };
  return { logger, lines };
}

describe("the bot-sdk's log, with the answers a normal start expects at debug", () => {
  it("logs the bot's missing profile and users registered already at debug", () => {
    const { logger, lines } = recorder();
    const log = quietExpectedAnswers(logger);
    // As matrix-bot-sdk's http.js and appservice/Intent.js log them.
    log.error("MatrixHttpClient", "(REQ-1)", {
      errcode: "M_NOT_FOUND",
      error: "Profile was not found",
    });
    log.error("MatrixHttpClient", "(REQ-2)", {
      errcode: "M_USER_IN_USE",
      error: "User ID already taken.",
    });
    log.error("Appservice", "Error registering user: User ID is in use");
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["debug", "debug", "debug"]);
  });

  it("keeps every other error an error", () => {
    const { logger, lines } = recorder();
    const log = quietExpectedAnswers(logger);
    log.error("MatrixHttpClient", "(REQ-3)", { errcode: "M_NOT_FOUND", error: "Room not found" });
    log.error("MatrixHttpClient", "(REQ-4)", { errcode: "M_FORBIDDEN", error: "Bad token" });
    log.error("Appservice", "Encountered error registering user: ");
    log.warn("MatrixHttpClient", "(REQ-5)", new Error("socket hang up"));
    log.info("Appservice", "started");
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["error", "error", "error", "warn", "info"]);
  });

  it("reads the errcode from a MatrixError-like body too", () => {
    expect(
      isExpectedAnswer("MatrixHttpClient", [
        { statusCode: 400, body: { errcode: "M_USER_IN_USE", error: "taken" } },
      ]),
    ).toBe(true);
    expect(isExpectedAnswer("Other", [{ errcode: "M_USER_IN_USE" }])).toBe(false);
  });
});
