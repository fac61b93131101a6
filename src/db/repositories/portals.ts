import type { Knex } from "knex";
import { num } from "./columns.js";
import { isForeignKeyViolation, isUniqueViolation, RepositoryError } from "./errors.js";
import { rowCacheOf } from "./row-cache.js";
import type { RowCache } from "./row-cache.js";

/**
 * Portals (table bridge_portals): the Matrix room of one login's chat with one contact.
 * The same table holds group portals (group-portals.ts); this repository sees only the
 * one-to-one ones.
 * The row exists before the room (room_id null until it is created), so a crash between
 * deciding on a portal and creating its room does not make a second one.
 */
export type PortalState =
  /** A normal chat. */
  | "active"
  /** Opened by a contact the user never wrote to; waiting for accept or block. */
  | "request"
  /** The user blocked the contact. */
  | "blocked";

export interface Portal {
  id: number;
  loginId: string;
  contactJid: string;
  roomId: string | null;
  state: PortalState;
  createdAt: number;
  updatedAt: number;
}

interface PortalRow {
  id: number;
  login_id: string;
  contact_jid: string;
  room_id: string | null;
  state: string;
  created_at: number | string;
  updated_at: number | string;
  puppet_power_lowered?: boolean | number;
  kind?: string;
}

/** One-to-one portals; group portals (kind "group") are group-portals.ts's. */
const DIRECT = "direct";

const TABLE = "bridge_portals";

export class PortalRepository {
  /** Portals by id, room and contact (see row-cache.ts). */
  private readonly cache: RowCache;

  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {
    this.cache = rowCacheOf(db);
  }

  /**
   * The portal of (login, contact); created in `state` if there is none. An existing
   * portal is returned unchanged, whatever `state` says.
   */
  async ensure(
    loginId: string,
    contactJid: string,
    state: PortalState,
    now = Date.now(),
  ): Promise<{ portal: Portal; created: boolean }> {
    let inserted: unknown[];
    try {
      inserted = await this.cache.write(this.db, () =>
        this.db<PortalRow>(TABLE)
          .insert({
            login_id: loginId,
            contact_jid: contactJid,
            room_id: null,
            state,
            created_at: now,
            updated_at: now,
          })
          .onConflict(["login_id", "contact_jid"])
          .ignore()
          .returning("id"),
      );
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
      throw new RepositoryError("not-found", `no login ${loginId}`, "loginId", { cause: err });
    }
    const portal = await this.getByContact(loginId, contactJid);
    if (!portal) throw new Error(`portal (${loginId}, ${contactJid}) vanished after insert`);
    return { portal, created: inserted.length > 0 };
  }

  async get(id: number): Promise<Portal | undefined> {
    return this.first(`portal#${id}`, { id, kind: DIRECT });
  }

  async getByRoom(roomId: string): Promise<Portal | undefined> {
    return this.first(`portal-room\n${roomId}`, { room_id: roomId, kind: DIRECT });
  }

  async getByContact(loginId: string, contactJid: string): Promise<Portal | undefined> {
    return this.first(`portal-contact\n${loginId}\n${contactJid}`, {
      login_id: loginId,
      contact_jid: contactJid,
    });
  }

  /** Every login's portal with the contact, oldest first. */
  async listByContact(contactJid: string): Promise<Portal[]> {
    const rows = await this.db<PortalRow>(TABLE).where({ contact_jid: contactJid }).orderBy("id");
    return rows.map(toPortal);
  }

  /**
   * Up to `limit` portals after id `afterId` with a room whose puppet was not yet lowered
   * (see migration 007), by id.
   */
  async listPuppetPowerUnchecked(afterId: number, limit: number): Promise<Portal[]> {
    const rows = await this.db<PortalRow>(TABLE)
      .whereNotNull("room_id")
      .andWhere({ puppet_power_lowered: false, kind: DIRECT })
      .andWhere("id", ">", afterId)
      .orderBy("id")
      .limit(limit);
    return rows.map(toPortal);
  }

  /** The portal's puppet holds a member's power level (or the room is gone). */
  async setPuppetPowerLowered(id: number): Promise<void> {
    await this.cache.write(this.db, () =>
      this.db<PortalRow>(TABLE).where({ id }).update({ puppet_power_lowered: true }),
    );
  }

  /** The login's portals, oldest first. */
  async listByLogin(loginId: string): Promise<Portal[]> {
    const rows = await this.db<PortalRow>(TABLE).where({ login_id: loginId }).orderBy("id");
    return rows.map(toPortal);
  }

  async setState(id: number, state: PortalState, now = Date.now()): Promise<void> {
    await this.update(id, { state }, now);
  }

  /**
   * Records the portal's room (null: the room is gone and a new one will be made); group
   * portals' too. Throws
   * RepositoryError "duplicate" when another portal has that room.
   */
  async setRoom(id: number, roomId: string | null, now = Date.now()): Promise<void> {
    try {
      await this.update(id, { room_id: roomId }, now);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      throw new RepositoryError("duplicate", "another portal has this room", "roomId", {
        cause: err,
      });
    }
  }

  async delete(id: number): Promise<boolean> {
    const n = await this.cache.write(this.db, () =>
      this.db<PortalRow>(TABLE).where({ id }).delete(),
    );
    return n > 0;
  }

  private async first(key: string, where: Partial<PortalRow>): Promise<Portal | undefined> {
    return this.cache.through(this.db, key, async () => {
      const row = await this.db<PortalRow>(TABLE).where(where).first();
      return row ? toPortal(row) : undefined;
    });
  }

  private async update(id: number, change: Partial<PortalRow>, now: number): Promise<void> {
    const n = await this.cache.write(this.db, () =>
      this.db<PortalRow>(TABLE)
        .where({ id })
        .update({ ...change, updated_at: now }),
    );
    if (n === 0) throw new RepositoryError("not-found", `no portal ${id}`, "id");
  }
}

function toPortal(row: PortalRow): Portal {
  return {
    id: num(row.id),
    loginId: row.login_id,
    contactJid: row.contact_jid,
    roomId: row.room_id,
    state: row.state as PortalState,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}
