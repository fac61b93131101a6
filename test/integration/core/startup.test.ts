import { createServer, connect } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeContent } from "../../../src/gatekeeper/content/index.js";
import { rowCacheOf } from "../../../src/db/repositories/index.js";
import { CoreFixture, eventually, newPhone } from "./fixture.js";

/** A TCP door in front of the sandbox that can be shut (connections refused) and opened. */
class Door {
  open = false;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  async listen(): Promise<void> {
    const server = createServer((inbound) => {
      if (!this.open) {
        inbound.destroy();
        return;
      }
      const outbound = connect(Number(this.target.port), this.target.hostname);
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Drops every connection through the door, as a network failure does. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
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

  it("starts anyway, connects once the gatekeeper is back, and sends what waited", async () => {
    const mxid = "@patient:test.local";
    const mgmt = await f.login(mxid, newPhone());
    const bob = await f.nativeUser("Bob");
    await f.command(mxid, mgmt, `start ${bob.phone}`);
    const login = (await f.core.repos.logins.getByMxid(mxid))!;
    const portal = (await f.core.repos.portals.getByContact(login.id, bob.jid))!;

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
