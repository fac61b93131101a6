/**
 * What a failed homeserver request means: every request of the Matrix side ends, when it
 * fails, in a MatrixSideError that says whether trying again can help (FailureKind) and what
 * happened in words a notice can use. matrix-bot-sdk rejects with a MatrixError (statusCode,
 * errcode, error) for a Matrix error answer, with the raw response (statusCode, body) for
 * another non-2xx answer, and with the socket's error when there was no answer at all.
 */
import { RequestFailedError } from "../core/request-error.js";
import type { FailureKind } from "../core/request-error.js";
import { excerpt } from "../util/unicode.js";

/** A Matrix request that failed; `code` is the homeserver's errcode when it sent one. */
export class MatrixSideError extends RequestFailedError {
  /** The HTTP status of the homeserver's answer; undefined when there was none. */
  readonly status: number | undefined;

  constructor(
    kind: FailureKind,
    code: string,
    userMessage: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(kind, code, userMessage, options);
    this.name = "MatrixSideError";
    this.status = options?.status;
  }

  /** The homeserver's errcode (as on matrix-bot-sdk's MatrixError, so errcodeOf reads both). */
  get errcode(): string {
    return this.code;
  }
}

/** 429 is retried by rate-limit.ts first; what reaches here has spent its waits. */
export function failureKindForStatus(status: number): FailureKind {
  if (status === 429 || status === 502 || status === 503 || status === 504) return "transient";
  if (status >= 400 && status < 500) return "permanent";
  // 500 and the rest of 5xx; also a 1xx/3xx where a 2xx was due: the server misbehaves.
  return "server-error";
}

export function errcodeOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { errcode?: unknown; body?: { errcode?: unknown } };
  const code = e.errcode ?? e.body?.errcode;
  return typeof code === "string" ? code : undefined;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === "number" && Number.isInteger(status) ? status : undefined;
}

function homeserverText(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { error?: unknown; body?: { error?: unknown } };
  const text = e.error ?? e.body?.error;
  return typeof text === "string" && text !== "" ? excerpt(text, 80) : undefined;
}

/**
 * `err` (from a request for `what`, e.g. "the bridge's reply") as a MatrixSideError; one
 * already is passes unchanged.
 */
export function toMatrixSideError(err: unknown, what: string): MatrixSideError {
  if (err instanceof MatrixSideError) return err;
  const status = statusOf(err);
  if (status === undefined) {
    // No answer: the connection failed or timed out (or an Intent helper failed before a
    // request); the homeserver may well be back in a moment.
    const code = (err as { code?: unknown } | null)?.code;
    return new MatrixSideError(
      "transient",
      typeof code === "string" ? code : "network",
      `the homeserver could not be reached for ${what}`,
      { cause: err },
    );
  }
  const kind = failureKindForStatus(status);
  const errcode = errcodeOf(err);
  const text = homeserverText(err);
  const answer = `${errcode ?? `HTTP ${status}`}${text ? ` (${text})` : ""}`;
  const message =
    kind === "permanent"
      ? `the homeserver refused ${what}: ${answer}`
      : kind === "server-error"
        ? `the homeserver failed on ${what}: ${answer}`
        : `the homeserver was unavailable for ${what}: ${answer}`;
  return new MatrixSideError(kind, errcode ?? `HTTP_${status}`, message, { cause: err, status });
}
