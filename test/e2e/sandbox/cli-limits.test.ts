/**
 * gatekeeper-sandbox serve --limit NAME=VALUE: the sandbox's limits set from the command line
 * (a load bench raises the rate limits this way), and refused with exit code 2 when wrong.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { MessageStanza } from "../../../src/gatekeeper/stanza/index.js";
import { main, PARTNER_SECRET_ENV, serve } from "../../../src/sandbox/cli.js";
import { DEFAULT_LIMITS } from "../../../src/sandbox/limits.js";
import {
  PARTNER_ID,
  PARTNER_SECRET,
  enlistedPartnerUser,
  fakeCiphertext,
  messageId,
  optedInNativeUser,
  startPartnerAuth,
} from "./helpers.js";

const ROOT = join(import.meta.dirname, "../../..");

/** The CLI in a child process, as a person (or the bench) runs it. */
function sandboxCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(ROOT, "src/sandbox/cli.ts"), ...args],
      { cwd: ROOT, timeout: 60_000 },
      (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stderr });
      },
    );
  });
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

function message(to: string): MessageStanza {
  return {
    kind: "message",
    id: messageId(),
    to,
    type: "text",
    enc: { v: 2, type: "pkmsg", ciphertext: fakeCiphertext() },
  };
}

describe("gatekeeper-sandbox serve --limit", () => {
  it("raises the message rate limit above its default", async () => {
    const raised = DEFAULT_LIMITS.messagesPerWindow + 10;
    const auth = await startPartnerAuth();
    const c = capture();
    const sandbox = await serve(
      [
        "--port",
        "0",
        "--partner-id",
        PARTNER_ID,
        "--partner-auth-url",
        auth.url,
        "--limit",
        `messagesPerWindow=${raised}`,
        "--limit",
        "newConversationsPerDay=1000",
      ],
      c.io,
      { [PARTNER_SECRET_ENV]: PARTNER_SECRET },
    );
    try {
      expect(c.out).toContain(
        `  limits:      messagesPerWindow=${raised} newConversationsPerDay=1000`,
      );
      const partner = await enlistedPartnerUser(sandbox, auth, "limit-1", "+4915140000021");
      const { user, client } = await optedInNativeUser(sandbox, "+4917040000021", "Ida");
      const errors: (number | undefined)[] = [];
      for (let i = 0; i <= raised; i++) {
        const m = message(user.jid);
        partner.send(m);
        errors.push((await partner.nextOf("ack", (a) => a.id === m.id)).error);
      }
      // Every message up to the raised limit goes through (the default would refuse the 51st);
      // the one after it is refused, so the limit is the given one, not none at all.
      expect(errors.slice(0, raised).filter((e) => e !== undefined)).toEqual([]);
      expect(errors[raised]).toBe(429);
      partner.close();
      client.close();
    } finally {
      await sandbox.close();
      await auth.close();
    }
  });

  /** `gatekeeper-sandbox serve --limit <limit>` in a child process (for the refusals). */
  const serveWithLimit = (limit: string) => sandboxCli(["serve", "--port", "0", "--limit", limit]);

  it("refuses an unknown limit with exit code 2, naming the known ones", async () => {
    const { code, stderr } = await serveWithLimit("messagesPerMinute=100");
    expect(code).toBe(2);
    expect(stderr).toContain('--limit messagesPerMinute=100: unknown limit "messagesPerMinute"');
    expect(stderr).toContain("messagesPerWindow, messageWindowMs");
    expect(stderr).toContain("usage:");
  });

  it("refuses a value that is not a positive integer with exit code 2", async () => {
    const { code, stderr } = await serveWithLimit("messagesPerWindow=lots");
    expect(code).toBe(2);
    expect(stderr).toContain('messagesPerWindow must be a positive integer, not "lots"');
    for (const bad of ["messagesPerWindow=-1", "messagesPerWindow=0", "idleTimeoutMs=1.5", "x"]) {
      const c = capture();
      expect(await main(["serve", "--port", "0", "--limit", bad], c.io), bad).toBe(2);
      expect(c.err.join("\n"), bad).toMatch(/must be a positive integer|expected NAME=VALUE/);
      expect(c.out, bad).toEqual([]);
    }
  });

  it("is documented in serve --help, with the defaults", async () => {
    const c = capture();
    expect(await main(["serve", "--help"], c.io)).toBe(0);
    const help = c.out.join("\n");
    expect(help).toContain("--limit NAME=VALUE");
    expect(help).toContain(
      "--limit messagesPerWindow=100000 --limit newConversationsPerDay=100000",
    );
    expect(help).toContain(`messagesPerWindow=${DEFAULT_LIMITS.messagesPerWindow}`);
  });
});
