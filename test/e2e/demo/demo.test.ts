/**
 * `npm run demo` as a user runs it: a real child process that starts the test homeserver,
 * the sandbox and the bridge, plays the scripted conversation, prints the transcript and
 * the latencies, and exits by itself with 0; and a failure ends it non-zero with a message.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDemoArgs } from "../../../scripts/demo.js";
import { ALICE, BOB, CAROL, spaced } from "../../../scripts/demo/people.js";

const ROOT = resolve(import.meta.dirname, "../../..");

interface Run {
  code: number | null;
  /** The signal that ended npm, if one did. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `npm run demo -- ...args` to its end. `onOutput` sees stdout as it grows and may
 * signal the process (for --keep).
 */
function runDemo(
  args: string[],
  timeoutMs: number,
  onOutput?: (stdout: string, signal: (s: NodeJS.Signals) => void) => void,
): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn("npm", ["run", "--silent", "demo", "--", ...args], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: signals go to npm, tsx and the demo alike, as Ctrl-C in a
      // terminal does (npm does not pass a signal sent to it alone on to its script).
      detached: true,
    });
    const signalAll = (s: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, s);
      } catch {
        // Already gone.
      }
    };
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString("utf8");
      onOutput?.(stdout, signalAll);
    });
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    const timer = setTimeout(() => {
      signalAll("SIGKILL");
      fail(new Error(`the demo did not exit within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("error", fail);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** The transcript line where `who` says something in `where` that contains `text`. */
function said(stdout: string, where: string, who: string, text: string): boolean {
  return stdout
    .split("\n")
    .some((line) => line.includes(where) && line.includes(` ${who} `) && line.includes(text));
}

describe("npm run demo", () => {
  let parent: string;
  let dir: string;
  let run: Run;

  beforeAll(async () => {
    parent = mkdtempSync(join(tmpdir(), "gkb-demo-test-"));
    dir = join(parent, "run");
    run = await runDemo(["--dir", dir, "--probes", "3", "--timeout", "90"], 120_000);
  }, 130_000);

  afterAll(() => {
    if (parent) rmSync(parent, { recursive: true, force: true });
  });

  it("plays the conversation through the bridge and exits 0", () => {
    expect(run.stderr).not.toContain("demo failed");
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toContain("in-process TEST homeserver");

    // Login through the bot with the code the sandbox "texted" to Alice's phone.
    expect(said(out, "Matrix: bot DM", "bot", "This is your management room")).toBe(true);
    expect(said(out, "Matrix: bot DM", "Alice", `login ${spaced(ALICE.phone)}`)).toBe(true);
    const sms = /Alice's phone\s+SMS\s+Your Gatekeeper code is (\d{6})/.exec(out);
    expect(sms).not.toBeNull();
    expect(said(out, "Matrix: bot DM", "Alice", `verify ${sms![1]}`)).toBe(true);
    expect(said(out, "Matrix: bot DM", "bot", `logged in to Gatekeeper as ${ALICE.phone}`)).toBe(
      true,
    );
    expect(said(out, "Matrix: bot DM", "bot", `Started a chat with Bob (${BOB.phone})`)).toBe(true);

    // Formatting both ways: Matrix HTML arrives as markup, markup arrives as Matrix HTML.
    expect(
      said(out, "Bob's Gatekeeper app", "Alice", "*bold*, _italic_, ~struck~ and `code`"),
    ).toBe(true);
    expect(said(out, "Matrix: chat with Bob", "Bob (Gatekeeper)", "Hi _Alice_!")).toBe(true);
    expect(out).toContain("html: Hi <em>Alice</em>! <strong>Bold</strong> back");
    expect(said(out, "Bob's Gatekeeper app", "Alice", "waves")).toBe(true);
    expect(said(out, "Matrix: bot DM", "Alice", "status")).toBe(true);
    expect(out).toContain("Chats: 1, message requests: 0, blocked: 0.");

    // The latency summary, with a number for each direction.
    expect(out).toMatch(/Matrix → Gatekeeper\s+median\s+\d+\.\d ms/);
    expect(out).toMatch(/Gatekeeper → Matrix\s+median\s+\d+\.\d ms/);
    expect(out).toContain("Shutting down");
  });

  it("never prints the bridge's secrets", () => {
    // --dir keeps the generated files, so the test knows the secrets the demo must not print.
    const registration = yaml.load(readFileSync(join(dir, "registration.yaml"), "utf8")) as {
      as_token: string;
      hs_token: string;
    };
    const config = yaml.load(readFileSync(join(dir, "config.yaml"), "utf8")) as {
      gatekeeper: { partner_secret: string };
    };
    const secrets = [
      registration.as_token,
      registration.hs_token,
      config.gatekeeper.partner_secret,
    ];
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(16);
      expect(run.stdout).not.toContain(secret);
      expect(run.stderr).not.toContain(secret);
    }
  });

  it("fails with a clear message and a non-zero exit when it cannot run", async () => {
    const used = join(parent, "used");
    mkdirSync(used);
    writeFileSync(join(used, "left-over.txt"), "x");
    const failed = await runDemo(["--dir", used], 60_000);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("demo failed while");
    expect(failed.stderr).toContain("is not empty");
  }, 70_000);
});

describe("npm run demo -- --keep", () => {
  it("stays up with working connection details until interrupted, then exits 0", async () => {
    let checked: Promise<void> | undefined;
    const run = await runDemo(
      ["--keep", "--probes", "1", "--timeout", "90"],
      120_000,
      (out, signal) => {
        if (checked || !out.includes("keep appearing below")) return;
        checked = (async () => {
          try {
            const url = /homeserver URL\s+(\S+)/.exec(out)?.[1];
            const user = /user\s+(@\S+)/.exec(out)?.[1];
            const password = /password\s+(\S+)/.exec(out)?.[1];
            // The printed credentials log Alice in, as a Matrix client would.
            const login = await fetch(`${url}/_matrix/client/v3/login`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({
                type: "m.login.password",
                identifier: { type: "m.id.user", user },
                password,
              }),
            });
            expect(login.status).toBe(200);
            expect(((await login.json()) as { user_id: string }).user_id).toBe(user);
            // The printed chat command points at the running sandbox's admin API.
            const admin = /gatekeeper-sandbox chat (\+\d+) --admin (\S+)/.exec(out);
            expect(admin?.[1]).toBe(CAROL.phone);
            const info = await fetch(`${admin![2]}/admin/info`);
            expect(info.status).toBe(200);
          } finally {
            signal("SIGINT");
          }
        })();
      },
    );
    await checked;
    expect(run.stderr).not.toContain("demo failed");
    // npm itself dies of the SIGINT, as after Ctrl-C in a terminal; the demo shut down cleanly
    // (its output ends with the shutdown's "done", and "close" means every process let go).
    expect(run.code === 0 || run.signal === "SIGINT").toBe(true);
    expect(run.stdout).toContain("Staying up (--keep)");
    // The throwaway folder (config, registration, databases) is gone.
    const configPath = /started from (\S+)config\.yaml/.exec(run.stdout)?.[1];
    expect(configPath).toBeDefined();
    expect(existsSync(configPath!)).toBe(false);
    expect(run.stdout.trimEnd()).toMatch(/Shutting down\n\s+done$/);
  }, 130_000);
});

describe("npm run demo options", () => {
  it("has defaults and refuses out-of-range numbers with the option's name", () => {
    expect(parseDemoArgs([])).toEqual({
      keep: false,
      probes: 10,
      timeoutMs: 180_000,
      verbose: false,
    });
    expect(parseDemoArgs(["--keep", "--probes", "3", "--dir", "x"])).toMatchObject({
      keep: true,
      probes: 3,
      dir: "x",
    });
    expect(() => parseDemoArgs(["--probes", "0"])).toThrow("--probes must be a whole number");
    expect(() => parseDemoArgs(["--timeout", "soon"])).toThrow("--timeout must be a whole number");
    expect(() => parseDemoArgs(["--bogus"])).toThrow(/bogus/);
  });
});
