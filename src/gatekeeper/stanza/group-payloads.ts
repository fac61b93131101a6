/**
 * Groups (docs/protocol.md §19): the children of `w:g2` iqs and their results (§19.3), the
 * `<group>` element (§19.2); the changes a `w:gp2` notification announces (§19.4) are in
 * group-changes.ts.
 * Builders are the client's side, parsers the gatekeeper's (and back for results). Parsers
 * throw StanzaError 400 (tag "iq") on a bad shape and ignore unknown elements and attributes;
 * limits (subject and description length, picture size) are the gatekeeper's to enforce.
 */
import { isGroupJid, isUserJid } from "./jid.js";
import {
  IQ_CTX as CTX,
  decodeBase64,
  el,
  elementsNamed,
  encodeBase64,
  findChild,
  idText,
  invalid,
  jidText,
  numText,
  optAttr,
  optId,
  reqAttr,
  reqId,
  reqJid,
  reqNum,
  requireChild,
  textEl,
} from "./stanza-fields.js";
import type { XmlNode } from "./xml-codec.js";

/** The iq namespace of groups (§19.3) and the notification type of their changes (§19.4). */
export const GROUP_XMLNS = "w:g2";
export const GROUP_NOTIFICATION_TYPE = "w:gp2";

export type GroupRole = "superadmin" | "admin" | "member";

export interface GroupParticipant {
  jid: string;
  /** `member` is written as no `type`. */
  role: GroupRole;
}

/** `<group jid subject s_t s_o creator creation [size]>` (§19.2). */
export interface GroupInfo {
  jid: string;
  subject: string;
  /** `s_t`: when the subject was last set (Unix seconds). */
  subjectTime: number;
  /** `s_o`: who last set it. */
  subjectOwner: string;
  creator: string;
  /** Unix seconds. */
  creation: number;
  size?: number;
  description?: { id: string; text: string };
  pictureId?: string;
  /** In the order they joined. */
  participants: GroupParticipant[];
}

/** One participant of an add/remove/promote/demote (or create) result: `error` when it failed. */
export interface ParticipantResult {
  jid: string;
  error?: number;
  text?: string;
}

export type MembershipOp = "add" | "remove" | "promote" | "demote";
export const MEMBERSHIP_OPS: readonly MembershipOp[] = ["add", "remove", "promote", "demote"];

/** A `w:g2` request as the gatekeeper reads it (§19.3). */
export type GroupRequest =
  | { op: "create"; subject: string; participants: string[] }
  | { op: "query" }
  | { op: "participating" }
  | { op: "subject"; subject: string }
  | { op: "description"; prev?: string; text: string }
  | { op: "description"; prev?: string; delete: true }
  | { op: "picture-set"; mimetype: string; bytes: Uint8Array }
  | { op: "picture-delete" }
  | { op: "picture-get" }
  | { op: MembershipOp; participants: string[] }
  | { op: "leave"; groups: string[] };

/** A change announced by `<notification type="w:gp2" from="G" participant="ACTOR">` (§19.4). */
export type GroupChange =
  | { type: "create"; group: GroupInfo }
  | { type: MembershipOp | "leave"; participants: string[] }
  | { type: "subject"; subject: string; subjectTime: number }
  | { type: "description"; id: string; text: string }
  | { type: "description"; id: string; deleted: true }
  | { type: "picture"; id: string }
  | { type: "picture"; deleted: true };

export interface GroupNotification {
  group: string;
  /** Who made the change; `gk` when the gatekeeper did (§19.4). */
  actor: string;
  t?: number;
  change: GroupChange;
}

export interface GroupPicture {
  id: string;
  mimetype: string;
  bytes: Uint8Array;
}

/** @internal Shared with group-changes.ts. */
export const isTrue = (v: string | undefined): boolean => v === "true" || v === "1";

function userJid(node: XmlNode, name: string): string {
  const jid = reqJid(node, name, CTX);
  if (!isUserJid(jid)) throw invalid(CTX, `${name} is not a user`);
  return jid;
}

function groupJid(node: XmlNode, name: string): string {
  const jid = reqJid(node, name, CTX);
  if (!isGroupJid(jid)) throw invalid(CTX, `${name} is not a group`);
  return jid;
}

/** @internal */
export function participantNodes(jids: string[]): XmlNode[] {
  return jids.map((jid) => el("participant", { jid: jidText(jid, "participant", CTX) }));
}

/** @internal */
export function participantJids(node: XmlNode): string[] {
  return elementsNamed(node.children, "participant").map((p) => userJid(p, "jid"));
}

// ---------------------------------------------------------------- the <group> element (§19.2)

