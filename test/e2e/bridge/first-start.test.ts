/**
 * The bridge as an admin first meets it: `node src/cli.ts` started against a homeserver it
 * never ran on, then restarted. A normal start and restart log no error, the bot's profile
 * is set by the first start, and the metrics tell the bridge's own version, not "unknown"
 * (there is no npm around `node dist/cli.js` to tell it).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS } from "../../../src/config/index.js";
import { freePort } from "../../harness/target.js";
import { BridgeProcess } from "./bridge-process.js";
import { BridgeWorld } from "./fixture.js";

const VERSION = (
  JSON.parse(readFileSync(join(import.meta.dirname, "../../../package.json"), "utf8")) as {
    version: string;
  }
).version;

/** SIGTERM, the admin's stop: the bridge ends cleanly within 10 s. */
async function stop(bridge: BridgeProcess): Promise<void> {
  const timeout = new Promise<string>((resolve) =>
    setTimeout(() => resolve("still running after 10 s"), 10_000).unref(),
  );
  const ended = await Promise.race([bridge.terminate(), timeout]);
  await bridge.kill();
  expect(ended).toBe(0);
}

/** The log lines (logging.format json) at error level. */
function errorLines(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .filter((line) => (JSON.parse(line) as { level?: string }).level === "ERROR");
}

describe("first start and restart (the CLI in a child process)", () => {
  let w: BridgeWorld;
  let configFile: string;
  let registrationFile: string;
  let metricsPort: number;
  const npmVersion = process.env.npm_package_version;

  beforeAll(async () => {
    // As under `node dist/cli.js` or systemd: npm is not there to tell the version.
    delete process.env.npm_package_version;
    w = await BridgeWorld.create("first-start");
    metricsPort = await freePort();
    configFile = join(w.dir, "config.yaml");
    registrationFile = join(w.dir, "registration.yaml");
    writeFileSync(
      configFile,
      yaml.dump({
        ...w.rawConfig(),
        logging: { level: "info", format: "json" },
        metrics: { enabled: true, port: metricsPort, bind_address: "127.0.0.1" },
      }),
    );
    writeFileSync(registrationFile, yaml.dump(w.registration), { mode: 0o600 });
  }, 60_000);

  afterAll(async () => {
    if (npmVersion !== undefined) process.env.npm_package_version = npmVersion;
    await w?.close();
  });

  const start = (): Promise<BridgeProcess> =>
    BridgeProcess.start({ configFile, registrationFile, port: w.listen.port });

  it("logs no error on the first start and after a restart, and sets the bot's profile", async () => {
    const first = await start();
    try {
      // Set by the first start, although the homeserver had no profile for the bot (404).
      const res = await fetch(
        `${w.target.url}/_matrix/client/v3/profile/${encodeURIComponent(w.botMxid)}/displayname`,
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        displayname: CONFIG_DEFAULTS.appservice.bot.display_name,
      });

      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toContain(`bridge_app_version{version="${VERSION}"} 1`);

      // Puppets come to exist: after the restart the bridge registers them again.
      const alice = await w.matrixUser("alice");
      const bob = await w.nativeUser("Bob");
      const mgmt = await alice.openManagementRoom();
      await alice.login(mgmt, w.newPhone(), w.codeFor);
      const portal = await alice.startChat(mgmt, bob.phone);
      await alice.say(portal, "hello Bob");
      const hello = await bob.waitFor(() => true, "Alice's message");
      await bob.send(hello.from, "hello Alice");
      await alice.waitForPuppetText(portal, "hello Alice");
      await stop(first);
      expect(errorLines(first.output())).toEqual([]);

      const second = await start();
      try {
        await bob.send(hello.from, "still there?");
        await alice.waitForPuppetText(portal, "still there?");
        // Bob's puppet, registered before the restart, joins a new chat: registered again.
        const carol = await w.matrixUser("carol");
        const carolMgmt = await carol.openManagementRoom();
        await carol.login(carolMgmt, w.newPhone(), w.codeFor);
        const carolPortal = await carol.startChat(carolMgmt, bob.phone);
        await carol.say(carolPortal, "hello from Carol");
        await bob.waitFor((m) => m.from !== hello.from, "Carol's message");
      } finally {
        await stop(second);
      }
      expect(errorLines(second.output())).toEqual([]);
    } finally {
      await first.kill();
    }
  }, 120_000);
});
