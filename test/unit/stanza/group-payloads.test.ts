import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type GroupChange,
  type GroupInfo,
  type Stanza,
  StanzaError,
  buildDescriptionResult,
  buildGroupChange,
  buildGroupCreate,
  buildGroupCreateResult,
  buildGroupDescription,
  buildGroupInfo,
  buildGroupLeave,
  buildGroupMembership,
  buildGroupParticipating,
  buildGroupPictureDelete,
  buildGroupPictureGet,
  buildGroupPictureSet,
  buildGroupQuery,
  buildGroupSubject,
  buildMembershipResult,
  buildParticipatingResult,
  buildPictureGetResult,
  buildPictureResult,
  encodeStanza,
  formatGroupJid,
  isGroupJid,
  isUserJid,
  isValidJid,
  parseDescriptionResult,
  parseGroupChange,
  parseGroupCreateResult,
  parseGroupInfo,
  parseGroupNotification,
  parseGroupRequest,
  parseJid,
  parseMembershipResult,
  parseParticipatingResult,
  parsePictureGetResult,
  parsePictureResult,
  parseStanza,
  parseXml,
  serializeXml,
} from "../../../src/gatekeeper/stanza/index.js";

const G = "120363041234567890@g.gk";
const LID = "482910375561204@lid.gk";
const LID2 = "482910375561205@lid.gk";
const PARTNER = "matrix.a1b2c3@interop";
const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function caught(fn: () => unknown): StanzaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StanzaError);
    return err as StanzaError;
  }
  throw new Error("expected a StanzaError");
}

/** Through the wire: serialize and parse again, as a peer would see it. */
const wire = (nodes: ReturnType<typeof buildGroupQuery>) =>
  nodes.map((n) => parseXml(serializeXml(n)));

const INFO: GroupInfo = {
  jid: G,
  subject: 'Team <&> "chat"',
  subjectTime: 1764130000,
  subjectOwner: LID,
  creator: LID,
  creation: 1764129000,
  size: 3,
  description: { id: "D1", text: "what we do" },
  pictureId: "P1",
  participants: [
    { jid: LID, role: "superadmin" },
    { jid: PARTNER, role: "admin" },
    { jid: LID2, role: "member" },
  ],
};

describe("group JIDs (§19.1)", () => {
  it("parses, formats and tells groups from users", () => {
    expect(parseJid(G)).toEqual({ kind: "group", jid: G, gid: "120363041234567890" });
    expect(formatGroupJid("120363041234567890")).toBe(G);
    expect(isValidJid(G)).toBe(true);
    expect(isGroupJid(G)).toBe(true);
    expect(isUserJid(G)).toBe(false);
    expect(isUserJid(LID)).toBe(true);
    expect(isUserJid(PARTNER)).toBe(true);
    expect(isUserJid("gk")).toBe(false);
  });

  it.each([
    "12036304123456789@g.gk",
    "1203630412345678901@g.gk",
    "12036304123456789a@g.gk",
    "120363041234567890@g.wa",
  ])("refuses %s", (jid) => {
    expect(isGroupJid(jid)).toBe(false);
    const gid = jid.split("@")[0] ?? "";
    if (!/^\d{18}$/.test(gid)) expect(() => formatGroupJid(gid)).toThrow(RangeError);
  });
});

describe("<group> (§19.2)", () => {
  it("round-trips every field, members in order, member without type", () => {
    const node = buildGroupInfo(INFO);
    expect(node.children.filter((c) => c.tag === "participant")[2]?.attrs.type).toBeUndefined();
    expect(parseGroupInfo(parseXml(serializeXml(node)))).toEqual(INFO);
  });

  it("round-trips a bare group", () => {
    const bare: GroupInfo = { ...INFO, participants: [{ jid: LID, role: "superadmin" }] };
    delete bare.description;
    delete bare.pictureId;
    delete bare.size;
    expect(parseGroupInfo(parseXml(serializeXml(buildGroupInfo(bare))))).toEqual(bare);
  });

  it("refuses a group whose jid is a user (400)", () => {
    const node = buildGroupInfo(INFO);
    node.attrs.jid = LID;
    expect(caught(() => parseGroupInfo(node)).code).toBe(400);
  });
});

