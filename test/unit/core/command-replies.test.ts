/**
 * Replies that quote what the user sent quote an excerpt: a command as large as the homeserver
 * accepts must not make a reply the homeserver refuses (M_TOO_LARGE), nor a lone surrogate one
 * it cannot store.
 */
import { describe, expect, it } from "vitest";
import { CommandDispatcher } from "../../../src/core/commands/dispatcher.js";
import type { CommandContext, CommandEnv } from "../../../src/core/commands/types.js";
import { silentLogger } from "../../../src/core/logger.js";
import { parsePhone } from "../../../src/core/phone.js";

const env = {
  commandPrefix: "!gk",
  network: { capabilities: { networkName: "Gatekeeper" } },
} as unknown as CommandEnv;

async function answer(body: string): Promise<string[]> {
  const dispatcher = new CommandDispatcher(env, () => true, silentLogger);
  const replies: string[] = [];
  const ctx: CommandContext = {
    sender: "@alice:localhost",
    roomId: "!mgmt:localhost",
    portal: undefined,
    inManagementRoom: true,
    reply: async (text) => void replies.push(text),
  };
  const command = dispatcher.parse(body, ctx);
  if (!command) throw new Error(`not a command: ${body}`);
  await dispatcher.run(command, ctx);
  return replies;
}

describe("replies that quote the user", () => {
  it("quote at most 100 characters of an unknown command", async () => {
    const [reply] = await answer("x".repeat(1_000_000));
    expect(reply).toBe(
      `I do not know the command \`${"x".repeat(99)}…\`. Send \`help\` for the list.`,
    );
  });

  it("quote a short unknown command whole", async () => {
    expect(await answer("frobnicate")).toEqual([
      "I do not know the command `frobnicate`. Send `help` for the list.",
    ]);
  });

  it("quote a lone surrogate as U+FFFD", async () => {
    expect(await answer("\ud800")).toEqual([
      "I do not know the command `\ufffd`. Send `help` for the list.",
    ]);
  });

  it("quote at most an excerpt of a phone number that is not one", () => {
    const r = parsePhone(`+49 ${"call me maybe ".repeat(10_000)}`);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toMatch(/^"\+49 call me maybe .*…" is not a phone number$/);
      expect(r.message.length).toBeLessThan(150);
    }
  });
});
