import { describe, expect, it } from "vitest";
import {
  JID_SERVER,
  formatInteropJid,
  formatLidJid,
  isValidJid,
  parseJid,
} from "../../../src/gatekeeper/stanza/index.js";

describe("JIDs (§2)", () => {
  it("parses the three forms", () => {
    expect(parseJid(JID_SERVER)).toEqual({ kind: "server", jid: "gk" });
    expect(parseJid("482910375561204@lid.gk")).toEqual({
      kind: "lid",
      jid: "482910375561204@lid.gk",
      lid: "482910375561204",
    });
    expect(parseJid("matrix.a1b2c3@interop")).toEqual({
      kind: "interop",
      jid: "matrix.a1b2c3@interop",
      partnerId: "matrix",
      accountId: "a1b2c3",
    });
    expect(parseJid("my-partner.A_b-9@interop")).toMatchObject({
      partnerId: "my-partner",
      accountId: "A_b-9",
    });
  });

  it.each([
    "",
    "GK",
    "gk ",
    "48291037556120@lid.gk", // 14 digits
    "4829103755612045@lid.gk", // 16 digits
    "48291037556120a@lid.gk",
    "482910375561204@lid.gk.evil",
    "+4917012345678",
    "4917012345678@s.whatsapp.net",
    "Matrix.a1b2c3@interop", // partner ids are lower case
    "matrix@interop",
    ".a1b2c3@interop",
    "matrix.@interop",
    "matrix.a.b@interop",
    `matrix.${"a".repeat(65)}@interop`,
    `${"p".repeat(33)}.a@interop`,
    "matrix.a1b2c3@interop\n",
  ])("refuses %j", (s) => {
    expect(parseJid(s)).toBeNull();
    expect(isValidJid(s)).toBe(false);
  });

  it("formats interop and lid JIDs that parse back", () => {
    const jid = formatInteropJid("matrix", "a1b2c3");
    expect(jid).toBe("matrix.a1b2c3@interop");
    expect(parseJid(jid)).toMatchObject({ partnerId: "matrix", accountId: "a1b2c3" });
    expect(parseJid(formatLidJid("000000000000001"))).toMatchObject({
      kind: "lid",
      lid: "000000000000001",
    });
    expect(() => formatInteropJid("Matrix", "a")).toThrow(RangeError);
    expect(() => formatInteropJid("matrix", "has.dot")).toThrow(RangeError);
    expect(() => formatLidJid("123")).toThrow(RangeError);
  });
});
