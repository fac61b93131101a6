import { describe, expect, it } from "vitest";
import { HELP, parseCommand, takeWord } from "../../../src/sandbox/chat/commands.js";

describe("the chat tool's commands", () => {
  it("keeps the old ones as they were", () => {
    expect(parseCommand("hello there")).toEqual({ kind: "text", text: "hello there" });
    expect(parseCommand("  ")).toEqual({ kind: "empty" });
    expect(parseCommand("/to +4917012345678")).toEqual({ kind: "to", target: "+4917012345678" });
    expect(parseCommand("/bogus").kind).toBe("invalid");
  });

  describe("/send and /voice", () => {
    it("takes a path and an optional caption", () => {
      expect(parseCommand("/send ./cat.jpg")).toEqual({ kind: "send", path: "./cat.jpg" });
      expect(parseCommand("/send ./cat.jpg  my  cat ")).toEqual({
        kind: "send",
        path: "./cat.jpg",
        caption: "my  cat",
      });
    });

    it("takes a quoted path with spaces", () => {
      expect(parseCommand('/send "my files/cat 1.jpg" look')).toEqual({
        kind: "send",
        path: "my files/cat 1.jpg",
        caption: "look",
      });
      expect(parseCommand("/voice 'a note.ogg'")).toEqual({ kind: "voice", path: "a note.ogg" });
    });

    it("answers a missing path, an unclosed quote or a voice caption with the usage", () => {
      for (const line of ["/send", '/send "open.jpg', "/voice", "/voice note.ogg hello"]) {
        const parsed = parseCommand(line);
        expect(parsed.kind, line).toBe("invalid");
        expect(parsed.kind === "invalid" && parsed.message, line).toMatch(/^usage: \/(send|voice)/);
      }
    });
  });

  describe("commands about a message", () => {
    it("accept the short id with or without # and the full id, in any case", () => {
      expect(parseCommand("/reply #a1b2c3 sure, see you")).toEqual({
        kind: "reply",
        id: "A1B2C3",
        text: "sure, see you",
      });
      expect(parseCommand("/edit 3EB0AABBCCDDEEFF0011 fixed typo")).toEqual({
        kind: "edit",
        id: "3EB0AABBCCDDEEFF0011",
        text: "fixed typo",
      });
      expect(parseCommand("/delete #A1B2C3")).toEqual({ kind: "delete", id: "A1B2C3" });
    });

    it("/react with an emoji reacts, without one removes the reaction", () => {
      expect(parseCommand("/react #A1B2C3 👍🏽")).toEqual({
        kind: "react",
        id: "A1B2C3",
        emoji: "👍🏽",
      });
      expect(parseCommand("/react #A1B2C3")).toEqual({ kind: "react", id: "A1B2C3", emoji: "" });
    });

    it("refuse what is not an id, with a line that says what an id is", () => {
      for (const line of ["/reply @bob there", "/edit #12 x", "/react ../x 👍", "/delete #"]) {
        const parsed = parseCommand(line);
        expect(parsed.kind, line).toBe("invalid");
        expect(parsed.kind === "invalid" && parsed.message, line).toMatch(/not a message id/);
      }
    });

    it("answer missing or extra parts with the usage", () => {
      const usages: [string, RegExp][] = [
        ["/reply #A1B2C3", /^usage: \/reply ID text/],
        ["/edit #A1B2C3", /^usage: \/edit ID/],
        ["/react #A1B2C3 👍 👎", /^usage: \/react ID EMOJI/],
        ["/delete #A1B2C3 now", /^usage: \/delete ID/],
        ["/delete", /^usage: \/delete ID/],
      ];
      for (const [line, usage] of usages) {
        const parsed = parseCommand(line);
        expect(parsed.kind === "invalid" && parsed.message, line).toMatch(usage);
      }
    });
  });

  it("takeWord splits off a word or a quoted stretch", () => {
    expect(takeWord("a b  c")).toEqual(["a", "b  c"]);
    expect(takeWord('"a b" c')).toEqual(["a b", "c"]);
    expect(takeWord("'unclosed")).toEqual([undefined, ""]);
    expect(takeWord("")).toEqual(["", ""]);
  });

  it("lists every new command in /help", () => {
    for (const name of ["/send", "/voice", "/reply", "/edit", "/react", "/delete"]) {
      expect(HELP).toContain(name);
    }
    expect(HELP).toContain("#A1B2C3");
  });
});
