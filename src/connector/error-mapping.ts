/**
 * GatekeeperError → RemoteError: whether retrying can help, and what the Matrix user is
 * told. The wording depends on what was being done (the same 403 means "number refused" at
 * login and "not enlisted" when sending).
 */
import { RemoteError } from "../core/network.js";
import { GatekeeperError } from "../gatekeeper/client/index.js";
import type { GatekeeperErrorCode } from "../gatekeeper/client/index.js";

export type Operation = "login" | "verify" | "send" | "lookup" | "block" | "logout" | "group";

const TRANSIENT: ReadonlySet<GatekeeperErrorCode> = new Set<GatekeeperErrorCode>([
  "unavailable",
  "connection-failed",
  "disconnected",
  "not-connected",
  "stopped",
  "timeout",
  "rate-limited",
  "internal",
  "encryption-failed",
  "protocol-error",
]);

/** Why a connection ended, in words for the user (for connection-state notices). */
export function connectionProblem(err: GatekeeperError | undefined): string | undefined {
  switch (err?.code) {
    case undefined:
      return undefined;
    case "unauthorized":
      return "the account was removed, or its credentials were refused";
    case "forbidden":
      return "the account is banned, or the number is outside the EEA";
    case "partner-unknown":
      return "this bridge is not (or no longer) registered with Gatekeeper";
    case "unsupported":
      return "Gatekeeper does not support this bridge's protocol version";
    case "server-key-mismatch":
      return "the server's key is not the one configured for Gatekeeper";
    case "replaced":
      return "another connection logged in to the account";
    default:
      return "Gatekeeper could not be reached";
  }
}

export function toRemoteError(err: unknown, op: Operation): RemoteError {
  if (err instanceof RemoteError) return err;
  if (!(err instanceof GatekeeperError)) {
    return new RemoteError("internal", "something went wrong in the bridge", false, { cause: err });
  }
  const permanent = !TRANSIENT.has(err.code);
  return new RemoteError(err.code, message(err, op), permanent, { cause: err });
}

function message(err: GatekeeperError, op: Operation): string {
  if (op === "group") {
    const text = groupMessage(err);
    if (text) return text;
  }
  switch (err.code) {
    case "unreachable":
      return "the contact cannot be reached on Gatekeeper (they may no longer accept chats from other apps)";
    case "rate-limited":
      return rateLimited(err, op);
    case "forbidden":
      if (op === "login" || op === "verify")
        return "Gatekeeper refused this number (it is banned, or not from a country in the EEA)";
      return "Gatekeeper refused it: your number is not enlisted (log in again)";
    case "unauthorized":
      return "Gatekeeper does not accept this login any more; send `login` again";
    case "not-acceptable":
      return op === "verify"
        ? "that code is wrong; check it and send `verify <code>` again"
        : "Gatekeeper did not accept it";
    case "gone":
      return op === "verify"
        ? "the code has expired; send `login <phone>` again for a new one"
        : "Gatekeeper says it is gone";
    case "conflict":
      return "this number is already in use with another account at Gatekeeper (perhaps another bridge or app); remove it there first";
    case "too-large":
      return "it is too large for Gatekeeper";
    case "bad-request":
      return "Gatekeeper rejected it as malformed";
    case "retries-exhausted":
      return "the contact's app could not decrypt it, even after resending";
    case "partner-unknown":
      return "this bridge is not registered with Gatekeeper; please tell the bridge's administrator";
    case "server-key-mismatch":
      return "the Gatekeeper server's key does not match the configured one; please tell the bridge's administrator";
    case "unsupported":
      return "Gatekeeper does not support this bridge's version; please tell the bridge's administrator";
    case "replaced":
      return "another connection took over your Gatekeeper account";
    case "timeout":
    case "disconnected":
    case "not-connected":
    case "connection-failed":
    case "unavailable":
    case "stopped":
      return "Gatekeeper cannot be reached right now";
    default:
      return "Gatekeeper had a problem with it";
  }
}

function rateLimited(err: GatekeeperError, op: Operation): string {
  const wait = err.retryAfter ? ` (try again in ${Math.ceil(err.retryAfter / 60)} minute(s))` : "";
  switch (op) {
    case "login":
      return `a code was requested less than a minute ago; wait a moment before asking again${wait}`;
    case "verify":
      return "too many wrong codes; send `login <phone>` again for a new code";
    case "lookup":
      return `too many lookups for now${wait}`;
    default:
      return `Gatekeeper asks to slow down${wait}`;
  }
}

/** A group request's failure (docs/protocol.md §19.3), when it is one of the group's own. */
function groupMessage(err: GatekeeperError): string | undefined {
  switch (err.code) {
    case "forbidden":
      return "only the group's admins can do that";
    case "not-found":
      return "you are not a member of that group on Gatekeeper (or it no longer exists)";
    case "bad-request":
      return "Gatekeeper refused it (a group's name is 1 to 100 characters)";
    case "rate-limited":
      return "Gatekeeper allows 10 new groups a day; try again tomorrow";
    case "not-acceptable":
      return "your Gatekeeper account does not take part in groups";
    default:
      return undefined;
  }
}
