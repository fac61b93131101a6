import type { Knex } from "knex";
import { num } from "./columns.js";
import { isForeignKeyViolation, RepositoryError } from "./errors.js";

/**
 * The message map (table bridge_message_map): which Matrix event is which gatekeeper
 * message, per portal. Relay-in checks it to recognise a redelivered message; replies,
 * edits, reactions and receipts look messages up in it both ways.
 */
export interface MessageMapping {
  portalId: number;
  mxEventId: string;
  /** The gatekeeper message id (unique per sender). */
  remoteId: string;
  /** JID of the message's sender: the contact, or the login's own JID. */
  remoteSender: string;
  /** When the message was sent (ms). */
  timestamp: number;
}

interface MappingRow {
  id?: number | string;
  portal_id: number;
  mx_event_id: string;
  remote_id: string;
  remote_sender: string;
  timestamp: number | string;
}

const TABLE = "bridge_message_map";

export class MessageMapRepository {
  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {}

  /**
   * Stores a mapping. Idempotent: storing the same message again (same event id, or same
   * portal, sender and remote id) changes nothing and returns "duplicate".
   */
  async add(m: MessageMapping): Promise<"stored" | "duplicate"> {
    const row: MappingRow = {
      portal_id: m.portalId,
      mx_event_id: m.mxEventId,
      remote_id: m.remoteId,
      remote_sender: m.remoteSender,
      timestamp: m.timestamp,
    };
    try {
      // No conflict target: either unique key means "already mapped".
      const inserted = await this.db<MappingRow>(TABLE)
        .insert(row)
        .onConflict()
        .ignore()
        .returning("id");
      return inserted.length > 0 ? "stored" : "duplicate";
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
      throw new RepositoryError("not-found", `no portal ${m.portalId}`, "portalId", { cause: err });
    }
  }

  async getByEvent(mxEventId: string): Promise<MessageMapping | undefined> {
    const row = await this.db<MappingRow>(TABLE).where({ mx_event_id: mxEventId }).first();
    return row ? toMapping(row) : undefined;
  }

  async getByRemote(
    portalId: number,
    remoteSender: string,
    remoteId: string,
  ): Promise<MessageMapping | undefined> {
    const row = await this.db<MappingRow>(TABLE)
      .where({ portal_id: portalId, remote_sender: remoteSender, remote_id: remoteId })
      .first();
    return row ? toMapping(row) : undefined;
  }

  /**
   * The portal's newest message (by timestamp, then by when it was stored), optionally
   * only among those from one sender (e.g. the contact's, to mark as read).
   */
  async latest(portalId: number, fromSender?: string): Promise<MessageMapping | undefined> {
    const row = await this.db<MappingRow>(TABLE)
      .where({
        portal_id: portalId,
        ...(fromSender !== undefined ? { remote_sender: fromSender } : {}),
      })
      .orderBy([
        { column: "timestamp", order: "desc" },
        { column: "id", order: "desc" },
      ])
      .first();
    return row ? toMapping(row) : undefined;
  }
}

function toMapping(row: MappingRow): MessageMapping {
  return {
    portalId: num(row.portal_id),
    mxEventId: row.mx_event_id,
    remoteId: row.remote_id,
    remoteSender: row.remote_sender,
    timestamp: num(row.timestamp),
  };
}
