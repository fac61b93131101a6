/**
 * Everything the demo runs, on 127.0.0.1 with free ports: the in-process test homeserver
 * (test/harness: no real homeserver is installed here), the sandbox gatekeeper with the bridge
 * registered as its partner, the bridge started from a generated config.yaml and
 * registration.yaml (the same checks as the CLI), and the people: Alice, a matrix-js-sdk
 * user, and Bob, a native gatekeeper user (GatekeeperClient) who opted in to the bridge; for
 * the group demo also Carol, and both take part in groups.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import yaml from "js-yaml";
import type { Knex } from "knex";
import { startBridge } from "../../src/bridge.js";
import type { RunningBridge } from "../../src/bridge.js";
import { newRegistration } from "../../src/cli.js";
import { checkRegistration, loadConfig } from "../../src/config/index.js";
import type { Config, RegistrationDocument } from "../../src/config/index.js";
import { migrate, openDatabase } from "../../src/db/index.js";
import { GatekeeperClient } from "../../src/gatekeeper/client/index.js";
import { AUTH_PATH } from "../../src/connector/index.js";
import { AppServiceRegistration } from "../../src/matrix/appservice-bridge.js";
import { startSandbox } from "../../src/sandbox/index.js";
import type { Sandbox, SandboxLogger } from "../../src/sandbox/index.js";
import { startTestHomeserver } from "../../test/harness/homeserver/index.js";
import type { TestHomeserver } from "../../test/harness/homeserver/index.js";
import { startMatrixClient, stopMatrixClient } from "../../test/harness/matrix-user.js";
import type { MatrixClient } from "../../test/harness/matrix-user.js";

import { ALICE, BOB, BOT_LOCALPART, CAROL, PARTNER_ID, SERVER_NAME } from "./people.js";
import type { Person } from "./people.js";

export interface StackOptions {
  /** Folder for config, registration and databases; default a fresh temp folder, removed on close. */
  dir?: string;
  /** The group demo: Carol's app runs too, and both apps take part in groups (§19.1). */
  group?: boolean;
  /** Also create this person's account, for someone to play in a terminal (for --keep). */
  terminalUser?: Person;
  /** Where the sandbox logs (default: nowhere). */
  sandboxLogger?: SandboxLogger;
  /** Reports each start-up step, so a failure can say what it was doing. */
  onStep?: (step: string) => void;
}

export interface Stack {
  readonly dir: string;
  readonly configPath: string;
  readonly registrationPath: string;
  readonly config: Config;
  readonly homeserver: TestHomeserver;
  readonly sandbox: Sandbox;
  readonly bridge: RunningBridge;
  readonly botMxid: string;
  /** Alice's Matrix account; the password is the demo's own throwaway one. */
  readonly alice: { client: MatrixClient; userId: string; password: string };
  readonly bob: Native;
  /** With `group`. */
  readonly carol?: Native;
  /** With `terminalUser`: their account, for nobody in this process to use. */
  readonly terminal?: { name: string; jid: string };
  /** Stops everything (idempotent); removes the folder unless it was given. */
  close(): Promise<void>;
}

export interface Native {
  client: GatekeeperClient;
  jid: string;
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, "close");
  return port;
}

/** A given folder must be new or empty: a database left from an earlier run would not fit. */
function prepareDir(dir: string | undefined): { dir: string; owned: boolean } {
  if (dir === undefined) return { dir: mkdtempSync(join(tmpdir(), "gkb-demo-")), owned: true };
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  if (readdirSync(abs).length > 0) {
    throw new Error(`--dir ${dir} is not empty; give the demo a new or empty folder`);
  }
  return { dir: abs, owned: false };
}

