import type { Knex } from "knex";
import { num } from "./columns.js";
import { rowCacheOf } from "./row-cache.js";
import type { RowCache } from "./row-cache.js";

/**
 * Matrix users who talk to the bridge (table bridge_users): the DM with the bot that is
 * their management room, and the space their portals go in. A user has a row here before
 * (and after) they have a login.
 */
export interface BridgeUser {
  mxid: string;
  managementRoomId: string | null;
  spaceRoomId: string | null;
  createdAt: number;
  updatedAt: number;
}

interface UserRow {
  mxid: string;
  management_room_id: string | null;
  space_room_id: string | null;
  created_at: number | string;
  updated_at: number | string;
}

const TABLE = "bridge_users";

export class UserRepository {
  /** Users by mxid and management room (see row-cache.ts). */
  private readonly cache: RowCache;

  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {
    this.cache = rowCacheOf(db);
  }

  async get(mxid: string): Promise<BridgeUser | undefined> {
    return this.first(`user\n${mxid}`, { mxid });
  }

  async getByManagementRoom(roomId: string): Promise<BridgeUser | undefined> {
    return this.first(`user-room\n${roomId}`, { management_room_id: roomId });
  }

  /** Sets (or clears) the management room; creates the user's row if needed. */
  async setManagementRoom(mxid: string, roomId: string | null, now = Date.now()): Promise<void> {
    await this.upsert(mxid, { management_room_id: roomId }, now);
  }

  /** Sets (or clears) the user's space; creates the user's row if needed. */
  async setSpaceRoom(mxid: string, roomId: string | null, now = Date.now()): Promise<void> {
    await this.upsert(mxid, { space_room_id: roomId }, now);
  }

  private async upsert(
    mxid: string,
    change: Partial<Pick<UserRow, "management_room_id" | "space_room_id">>,
    now: number,
  ): Promise<void> {
    const row: UserRow = {
      mxid,
      management_room_id: null,
      space_room_id: null,
      created_at: now,
      updated_at: now,
      ...change,
    };
    await this.cache.write(this.db, () =>
      this.db<UserRow>(TABLE)
        .insert(row)
        .onConflict("mxid")
        .merge({ ...change, updated_at: now }),
    );
  }

  private async first(key: string, where: Partial<UserRow>): Promise<BridgeUser | undefined> {
    return this.cache.through(this.db, key, async () => {
      const row = await this.db<UserRow>(TABLE).where(where).first();
      return row ? toUser(row) : undefined;
    });
  }
}

function toUser(row: UserRow): BridgeUser {
  return {
    mxid: row.mxid,
    managementRoomId: row.management_room_id,
    spaceRoomId: row.space_room_id,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}
