/**
 * test/harness/homeserver/serve.ts: the test homeserver as its own process (the load bench runs
 * it so). It loads registrations from YAML files, offers Synapse's shared-secret registration,
 * says where it listens in one line and stops with exit code 0 on SIGTERM.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { registerWithSharedSecret, registrationFor } from "../../harness/target.js";

const ROOT = join(import.meta.dirname, "../../..");
const SCRIPT = join(ROOT, "test/harness/homeserver/serve.ts");

/** Resolves with the first stdout line matching `re`; rejects if the process ends first. */
function lineFrom(child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => fail(`no line matching ${re} in ${timeoutMs} ms`), timeoutMs);
    function fail(why: string): void {
      clearTimeout(timer);
      reject(new Error(`${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const line = stdout.split("\n").find((l) => re.test(l));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve(line);
    });
    child.once("exit", (code) => fail(`exited with ${code}`));
  });
}

async function whoami(url: string, token: string): Promise<unknown> {
  const res = await fetch(`${url}/_matrix/client/v3/account/whoami`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { user_id?: unknown }).user_id;
}

describe("the test homeserver as its own process", () => {
  const dir = mkdtempSync(join(tmpdir(), "hs-serve-"));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the registrations and shared-secret registration, and stops on SIGTERM", async () => {
    const registration = registrationFor(
      { id: "gatekeeper-bench", senderLocalpart: "benchbot", userPrefix: "bench_" },
      "bench.test",
      "http://127.0.0.1:9",
    );
    const file = join(dir, "registration.yaml");
    writeFileSync(file, yaml.dump(registration), { mode: 0o600 });
    const secret = "shared-secret-for-the-test";
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        SCRIPT,
        "--port",
        "0",
        "--server-name",
        "bench.test",
        "--registration",
        file,
        "--registration-secret",
        secret,
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(child);
    const line = await lineFrom(child, /^listening /);
    expect(line).toMatch(/^listening http:\/\/127\.0\.0\.1:\d+$/);
    const url = line.slice("listening ".length);

    const user = await registerWithSharedSecret(url, secret, "loaduser1", "pw-loaduser1");
    expect(user.userId).toBe("@loaduser1:bench.test");
    expect(await whoami(url, user.accessToken)).toBe("@loaduser1:bench.test");
    // The registration from the file is in force: its as_token is its sender's.
    expect(await whoami(url, registration.as_token)).toBe("@benchbot:bench.test");

    const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    child.kill("SIGTERM");
    expect(await exited).toEqual([0, null]);
  });

  it("refuses bad arguments with exit code 2 and the usage", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ["--import", "tsx", SCRIPT, ...args],
          { cwd: ROOT, timeout: 30_000 },
          (err, _stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stderr }),
        );
      });
    const notRegistration = join(dir, "not-a-registration.yaml");
    writeFileSync(notRegistration, "homeserver: {}\n");
    const cases: [string[], string][] = [
      [["--port", "http"], "--port must be 0..65535, not http"],
      [["--frobnicate"], "Unknown option '--frobnicate'"],
      [["--registration", join(dir, "absent.yaml")], "cannot read"],
      [["--registration", notRegistration], "is not an application service registration"],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await run(args);
      expect(code, args.join(" ")).toBe(2);
      expect(stderr, args.join(" ")).toContain(message);
      expect(stderr, args.join(" ")).toContain("usage:");
    }
  });
});
