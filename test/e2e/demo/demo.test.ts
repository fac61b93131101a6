/**
 * `npm run demo` as a user runs it: a real child process that starts the test homeserver,
 * the sandbox and the bridge, plays the scripted conversation (one-to-one, or with --group a
 * group's), prints the transcript and the latencies, and exits by itself with 0; and a
 * failure ends it non-zero with a message.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDemoArgs } from "../../../scripts/demo.js";
import { ALICE, BOB, CAROL, DAVE, spaced } from "../../../scripts/demo/people.js";

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
      // Its own process group: signals go to npm and the demo alike, as Ctrl-C in a
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

describe("npm run demo -- --group", () => {
  it("plays a group conversation every way through the bridge and exits 0", async () => {
    const run = await runDemo(["--group", "--timeout", "90"], 120_000);
    expect(run.stderr).not.toContain("demo failed");
    expect(run.code).toBe(0);
    const out = run.stdout;
    const [bob, carol] = [spaced(BOB.phone), spaced(CAROL.phone)];

    // Alice logs in through the bot and makes the group there; both apps are told.
    expect(said(out, "Matrix: bot DM", "bot", `logged in to Gatekeeper as ${ALICE.phone}`)).toBe(
      true,
    );
    expect(said(out, "Matrix: bot DM", "Alice", `group create "Hiking" ${bob} ${carol}`)).toBe(
      true,
    );
    expect(said(out, "Matrix: bot DM", "bot", 'Created the group "Hiking"')).toBe(true);
    expect(out).not.toContain("Not added");
    expect(said(out, "Bob's app: group", "Alice", 'added you to "Hiking"')).toBe(true);
    expect(said(out, "Carol's app: group", "Alice", 'added you to "Hiking"')).toBe(true);
    expect(out).toMatch(/Bob and Carol are in the room as puppets: @\S+, @\S+/);

    // Matrix → both apps (HTML as markup); an app → the room, as the puppet; a reply.
    for (const app of ["Bob's app: group", "Carol's app: group"]) {
      expect(said(out, app, "Alice", "Shall we go *hiking* on Saturday?")).toBe(true);
    }
    expect(said(out, "Matrix: group room", "Bob (Gatekeeper)", "Saturday works for me!")).toBe(
      true,
    );
    expect(said(out, "Carol's app: group", "Bob", "Saturday works for me!")).toBe(true);
    expect(out).toMatch(
      /Matrix: group room +Carol \(Gatekeeper\) +Me too\. I'll bring the map\n +in reply to Bob \(Gatekeeper\)'s message/,
    );
    expect(said(out, "Bob's app: group", "Carol", "Me too. I'll bring the map")).toBe(true);

    // A photo from an app, downloaded whole in Matrix; a reaction from an app.
    expect(said(out, "Matrix: group room", "Carol (Gatekeeper)", "[image] the map")).toBe(true);
    expect(said(out, "Bob's app: group", "Carol", "[image] the map")).toBe(true);
    expect(out).toMatch(/Alice's client downloads the photo: the same \d+ bytes Carol sent/);
    const reacts = "reacts 👍 to Alice's message";
    expect(said(out, "Matrix: group room", "Bob (Gatekeeper)", reacts)).toBe(true);
    expect(said(out, "Carol's app: group", "Bob", reacts)).toBe(true);

    // Alice renames the group from Matrix; Carol leaves, and Alice adds her back.
    for (const app of ["Bob's app: group", "Carol's app: group"]) {
      expect(said(out, app, "Alice", 'renamed the group to "Hiking on Saturday"')).toBe(true);
    }
    expect(said(out, "Bob's app: group", "Carol", "left the group")).toBe(true);
    expect(said(out, "Matrix: group room", "Carol (Gatekeeper)", "left (the puppet)")).toBe(true);
    expect(said(out, "Bob's app: group", "Alice", "added Carol")).toBe(true);
    expect(said(out, "Carol's app: group", "Alice", 'added you to "Hiking on Saturday"')).toBe(
      true,
    );
    expect(said(out, "Matrix: group room", "Carol (Gatekeeper)", "joined again")).toBe(true);
    expect(
      said(out, "Matrix: group room", "Carol (Gatekeeper)", "Thanks for adding me back!"),
    ).toBe(true);
    expect(out).toContain("- Hiking on Saturday (3 members)");

    // No latency for groups; a clean end.
    expect(out).not.toContain("Relay latency");
    expect(out.trimEnd()).toMatch(/Shutting down\n\s+done$/);
  }, 130_000);
});

/**
 * Runs the demo with --keep and `args`; once it stays up, checks the printed credentials and
 * chat command (for the account at `terminalPhone`) and runs `more` on the output, then
 * interrupts it as Ctrl-C in a terminal would.
 */
