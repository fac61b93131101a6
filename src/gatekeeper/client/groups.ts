import {
  GROUP_XMLNS,
  StanzaError,
  buildGroupCreate,
  buildGroupDescription,
  buildGroupLeave,
  buildGroupMembership,
  buildGroupParticipating,
  buildGroupPictureDelete,
  buildGroupPictureGet,
  buildGroupPictureSet,
  buildGroupQuery,
  buildGroupSubject,
  isGroupJid,
  parseDescriptionResult,
  parseGroupCreateResult,
  parseGroupQueryResult,
  parseMembershipResult,
  parseParticipatingResult,
  parsePictureGetResult,
  parsePictureResult,
} from "../stanza/index.js";
import type {
  GroupChange,
  GroupInfo,
  GroupPicture,
  IqStanza,
  MembershipOp,
  XmlNode,
} from "../stanza/index.js";
import type { Connection } from "./connection.js";
import type { ClientCore } from "./context.js";
import { GatekeeperError } from "./errors.js";
import type { GroupParticipantResult } from "./types.js";

/**
 * The groups we are in (docs §19.2, §19.3): the `w:g2` iqs, and a cache of each group's info
 * that the membership notifications (§19.4) keep current, so a group send knows its members
 * without asking the gatekeeper every time.
 */
export class GroupDirectory {
  private readonly cache = new Map<string, GroupInfo>();

  constructor(
    private readonly core: ClientCore,
    private readonly connection: () => Promise<Connection>,
  ) {}

  async create(
    subject: string,
    participants: string[],
  ): Promise<{ group: GroupInfo; results: GroupParticipantResult[] }> {
    const result = await this.iq("set", "gk", () => buildGroupCreate(subject, participants));
    const created = parse(() => parseGroupCreateResult(result.children));
    this.cache.set(created.group.jid, created.group);
    return created;
  }

  /** The group's current info, from the gatekeeper (and cached). */
  async info(group: string): Promise<GroupInfo> {
    checkGroup(group);
    const result = await this.iq("get", group, buildGroupQuery);
    const info = parse(() => parseGroupQueryResult(result.children));
    this.cache.set(group, info);
    return info;
  }

  /** Every group we are in, from the gatekeeper (each cached). */
  async participating(): Promise<GroupInfo[]> {
    const result = await this.iq("get", "gk", buildGroupParticipating);
    const groups = parse(() => parseParticipatingResult(result.children));
    for (const g of groups) this.cache.set(g.jid, g);
    return groups;
  }

  /** The members' JIDs (ourselves included), from the cache or, when unknown, the gatekeeper. */
  async members(group: string): Promise<string[]> {
    const info = this.cache.get(group) ?? (await this.info(group));
    return info.participants.map((p) => p.jid);
  }

  cached(group: string): GroupInfo | undefined {
    return this.cache.get(group);
  }

  /** What we know of the group may be wrong: ask the gatekeeper next time. */
  invalidate(group: string): void {
    this.cache.delete(group);
  }

  async setSubject(group: string, subject: string): Promise<void> {
    checkGroup(group);
    await this.iq("set", group, () => buildGroupSubject(subject));
  }

  /**
   * Sets (or with null, deletes) the description; answers the new description id. The
   * gatekeeper wants the id of the description it replaces (409 when someone changed it
   * meanwhile), taken from the cache or asked for.
   */
  async setDescription(group: string, text: string | null): Promise<string> {
    checkGroup(group);
    const current = this.cache.get(group) ?? (await this.info(group));
    const prev = current.description?.id;
    const base = prev === undefined ? {} : { prev };
    const change = text === null ? { ...base, delete: true as const } : { ...base, text };
    const result = await this.iq("set", group, () => buildGroupDescription(change));
    return parse(() => parseDescriptionResult(result.children));
  }

  /** Sets the group picture (JPEG, at most 256 KiB); answers its id. */
  async setPicture(group: string, jpeg: Uint8Array): Promise<string> {
    checkGroup(group);
    const result = await this.iq("set", group, () => buildGroupPictureSet(jpeg, "image/jpeg"));
    return parse(() => parsePictureResult(result.children));
  }

  async removePicture(group: string): Promise<void> {
    checkGroup(group);
    await this.iq("set", group, buildGroupPictureDelete);
  }

