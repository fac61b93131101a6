import type { Knex } from "knex";
import { num, numOrNull } from "./columns.js";

/**
 * Read receipts (tables bridge_read_markers, bridge_users.send_read_receipts): the user's
 * setting, which of the contact's messages the user's receipts already covered, and how far
 * the contact has read ours. Message positions are row ids (insertion order): of
 * bridge_message_map for the contact's messages, of bridge_outbox for ours (written before
 * the send, so a receipt from the contact can never outrun it).
 */
export interface UnreadMessages {
  /** Remote ids of the contact's messages, oldest first. */
  remoteIds: string[];
  /** Position of the newest of them (for markUserRead). */
  upTo: number;
}

export interface OwnMessage {
  /** Position (bridge_outbox.id). */
  position: number;
  eventId: string;
  remoteId: string;
}

interface MarkerRow {
  portal_id: number;
  user_read_up_to: number | string | null;
  contact_read_up_to: number | string | null;
  updated_at: number | string;
}

const USERS = "bridge_users";
const MARKERS = "bridge_read_markers";
const MAP = "bridge_message_map";
const OUTBOX = "bridge_outbox";

export class ReadReceiptRepository {
  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {}

  /** Whether the user sends read receipts (true unless they turned them off). */
  async sendsReadReceipts(mxid: string): Promise<boolean> {
    const row = (await this.db(USERS).where({ mxid }).first("send_read_receipts")) as
      { send_read_receipts: unknown } | undefined;
    return row === undefined || asBool(row.send_read_receipts);
  }

  async setSendsReadReceipts(mxid: string, on: boolean, now = Date.now()): Promise<void> {
    await this.db(USERS)
      .insert({
        mxid,
        management_room_id: null,
        space_room_id: null,
        send_read_receipts: on,
        created_at: now,
        updated_at: now,
      })
      .onConflict("mxid")
      .merge({ send_read_receipts: on, updated_at: now });
  }

  /**
   * The contact's messages in the portal that no receipt covered yet, up to and including
   * the message of `eventId`; for an event the bridge did not map (a notice, say), those
   * sent until `until` (ms). At most `limit`, oldest first; undefined when there are none.
   */
  async unreadFromContact(
    portalId: number,
    contactJid: string,
    eventId: string,
    until: number,
    limit: number,
  ): Promise<UnreadMessages | undefined> {
    const marker = await this.marker(portalId);
    const target = (await this.db(MAP)
      .where({ portal_id: portalId, mx_event_id: eventId })
      .first("id")) as { id: number | string } | undefined;
    let query = this.db(MAP)
      .where({ portal_id: portalId, remote_sender: contactJid })
      .andWhere("id", ">", marker?.userReadUpTo ?? 0);
    query = target
      ? query.andWhere("id", "<=", num(target.id))
      : query.andWhere("timestamp", "<=", until);
    const rows = (await query.orderBy("id", "asc").limit(limit).select("id", "remote_id")) as {
      id: number | string;
      remote_id: string;
    }[];
    const last = rows[rows.length - 1];
    if (!last) return undefined;
    return { remoteIds: rows.map((r) => r.remote_id), upTo: num(last.id) };
  }

  /** Records that receipts covered the contact's messages up to `position` (never moves back). */
  async markUserRead(portalId: number, position: number, now = Date.now()): Promise<void> {
    await this.advance(portalId, "user_read_up_to", position, now);
  }

  /** Our messages in the portal with these remote ids, oldest first. */
  async ownMessages(portalId: number, remoteIds: readonly string[]): Promise<OwnMessage[]> {
    if (remoteIds.length === 0) return [];
    const rows = (await this.db(OUTBOX)
      .where({ portal_id: portalId })
      .whereIn("remote_id", [...remoteIds])
      .orderBy("id", "asc")
      .select("id", "event_id", "remote_id")) as {
      id: number | string;
      event_id: string;
      remote_id: string;
    }[];
    return rows.map((r) => ({ position: num(r.id), eventId: r.event_id, remoteId: r.remote_id }));
  }

  /** How far the contact has read our messages (a bridge_outbox id), if they read any. */
  async contactReadPosition(portalId: number): Promise<number | null> {
    return (await this.marker(portalId))?.contactReadUpTo ?? null;
  }

  /**
   * Records that the contact read our messages up to `position`; false (nothing changed)
   * when an earlier receipt went as far already.
   */
  async markContactRead(portalId: number, position: number, now = Date.now()): Promise<boolean> {
    return this.advance(portalId, "contact_read_up_to", position, now);
  }

  private async marker(
    portalId: number,
  ): Promise<{ userReadUpTo: number | null; contactReadUpTo: number | null } | undefined> {
    const row = (await this.db<MarkerRow>(MARKERS).where({ portal_id: portalId }).first()) as
      MarkerRow | undefined;
    if (!row) return undefined;
    return {
      userReadUpTo: numOrNull(row.user_read_up_to),
      contactReadUpTo: numOrNull(row.contact_read_up_to),
    };
  }

  /** Moves one marker forward only; callers serialise per portal (and a race only repeats a receipt). */
  private async advance(
    portalId: number,
    column: "user_read_up_to" | "contact_read_up_to",
    position: number,
    now: number,
  ): Promise<boolean> {
    const current = await this.marker(portalId);
    const known = column === "user_read_up_to" ? current?.userReadUpTo : current?.contactReadUpTo;
    if (known !== null && known !== undefined && known >= position) return false;
    await this.db(MARKERS)
      .insert({
        portal_id: portalId,
        user_read_up_to: null,
        contact_read_up_to: null,
        [column]: position,
        updated_at: now,
      })
      .onConflict("portal_id")
      .merge({ [column]: position, updated_at: now });
    return true;
  }
}

/** SQLite returns booleans as 0/1, PostgreSQL as booleans. */
function asBool(v: unknown): boolean {
  return v === true || v === 1 || v === "1" || v === "true";
}
