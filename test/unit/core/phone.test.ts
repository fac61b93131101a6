import { describe, expect, it } from "vitest";
import { parsePhone } from "../../../src/core/phone.js";

describe("parsePhone", () => {
  it.each([
    ["+4915112345678", "+4915112345678"],
    ["+49 151 1234 5678", "+4915112345678"],
    ["+49 (151) 1234-5678", "+4915112345678"],
    ["004915112345678", "+4915112345678"],
    ["+1 202 555 0143", "+12025550143"],
    ["+33 6 12 34 56 78", "+33612345678"],
  ])("reads %s as %s", (input, e164) => {
    expect(parsePhone(input)).toEqual({ ok: true, e164 });
  });

  it("asks for the country code when it is missing", () => {
    const r = parsePhone("0151 12345678");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe("no-country-code");
      expect(r.message).toContain("international format");
    }
  });

  it.each([
    ["", "empty"],
    ["hello", "not-a-number"],
    ["+49151", "too-short"],
    ["+4915112345678901234", "too-long"],
    ["+999 1234 5678", "no-country-code"],
  ])("refuses %j (%s) with a message naming the problem", (input, code) => {
    const r = parsePhone(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.message.length).toBeGreaterThan(10);
    }
  });
});
