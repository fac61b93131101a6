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

describe("the chat tool's group commands", () => {
  const group = (line: string) => {
    const parsed = parseCommand(line);
    return parsed.kind === "group" ? parsed.group : parsed;
  };
  const usage = (line: string) => {
    const parsed = parseCommand(line);
    return parsed.kind === "invalid" ? parsed.message : `not refused: ${JSON.stringify(parsed)}`;
  };

  it("/group create takes a subject, quoted when it has spaces, and numbers or JIDs", () => {
    expect(group('/group create "Family chat" +4917012345678 bob@lid.gk')).toEqual({
      op: "create",
      subject: "Family chat",
      members: ["+4917012345678", "bob@lid.gk"],
    });
    expect(group("/group create Family +4917012345678,+4917012345679")).toEqual({
      op: "create",
      subject: "Family",
      members: ["+4917012345678", "+4917012345679"],
    });
    expect(usage('/group create "Family"')).toMatch(/^usage: \/group create "Subject"/);
    expect(usage('/group create "Family +4917012345678')).toMatch(/^usage: \/group create/);
    expect(usage("/group create Family bob")).toMatch(/^bob is neither a number .* nor a JID/);
  });

  it("/group add, remove, promote and demote take one or more members", () => {
    expect(group("/group add +4917012345678 carol@lid.gk")).toEqual({
      op: "add",
      members: ["+4917012345678", "carol@lid.gk"],
    });
    for (const op of ["remove", "promote", "demote"]) {
      expect(group(`/group ${op} bob@lid.gk`)).toEqual({ op, members: ["bob@lid.gk"] });
      expect(usage(`/group ${op}`)).toBe(`usage: /group ${op} +4917…|JID [more]`);
    }
  });

  it("/group subject and description take the rest of the line; description - deletes", () => {
    expect(group("/group subject  New  name ")).toEqual({ op: "subject", subject: "New  name" });
    expect(group("/group description Sundays at 5")).toEqual({
      op: "description",
      text: "Sundays at 5",
    });
    expect(group("/group description -")).toEqual({ op: "description", text: null });
    expect(usage("/group subject")).toMatch(/^usage: \/group subject/);
  });

  it("/group info, leave and /groups take nothing more", () => {
    expect(group("/group info")).toEqual({ op: "info" });
    expect(group("/GROUP Leave")).toEqual({ op: "leave" });
    expect(group("/groups")).toEqual({ op: "list" });
    expect(group("/group list")).toEqual({ op: "list" });
    expect(usage("/group leave now")).toMatch(/^usage: \/group leave/);
    expect(usage("/groups all")).toBe("usage: /groups");
  });

  it("/group with anything else picks a group by JID, number or subject", () => {
    expect(group("/group 120363000000000001@g.gk")).toEqual({
      op: "pick",
      ref: "120363000000000001@g.gk",
    });
    expect(group("/group 2")).toEqual({ op: "pick", ref: "2" });
    expect(group("/group Family chat")).toEqual({ op: "pick", ref: "Family chat" });
    expect(group("/group 'Info'")).toEqual({ op: "pick", ref: "Info" });
    expect(usage("/group")).toMatch(/^usage: \/group create\|add/);
  });

  it("/to takes a group's JID, or its subject with spaces, as well as a contact", () => {
    expect(parseCommand("/to 120363000000000001@g.gk")).toEqual({
      kind: "to",
      target: "120363000000000001@g.gk",
    });
    expect(parseCommand("/to Family chat")).toEqual({ kind: "to", target: "Family chat" });
    expect(parseCommand("/to +4917012345678 x")).toEqual({
      kind: "to",
      target: "+4917012345678",
    });
  });

  it("lists the group commands in /help", () => {
    for (const name of ["/groups", "/group create", "/group add", "/group subject", "/group info"])
      expect(HELP).toContain(name);
    expect(HELP).toContain("/group leave");
  });
});
