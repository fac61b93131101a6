/** Matrix standard error responses: `{ errcode, error, ...extra }` with an HTTP status. */
import type { JsonObject } from "./types.js";

export class MatrixHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    readonly extra: JsonObject = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "MatrixHttpError";
  }

  get code(): string {
    return this.errcode;
  }

  toJSON(): JsonObject {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (msg: string): MatrixHttpError =>
  new MatrixHttpError(403, "M_FORBIDDEN", msg);
export const notFound = (msg: string): MatrixHttpError =>
  new MatrixHttpError(404, "M_NOT_FOUND", msg);
export const badJson = (msg: string): MatrixHttpError =>
  new MatrixHttpError(400, "M_BAD_JSON", msg);
export const missingParam = (msg: string): MatrixHttpError =>
  new MatrixHttpError(400, "M_MISSING_PARAM", msg);
export const invalidParam = (msg: string): MatrixHttpError =>
  new MatrixHttpError(400, "M_INVALID_PARAM", msg);
export const missingToken = (): MatrixHttpError =>
  new MatrixHttpError(401, "M_MISSING_TOKEN", "Missing access token");
export const unknownToken = (): MatrixHttpError =>
  new MatrixHttpError(401, "M_UNKNOWN_TOKEN", "Unknown access token", { soft_logout: false });
export const exclusive = (msg: string): MatrixHttpError =>
  new MatrixHttpError(400, "M_EXCLUSIVE", msg);
export const unrecognized = (status: 404 | 405): MatrixHttpError =>
  new MatrixHttpError(status, "M_UNRECOGNIZED", "Unrecognized request");

export function limitExceeded(retryAfterMs: number, withHeader: boolean): MatrixHttpError {
  // Synapse sends both: the header (seconds, spec v1.10+) and the older body field.
  const headers: Record<string, string> = withHeader
    ? { "Retry-After": String(Math.ceil(retryAfterMs / 1000)) }
    : {};
  return new MatrixHttpError(
    429,
    "M_LIMIT_EXCEEDED",
    "Too Many Requests",
    { retry_after_ms: retryAfterMs },
    headers,
  );
}
