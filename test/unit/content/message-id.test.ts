import { describe, expect, it } from "vitest";
import {
  MESSAGE_ID_PREFIX,
  isValidMessageId,
  newMessageId,
} from "../../../src/gatekeeper/content/index.js";

describe("message ids", () => {
  it("are 3EB0 plus 16 upper-case hex digits", () => {
    const id = newMessageId();
    expect(id).toMatch(/^3EB0[0-9A-F]{16}$/);
    expect(id.startsWith(MESSAGE_ID_PREFIX)).toBe(true);
    expect(isValidMessageId(id)).toBe(true);
  });

  it("do not repeat", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newMessageId()));
    expect(ids.size).toBe(1000);
  });

  it.each(["3EB0", "ABCD", "3EB0" + "F".repeat(60), "0123456789ABCDEF0123", "BAE5C3D4E5F60718"])(
    "a peer's id %s is accepted",
    (id) => expect(isValidMessageId(id)).toBe(true),
  );

  it.each([
    ["empty", ""],
    ["too short", "3EB"],
    ["too long", "3EB0" + "F".repeat(61)],
    ["lower case", "3eb0a1b2c3d4e5f60718"],
    ["not hex", "3EB0XYZ"],
    ["XML-breaking", '3EB0"/>'],
    ["with a newline", "3EB0ABCD\n"],
  ])("an id that is %s is refused", (_what, id) => expect(isValidMessageId(id)).toBe(false));
});
