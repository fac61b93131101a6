import { describe, expect, it } from "vitest";
import type { GroupInfo } from "../../../src/gatekeeper/stanza/index.js";
import { GroupBook, shortSubject } from "../../../src/sandbox/chat/group-book.js";

const info = (jid: string, subject: string): GroupInfo => ({
  jid,
  subject,
  subjectTime: 0,
  subjectOwner: "a@lid.gk",
  creator: "a@lid.gk",
  creation: 0,
  participants: [],
});

describe("the chat tool's groups", () => {
  const book = (): GroupBook => {
    const b = new GroupBook();
    b.listed([info("1@g.gk", "Family"), info("2@g.gk", "Family trip"), info("3@g.gk", "Work")]);
    return b;
  };

  it("finds a group by its number in /groups, its whole subject, or a part only it has", () => {
    const b = book();
    expect(b.find("3")).toBe("3@g.gk");
    expect(b.find("family")).toBe("1@g.gk");
    expect(b.find("trip")).toBe("2@g.gk");
    expect(b.find("golf")).toBeUndefined();
  });

  it("says so for a number past the list or a part several subjects have", () => {
    expect(() => book().find("4")).toThrow(/no group 4: \/groups numbers them 1 to 3/);
    expect(() => book().find("fam")).toThrow(/"fam" fits 2 groups \(Family, Family trip\)/);
  });

  it("labels a group by its subject, cut when long, and follows renames", () => {
    const b = book();
    expect(b.label("1@g.gk")).toBe("[Family]");
    expect(b.label("9@g.gk")).toBe("[9@g.gk]");
    b.apply("1@g.gk", { type: "subject", subject: "The extended family", subjectTime: 1 });
    expect(b.label("1@g.gk")).toBe("[The extended fa…]");
    expect(shortSubject("Familie 👨‍👩‍👧")).toBe("Familie 👨‍👩‍👧");
  });
});