function configYaml(o: {
  homeserverUrl: string;
  appservicePort: number;
  partnerPort: number;
  sandbox: Sandbox;
  partnerSecret: string;
  dir: string;
}): string {
  const doc = {
    homeserver: { url: o.homeserverUrl, domain: SERVER_NAME },
    appservice: {
      port: o.appservicePort,
      bind_address: "127.0.0.1",
      bot: { localpart: BOT_LOCALPART, display_name: "Gatekeeper bridge bot" },
    },
    gatekeeper: {
      url: o.sandbox.url,
      static_key: o.sandbox.publicKeyBase64,
      partner_id: PARTNER_ID,
      partner_secret: o.partnerSecret,
      public_base_url: `http://127.0.0.1:${o.partnerPort}`,
      listen: { port: o.partnerPort, bind_address: "127.0.0.1" },
    },
    database: { type: "sqlite", filename: join(o.dir, "bridge.sqlite") },
    // In the demo's folder: the default (./data/media) would be the working directory's.
    bridge: { permissions: { [SERVER_NAME]: "user" }, media: { directory: join(o.dir, "media") } },
    logging: { level: "info", format: "text" },
  };
  return (
    "# Written by `npm run demo` for its throwaway stack (see config.sample.yaml for every option).\n" +
    yaml.dump(doc)
  );
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const step = opts.onStep ?? (() => undefined);
  const { dir, owned } = prepareDir(opts.dir);
  const closers: (() => Promise<void> | void)[] = [];
  if (owned) closers.push(() => rmSync(dir, { recursive: true, force: true }));
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // Reverse start order; one failing step must not keep the others from running.
      for (const fn of closers.splice(0).reverse()) {
        try {
          await fn();
        } catch {
          // Best effort: the process ends right after.
        }
      }
    })());

  try {
    step("starting the test homeserver");
    const homeserver = await startTestHomeserver({ serverName: SERVER_NAME });
    closers.push(() => homeserver.close());

    const appservicePort = await freePort();
    const partnerPort = await freePort();
    const partnerSecret = randomBytes(24).toString("base64url");

    step("starting the gatekeeper sandbox");
    const sandbox = await startSandbox({
      partners: [
        {
          id: PARTNER_ID,
          authUrl: `http://127.0.0.1:${partnerPort}${AUTH_PATH}`,
          secret: partnerSecret,
        },
      ],
      ...(opts.sandboxLogger ? { logger: opts.sandboxLogger } : {}),
    });
    closers.push(() => sandbox.close());

    step("writing config.yaml and registration.yaml");
    const configPath = join(dir, "config.yaml");
    const registrationPath = join(dir, "registration.yaml");
    writeFileSync(
      configPath,
      configYaml({
        homeserverUrl: homeserver.url,
        appservicePort,
        partnerPort,
        sandbox,
        partnerSecret,
        dir,
      }),
      { mode: 0o600 },
    );
    // The environment is left out: the demo's stack must not pick up a real bridge's secrets.
    const config = loadConfig(configPath, {});
    const generated = newRegistration(config, `http://127.0.0.1:${appservicePort}`, {});
    writeFileSync(registrationPath, yaml.dump(generated), { mode: 0o600 });

    // As an admin would: the homeserver reads the registration file, the bridge loads it.
    const registrationDoc = yaml.load(
      readFileSync(registrationPath, "utf8"),
    ) as RegistrationDocument;
    homeserver.addAppService(registrationDoc);
    const registration = AppServiceRegistration.fromObject(registrationDoc);
    checkRegistration(config, registration, registrationPath);

    step("starting the bridge");
    const bridge = await startBridge(config, registration, { port: config.appservice.port });
    closers.push(() => bridge.stop());

    /** A native user who opted in to the bridge, with their app connected. */
    const native = async (who: Person): Promise<Native> => {
      step(`creating ${who.name}, a native gatekeeper user`);
      const user = await sandbox.admin.addUser({ phone: who.phone, name: who.name });
      await sandbox.admin.updateSettings(who.phone, { enabled: true, partners: [PARTNER_ID] });
      const file = join(dir, `${who.name.toLowerCase()}.sqlite`);
      const db: Knex = await openDatabase({ type: "sqlite", filename: file });
      closers.push(() => db.destroy());
      await migrate(db);
      const client = new GatekeeperClient({
        url: sandbox.url,
        serverStaticKey: sandbox.publicKey,
        db,
        account: {
          product: "native",
          accountId: user.accountId,
          token: user.token,
          pushName: who.name,
        },
        ...(opts.group ? { groups: true } : {}),
      });
      step(`connecting ${who.name}'s app to the sandbox`);
      await client.start();
      closers.push(() => client.stop());
      return { client, jid: user.jid };
    };
    const bob = await native(BOB);
    const carol = opts.group ? await native(CAROL) : undefined;
    let terminal: { name: string; jid: string } | undefined;
    if (opts.terminalUser) {
      const { name, phone } = opts.terminalUser;
      terminal = { name, jid: (await sandbox.admin.addUser({ phone, name })).jid };
      await sandbox.admin.updateSettings(phone, { enabled: true, partners: [PARTNER_ID] });
    }

    step("creating Alice, a Matrix user");
    const password = randomBytes(9).toString("base64url");
    const aliceUser = await homeserver.registerUser(ALICE.localpart, password);
    const alice = await startMatrixClient({ baseUrl: homeserver.url, ...aliceUser });
    closers.push(() => stopMatrixClient(alice));

    return {
      dir,
      configPath,
      registrationPath,
      config,
      homeserver,
      sandbox,
      bridge,
      botMxid: `@${BOT_LOCALPART}:${SERVER_NAME}`,
      alice: { client: alice, userId: aliceUser.userId, password },
      bob,
      ...(carol ? { carol } : {}),
      ...(terminal ? { terminal } : {}),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
