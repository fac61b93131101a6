/**
 * Mentions in group rooms, the core's mapping on a real database: a member's remote mentions
 * become pills for the member's puppet or, for one of this bridge's logins, for its Matrix
 * user (named as the room knows them); a Matrix user's pills become remote mentions only for
 * members (a puppet the group lists, a login that is a member of the portal). The spans move
 * with a quote put before the text, and an outbox row keeps them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BridgeContent } from "../../../src/core/content.js";
import {
  mentionsToMatrix,
  mentionsToRemote,
  withTextPrefix,
} from "../../../src/core/group-mentions.js";
import { silentLogger } from "../../../src/core/logger.js";
import type { RemoteGroupInfo, RemoteNetwork } from "../../../src/core/network.js";
import { decodeOutboxPayload, encodeOutboxPayload } from "../../../src/core/outbox-payload.js";
import { repositories } from "../../../src/db/repositories/index.js";
import type { GroupPortal, Login, Repositories } from "../../../src/db/repositories/index.js";
import { GATEKEEPER_CAPABILITIES } from "../../../src/connector/index.js";
import { openTestDatabase } from "../db/databases.js";
import type { TestDatabase } from "../db/databases.js";
import { RecordingMatrixSide } from "./recording-matrix-side.js";

class NamingMatrixSide extends RecordingMatrixSide {
  readonly names = new Map<string, string>();
  async memberName(_roomId: string, mxid: string): Promise<string | undefined> {
    return this.names.get(mxid);
  }
}

const GROUP = "120363000000000001@g.gk";
const ROOM = "!group:test.local";
const CAROL = "482910375561204@lid.gk";
const DAN = "482910375561206@lid.gk";
const NOBODY = "482910375561299@lid.gk";
const CAROL_MXID = "@gk_482910375561204:test.local";
const DAN_MXID = "@gk_482910375561206:test.local";

describe("group mentions in the core", () => {
  let t: TestDatabase;
  let repos: Repositories;
  let portal: GroupPortal;
  let alice: Login;
  let bea: Login;
  const matrix = new NamingMatrixSide();

  beforeAll(async () => {
    t = await openTestDatabase("sqlite", { migrate: true });
    repos = repositories(t.db);
    portal = (await repos.groupPortals.ensure(GROUP)).portal;
    await repos.portals.setRoom(portal.id, ROOM);
    const made: Login[] = [];
    for (const [name, phone] of [
      ["alice", "+4915120000001"],
      ["bea", "+4915120000002"],
    ] as const) {
      const login = await repos.logins.create({ mxid: `@${name}:test.local`, phone });
      await repos.logins.setJid(login.id, `matrix.${name}@interop`);
      await repos.groupPortals.addMember(portal.id, login.id);
      made.push((await repos.logins.get(login.id))!);
    }
    [alice, bea] = made as [Login, Login];
    await repos.puppets.ensure(CAROL, CAROL_MXID, { displayName: "Carol" });
    // Dan has a puppet (a one-to-one contact) but is no member of the group.
    await repos.puppets.ensure(DAN, DAN_MXID, { phone: "+4915120000006" });
    matrix.names.set(bea.mxid, "Bea B.");
  });

  afterAll(async () => {
    await t?.close();
  });

  const deps = () => ({ repos, matrix, logger: silentLogger });

  describe("remote → Matrix", () => {
    it("makes pills of the puppet and of the login's Matrix user, named, and lists both", async () => {
      const text = "@482910375561204 @matrix.bea @482910375561299 @482910375561206";
      const content: BridgeContent = {
        kind: "text",
        text,
        mentions: [alice.mxid], // a reply to Alice's message mentioned her already
        remoteMentions: [
          { start: 0, end: 16, id: CAROL },
          { start: 17, end: 28, id: bea.jid! },
          { start: 29, end: 45, id: NOBODY },
          { start: 46, end: 62, id: DAN },
        ],
      };
      expect(await mentionsToMatrix(deps(), ROOM, content)).toEqual({
        kind: "text",
        text,
        mentions: [alice.mxid, CAROL_MXID, bea.mxid, DAN_MXID],
        matrixMentions: [
          { start: 0, end: 16, mxid: CAROL_MXID, name: "Carol" },
          { start: 17, end: 28, mxid: bea.mxid, name: "Bea B." },
          // Never seen by the bridge: it stays text. A puppet without a name shows the number.
          { start: 46, end: 62, mxid: DAN_MXID, name: "+4915120000006" },
        ],
      });
    });

    it("names a Matrix user without a display name in the room by their user id's local part", async () => {
      const out = await mentionsToMatrix(deps(), ROOM, {
        kind: "text",
        text: "@matrix.alice",
        remoteMentions: [{ start: 0, end: 13, id: alice.jid! }],
      });
      expect(out).toMatchObject({ matrixMentions: [{ mxid: alice.mxid, name: "alice" }] });
    });

    it("leaves content without mentions as it is", async () => {
      const content: BridgeContent = { kind: "text", text: "@482910375561204" };
      expect(await mentionsToMatrix(deps(), ROOM, content)).toBe(content);
    });

    it("moves the spans with a quote put before the text", () => {
      const out = withTextPrefix(
        { kind: "text", text: "@x", remoteMentions: [{ start: 0, end: 2, id: CAROL }] },
        "> quoted\n",
      );
      expect(out).toEqual({
        kind: "text",
        text: "> quoted\n@x",
        remoteMentions: [{ start: 9, end: 11, id: CAROL }],
      });
    });
  });

  describe("Matrix → remote", () => {
    const participants: RemoteGroupInfo["participants"] = [
      { id: CAROL, role: "superadmin" },
      { id: "matrix.alice@interop", role: "member" },
      { id: "matrix.bea@interop", role: "member" },
    ];
    const network = (info: () => Promise<RemoteGroupInfo>) =>
      ({ capabilities: GATEKEEPER_CAPABILITIES, groupInfo: info }) as unknown as RemoteNetwork;
    const pills: BridgeContent = {
      kind: "text",
      text: "Carol Bea Dan Zoe",
      matrixMentions: [
        { start: 0, end: 5, mxid: CAROL_MXID },
        { start: 6, end: 9, mxid: "@bea:test.local" },
        { start: 10, end: 13, mxid: DAN_MXID },
        { start: 14, end: 17, mxid: "@zoe:test.local" },
      ],
    };

    it("mentions a member's puppet and a member login; others stay their text", async () => {
      let asked = 0;
      const o = {
        repos,
        logger: silentLogger,
        network: network(async () => {
          asked++;
          return { id: GROUP, subject: "G", participants };
        }),
      };
      expect(await mentionsToRemote(o, portal, alice, pills)).toEqual({
        kind: "text",
        text: "Carol Bea Dan Zoe",
        remoteMentions: [
          { start: 0, end: 5, id: CAROL },
          { start: 6, end: 9, id: "matrix.bea@interop" },
        ],
      });
      expect(asked).toBe(1);
    });

    it("a Matrix user whose login is no member is not mentioned", async () => {
      await repos.groupPortals.removeMember(portal.id, bea.id);
      try {
        const o = {
          repos,
          logger: silentLogger,
          network: network(async () => ({ id: GROUP, subject: "G", participants })),
        };
        const out = await mentionsToRemote(o, portal, alice, pills);
        expect(out).toEqual({
          kind: "text",
          text: "Carol Bea Dan Zoe",
          remoteMentions: [{ start: 0, end: 5, id: CAROL }],
        });
      } finally {
        await repos.groupPortals.addMember(portal.id, bea.id);
      }
    });

    it("when the group cannot be asked, puppets stay text and the message still goes", async () => {
      const o = {
        repos,
        logger: silentLogger,
        network: network(() => Promise.reject(new Error("offline"))),
      };
      const out = await mentionsToRemote(o, portal, alice, pills);
      expect(out).toEqual({
        kind: "text",
        text: "Carol Bea Dan Zoe",
        remoteMentions: [{ start: 6, end: 9, id: "matrix.bea@interop" }],
      });
    });

    it("an outbox row keeps the remote mentions of a text and of a caption", () => {
      const text: BridgeContent = {
        kind: "text",
        text: "Carol",
        remoteMentions: [{ start: 0, end: 5, id: CAROL }],
      };
      expect(decodeOutboxPayload(encodeOutboxPayload(text))).toEqual(text);
      const image = decodeOutboxPayload(
        encodeOutboxPayload({
          kind: "image",
          media: { uri: "mxc://x/y", mimetype: "image/png", open: () => Promise.reject() },
          caption: "Carol",
          remoteMentions: [{ start: 0, end: 5, id: CAROL }],
        }),
      );
      expect(image).toMatchObject({ remoteMentions: [{ start: 0, end: 5, id: CAROL }] });
    });
  });
});
