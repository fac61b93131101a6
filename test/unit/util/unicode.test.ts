import { describe, expect, it } from "vitest";
import { EXCERPT_LENGTH, excerpt, wellFormed, wellFormedJson } from "../../../src/util/unicode.js";

const LONE_HIGH = "\ud800";
const LONE_LOW = "\udc00";
const FFFD = "\ufffd";

describe("wellFormed", () => {
  it("replaces lone surrogates with U+FFFD and keeps pairs", () => {
    expect(wellFormed(`a${LONE_HIGH}b`)).toBe(`a${FFFD}b`);
    expect(wellFormed(`${LONE_LOW}x${LONE_HIGH}`)).toBe(`${FFFD}x${FFFD}`);
    expect(wellFormed("smile 😀 ok")).toBe("smile 😀 ok");
  });
});

describe("wellFormedJson", () => {
  it("cleans every string, keys and nested ones, without touching other values", () => {
    const content = {
      msgtype: "m.text",
      body: `bad ${LONE_HIGH}`,
      formatted_body: `<b>${LONE_LOW}</b>`,
      [`k${LONE_HIGH}`]: [1, `x${LONE_LOW}`, { deep: LONE_HIGH }, null, true],
    };
    expect(wellFormedJson(content)).toEqual({
      msgtype: "m.text",
      body: `bad ${FFFD}`,
      formatted_body: `<b>${FFFD}</b>`,
      [`k${FFFD}`]: [1, `x${FFFD}`, { deep: FFFD }, null, true],
    });
    // The caller's object is not changed.
    expect(content.body).toBe(`bad ${LONE_HIGH}`);
  });

  it("gives a well-formed value back as it is (no copy)", () => {
    const content = { body: "fine 😀", list: ["a", { b: "c" }] };
    expect(wellFormedJson(content)).toBe(content);
  });

  it("is sent as the replacement character, not as a \\ud800 escape", () => {
    const sent = JSON.stringify(wellFormedJson({ body: LONE_HIGH }));
    expect(sent).toBe(`{"body":"${FFFD}"}`);
  });
});

describe("excerpt", () => {
  it("keeps short text whole", () => {
    expect(excerpt("ping")).toBe("ping");
    expect(excerpt("x".repeat(EXCERPT_LENGTH))).toBe("x".repeat(EXCERPT_LENGTH));
  });

  it("cuts long text to at most the limit, ellipsised", () => {
    const cut = excerpt("y".repeat(1_000_000));
    expect(cut).toBe(`${"y".repeat(EXCERPT_LENGTH - 1)}…`);
    expect([...cut]).toHaveLength(EXCERPT_LENGTH);
    expect(excerpt("abcdef", 4)).toBe("abc…");
  });

  it("never cuts a character in half, and counts characters, not UTF-16 units", () => {
    const emoji = "😀".repeat(EXCERPT_LENGTH); // 200 UTF-16 units, 100 characters
    expect(excerpt(emoji)).toBe(emoji);
    const cut = excerpt("😀".repeat(150), 10);
    expect(cut).toBe(`${"😀".repeat(9)}…`);
    expect(wellFormed(cut)).toBe(cut);
  });

  it("is well-formed even when the text is not", () => {
    expect(excerpt(`a${LONE_HIGH}`)).toBe(`a${FFFD}`);
    expect(excerpt(`${LONE_HIGH}${"z".repeat(500)}`, 3)).toBe(`${FFFD}z…`);
  });
});
