/**
 * Security notices in group rooms, with two logins of this bridge in the group: each has its
 * own session with a member, so each sees the member's new identity and each may fail to
 * decrypt the same message. The room must be told once, and not at all about a message that
 * another login decrypted and posted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupNotices } from "../../../src/core/group-notices.js";
import { silentLogger } from "../../../src/core/logger.js";
import type { RemoteGroupInfo, RemoteNetwork } from "../../../src/core/network.js";
import { Puppets } from "../../../src/core/puppets.js";
import { repositories } from "../../../src/db/repositories/index.js";
import type { Login, Repositories } from "../../../src/db/repositories/index.js";
import { GATEKEEPER_CAPABILITIES } from "../../../src/connector/index.js";
import { openTestDatabase } from "../db/databases.js";
import type { TestDatabase } from "../db/databases.js";
import { RecordingMatrixSide } from "./recording-matrix-side.js";

const GROUP = "120363000000000002@g.gk";
const OTHER_GROUP = "120363000000000003@g.gk";
const CAROL = "482910375561204@lid.gk";
const DAVE = "482910375561205@lid.gk";
const ROOM = "!group:test.local";
const OTHER_ROOM = "!other:test.local";

describe("security notices in a group's room, heard through several logins", () => {
  let t: TestDatabase;
  let repos: Repositories;
  let puppets: Puppets;
  let matrix: RecordingMatrixSide;
  let notices: GroupNotices;
  let portalId: number;
  const logins: Login[] = [];

  beforeAll(async () => {
    t = await openTestDatabase("sqlite", { migrate: true });
    repos = repositories(t.db);
    const { portal } = await repos.groupPortals.ensure(GROUP);
    portalId = portal.id;
    await repos.portals.setRoom(portal.id, ROOM);
    const other = (await repos.groupPortals.ensure(OTHER_GROUP)).portal;
    await repos.portals.setRoom(other.id, OTHER_ROOM);
    for (const name of ["alice", "bea"]) {
      const created = await repos.logins.create({
        mxid: `@${name}:test.local`,
        phone: name === "alice" ? "+4915120000001" : "+4915120000002",
      });
      await repos.logins.setJid(created.id, `${name}.1@interop`);
      await repos.groupPortals.addMember(portal.id, created.id);
      await repos.groupPortals.addMember(other.id, created.id);
      logins.push((await repos.logins.get(created.id))!);
    }
    matrix = new RecordingMatrixSide();
    puppets = new Puppets(repos.puppets, matrix);
    await puppets.ensure({ id: CAROL, name: "Carol" });
    await puppets.ensure({ id: DAVE, name: "Dave" });
    // Carol is in both groups; Dave only in the first.
    const info = (id: string): RemoteGroupInfo => ({
      id,
      subject: id,
      participants: [
        { id: "alice.1@interop", role: "superadmin" },
        { id: "bea.1@interop", role: "member" },
        { id: CAROL, role: "member" },
        ...(id === GROUP ? [{ id: DAVE, role: "member" as const }] : []),
      ],
    });
    const network = {
      capabilities: GATEKEEPER_CAPABILITIES,
      groupInfo: async (_login: string, id: string) => info(id),
    } as unknown as RemoteNetwork;
    notices = new GroupNotices({
      repos,
      matrix,
      network,
      puppets,
      logger: silentLogger,
      policy: "keep-sending",
      commandPrefix: "!gk",
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  const texts = (roomId: string) =>
    matrix.events.filter((e) => e.roomId === roomId).map((e) => e.text);

  it("a member's identity change is told once in each group room they share, by either login", async () => {
    const [alice, bea] = [logins[0]!, logins[1]!];
    await notices.onIdentityChange(alice, DAVE, 1_000);
    await notices.onIdentityChange(bea, DAVE, 2_000);
    await notices.onIdentityChange(bea, CAROL, 3_000);
    const daveIn = (r: string) => texts(r).filter((x) => x.startsWith("Dave's security code"));
    expect(daveIn(ROOM)).toHaveLength(1);
    expect(daveIn(OTHER_ROOM)).toHaveLength(0); // he is not in that group
    expect(texts(OTHER_ROOM).filter((x) => x.startsWith("Carol's security code"))).toHaveLength(1);
    expect(daveIn(ROOM)[0]).toContain("`!gk safety-number @gk_482910375561205:test.local`");
    // A later change (past the window) is told again.
    await notices.onIdentityChange(alice, DAVE, 1_000 + 11 * 60_000);
    expect(daveIn(ROOM)).toHaveLength(2);
  });

  it("an undecryptable group message is told once, whichever logins fail", async () => {
    const [alice, bea] = [logins[0]!, logins[1]!];
    await notices.onUndecryptable(alice, GROUP, CAROL, "M1", "undecryptable");
    await notices.onUndecryptable(bea, GROUP, CAROL, "M1", "undecryptable");
    const told = texts(ROOM).filter((x) => x.startsWith("A message from Carol"));
    expect(told).toEqual([
      "A message from Carol could not be decrypted. The bridge asked their app to send it again.",
    ]);
  });

  it("says nothing about a message another login decrypted and posted", async () => {
    await repos.messageMap.add({
      portalId,
      mxEventId: "$posted",
      remoteId: "M2",
      remoteSender: CAROL,
      timestamp: 1,
    });
    await notices.onUndecryptable(logins[1]!, GROUP, CAROL, "M2", "lost");
    expect(texts(ROOM).filter((x) => x.includes("even after"))).toEqual([]);
  });

  it("says nothing to a login that is not a member of the group", async () => {
    const created = await repos.logins.create({ mxid: "@eve:test.local", phone: "+4915120000009" });
    const eve = (await repos.logins.get(created.id))!;
    const before = matrix.events.length;
    await notices.onUndecryptable(eve, GROUP, CAROL, "M3", "damaged");
    expect(matrix.events.length).toBe(before);
  });
});