export function buildGroupInfo(g: GroupInfo): XmlNode {
  const children: XmlNode[] = [];
  if (g.description) {
    children.push(
      textEl("description", g.description.text, {
        id: idText(g.description.id, "description id", CTX),
      }),
    );
  }
  if (g.pictureId !== undefined)
    children.push(el("picture", { id: idText(g.pictureId, "picture id", CTX) }));
  for (const p of g.participants) {
    children.push(
      el("participant", {
        jid: jidText(p.jid, "participant", CTX),
        type: p.role === "member" ? undefined : p.role,
      }),
    );
  }
  return el(
    "group",
    {
      jid: jidText(g.jid, "group", CTX),
      subject: g.subject,
      s_t: numText(g.subjectTime, "s_t", CTX),
      s_o: jidText(g.subjectOwner, "s_o", CTX),
      creator: jidText(g.creator, "creator", CTX),
      creation: numText(g.creation, "creation", CTX),
      size: g.size === undefined ? undefined : numText(g.size, "size", CTX),
    },
    children,
  );
}

export function parseGroupInfo(node: XmlNode): GroupInfo {
  if (node.tag !== "group") throw invalid(CTX, "expected <group>");
  const info: GroupInfo = {
    jid: groupJid(node, "jid"),
    subject: reqAttr(node, "subject", CTX),
    subjectTime: reqNum(node, "s_t", CTX),
    subjectOwner: reqJid(node, "s_o", CTX),
    creator: reqJid(node, "creator", CTX),
    creation: reqNum(node, "creation", CTX),
    participants: elementsNamed(node.children, "participant").map((p) => {
      const type = p.attrs.type;
      const role: GroupRole = type === "superadmin" || type === "admin" ? type : "member";
      return { jid: userJid(p, "jid"), role };
    }),
  };
  if (node.attrs.size !== undefined) info.size = reqNum(node, "size", CTX);
  const description = findChild(node.children, "description");
  if (description)
    info.description = { id: reqId(description, "id", CTX), text: description.text ?? "" };
  const picture = findChild(node.children, "picture");
  if (picture) info.pictureId = reqId(picture, "id", CTX);
  return info;
}

// ---------------------------------------------------------------- requests (§19.3), client side

/** `<create subject><participant jid/>…</create>` (set, to `gk`). */
export function buildGroupCreate(subject: string, participants: string[]): XmlNode[] {
  return [el("create", { subject }, participantNodes(participants))];
}

/** `<query/>` (get, to G). */
export function buildGroupQuery(): XmlNode[] {
  return [el("query")];
}

/** `<participating/>` (get, to `gk`). */
export function buildGroupParticipating(): XmlNode[] {
  return [el("participating")];
}

/** `<subject>S</subject>` (set, to G). */
export function buildGroupSubject(subject: string): XmlNode[] {
  return [textEl("subject", subject)];
}

/**
 * `<description id="PREV">text</description>` or `<description id="PREV" delete="true"/>`
 * (set, to G). `prev` is the current description's id; omit it when the group has none.
 */
export function buildGroupDescription(
  change: { prev?: string; text: string } | { prev?: string; delete: true },
): XmlNode[] {
  const id = change.prev === undefined ? undefined : idText(change.prev, "description id", CTX);
  if ("delete" in change) return [el("description", { id, delete: "true" })];
  return [textEl("description", change.text, { id })];
}

/** `<picture type="image" mimetype>BASE64</picture>` (set, to G). */
export function buildGroupPictureSet(bytes: Uint8Array, mimetype = "image/jpeg"): XmlNode[] {
  return [textEl("picture", encodeBase64(bytes), { type: "image", mimetype })];
}

/** `<picture delete="true"/>` (set, to G). */
export function buildGroupPictureDelete(): XmlNode[] {
  return [el("picture", { delete: "true" })];
}

/** `<picture/>` (get, to G). */
export function buildGroupPictureGet(): XmlNode[] {
  return [el("picture")];
}

/** `<add|remove|promote|demote><participant jid/>…</…>` (set, to G). */
export function buildGroupMembership(op: MembershipOp, participants: string[]): XmlNode[] {
  if (participants.length === 0) throw invalid(CTX, `<${op}> needs a participant`);
  return [el(op, {}, participantNodes(participants))];
}

/** `<leave><group jid="G"/></leave>` (set, to `gk`). */
export function buildGroupLeave(groups: string[]): XmlNode[] {
  return [
    el(
      "leave",
      {},
      groups.map((g) => el("group", { jid: jidText(g, "group", CTX) })),
    ),
  ];
}

// ---------------------------------------------------------------- requests, gatekeeper side