  /** The group picture; null when the group has none. */
  async picture(group: string): Promise<GroupPicture | null> {
    checkGroup(group);
    try {
      const result = await this.iq("get", group, buildGroupPictureGet);
      return parse(() => parsePictureGetResult(result.children));
    } catch (err) {
      if (err instanceof GatekeeperError && err.gkiCode === 404) return null;
      throw err;
    }
  }

  /** add / remove / promote / demote: one result per participant (docs §19.3). */
  async membership(
    group: string,
    op: MembershipOp,
    participants: string[],
  ): Promise<GroupParticipantResult[]> {
    checkGroup(group);
    const result = await this.iq("set", group, () => buildGroupMembership(op, participants));
    const results = parse(() => parseMembershipResult(op, result.children));
    const removed = results.filter((r) => r.error === undefined).map((r) => r.jid);
    if (op === "remove" && removed.length > 0) {
      // Rotate now, not when the notification comes: a send right after must not use the
      // key the removed members hold (§19.5).
      const info = this.cache.get(group);
      if (info) updateInfo(info, { type: "remove", participants: removed });
      const signal = this.core.account().signal;
      await this.core.peerLocks.run(group, () => signal.groups.rotateGroupKey(group));
    }
    return results;
  }

  /** Leaves the group; our sender key and the members' keys of it are forgotten. */
  async leave(group: string): Promise<void> {
    checkGroup(group);
    await this.iq("set", "gk", () => buildGroupLeave([group]));
    await this.core.peerLocks.run(group, () => this.forget(group));
  }

  /** We are no longer in the group: drop its info and every sender key of it. */
  async forget(group: string): Promise<void> {
    this.cache.delete(group);
    await this.core.account().signal.groups.forgetGroup(group);
  }

  /**
   * Applies a change the gatekeeper announced (§19.4) to the cached info. Answers what the
   * sender-key layer must do: "forget" when we were removed or left, "rotate" when another
   * member left or was removed (§19.5).
   */
  apply(group: string, change: GroupChange, me: string): "forget" | "rotate" | null {
    if (change.type === "create") {
      this.cache.set(group, change.group);
      return null;
    }
    const departed = change.type === "remove" || change.type === "leave";
    if (departed && change.participants.includes(me)) return "forget";
    const info = this.cache.get(group);
    if (info) updateInfo(info, change);
    return departed ? "rotate" : null;
  }

  private async iq(type: "get" | "set", to: string, children: () => XmlNode[]): Promise<IqStanza> {
    const payload = parse(children, "bad-request");
    return (await this.connection()).iq({ type, xmlns: GROUP_XMLNS, to, children: payload });
  }
}

/** The cached info after a change (create, which replaces it all, is handled by the caller). */
function updateInfo(info: GroupInfo, change: Exclude<GroupChange, { type: "create" }>): void {
  switch (change.type) {
    case "add":
      for (const jid of change.participants) {
        if (!info.participants.some((p) => p.jid === jid))
          info.participants.push({ jid, role: "member" });
      }
      break;
    case "remove":
    case "leave":
      info.participants = info.participants.filter((p) => !change.participants.includes(p.jid));
      break;
    case "promote":
    case "demote":
      for (const p of info.participants) {
        if (!change.participants.includes(p.jid) || p.role === "superadmin") continue;
        p.role = change.type === "promote" ? "admin" : "member";
      }
      break;
    case "subject":
      info.subject = change.subject;
      info.subjectTime = change.subjectTime;
      break;
    case "description":
      if ("deleted" in change) delete info.description;
      else info.description = { id: change.id, text: change.text };
      break;
    case "picture":
      if ("deleted" in change) delete info.pictureId;
      else info.pictureId = change.id;
      break;
  }
  if (info.size !== undefined) info.size = info.participants.length;
}

export function checkGroup(jid: string): void {
  if (!isGroupJid(jid)) throw new GatekeeperError("bad-request", `not a group JID: ${jid}`);
}

/** Codec errors become GatekeeperErrors: bad input from us ("bad-request") or a bad answer. */
function parse<T>(fn: () => T, code: "bad-request" | "protocol-error" = "protocol-error"): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof StanzaError) throw new GatekeeperError(code, err.message, { cause: err });
    throw err;
  }
}
