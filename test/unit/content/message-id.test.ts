import { describe, expect, it } from "vitest";
import { MESSAGE_ID_PREFIX, newMessageId } from "../../../src/gatekeeper/content/index.js";
import { isValidId, parseStanza } from "../../../src/gatekeeper/stanza/index.js";

describe("message ids", () => {
  it("are 3EB0 plus 16 upper-case hex digits", () => {
    const id = newMessageId();
    expect(id).toMatch(/^3EB0[0-9A-F]{16}$/);
    expect(id.startsWith(MESSAGE_ID_PREFIX)).toBe(true);
    expect(isValidId(id)).toBe(true);
  });

  it("do not repeat", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newMessageId()));
    expect(ids.size).toBe(1000);
  });

  // docs/protocol.md §8.1: a receiver takes any valid stanza id (§5), not only ours.
  it.each(["3EB0", "abc", "3EB0" + "F".repeat(60), "BAE5C3D4E5F60718", "msg-1.a_b"])(
    "a peer's message id %s is read",
    (id) => {
      const m = parseStanza(
        `<message id="${id}" from="482910375561204@lid.gk" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
      );
      expect(m).toMatchObject({ kind: "message", id });
    },
  );

  it.each([
    ["too long", "3EB0" + "F".repeat(61)],
    ["with other characters", "3EB0 XYZ"],
  ])("a message id that is %s is refused with 400", (_what, id) => {
    expect(() =>
      parseStanza(
        `<message id="${id}" from="482910375561204@lid.gk" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
      ),
    ).toThrow(expect.objectContaining({ code: 400 }) as Error);
  });
});
