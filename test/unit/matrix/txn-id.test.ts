import { describe, expect, it } from "vitest";
import { randomTxnId, txnIdFor } from "../../../src/matrix/txn-id.js";

describe("txnIdFor", () => {
  it("gives the same id for the same key, across calls", () => {
    expect(txnIdFor("login-1/msg-42")).toBe(txnIdFor("login-1/msg-42"));
  });

  it("gives different ids for different keys", () => {
    const keys = ["a", "b", "login-1/msg-42", "login-1/msg-43", "login-2/msg-42"];
    expect(new Set(keys.map(txnIdFor)).size).toBe(keys.length);
  });

  it("is safe in a URL path segment and does not reveal the key", () => {
    const id = txnIdFor("+4917012345678/secret message id");
    expect(id).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(id).not.toContain("4917012345678");
  });

  it("rejects an empty key", () => {
    expect(() => txnIdFor("")).toThrow(RangeError);
  });
});

describe("randomTxnId", () => {
  it("never repeats and never equals a derived id", () => {
    const a = randomTxnId();
    expect(randomTxnId()).not.toBe(a);
    expect(a).not.toBe(txnIdFor(a));
  });
});