describe("w:g2 requests (§19.3)", () => {
  it.each([
    [
      "set",
      buildGroupCreate("Team", [LID, PARTNER]),
      { op: "create", subject: "Team", participants: [LID, PARTNER] },
    ],
    ["set", buildGroupCreate("Solo", []), { op: "create", subject: "Solo", participants: [] }],
    ["get", buildGroupQuery(), { op: "query" }],
    ["get", buildGroupParticipating(), { op: "participating" }],
    ["set", buildGroupSubject("New <name>"), { op: "subject", subject: "New <name>" }],
    [
      "set",
      buildGroupDescription({ prev: "D1", text: "about" }),
      { op: "description", prev: "D1", text: "about" },
    ],
    ["set", buildGroupDescription({ text: "first" }), { op: "description", text: "first" }],
    [
      "set",
      buildGroupDescription({ prev: "D2", delete: true }),
      { op: "description", prev: "D2", delete: true },
    ],
    ["set", buildGroupPictureDelete(), { op: "picture-delete" }],
    ["get", buildGroupPictureGet(), { op: "picture-get" }],
    ["set", buildGroupMembership("add", [LID]), { op: "add", participants: [LID] }],
    [
      "set",
      buildGroupMembership("remove", [LID, LID2]),
      { op: "remove", participants: [LID, LID2] },
    ],
    ["set", buildGroupMembership("promote", [PARTNER]), { op: "promote", participants: [PARTNER] }],
    ["set", buildGroupMembership("demote", [PARTNER]), { op: "demote", participants: [PARTNER] }],
    ["set", buildGroupLeave([G]), { op: "leave", groups: [G] }],
  ] as const)("%s %j reads back", (type, nodes, expected) => {
    expect(parseGroupRequest(type, wire(nodes))).toEqual(expected);
  });

  it("a picture travels as base64 with its mimetype", () => {
    const jpeg = bytes(300);
    const req = parseGroupRequest("set", wire(buildGroupPictureSet(jpeg)));
    expect(req).toEqual({ op: "picture-set", mimetype: "image/jpeg", bytes: jpeg });
  });

  it.each([
    ["set", "<add/>"],
    ["set", '<remove><participant jid="120363041234567890@g.gk"/></remove>'],
    ["set", '<create subject="x"><participant jid="not-a-jid"/></create>'],
    ["set", "<create/>"],
    ["set", "<leave/>"],
    ["set", `<leave><group jid="${LID}"/></leave>`],
    ["set", "<picture>not base64!</picture>"],
    ["get", "<subject/>"],
    ["set", "<frobnicate/>"],
  ] as const)("refuses %s %s with 400", (type, xml) => {
    expect(caught(() => parseGroupRequest(type, [parseXml(xml)])).code).toBe(400);
  });

  it("refuses an empty request and a membership change without anyone to build", () => {
    expect(caught(() => parseGroupRequest("get", [])).code).toBe(400);
    expect(caught(() => buildGroupMembership("add", [])).code).toBe(400);
  });
});

describe("w:g2 results", () => {
  it("create: the group, then one result per participant", () => {
    const results = [{ jid: LID2 }, { jid: PARTNER, error: 403, text: "member-not-opted-in" }];
    expect(parseGroupCreateResult(wire(buildGroupCreateResult(INFO, results)))).toEqual({
      group: INFO,
      results,
    });
  });

  it("participating, description, picture and membership results read back", () => {
    expect(parseParticipatingResult(wire(buildParticipatingResult([INFO, INFO])))).toEqual([
      INFO,
      INFO,
    ]);
    expect(parseParticipatingResult(wire(buildParticipatingResult([])))).toEqual([]);
    expect(parseDescriptionResult(wire(buildDescriptionResult("D9")))).toBe("D9");
    expect(parsePictureResult(wire(buildPictureResult("P9")))).toBe("P9");
    const picture = { id: "P9", mimetype: "image/jpeg", bytes: bytes(40) };
    expect(parsePictureGetResult(wire(buildPictureGetResult(picture)))).toEqual(picture);
    const results = [
      { jid: LID },
      { jid: LID2, error: 409 },
      { jid: PARTNER, error: 429, text: "group-full" },
    ];
    expect(parseMembershipResult("add", wire(buildMembershipResult("add", results)))).toEqual(
      results,
    );
  });
});

describe("w:gp2 notifications (§19.4)", () => {
  const changes: GroupChange[] = [
    { type: "create", group: INFO },
    { type: "add", participants: [LID2, PARTNER] },
    { type: "remove", participants: [LID2] },
    { type: "leave", participants: [LID] },
    { type: "promote", participants: [PARTNER] },
    { type: "demote", participants: [PARTNER] },
    { type: "subject", subject: "S", subjectTime: 1764130000 },
    { type: "description", id: "D2", text: "new" },
    { type: "description", id: "D3", deleted: true },
    { type: "picture", id: "P2" },
    { type: "picture", deleted: true },
  ];

  it.each(changes.map((c) => [c.type, c] as const))(
    "%s round-trips in a notification",
    (_type, change) => {
      const stanza: Stanza = {
        kind: "notification",
        id: "N1",
        type: "w:gp2",
        from: G,
        participant: "gk",
        t: 1764130000,
        children: [buildGroupChange(change)],
      };
      const parsed = parseStanza(encodeStanza(stanza));
      if (parsed.kind !== "notification") throw new Error("not a notification");
      expect(parseGroupNotification(parsed)).toEqual({
        group: G,
        actor: "gk",
        t: 1764130000,
        change,
      });
    },
  );

  it("skips unknown children and refuses a notification without a change", () => {
    expect(
      parseGroupChange([parseXml("<later/>"), buildGroupChange({ type: "picture", id: "P" })]),
    ).toEqual({
      type: "picture",
      id: "P",
    });
    expect(caught(() => parseGroupChange([parseXml("<later/>")])).code).toBe(400);
  });

  it("refuses a w:gp2 notification that is not from a group or has no actor", () => {
    const base = {
      kind: "notification" as const,
      id: "N",
      type: "w:gp2",
      children: [buildGroupChange({ type: "picture", deleted: true })],
    };
    expect(
      caught(() => parseGroupNotification({ ...base, from: LID, participant: LID })).code,
    ).toBe(400);
    expect(caught(() => parseGroupNotification({ ...base, from: G })).code).toBe(400);
    expect(
      caught(() => parseGroupNotification({ ...base, type: "encrypt", from: G, participant: LID }))
        .code,
    ).toBe(400);
  });
});
