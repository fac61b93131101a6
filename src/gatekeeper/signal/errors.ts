import { ErrorCode, LibSignalErrorBase } from "@signalapp/libsignal-client";
import type { Bytes } from "./bytes.js";

/**
 * What went wrong, so the caller can act:
 * - no-session: nothing to decrypt/encrypt with; ask the sender to retry (fetch a bundle).
 * - no-sender-key: a group message whose sender key we never received (a distribution
 *   missed, or from another group); send a retry receipt to the group (§19.5).
 * - invalid-message: truncated, garbled or forged ciphertext; session state is unchanged.
 * - duplicate-message: already decrypted once (a redelivery); safe to ack and drop.
 * - untrusted-identity: the peer's identity key changed and policy blocks it until confirmed.
 * - invalid-key-id: a prekey the message names was already used or never existed.
 * - invalid-bundle: a fetched prekey bundle is malformed or its signatures do not verify.
 * - invalid-address: name empty/too long or device id outside 1..127.
 * - no-account: no Signal identity stored for this owner (create the account first).
 * - unknown-identity: no identity key known for that peer yet.
 * - storage: the database failed; retry later, the message is not consumed.
 * - internal: libsignal failed in a way none of the above describes.
 */
export type SignalErrorCode =
  | "no-session"
  | "no-sender-key"
  | "invalid-message"
  | "duplicate-message"
  | "untrusted-identity"
  | "invalid-key-id"
  | "invalid-bundle"
  | "invalid-address"
  | "no-account"
  | "unknown-identity"
  | "storage"
  | "internal";

export class SignalError extends Error {
  /** For untrusted-identity: the peer's new key that was refused (serialized public key). */
  readonly identityKey?: Bytes;

  constructor(
    readonly code: SignalErrorCode,
    message: string,
    options?: { cause?: unknown; identityKey?: Bytes },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SignalError";
    if (options?.identityKey) this.identityKey = options.identityKey;
  }
}

/**
 * A write found its row no longer as it was read: written meanwhile by someone who does not
 * share our cache (another process, or SQL behind the account's back). Nothing was written;
 * the operation can run again on fresh reads.
 */
export class StaleRecordError extends SignalError {
  constructor(what: string) {
    super("storage", `${what} changed in the database since it was read`);
    this.name = "StaleRecordError";
  }
}

/** What the stores noticed during one operation that libsignal's own error hides. */
export interface ErrorHints {
  missingKey?: string;
  storageError?: unknown;
}

/**
 * Turns whatever a libsignal call threw into a SignalError. libsignal wraps exceptions from
 * our stores into a generic error, so the stores' hints are consulted first.
 */
export function toSignalError(
  err: unknown,
  hints: ErrorHints | undefined,
  fallback: SignalErrorCode,
): SignalError {
  if (err instanceof SignalError) return err;
  if (hints?.storageError !== undefined) {
    return new SignalError("storage", "Signal store database operation failed", {
      cause: hints.storageError,
    });
  }
  if (hints?.missingKey !== undefined) {
    return new SignalError("invalid-key-id", `message refers to unknown ${hints.missingKey}`, {
      cause: err,
    });
  }
  if (!(err instanceof LibSignalErrorBase)) {
    // Not from libsignal and not from a store: a database error outside libsignal's calls.
    return new SignalError("storage", "Signal store operation failed", { cause: err });
  }
  switch (err.code) {
    case ErrorCode.DuplicatedMessage:
      return new SignalError("duplicate-message", "message was already decrypted", { cause: err });
    case ErrorCode.UntrustedIdentity:
      return new SignalError("untrusted-identity", `untrusted identity key for ${err.addr}`, {
        cause: err,
      });
    case ErrorCode.InvalidProtocolAddress:
      return new SignalError("invalid-address", err.message, { cause: err });
    case ErrorCode.InvalidSession:
      return new SignalError("no-session", err.message, { cause: err });
    case ErrorCode.InvalidSenderKeySession:
      return new SignalError("no-sender-key", err.message, { cause: err });
    default:
      break;
  }
  if (err.operation.endsWith("_Deserialize")) {
    return new SignalError(
      fallback === "invalid-bundle" ? fallback : "invalid-message",
      err.message,
      {
        cause: err,
      },
    );
  }
  if (/session .* not found/i.test(err.message)) {
    return new SignalError("no-session", err.message, { cause: err });
  }
  return new SignalError(fallback, err.message, { cause: err });
}
