/**
 * Puppets hold a member's power level in their portals: a new portal's puppet lowers itself
 * at once, and portals from before (or whose lowering failed) are lowered once after a start,
 * in the background, never twice.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RequestFailedError } from "../../../src/core/request-error.js";
import { rowCacheOf } from "../../../src/db/repositories/index.js";
import { CoreFixture, newPhone } from "./fixture.js";

const ALICE = "@alice:test.local";

describe("puppets' power level in portals (sandbox, real clients, SQLite)", () => {
  let f: CoreFixture;
  let mgmt: string;

  beforeEach(async () => {
    f = await CoreFixture.start();
    mgmt = await f.login(ALICE, newPhone());
  });
  afterEach(async () => {
    await f.close();
  });

  async function startChat(name: string): Promise<string> {
    const friend = await f.nativeUser(name);
    const [reply] = await f.command(ALICE, mgmt, `start ${friend.phone}`);
    expect(reply).toContain("Started a chat with");
    const login = (await f.core.repos.logins.getByMxid(ALICE))!;
    return (await f.core.repos.portals.getByContact(login.id, friend.jid))!.roomId!;
  }

  it("lowers a new portal's puppet right after the room is made, and remembers it", async () => {
    const room = await startChat("Bob");
    expect(f.matrix.lowered.map((l) => l.roomId)).toEqual([room]);
    const portal = (await f.core.repos.portals.getByRoom(room))!;
    expect(await f.core.repos.portals.listPuppetPowerUnchecked(0, 10)).toEqual([]);
    // A restart finds nothing to do.
    await f.stopCore();
    await f.startCore();
    await new Promise((r) => setTimeout(r, 300));
    expect(f.matrix.lowered).toHaveLength(1);
    expect(portal.roomId).toBe(room);
  });

  it("lowers the puppets of portals from before once, after a start", async () => {
    const rooms = [await startChat("Bob"), await startChat("Carol")];
    // As an earlier version left them: puppets at 100, nothing remembered.
    await f.db("bridge_portals").update({ puppet_power_lowered: false });
    rowCacheOf(f.db).forget(); // changed around the repositories: the bridge's copy is old
    f.matrix.lowered.length = 0;
    await f.stopCore();
    await f.startCore();
    await f.matrix.until(() => f.matrix.lowered.length === 2);
    expect(f.matrix.lowered.map((l) => l.roomId)).toEqual(rooms);
    expect(await f.core.repos.portals.listPuppetPowerUnchecked(0, 10)).toEqual([]);
  });

  it("tries again at the next start when the homeserver could not be reached; not when it refused", async () => {
    f.matrix.lowerFails = new RequestFailedError("transient", "network", "unreachable");
    const room = await startChat("Bob");
    expect(f.matrix.lowered).toEqual([]);
    expect(
      (await f.core.repos.portals.listPuppetPowerUnchecked(0, 10)).map((p) => p.roomId),
    ).toEqual([room]);
    // Refused for good (the puppet left the room): nothing more to do there.
    f.matrix.lowerFails = new RequestFailedError("permanent", "M_FORBIDDEN", "not in the room");
    await f.stopCore();
    await f.startCore();
    await expect
      .poll(() => f.core.repos.portals.listPuppetPowerUnchecked(0, 10), { timeout: 5_000 })
      .toEqual([]);
  });
});
