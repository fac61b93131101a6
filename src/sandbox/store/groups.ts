/**
 * Groups (docs/protocol.md §19): subject, description, picture and members in the order
 * they joined. A deleted group keeps its row, marked, so its JID is never handed out again
 * and it still counts toward its creator's groups per day.
 */
import type { Knex } from "knex";
import { type Row, toBuf, toNum, toNumOrNull, toStr, toStrOrNull } from "./rows.js";

export type MemberRole = "superadmin" | "admin" | "member";

export interface Group {
  jid: string;
  subject: string;
  /** Unix seconds. */
  subjectTime: number;
  subjectOwner: string;
  creator: string;
  /** Unix milliseconds. */
  createdAt: number;
  descriptionId: string | null;
  description: string | null;
  pictureId: string | null;
  pictureMimetype: string | null;
}

export interface GroupMember {
  jid: string;
  role: MemberRole;
  /** Join order: lower joined earlier. */
  seq: number;
}

const GROUPS = "sb_groups";
const MEMBERS = "sb_group_members";

function toGroup(row: Row): Group {
  return {
    jid: toStr(row.jid),
    subject: toStr(row.subject),
    subjectTime: toNum(row.subject_t),
    subjectOwner: toStr(row.subject_owner),
    creator: toStr(row.creator),
    createdAt: toNum(row.created_at),
    descriptionId: toStrOrNull(row.description_id),
    description: toStrOrNull(row.description),
    pictureId: toStrOrNull(row.picture_id),
    pictureMimetype: toStrOrNull(row.picture_mimetype),
  };
}

function toRole(value: unknown): MemberRole {
  const role = toStr(value);
  return role === "superadmin" || role === "admin" ? role : "member";
}

export const isAdminRole = (role: MemberRole | null): boolean =>
  role === "admin" || role === "superadmin";

export class GroupStore {
  constructor(private readonly db: Knex) {}

  /** True if the JID was ever used, deleted groups included. */
  async jidTaken(jid: string): Promise<boolean> {
    return (await this.db(GROUPS).where({ jid }).first("jid")) !== undefined;
  }

  async create(g: { jid: string; subject: string; creator: string; now: number }): Promise<void> {
    await this.db(GROUPS).insert({
      jid: g.jid,
      subject: g.subject,
      subject_t: Math.floor(g.now / 1000),
      subject_owner: g.creator,
      creator: g.creator,
      created_at: g.now,
    });
  }

  /** A live group, or null (unknown or deleted). */
  async get(jid: string): Promise<Group | null> {
    const row = (await this.db(GROUPS).where({ jid }).whereNull("deleted_at").first()) as
      Row | undefined;
    return row ? toGroup(row) : null;
  }

  async list(): Promise<Group[]> {
    const rows = (await this.db(GROUPS).whereNull("deleted_at").orderBy("created_at")) as Row[];
    return rows.map(toGroup);
  }

  /** Groups created by `creator` after `since`, deleted ones included (§19.7). */
  async createdSince(creator: string, since: number): Promise<{ count: number; oldest: number }> {
    const row = (await this.db(GROUPS)
      .where({ creator })
      .andWhere("created_at", ">", since)
      .count({ n: "*" })
      .min({ m: "created_at" })
      .first()) as Row | undefined;
    return {
      count: row ? toNum(row.n) : 0,
      oldest: toNumOrNull(row?.m) ?? since,
    };
  }

  async members(group: string): Promise<GroupMember[]> {
    const rows = (await this.db(MEMBERS).where({ group_jid: group }).orderBy("seq")) as Row[];
    return rows.map((r) => ({ jid: toStr(r.member), role: toRole(r.role), seq: toNum(r.seq) }));
  }

  async role(group: string, member: string): Promise<MemberRole | null> {
    const row = (await this.db(MEMBERS).where({ group_jid: group, member }).first("role")) as
      Row | undefined;
    return row ? toRole(row.role) : null;
  }

  async addMember(group: string, member: string, role: MemberRole, now: number): Promise<void> {
    await this.db(MEMBERS).insert({ group_jid: group, member, role, joined_at: now });
  }

  async removeMember(group: string, member: string): Promise<void> {
    await this.db(MEMBERS).where({ group_jid: group, member }).delete();
  }

  async setRole(group: string, member: string, role: MemberRole): Promise<void> {
    await this.db(MEMBERS).where({ group_jid: group, member }).update({ role });
  }

  async setSubject(group: string, subject: string, owner: string, t: number): Promise<void> {
    await this.db(GROUPS)
      .where({ jid: group })
      .update({ subject, subject_owner: owner, subject_t: t });
  }

  /** `text` null: deleted (the id stays, so the next change can name it). */
  async setDescription(group: string, id: string, text: string | null): Promise<void> {
    await this.db(GROUPS).where({ jid: group }).update({ description_id: id, description: text });
  }

  async setPicture(
    group: string,
    picture: { id: string; bytes: Uint8Array; mimetype: string } | null,
  ): Promise<void> {
    await this.db(GROUPS)
      .where({ jid: group })
      .update(
        picture
          ? {
              picture_id: picture.id,
              picture: Buffer.from(picture.bytes),
              picture_mimetype: picture.mimetype,
            }
          : { picture_id: null, picture: null, picture_mimetype: null },
      );
  }

  async picture(group: string): Promise<{ id: string; mimetype: string; bytes: Buffer } | null> {
    const row = (await this.db(GROUPS)
      .where({ jid: group })
      .whereNull("deleted_at")
      .first("picture_id", "picture", "picture_mimetype")) as Row | undefined;
    if (!row || row.picture_id === null || row.picture === null) return null;
    return {
      id: toStr(row.picture_id),
      mimetype: toStr(row.picture_mimetype),
      bytes: toBuf(row.picture),
    };
  }

  /** The last member left: the group is gone, its JID stays taken. */
  async markDeleted(group: string, now: number): Promise<void> {
    await this.db(MEMBERS).where({ group_jid: group }).delete();
    await this.db(GROUPS)
      .where({ jid: group })
      .update({ deleted_at: now, picture: null, description: null });
  }

  /** The groups `member` is in, in the order joined. */
  async groupsOf(member: string): Promise<string[]> {
    const rows = (await this.db(MEMBERS).where({ member }).orderBy("seq")) as Row[];
    return rows.map((r) => toStr(r.group_jid));
  }

  /** Everyone who is in a group with `member` (each once, `member` left out). */
  async coMembersOf(member: string): Promise<string[]> {
    const rows = (await this.db(`${MEMBERS} as x`)
      .join(`${MEMBERS} as y`, "x.group_jid", "y.group_jid")
      .where("x.member", member)
      .andWhereNot("y.member", member)
      .distinct("y.member")) as Row[];
    return rows.map((r) => toStr(r.member));
  }

  /** True if `a` and `b` are members of one group (they need pairwise sessions, §19.5). */
  async shareGroup(a: string, b: string): Promise<boolean> {
    const row = (await this.db(`${MEMBERS} as x`)
      .join(`${MEMBERS} as y`, "x.group_jid", "y.group_jid")
      .where("x.member", a)
      .andWhere("y.member", b)
      .first("x.group_jid")) as Row | undefined;
    return row !== undefined;
  }
}