async function stayUp(
  args: string[],
  terminalPhone: string,
  more: (out: string) => void = () => undefined,
): Promise<Run> {
  let checked: Promise<void> | undefined;
  const run = await runDemo(["--keep", ...args, "--timeout", "90"], 120_000, (out, signal) => {
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
        // The printed chat command points at the running sandbox's admin API, and its
        // account exists there, opted in to the bridge.
        const admin = /gatekeeper-sandbox chat (\+\d+) --admin (\S+)/.exec(out);
        expect(admin?.[1]).toBe(terminalPhone);
        const info = await fetch(`${admin![2]}/admin/info`);
        expect(info.status).toBe(200);
        const account = await fetch(
          `${admin![2]}/admin/users/${encodeURIComponent(terminalPhone)}`,
        );
        expect(((await account.json()) as { interop: { enabled: boolean } }).interop.enabled).toBe(
          true,
        );
        more(out);
      } finally {
        signal("SIGINT");
      }
    })();
  });
  await checked;
  expect(run.stderr).not.toContain("demo failed");
  // npm itself dies of the SIGINT, as after Ctrl-C in a terminal; the demo shut down cleanly
  // (its output ends with the shutdown's "done", and "close" means every process let go).
  expect(run.code === 0 || run.signal === "SIGINT").toBe(true);
  expect(run.stdout).toContain("Staying up (--keep)");
  expect(run.stdout.trimEnd()).toMatch(/Shutting down\n\s+done$/);
  return run;
}

describe("npm run demo -- --keep", () => {
  it("stays up with working connection details until interrupted, then exits 0", async () => {
    const run = await stayUp(["--probes", "1"], CAROL.phone);
    // The throwaway folder (config, registration, databases) is gone.
    const configPath = /started from (\S+)config\.yaml/.exec(run.stdout)?.[1];
    expect(configPath).toBeDefined();
    expect(existsSync(configPath!)).toBe(false);
  }, 130_000);

  it("with --group, prints the /group commands for a third user's terminal", async () => {
    await stayUp(["--group"], DAVE.phone, (out) => {
      expect(out).toContain(`the room of the group "Hiking on Saturday" !`);
      expect(out).toContain(`/group create "Picnic" ${ALICE.phone} ${BOB.phone}`);
      expect(out).toContain("/group subject");
      expect(out).toContain(`/group add ${CAROL.phone}`);
    });
  }, 130_000);
});

describe("npm run demo options", () => {
  it("has defaults and refuses out-of-range numbers with the option's name", () => {
    expect(parseDemoArgs([])).toEqual({
      group: false,
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

  it("takes --group with the other options, but not --probes (a group measures no latency)", () => {
    expect(parseDemoArgs(["--group", "--keep", "--timeout", "60", "--dir", "x"])).toMatchObject({
      group: true,
      keep: true,
      timeoutMs: 60_000,
      dir: "x",
    });
    expect(() => parseDemoArgs(["--group", "--probes", "3"])).toThrow(
      "--probes is for the one-to-one script",
    );
  });
});
