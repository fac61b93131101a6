/**
 * gatekeeper-sandbox's --help (for every command, exit code 0) and the partner secret from a
 * file or the environment instead of the command line.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main, PARTNER_SECRET_ENV, serve } from "../../../src/sandbox/cli.js";
import { PARTNER_ID, startPartnerAuth } from "./helpers.js";
import { RawClient } from "./raw-client.js";

const ROOT = join(import.meta.dirname, "../../..");

/** The CLI in a child process, as a person runs it. */
function sandboxCli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(ROOT, "src/sandbox/cli.ts"), ...args],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout });
      },
    );
  });
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("gatekeeper-sandbox --help", () => {
  it("answers --help with the usage and exit code 0, also in a real process", async () => {
    const top = await sandboxCli(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("gatekeeper-sandbox serve");
    const serveHelp = await sandboxCli(["serve", "--help"]);
    expect(serveHelp.code).toBe(0);
    expect(serveHelp.stdout).toMatch(/^usage: gatekeeper-sandbox serve \[options\]/);
  });

  it("gives each command's own options", async () => {
    const cases: [string[], RegExp, string][] = [
      [["serve", "--help"], /^usage: gatekeeper-sandbox serve/, "--partner-media-origin URL"],
      [["serve", "-h", "--port", "1"], /^usage: gatekeeper-sandbox serve/, "--partner-secret-file"],
      [["user", "add", "--help"], /^usage: gatekeeper-sandbox user add/, "--opt-in"],
      [["user", "--help"], /^usage: gatekeeper-sandbox user add/, "--partners"],
      [["chat", "+4917012345678", "--help"], /^usage: gatekeeper-sandbox chat/, "--state FILE"],
      [["help", "chat"], /^usage: gatekeeper-sandbox chat/, "--admin URL"],
    ];
    for (const [args, first, option] of cases) {
      const c = capture();
      expect(await main(args, c.io), args.join(" ")).toBe(0);
      expect(c.out.join("\n"), args.join(" ")).toMatch(first);
      expect(c.out.join("\n"), args.join(" ")).toContain(option);
      expect(c.err).toEqual([]);
    }
  });

  it("still refuses an unknown option with exit code 2", async () => {
    const c = capture();
    expect(await main(["serve", "--frobnicate"], c.io)).toBe(2);
    expect(c.err.join("\n")).toContain("Unknown option '--frobnicate'");
  });
});

describe("gatekeeper-sandbox serve: the partner secret off the command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "gks-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Serves with `args`, logs a partner user in; resolves with the Authorization it sent. */
  async function partnerLoginWith(
    secret: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ): Promise<string | undefined> {
    const auth = await startPartnerAuth(secret);
    const c = capture();
    const sandbox = await serve(
      ["--port", "0", "--partner-id", PARTNER_ID, "--partner-auth-url", auth.url, ...args],
      c.io,
      env,
    );
    try {
      auth.users.set("acct-1", { token: "tok-1", phone: "+4915112340001" });
      // The partner (auth server) accepts only its own secret: the login works only if the
      // sandbox presented it.
      const { client } = await RawClient.interop(sandbox, PARTNER_ID, "acct-1", "tok-1");
      client.close();
      return auth.calls[0]?.authorization;
    } finally {
      await sandbox.close();
      await auth.close();
    }
  }

  it("reads it from --partner-secret-file (without the file's final newline)", async () => {
    const file = join(dir, "partner-secret");
    writeFileSync(file, "secret-from-a-file-0123\n", { mode: 0o600 });
    expect(
      await partnerLoginWith("secret-from-a-file-0123", ["--partner-secret-file", file], {}),
    ).toBe("Bearer secret-from-a-file-0123");
  });

  it(`reads it from ${PARTNER_SECRET_ENV}`, async () => {
    const env = { [PARTNER_SECRET_ENV]: "secret-from-the-environment" };
    expect(await partnerLoginWith("secret-from-the-environment", [], env)).toBe(
      "Bearer secret-from-the-environment",
    );
  });

  it("says what is missing or wrong", async () => {
    const partner = ["--partner-id", PARTNER_ID, "--partner-auth-url", "http://127.0.0.1:9/a"];
    const missing = capture();
    expect(await main(["serve", "--port", "0", ...partner], missing.io)).toBe(2);
    expect(missing.err.join("\n")).toContain(
      `the partner secret (--partner-secret-file or ${PARTNER_SECRET_ENV}) go together`,
    );
    const noFile = capture();
    const absent = join(dir, "absent");
    expect(
      await main(["serve", "--port", "0", ...partner, "--partner-secret-file", absent], noFile.io),
    ).toBe(2);
    expect(noFile.err.join("\n")).toContain(
      `--partner-secret-file: cannot read ${absent} (ENOENT)`,
    );
  });
});
