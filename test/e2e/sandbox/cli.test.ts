import { type ChildProcess, spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../src/sandbox/cli.js";
import { runChat } from "../../../src/sandbox/chat/index.js";

/** Collects output lines and waits for one matching a pattern. */
class Lines {
  readonly lines: string[] = [];
  #waiters: { re: RegExp; resolve: (line: string) => void }[] = [];

  push = (text: string): void => {
    for (const line of text.split("\n")) {
      this.lines.push(line);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.re.test(line)) return true;
        w.resolve(line);
        return false;
      });
    }
  };

  waitFor(re: RegExp, timeoutMs = 15_000): Promise<string> {
    const found = this.lines.find((l) => re.test(l));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no line matching ${re}; got:\n${this.lines.join("\n")}`)),
        timeoutMs,
      );
      this.#waiters.push({
        re,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }
}

describe("gatekeeper-sandbox CLI", () => {
  let child: ChildProcess;
  const stdout = new Lines();
  let httpUrl = "";

  beforeAll(async () => {
    child = spawn(
      process.execPath,
      ["--import", "tsx", "src/sandbox/cli.ts", "serve", "--port", "0"],
      {
        cwd: process.cwd(),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stdout?.setEncoding("utf8").on("data", stdout.push);
    child.stderr?.resume();
    httpUrl = (await stdout.waitFor(/HTTP URL:/)).match(/http:\/\/\S+/)?.[0] ?? "";
  });
  afterAll(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });

  it("serve prints the chat URL and the public key to pin", async () => {
    expect(await stdout.waitFor(/chat URL:/)).toMatch(/ws:\/\/127\.0\.0\.1:\d+\/gki\/1\/chat/);
    expect(await stdout.waitFor(/public key:/)).toMatch(/[A-Za-z0-9+/]{43}=/);
    expect(httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("user add creates users through the admin API, opted in when asked", async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    expect(
      await main(
        [
          "user",
          "add",
          "+4917200000001",
          "--name",
          "Alice",
          "--opt-in",
          "--partners",
          "matrix",
          "--admin",
          httpUrl,
        ],
        io,
      ),
    ).toBe(0);
    const created = JSON.parse(out.join("\n")) as { jid: string; optedIn: boolean };
    expect(created.jid).toMatch(/^\d{15}@lid\.gk$/);
    expect(created.optedIn).toBe(true);
    const users = (await (await fetch(`${httpUrl}/admin/users`)).json()) as {
      phone: string;
      interop: unknown;
    }[];
    expect(users.find((u) => u.phone === "+4917200000001")?.interop).toEqual({
      enabled: true,
      partners: ["matrix"],
      inbox: "separate",
    });

    const bad: string[] = [];
    expect(
      await main(["user", "add", "not-a-number", "--admin", httpUrl], {
        out: (l) => bad.push(l),
        err: (l) => bad.push(l),
      }),
    ).toBe(1);
    expect(bad.join("\n")).toContain("E.164");
  });

  it("chat lets two native users talk end-to-end encrypted", async () => {
    const silent = { out: () => undefined, err: () => undefined };
    await main(["user", "add", "+4917200000002", "--name", "Bob", "--admin", httpUrl], silent);
    await main(["user", "add", "+4917200000003", "--name", "Carol", "--admin", httpUrl], silent);
    const bobIn = new PassThrough();
    const carolIn = new PassThrough();
    const bobOut = new Lines();
    const carolOut = new Lines();
    const bob = runChat({
      adminUrl: httpUrl,
      phone: "+4917200000002",
      statePath: ":memory:",
      input: bobIn,
      output: bobOut.push,
    });
    const carol = runChat({
      adminUrl: httpUrl,
      phone: "+4917200000003",
      statePath: ":memory:",
      input: carolIn,
      output: carolOut.push,
    });
    await bobOut.waitFor(/logged in as \+4917200000002/);
    await carolOut.waitFor(/logged in as \+4917200000003/);

    bobIn.write("/to +4917200000003\n");
    await bobOut.waitFor(/now chatting with Carol/);
    bobIn.write("hello carol, this is bob\n");
    expect(await carolOut.waitFor(/hello carol/)).toMatch(/: hello carol, this is bob$/);
    await bobOut.waitFor(/✓ read by Carol/);

    bobIn.end("/quit\n");
    carolIn.end("/quit\n");
    await Promise.all([bob, carol]);
  });

  it("serve stops cleanly on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code)),
    );
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
