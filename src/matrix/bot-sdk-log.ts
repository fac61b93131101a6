/**
 * matrix-bot-sdk logs every failed homeserver request at ERROR, before its caller decides
 * what the answer means, and logs a puppet that is registered already as an error too. Some
 * of those answers are what a normal start expects (the bot has no profile yet on a fresh
 * Synapse; after a restart every puppet is "registered" again): at ERROR they would make
 * admins look for a problem that is not there. This routes the bot-sdk's log through
 * matrix-appservice-bridge's logger as before, with those known answers at DEBUG. Anything
 * that really fails still reaches its caller, which logs it in its own words.
 */
import { createRequire } from "node:module";
import { Logger } from "./appservice-bridge.js";

/** matrix-bot-sdk's ILogger. */
export interface BotSdkLogger {
  info(module: string, ...parts: unknown[]): void;
  warn(module: string, ...parts: unknown[]): void;
  error(module: string, ...parts: unknown[]): void;
  debug(module: string, ...parts: unknown[]): void;
  trace(module: string, ...parts: unknown[]): void;
}

interface ExpectedAnswer {
  /** Where the bot-sdk logs it from. */
  module: RegExp;
  /** The logged text, or the homeserver's error (errcode, and error text when given). */
  text?: string;
  errcode?: string;
  error?: string;
}

/** Answers a normal first start or restart gets; each is handled by the code that asked. */
export const EXPECTED_ANSWERS: readonly ExpectedAnswer[] = [
  // GET /profile of a user with neither name nor avatar (the bot on a fresh Synapse).
  { module: /^MatrixHttpClient/, errcode: "M_NOT_FOUND", error: "Profile was not found" },
  // POST /register of a user that exists (the bot; puppets after a restart).
  { module: /^MatrixHttpClient/, errcode: "M_USER_IN_USE" },
  { module: /^Appservice$/, text: "Error registering user: User ID is in use" },
];

function matrixErrorOf(part: unknown): { errcode?: unknown; error?: unknown } | undefined {
  if (typeof part !== "object" || part === null) return undefined;
  const p = part as { errcode?: unknown; error?: unknown; body?: unknown };
  if (p.errcode !== undefined) return p;
  return typeof p.body === "object" && p.body !== null
    ? (p.body as { errcode?: unknown; error?: unknown })
    : undefined;
}

/** Whether a bot-sdk log entry is one of the EXPECTED_ANSWERS. */
export function isExpectedAnswer(module: string, parts: readonly unknown[]): boolean {
  return EXPECTED_ANSWERS.some((a) => {
    if (!a.module.test(module)) return false;
    if (a.text !== undefined) return parts.some((p) => p === a.text);
    return parts.some((p) => {
      const e = matrixErrorOf(p);
      return e?.errcode === a.errcode && (a.error === undefined || e?.error === a.error);
    });
  });
}

/** `inner`, with the expected answers logged at DEBUG instead of WARN or ERROR. */
export function quietExpectedAnswers(inner: BotSdkLogger): BotSdkLogger {
  return {
    info: (module, ...parts) => inner.info(module, ...parts),
    debug: (module, ...parts) => inner.debug(module, ...parts),
    trace: (module, ...parts) => inner.trace(module, ...parts),
    warn: (module, ...parts) =>
      isExpectedAnswer(module, parts)
        ? inner.debug(module, ...parts)
        : inner.warn(module, ...parts),
    error: (module, ...parts) =>
      isExpectedAnswer(module, parts)
        ? inner.debug(module, ...parts)
        : inner.error(module, ...parts),
  };
}

/** The bot-sdk instance matrix-appservice-bridge uses (not a dependency of ours). */
function botSdkLogService(): { setLogger(logger: BotSdkLogger): void } {
  const bridgeEntry = createRequire(import.meta.url).resolve("matrix-appservice-bridge");
  const botSdk = createRequire(bridgeEntry)("@vector-im/matrix-bot-sdk") as {
    LogService: { setLogger(logger: BotSdkLogger): void };
  };
  return botSdk.LogService;
}

/**
 * Installs the filter on the bot-sdk's log. Call after Logger.configure (which replaces the
 * bot-sdk's logger); before it there is nothing to wrap and this does nothing.
 */
export function quietExpectedBotSdkAnswers(): void {
  if (!Logger.root.configured) return;
  botSdkLogService().setLogger(quietExpectedAnswers(Logger.botSdkLogger as BotSdkLogger));
}
