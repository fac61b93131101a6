/**
 * What went wrong, as a caller of GatekeeperClient can act on it. Login failures and
 * negative acks / iq errors carry the GKI/1 numeric code in `gkiCode` as well.
 */
export type GatekeeperErrorCode =
  // Login (<failure reason>, docs §4.3) and stream errors (§10).
  | "unauthorized" // 401: token invalid / unknown account / account removed
  | "partner-unknown" // 402
  | "forbidden" // 403 (login: banned / outside the EEA; stanza: not enlisted)
  | "unsupported" // 405
  | "unavailable" // 503: gatekeeper or partner callback unavailable
  | "replaced" // stream:error 409: another connection took over the account
  | "server-key-mismatch" // the gatekeeper's static key is not the pinned one
  | "connection-failed" // the socket / handshake failed
  | "disconnected" // the connection dropped while an iq was outstanding
  | "not-connected" // an ephemeral stanza (chat state, presence) while offline
  | "stopped" // stop() was called while the operation waited
  | "timeout"
  // Negative acks (§5.1) and iq errors (§5.2).
  | "bad-request" // 400
  | "unreachable" // 404 (recipient unknown or did not opt in)
  | "not-found" // 404 on an iq
  | "not-acceptable" // 406 (wrong code, bad key material)
  | "conflict" // 409 (number enlisted to another account)
  | "gone" // 410 (code expired / none requested)
  | "too-large" // 413
  | "rate-limited" // 429
  | "internal" // 500
  | "protocol-error" // a reply we cannot understand
  // Local.
  | "encryption-failed" // Signal could not build a session or encrypt (bad bundle, untrusted identity)
  | "retries-exhausted" // the peer still could not decrypt after 5 retries
  | "identity-unconfirmed" // holdOnIdentityChange: the peer's new identity key awaits confirmIdentity()
  | "media-failed" // media upload/download failed (HTTP status in `httpStatus`)
  | "media-damaged"; // the downloaded blob does not match its file_enc_sha256: fetching again will not help

export interface GatekeeperErrorOptions {
  gkiCode?: number;
  /** Seconds to wait before retrying, from an iq error's retry-after. */
  retryAfter?: number;
  httpStatus?: number;
  cause?: unknown;
}

export class GatekeeperError extends Error {
  override readonly name = "GatekeeperError";
  readonly code: GatekeeperErrorCode;
  readonly gkiCode: number | undefined;
  readonly retryAfter: number | undefined;
  readonly httpStatus: number | undefined;

  constructor(code: GatekeeperErrorCode, message: string, options: GatekeeperErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.gkiCode = options.gkiCode;
    this.retryAfter = options.retryAfter;
    this.httpStatus = options.httpStatus;
  }
}

const LOGIN_FAILURES: Readonly<Record<number, GatekeeperErrorCode>> = {
  401: "unauthorized",
  402: "partner-unknown",
  403: "forbidden",
  405: "unsupported",
  503: "unavailable",
};

/** `<failure reason="…">` → error. Unknown reasons count as unavailable (retryable). */
export function loginFailureError(reason: number, text: string | undefined): GatekeeperError {
  const code = LOGIN_FAILURES[reason] ?? "unavailable";
  return new GatekeeperError(code, `login failed (${reason})${text ? `: ${text}` : ""}`, {
    gkiCode: reason,
  });
}

/** Login failures after which reconnecting cannot help (docs §4.3). */
export function isTerminalLoginError(err: GatekeeperError): boolean {
  return (
    err.code === "unauthorized" ||
    err.code === "partner-unknown" ||
    err.code === "forbidden" ||
    err.code === "unsupported" ||
    err.code === "server-key-mismatch" ||
    err.code === "replaced"
  );
}

const NACK_CODES: Readonly<Record<number, GatekeeperErrorCode>> = {
  400: "bad-request",
  403: "forbidden",
  404: "unreachable",
  413: "too-large",
  429: "rate-limited",
  500: "internal",
};

/** A negative ack of something we sent (docs §5.1). */
export function nackError(what: string, code: number, text: string | undefined): GatekeeperError {
  const mapped = NACK_CODES[code] ?? "protocol-error";
  return new GatekeeperError(mapped, `${what} rejected (${code})${text ? `: ${text}` : ""}`, {
    gkiCode: code,
  });
}

const IQ_CODES: Readonly<Record<number, GatekeeperErrorCode>> = {
  400: "bad-request",
  401: "unauthorized",
  403: "forbidden",
  404: "not-found",
  406: "not-acceptable",
  409: "conflict",
  410: "gone",
  429: "rate-limited",
  500: "internal",
  503: "unavailable",
};

/** An `<iq type="error">` (docs §5.2). */
export function iqError(
  xmlns: string,
  code: number,
  text: string | undefined,
  retryAfter: number | undefined,
): GatekeeperError {
  const mapped = IQ_CODES[code] ?? "protocol-error";
  const message = `${xmlns} iq failed (${code})${text ? `: ${text}` : ""}`;
  return new GatekeeperError(mapped, message, {
    gkiCode: code,
    ...(retryAfter === undefined ? {} : { retryAfter }),
  });
}
