import { describe, expect, it } from "vitest";
import { RequestFailedError, failureKindOf } from "../../../src/core/request-error.js";
import {
  MatrixSideError,
  errcodeOf,
  failureKindForStatus,
  toMatrixSideError,
} from "../../../src/matrix/matrix-errors.js";

/** Shaped as matrix-bot-sdk's MatrixError. */
function matrixError(statusCode: number, errcode: string, error: string): Error {
  return Object.assign(new Error(`M_ERR: ${error}`), {
    statusCode,
    errcode,
    error,
    body: { errcode, error },
  });
}

describe("failureKindForStatus", () => {
  it("takes 4xx other than 429 as permanent, 500 as a server error, the rest as transient", () => {
    for (const status of [400, 403, 404, 413])
      expect(failureKindForStatus(status)).toBe("permanent");
    expect(failureKindForStatus(500)).toBe("server-error");
    for (const status of [429, 502, 503, 504])
      expect(failureKindForStatus(status)).toBe("transient");
  });
});

describe("toMatrixSideError", () => {
  it("says what the homeserver refused, with its errcode", () => {
    const err = toMatrixSideError(
      matrixError(413, "M_TOO_LARGE", "event too large"),
      "the bridge's reply",
    );
    expect(err).toBeInstanceOf(MatrixSideError);
    expect(err).toBeInstanceOf(RequestFailedError);
    expect(err).toMatchObject({ kind: "permanent", code: "M_TOO_LARGE", status: 413 });
    expect(err.userMessage).toBe(
      "the homeserver refused the bridge's reply: M_TOO_LARGE (event too large)",
    );
    // Callers that look for an errcode (M_FORBIDDEN: join, then retry) still find it.
    expect(errcodeOf(err)).toBe("M_TOO_LARGE");
    expect(failureKindOf(err)).toBe("permanent");
  });

  it("reads a non-Matrix error answer (bot-sdk throws the response) by its status", () => {
    const err = toMatrixSideError({ statusCode: 502, body: "<html>bad gateway</html>" }, "x");
    expect(err).toMatchObject({ kind: "transient", code: "HTTP_502", status: 502 });
    expect(err.userMessage).toBe("the homeserver was unavailable for x: HTTP 502");
  });

  it("takes no answer at all (a network error) as transient", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(toMatrixSideError(refused, "the bridge's reply")).toMatchObject({
      kind: "transient",
      code: "ECONNREFUSED",
      status: undefined,
      userMessage: "the homeserver could not be reached for the bridge's reply",
    });
  });

  it("quotes only an excerpt of the homeserver's error text", () => {
    const err = toMatrixSideError(matrixError(400, "M_BAD_JSON", "z".repeat(5_000)), "x");
    expect(err.userMessage.length).toBeLessThan(200);
  });

  it("passes a MatrixSideError unchanged", () => {
    const err = new MatrixSideError("server-error", "M_UNKNOWN", "no event id");
    expect(toMatrixSideError(err, "x")).toBe(err);
  });
});

describe("failureKindOf", () => {
  it("is undefined for errors nobody classified", () => {
    expect(failureKindOf(new Error("boom"))).toBeUndefined();
    expect(failureKindOf(matrixError(413, "M_TOO_LARGE", "event too large"))).toBeUndefined();
  });
});
