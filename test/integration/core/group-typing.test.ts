/**
 * Group typing, Remote → Matrix, with several logins of this bridge in the group: each hears
 * every chat state, through its own connection, so copies come in any order. The puppet must
 * follow one stream (a late "composing" through another login never shows typing again after
 * "paused"), take the other login's once the followed one fell silent, and never type for a
 * Matrix user whose own typing came back through another login.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupTyping } from "../../../src/core/group-typing.js";
import { silentLogger } from "../../../src/core/logger.js";
import type { RemoteNetwork } from "../../../src/core/network.js";
import { Puppets } from "../../../src/core/puppets.js";
import { REMOTE_TYPING_TIMEOUT_MS } from "../../../src/core/typing.js";
import { repositories } from "../../../src/db/repositories/index.js";
import type { Repositories } from "../../../src/db/repositories/index.js";
import { GATEKEEPER_CAPABILITIES } from "../../../src/connector/index.js";
import { openTestDatabase } from "../db/databases.js";
import type { TestDatabase } from "../db/databases.js";
import { RecordingMatrixSide } from "./recording-matrix-side.js";

class TypingMatrixSide extends RecordingMatrixSide {
  readonly typing: { roomId: string; mxid: string; typing: boolean }[] = [];
  async setTyping(roomId: string, mxid: string, typing: boolean): Promise<void> {
    this.typing.push({ roomId, mxid, typing });
  }
}

const GROUP = "120363000000000001@g.gk";
const CAROL = "482910375561204@lid.gk";
const ROOM = "!group:test.local";

describe("a member's chat states heard through several logins", () => {
  let t: TestDatabase;
  let repos: Repositories;
  let puppets: Puppets;
  let aliceJid: string;
  const logins: string[] = [];

  beforeAll(async () => {
    t = await openTestDatabase("sqlite", { migrate: true });
    repos = repositories(t.db);
    const { portal } = await repos.groupPortals.ensure(GROUP);
    await repos.portals.setRoom(portal.id, ROOM);
    for (const name of ["alice", "bea"]) {
      const login = await repos.logins.create({
        mxid: `@${name}:test.local`,
        phone: name === "alice" ? "+4915120000001" : "+4915120000002",
      });
      await repos.logins.setJid(login.id, `${name}.1@interop`);
      await repos.groupPortals.addMember(portal.id, login.id);
      logins.push(login.id);
    }
    aliceJid = "alice.1@interop";
    puppets = new Puppets(repos.puppets, new RecordingMatrixSide());
    await puppets.ensure({ id: CAROL, name: "Carol" });
  });

  afterAll(async () => {
    await t?.close();
  });

  function relay(now: () => number) {
    const matrix = new TypingMatrixSide();
    const network = { capabilities: GATEKEEPER_CAPABILITIES } as RemoteNetwork;
    const typing = new GroupTyping({
      repos,
      matrix,
      network,
      puppets,
      logger: silentLogger,
      mayUse: () => true,
      now,
    });
    return { typing, shown: () => matrix.typing.map((e) => e.typing) };
  }

  it("follows the login heard first, so a late copy cannot restart typing", async () => {
    const [a, b] = [logins[0]!, logins[1]!];
    const { typing, shown } = relay(() => 1_000);
    await typing.onRemoteTyping(a, GROUP, CAROL, "composing");
    await typing.onRemoteTyping(a, GROUP, CAROL, "paused");
    await typing.onRemoteTyping(b, GROUP, CAROL, "composing"); // the same, late
    await typing.onRemoteTyping(b, GROUP, CAROL, "paused");
    expect(shown()).toEqual([true, false]);
  });

  it("takes the other login's chat states once the followed one fell silent", async () => {
    const [a, b] = [logins[0]!, logins[1]!];
    let now = 1_000;
    const { typing, shown } = relay(() => now);
    await typing.onRemoteTyping(a, GROUP, CAROL, "composing");
    now += REMOTE_TYPING_TIMEOUT_MS; // Alice's login went offline, say
    await typing.onRemoteTyping(b, GROUP, CAROL, "composing");
    await typing.onRemoteTyping(b, GROUP, CAROL, "recording");
    await typing.onRemoteTyping(b, GROUP, CAROL, "paused");
    expect(shown()).toEqual([true, true, true, false]);
  });

  it("shows no puppet typing for a Matrix user's own typing", async () => {
    const { typing, shown } = relay(() => 1_000);
    await typing.onRemoteTyping(logins[1]!, GROUP, aliceJid, "composing");
    expect(shown()).toEqual([]);
  });
});
