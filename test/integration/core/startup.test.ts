import { createServer, connect } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeContent } from "../../../src/gatekeeper/content/index.js";
import { rowCacheOf } from "../../../src/db/repositories/index.js";
import { AdminClient } from "../../../src/sandbox/admin-client.js";
import { credentialsOf } from "../../../src/core/logins.js";
import { CoreFixture, eventually, newPhone } from "./fixture.js";

/**
 * A TCP door in front of the sandbox that can be shut (connections refused) and opened, or
 * held (connections wait at the door until it opens).
 */
class Door {
  open = false;
  held = false;
  private readonly waiting: Socket[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  async listen(): Promise<void> {
    const server = createServer((inbound) => {
      if (this.held) {
        this.waiting.push(inbound);
        return;
      }
      if (!this.open) {
        inbound.destroy();
        return;
      }
      this.through(inbound);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Opens the door and lets the waiting connections through. */
  release(): void {
    this.held = false;
    this.open = true;
    for (const inbound of this.waiting.splice(0)) this.through(inbound);
  }

  private through(inbound: Socket): void {
    {
      const outbound = connect(Number(this.target.port), this.target.hostname);
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    }
  }

  /** Drops every connection through the door, as a network failure does. */
  cut(): void {
    for (const s of [...this.sockets, ...this.waiting.splice(0)]) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe("connection trouble", () => {
  let f: CoreFixture;
  let door: Door;

  beforeEach(async () => {
    f = await CoreFixture.start();
    door = new Door(new URL(f.sandbox.httpUrl));
    await door.listen();
  });
  afterEach(async () => {
    await f.close();
    await door.close();
  });

  /** `mxid` logged in, with a chat with a new native user Bob. */
  async function chatWithBob(mxid: string) {
    const mgmt = await f.login(mxid, newPhone());
    const bob = await f.nativeUser("Bob");
    await f.command(mxid, mgmt, `start ${bob.phone}`);
    const login = (await f.core.repos.logins.getByMxid(mxid))!;
    const portal = (await f.core.repos.portals.getByContact(login.id, bob.jid))!;
    return { mgmt, bob, login, portal };
  }

  it("starts anyway, connects once the gatekeeper is back, and sends what waited", async () => {
    const mxid = "@patient:test.local";
    const { mgmt, bob, login, portal } = await chatWithBob(mxid);

    await f.stopCore();
    await f.startCore({ gatekeeperUrl: `ws://127.0.0.1:${door.port}/gki/1/chat` });
    expect(f.network.connectionState(login.id)).not.toBe("connected");
    const [status] = await f.command(mxid, mgmt, "status");
    expect(status).not.toContain("Connection: connected");
    await f.write(mxid, portal.roomId!, "sent while the gatekeeper was away");

    door.open = true;
    const [got] = await bob.waitFor(1, 15_000);
    expect(describeContent(got!.content)).toEqual({
      kind: "text",
      text: "sent while the gatekeeper was away",
    });
    expect(f.network.connectionState(login.id)).toBe("connected");
    const connected = async (): Promise<true | undefined> =>
      (await f.core.repos.logins.get(login.id))?.state === "connected" || undefined;
    expect(await eventually(connected)).toBe(true);
  });

  it("starts without waiting for its logins; a message for one still connecting waits for it", async () => {
    const mxid = "@slowstart:test.local";
    const { bob, login, portal } = await chatWithBob(mxid);

    await f.stopCore();
    door.held = true; // the connection hangs at the door: thousands of logins would, too
    await f.startCore({ gatekeeperUrl: `ws://127.0.0.1:${door.port}/gki/1/chat` });
    expect(f.network.connectionState(login.id)).toBe("connecting");
    const eventId = await f.write(mxid, portal.roomId!, "sent while connecting");
    await new Promise((r) => setTimeout(r, 300)); // the outbox has it; it waits, not fails

    door.release();
    const [got] = await bob.waitFor(1, 15_000);
    expect(describeContent(got!.content)).toEqual({ kind: "text", text: "sent while connecting" });
    // It waited for the connection instead of failing as "not connected" and being retried.
    const statuses = (): string[] =>
      f.matrix.statuses.filter((s) => s.eventId === eventId).map((s) => s.status.status);
    await eventually(async () => statuses().length > 0 || undefined);
    expect(statuses()).toEqual(["sent"]);
  });

  it("holds a send for a login it expects until that login's connection was tried", async () => {
    const { bob, login } = await chatWithBob("@queued:test.local");
    await f.stopCore();

    // The gatekeeper's count of who is online (the load bench polls it while thousands connect).
    const admin = new AdminClient(f.sandbox.httpUrl);
    const online = async (): Promise<number> => (await admin.online()).partnerUsers;
    await eventually(async () => (await online()) === 0 || undefined);
    expect((await admin.online()).nativeUsers).toBeGreaterThanOrEqual(1); // Bob

    // At start-up thousands of logins connect a window at a time; this one's turn is later.
    const network = f.newNetwork();
    try {
      network.expect([credentialsOf(login)]);
      expect(network.connectionState(login.id)).toBe("connecting");
      const sent = network.sendMessage(login.id, bob.jid, network.newMessageId(), {
        kind: "text",
        text: "before its turn",
      });
      await new Promise((r) => setTimeout(r, 300));
      await network.connect(credentialsOf(login));
      expect(await online()).toBe(1);
      await sent;
      const [got] = await bob.waitFor(1, 15_000);
      expect(describeContent(got!.content)).toEqual({ kind: "text", text: "before its turn" });
    } finally {
      await network.stop();
    }
  });

  it("tells the user in the management room when the gatekeeper ends the session", async () => {
    const mxid = "@dropped:test.local";
    const phone = newPhone();
    const mgmt = await f.login(mxid, phone);
    const login = (await f.core.repos.logins.getByMxid(mxid))!;
    await f.stopCore();
    door.open = true;
    await f.startCore({ gatekeeperUrl: `ws://127.0.0.1:${door.port}/gki/1/chat` });
    await eventually(async () => f.network.connectionState(login.id) === "connected" || undefined);

    // The credentials stop being valid (as after an account reset); the next login fails.
    await f.db("bridge_logins").where({ id: login.id }).update({ token: "revoked" });
    rowCacheOf(f.db).forget(); // changed around the repositories: the bridge's copy is old
    door.cut();
    const notice = await f.matrix.until(() =>
      f.matrix.notices(mgmt).find((n) => n.includes("ended your session")),
    );
    expect(notice).toContain(`login ${phone}`);
    expect((await f.core.repos.logins.get(login.id))?.state).toBe("logged-out");
    const [status] = await f.command(mxid, mgmt, "status");
    expect(status).toContain("not logged in");
  });
});
