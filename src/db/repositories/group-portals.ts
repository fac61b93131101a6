import type { Knex } from "knex";
import { num } from "./columns.js";
import { isForeignKeyViolation, RepositoryError } from "./errors.js";
import type { Portal, PortalState } from "./portals.js";
import { rowCacheOf } from "./row-cache.js";
import type { RowCache } from "./row-cache.js";

/**
 * Group portals: rows of bridge_portals of kind "group", one per group JID, shared by every
 * login of this bridge that is a member (bridge_portal_logins). Like a one-to-one portal,
 * the row exists before its room. Reads go through the row cache (a group message asks for
 * its portal and its members at every login); every write empties it.
 */
export interface GroupPortal {
  kind: "group";
  id: number;
  groupJid: string;
  roomId: string | null;
  state: PortalState;
  /** The remote picture the room's avatar was made from (null: none set). */
  avatarSource: string | null;
  createdAt: number;
  updatedAt: number;
}

export function isGroupPortal(portal: Portal | GroupPortal): portal is GroupPortal {
  return "kind" in portal && portal.kind === "group";
}

interface GroupPortalRow {
  id: number;
  kind: string;
  group_jid: string | null;
  login_id: string | null;
  contact_jid: string | null;
  room_id: string | null;
  state: string;
  created_at: number | string;
  updated_at: number | string;
  puppet_power_lowered: boolean | number;
  avatar_source: string | null;
}

interface MemberRow {
  portal_id: number;
  login_id: string;
  created_at: number | string;
}

const TABLE = "bridge_portals";
const MEMBERS = "bridge_portal_logins";
const GROUP = "group";

export class GroupPortalRepository {
  private readonly cache: RowCache;

  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {
    this.cache = rowCacheOf(db);
  }

  /** The group's portal; created (without a room, in `state`) if there is none. */
  async ensure(
    groupJid: string,
    state: PortalState = "active",
    now = Date.now(),
  ): Promise<{ portal: GroupPortal; created: boolean }> {
    const inserted = await this.cache.write(this.db, () =>
      this.db<GroupPortalRow>(TABLE)
        .insert({
          kind: GROUP,
          group_jid: groupJid,
          login_id: null,
          contact_jid: null,
          room_id: null,
          state,
          created_at: now,
          updated_at: now,
          // Made by the bot with the powers it means (no puppet to lower).
          puppet_power_lowered: true,
        })
        .onConflict(["group_jid"])
        .ignore()
        .returning("id"),
    );
    const portal = await this.getByGroup(groupJid);
    if (!portal) throw new Error(`group portal ${groupJid} vanished after insert`);
    return { portal, created: inserted.length > 0 };
  }

  async get(id: number): Promise<GroupPortal | undefined> {
    return this.first(`group#${id}`, { id, kind: GROUP });
  }

  async getByRoom(roomId: string): Promise<GroupPortal | undefined> {
    return this.first(`group-room\n${roomId}`, { room_id: roomId, kind: GROUP });
  }

  async getByGroup(groupJid: string): Promise<GroupPortal | undefined> {
    return this.first(`group-jid\n${groupJid}`, { group_jid: groupJid, kind: GROUP });
  }

  /** Login ids of the portal's members, in the order they joined. */
  async members(portalId: number): Promise<string[]> {
    const list = await this.cache.through(this.db, `group-members#${portalId}`, async () => {
      const rows = await this.db<MemberRow>(MEMBERS)
        .where({ portal_id: portalId })
        .orderBy([{ column: "created_at" }, { column: "login_id" }]);
      return rows.map((r) => r.login_id);
    });
    return [...(list ?? [])];
  }

  async isMember(portalId: number, loginId: string): Promise<boolean> {
    return (await this.members(portalId)).includes(loginId);
  }

  /**
   * Makes the login a member of the portal; true if it was not one before. Throws
   * RepositoryError "not-found" when the portal or the login does not exist.
   */
  async addMember(portalId: number, loginId: string, now = Date.now()): Promise<boolean> {
    try {
      // With its read marker, or a crash in between would leave a member without one.
      return await this.cache.write(this.db, () =>
        this.db.transaction(async (trx) => {
          const inserted = await trx<MemberRow>(MEMBERS)
            .insert({ portal_id: portalId, login_id: loginId, created_at: now })
            .onConflict(["portal_id", "login_id"])
            .ignore()
            .returning("portal_id");
          if (inserted.length === 0) return false;
          await startReadMarker(trx, portalId, loginId, now);
          return true;
        }),
      );
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
      throw new RepositoryError("not-found", `no portal ${portalId} or login ${loginId}`, "id", {
        cause: err,
      });
    }
  }

  /** The login is no longer a member; true if it was one. */
  async removeMember(portalId: number, loginId: string): Promise<boolean> {
    const n = await this.cache.write(this.db, () =>
      this.db<MemberRow>(MEMBERS).where({ portal_id: portalId, login_id: loginId }).delete(),
    );
    return n > 0;
  }

  /** Records the remote picture the room's avatar now shows (null: no avatar). */
  async setAvatarSource(portalId: number, source: string | null, now = Date.now()): Promise<void> {
    await this.cache.write(this.db, () =>
      this.db<GroupPortalRow>(TABLE)
        .where({ id: portalId, kind: GROUP })
        .update({ avatar_source: source, updated_at: now }),
    );
  }

  /** The group portals the login is a member of, oldest first. */
  async listByLogin(loginId: string): Promise<GroupPortal[]> {
    const rows = await this.db<GroupPortalRow>(TABLE)
      .join(MEMBERS, `${MEMBERS}.portal_id`, `${TABLE}.id`)
      .where(`${MEMBERS}.login_id`, loginId)
      .andWhere(`${TABLE}.kind`, GROUP)
      .orderBy(`${TABLE}.id`)
      .select(`${TABLE}.*`);
    return rows.map(toGroupPortal);
  }

  private async first(
    key: string,
    where: Partial<GroupPortalRow>,
  ): Promise<GroupPortal | undefined> {
    return this.cache.through(this.db, key, async () => {
      const row = await this.db<GroupPortalRow>(TABLE).where(where).first();
      return row ? toGroupPortal(row) : undefined;
    });
  }
}

function toGroupPortal(row: GroupPortalRow): GroupPortal {
  return {
    kind: "group",
    id: num(row.id),
    groupJid: row.group_jid ?? "",
    roomId: row.room_id,
    state: row.state as PortalState,
    avatarSource: row.avatar_source ?? null,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

/**
 * A new member's read receipts (core/group-receipts.ts) start at the newest message of the
 * portal: what the group said before the login joined is not its to report as read.
 */
async function startReadMarker(
  db: Knex,
  portalId: number,
  loginId: string,
  now: number,
): Promise<void> {
  const newest = (await db("bridge_message_map")
    .where({ portal_id: portalId })
    .max("id as id")
    .first()) as { id: number | string | null } | undefined;
  await db("bridge_group_read_markers")
    .insert({
      portal_id: portalId,
      login_id: loginId,
      read_up_to: num(newest?.id ?? 0),
      updated_at: now,
    })
    .onConflict(["portal_id", "login_id"])
    .merge(["read_up_to", "updated_at"]);
}
