import { describe, expect, it } from "vitest";
import { parseCommand } from "../../../src/core/commands/parser.js";

const anywhere = { prefix: "!gk", prefixRequired: true };
const management = { prefix: "!gk", prefixRequired: false };

describe("parseCommand", () => {
  it("reads a prefixed command with its arguments anywhere", () => {
    expect(parseCommand("!gk start +49 151 12345678", anywhere)).toEqual({
      name: "start",
      args: ["+49", "151", "12345678"],
      rest: "+49 151 12345678",
    });
  });

  it("ignores text without the prefix where the prefix is required", () => {
    expect(parseCommand("start +4915112345678", anywhere)).toBeUndefined();
    expect(parseCommand("hello there", anywhere)).toBeUndefined();
  });

  it("does not take a longer word for the prefix", () => {
    expect(parseCommand("!gkstart +49", anywhere)).toBeUndefined();
  });

  it("accepts commands with or without the prefix in the management room", () => {
    expect(parseCommand("login +4915112345678", management)?.name).toBe("login");
    expect(parseCommand("!gk login +4915112345678", management)?.name).toBe("login");
  });

  it("is case-insensitive in the prefix and the name, and keeps argument case", () => {
    expect(parseCommand("!GK Verify  12 34 56 ", anywhere)).toEqual({
      name: "verify",
      args: ["12", "34", "56"],
      rest: "12 34 56",
    });
  });

  it("gives an empty name for a bare prefix (answered with help)", () => {
    expect(parseCommand("  !gk  ", anywhere)).toEqual({ name: "", args: [], rest: "" });
  });

  it("treats an empty message as no command", () => {
    expect(parseCommand("   ", management)).toBeUndefined();
  });

  it("reads arguments across lines", () => {
    expect(parseCommand("!gk start\n+4915112345678", anywhere)?.rest).toBe("+4915112345678");
  });
});