/** Reads a `w:g2` request of iq type `type`; 400 for a request that is not one of §19.3's. */
export function parseGroupRequest(type: "get" | "set", children: XmlNode[]): GroupRequest {
  const node = children[0];
  if (node === undefined) throw invalid(CTX, "empty group request");
  if (type === "get") {
    switch (node.tag) {
      case "query":
        return { op: "query" };
      case "participating":
        return { op: "participating" };
      case "picture":
        return { op: "picture-get" };
      default:
        throw invalid(CTX, `unknown group request <${node.tag}>`);
    }
  }
  switch (node.tag) {
    case "create":
      return {
        op: "create",
        subject: reqAttr(node, "subject", CTX),
        participants: participantJids(node),
      };
    case "subject":
      return { op: "subject", subject: node.text ?? "" };
    case "description": {
      const prev = optId(node, "id", CTX);
      const base = prev === undefined ? {} : { prev };
      if (isTrue(node.attrs.delete)) return { op: "description", ...base, delete: true };
      return { op: "description", ...base, text: node.text ?? "" };
    }
    case "picture": {
      if (isTrue(node.attrs.delete)) return { op: "picture-delete" };
      const bytes = decodeBase64(node.text ?? "", "<picture>", CTX);
      return { op: "picture-set", mimetype: optAttr(node, "mimetype") ?? "", bytes };
    }
    case "add":
    case "remove":
    case "promote":
    case "demote": {
      const participants = participantJids(node);
      if (participants.length === 0) throw invalid(CTX, `<${node.tag}> without a participant`);
      return { op: node.tag, participants };
    }
    case "leave": {
      const groups = elementsNamed(node.children, "group").map((g) => groupJid(g, "jid"));
      if (groups.length === 0) throw invalid(CTX, "<leave> without a group");
      return { op: "leave", groups };
    }
    default:
      throw invalid(CTX, `unknown group request <${node.tag}>`);
  }
}

// ---------------------------------------------------------------- results

function resultNodes(tag: string, results: ParticipantResult[]): XmlNode {
  return el(
    tag,
    {},
    results.map((r) =>
      el("participant", {
        jid: jidText(r.jid, "participant", CTX),
        error: r.error === undefined ? undefined : numText(r.error, "error", CTX),
        text: r.error === undefined ? undefined : r.text,
      }),
    ),
  );
}

function readResults(node: XmlNode): ParticipantResult[] {
  return elementsNamed(node.children, "participant").map((p) => {
    const r: ParticipantResult = { jid: reqJid(p, "jid", CTX) };
    if (p.attrs.error !== undefined) r.error = reqNum(p, "error", CTX);
    if (p.attrs.text !== undefined && r.error !== undefined) r.text = p.attrs.text;
    return r;
  });
}

/**
 * The result of `create`: the full `<group>`, then `<create>` with one `<participant jid
 * [error]/>` per requested participant (those with `error` are not in the group).
 */
export function buildGroupCreateResult(group: GroupInfo, results: ParticipantResult[]): XmlNode[] {
  return [buildGroupInfo(group), resultNodes("create", results)];
}

export function parseGroupCreateResult(children: XmlNode[]): {
  group: GroupInfo;
  results: ParticipantResult[];
} {
  const create = findChild(children, "create");
  return {
    group: parseGroupInfo(requireChild(children, "group")),
    results: create ? readResults(create) : [],
  };
}

/** The result of `query`: the full `<group>`. */
export function buildGroupQueryResult(group: GroupInfo): XmlNode[] {
  return [buildGroupInfo(group)];
}

export function parseGroupQueryResult(children: XmlNode[]): GroupInfo {
  return parseGroupInfo(requireChild(children, "group"));
}

/** The result of `participating`: `<groups><group/>…</groups>`. */
export function buildParticipatingResult(groups: GroupInfo[]): XmlNode[] {
  return [el("groups", {}, groups.map(buildGroupInfo))];
}

export function parseParticipatingResult(children: XmlNode[]): GroupInfo[] {
  return elementsNamed(requireChild(children, "groups").children, "group").map(parseGroupInfo);
}

/** The result of a description change: `<description id="NEW"/>`. */
export function buildDescriptionResult(id: string): XmlNode[] {
  return [el("description", { id: idText(id, "description id", CTX) })];
}

export function parseDescriptionResult(children: XmlNode[]): string {
  return reqId(requireChild(children, "description"), "id", CTX);
}

/** The result of a picture change: `<picture id="NEW"/>`. */
export function buildPictureResult(id: string): XmlNode[] {
  return [el("picture", { id: idText(id, "picture id", CTX) })];
}

export function parsePictureResult(children: XmlNode[]): string {
  return reqId(requireChild(children, "picture"), "id", CTX);
}

/** The result of `<picture/>` (get): `<picture id mimetype>BASE64</picture>`. */
export function buildPictureGetResult(p: GroupPicture): XmlNode[] {
  return [
    textEl("picture", encodeBase64(p.bytes), {
      id: idText(p.id, "picture id", CTX),
      mimetype: p.mimetype,
    }),
  ];
}

export function parsePictureGetResult(children: XmlNode[]): GroupPicture {
  const node = requireChild(children, "picture");
  return {
    id: reqId(node, "id", CTX),
    mimetype: reqAttr(node, "mimetype", CTX),
    bytes: decodeBase64(node.text ?? "", "<picture>", CTX),
  };
}

/** The result of add/remove/promote/demote: `<op><participant jid [error]/>…</op>`. */
export function buildMembershipResult(op: MembershipOp, results: ParticipantResult[]): XmlNode[] {
  return [resultNodes(op, results)];
}

export function parseMembershipResult(op: MembershipOp, children: XmlNode[]): ParticipantResult[] {
  return readResults(requireChild(children, op));
}
