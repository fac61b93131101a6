/**
 * `status` with several workers and for admins. The core here is one process, so the
 * commands run on a dispatcher made of the core's parts plus the two fields the bridge
 * gives it (`scale`, `permission`); `scale` answers from a table of leases the test sets
 * (the lease store itself is tested on PostgreSQL in test/integration/scale).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { permissionLevel } from "../../../src/config/index.js";
import { CommandDispatcher } from "../../../src/core/commands/dispatcher.js";
import type { CommandEnv } from "../../../src/core/commands/types.js";
import { silentLogger } from "../../../src/core/logger.js";
import { CoreFixture, newPhone } from "./fixture.js";

const ADMIN = "@admin:test.local";
const THIS_WORKER = "worker-a";

describe("status: the worker holding a login, and other users' status for admins", () => {
  let f: CoreFixture;
  /** login id → the worker holding its lease (absent: none holds it). */
  const leases = new Map<string, string>();
  let live = 2;
  let commands: CommandDispatcher;

  /** `mxid` sends `text` in their management room; the bot's answer. */
  async function ask(mxid: string, text: string): Promise<string> {
    const replies: string[] = [];
    const ctx = {
      sender: mxid,
      roomId: "!mgmt:test.local",
      portal: undefined,
      inManagementRoom: true,
    };
    const parsed = commands.parse(text, ctx);
    if (!parsed) throw new Error(`not a command: ${text}`);
    await commands.run(parsed, { ...ctx, reply: async (t) => void replies.push(t) });
    return replies.join("\n");
  }

  async function loginIdOf(mxid: string): Promise<string> {
    return (await f.core.repos.logins.getByMxid(mxid))!.id;
  }

  beforeAll(async () => {
    f = await CoreFixture.start();
    const config = {
      ...f.config,
      bridge: {
        ...f.config.bridge,
        permissions: { ...f.config.bridge.permissions, [ADMIN]: "admin" as const },
      },
    };
    const env: CommandEnv = {
      repos: f.core.repos,
      network: f.network,
      logins: f.core.logins,
      portals: f.core.portals,
      puppets: f.core.puppets,
      relayOut: f.core.relayOut,
      commandPrefix: config.bridge.commandPrefix,
      spaceName: config.bridge.spaceName,
      scale: {
        workerId: THIS_WORKER,
        holder: async (loginId) => {
          const workerId = leases.get(loginId);
          return workerId === undefined ? undefined : { workerId, expiresInMs: 15_000 };
        },
        liveWorkers: async () => live,
      },
      permission: (mxid) => permissionLevel(config, mxid),
    };
    commands = new CommandDispatcher(
      env,
      (mxid) => permissionLevel(config, mxid) !== "none",
      silentLogger,
    );
  });
  afterAll(async () => {
    await f.close();
  });

  it("names the worker holding the user's login, last", async () => {
    const mxid = "@held:test.local";
    const phone = newPhone();
    await f.login(mxid, phone);
    leases.set(await loginIdOf(mxid), THIS_WORKER);
    live = 3;
    expect((await ask(mxid, "status")).split("\n")).toEqual([
      `Logged in to Gatekeeper as ${phone}.`,
      "Connection: connected.",
      "Chats: 0, message requests: 0, blocked: 0.",
      `Bridge worker: ${THIS_WORKER} (one of 3 running).`,
    ]);
  });

  it("says when no worker holds the login", async () => {
    const mxid = "@moving:test.local";
    await f.login(mxid, newPhone());
    leases.delete(await loginIdOf(mxid));
    const status = await ask(mxid, "status");
    expect(status.split("\n").at(-1)).toBe(
      "Bridge worker: none holds your login right now (it is being moved; this takes up to half a minute).",
    );
  });

  it("takes the connection from the database while another worker holds the login", async () => {
    const mxid = "@elsewhere:test.local";
    await f.login(mxid, newPhone());
    const loginId = await loginIdOf(mxid);
    leases.set(loginId, "worker-b");
    live = 2;
    // This process's client is connected; the holder wrote that it is not.
    await f.core.repos.logins.setState(loginId, "disconnected");
    expect(f.network.connectionState(loginId)).toBe("connected");
    const status = await ask(mxid, "status");
    expect(status).toContain("Connection: disconnected.");
    expect(status).toContain("Bridge worker: worker-b (one of 2 running).");
    await f.core.repos.logins.setState(loginId, "connected");
  });

  it("shows an admin another user's login, chats and worker, without their number", async () => {
    const mxid = "@watched:test.local";
    const phone = newPhone();
    const room = await f.login(mxid, phone);
    const friend = await f.nativeUser("Friend");
    expect((await f.command(mxid, room, `start ${friend.phone}`)).join()).toContain("Started");
    leases.set(await loginIdOf(mxid), "worker-c");
    live = 3;
    const status = await ask(ADMIN, `status ${mxid}`);
    expect(status.split("\n")).toEqual([
      `${mxid} is logged in (connected).`,
      "Chats: 1, message requests: 0, blocked: 0.",
      "Bridge worker: worker-c (one of 3 running).",
    ]);
    expect(status).not.toContain(phone);
    expect(status).not.toContain(phone.slice(1));
  });

  it("answers an admin from the database: enlisting, logged out, no login", async () => {
    const enlisting = "@halfway:test.local";
    const phone = newPhone();
    expect(await ask(enlisting, `login ${phone}`)).toContain("code");
    const halfway = await ask(ADMIN, `status ${enlisting}`);
    expect(halfway).toContain(
      `${enlisting} is not logged in yet (enlisting: waiting for the code sent to their phone).`,
    );
    expect(halfway).not.toContain(phone);

    const ended = "@ended:test.local";
    await f.login(ended, newPhone());
    await f.core.repos.logins.setState(await loginIdOf(ended), "logged-out");
    expect((await ask(ADMIN, `status ${ended}`)).split("\n")).toEqual([
      `${ended} is not logged in (logged-out: their session was ended).`,
      "Chats: 0, message requests: 0, blocked: 0.",
    ]);

    expect(await ask(ADMIN, "status @nobody:test.local")).toBe(
      "@nobody:test.local is not logged in (no Gatekeeper login on this bridge).",
    );
  });

  it("refuses another user's status to a user who is not an admin", async () => {
    const mxid = "@curious:test.local";
    await f.login(mxid, newPhone());
    expect(await ask(mxid, "status @watched:test.local")).toBe(
      "Only bridge admins can see another user's status.",
    );
    // Their own ID is their own status.
    expect(await ask(mxid, `status ${mxid}`)).toContain("Logged in to Gatekeeper as");
  });

  it("answers a malformed user ID with how to write it", async () => {
    for (const text of ["status alice", "status @alice", "status @alice:test.local extra"]) {
      const reply = await ask(ADMIN, text);
      expect(reply).toContain("is not a Matrix user ID");
      expect(reply).toContain("`status @alice:example.org`");
    }
    expect(await ask(ADMIN, "status @alice")).toMatch(/^`@alice` is not a Matrix user ID/);
  });

  it("lists both forms in the help", async () => {
    expect(await ask(ADMIN, "help")).toContain(
      "- `status [@user:server]`: your number, the connection and your chats (bridge admins: another user's)",
    );
  });
});
