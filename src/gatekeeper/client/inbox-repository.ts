import type { Knex } from "knex";

/**
 * Received messages (table gk_client_inbox). The decrypted content is written in the same
 * transaction as the Signal session update, so a crash between decrypting and handling
 * never loses a message: the redelivered copy is served from here instead of being
 * decrypted a second time (which the ratchet would refuse).
 */
export type InboxState = "pending" | "handled" | "failed";

export interface InboxEntry {
  sender: string;
  id: string;
  retry: number;
  state: InboxState;
  /** Serialized gki.v1.Message; present only while pending. */
  plaintext: Uint8Array | null;
  t: number;
  offline: boolean;
  receivedAt: number;
}

interface InboxRow {
  owner: string;
  sender: string;
  msg_id: string;
  retry: number;
  state: string;
  plaintext: Buffer | null;
  t: number | string;
  offline: number | boolean;
  received_at: number | string;
  handled_at: number | string | null;
}

const TABLE = "gk_client_inbox";
/** Ids of handled messages are kept this long to recognise redeliveries (docs §9: queues expire after 30 days). */
export const INBOX_RETENTION_MS = 30 * 24 * 3600 * 1000;

export class InboxRepository {
  constructor(
    private readonly db: Knex,
    private readonly owner: string,
  ) {}

  async get(sender: string, id: string, trx?: Knex.Transaction): Promise<InboxEntry | undefined> {
    const row = (await (trx ?? this.db)<InboxRow>(TABLE)
      .where({ owner: this.owner, sender, msg_id: id })
      .first()) as InboxRow | undefined;
    return row ? toEntry(row) : undefined;
  }

  /** Stores decrypted content as pending; meant to run inside the decrypt transaction. */
  async putPending(
    trx: Knex.Transaction,
    entry: {
      sender: string;
      id: string;
      retry: number;
      plaintext: Uint8Array;
      t: number;
      offline: boolean;
    },
  ): Promise<void> {
    await this.upsert(trx, { ...entry, state: "pending", plaintext: Buffer.from(entry.plaintext) });
  }

  /** Remembers that a message could not be decrypted (so a later retry with a higher count is tried). */
  async putFailed(
    entry: { sender: string; id: string; retry: number; t: number; offline: boolean },
    trx?: Knex.Transaction,
  ): Promise<void> {
    await this.upsert(trx ?? this.db, { ...entry, state: "failed", plaintext: null });
  }

  /** The application has handled it: drop the content, keep the id. */
  async markHandled(sender: string, id: string): Promise<void> {
    await this.db<InboxRow>(TABLE)
      .where({ owner: this.owner, sender, msg_id: id })
      .update({ state: "handled", plaintext: null, handled_at: Date.now() });
  }

  /** Deletes handled and failed entries received before `before` (ms). Pending ones stay. */
  async prune(before: number): Promise<number> {
    return this.db<InboxRow>(TABLE)
      .where({ owner: this.owner })
      .whereIn("state", ["handled", "failed"])
      .andWhere("received_at", "<", before)
      .delete();
  }

  private async upsert(
    db: Knex | Knex.Transaction,
    e: {
      sender: string;
      id: string;
      retry: number;
      state: InboxState;
      plaintext: Buffer | null;
      t: number;
      offline: boolean;
    },
  ): Promise<void> {
    const row: InboxRow = {
      owner: this.owner,
      sender: e.sender,
      msg_id: e.id,
      retry: e.retry,
      state: e.state,
      plaintext: e.plaintext,
      t: e.t,
      offline: e.offline,
      received_at: Date.now(),
      handled_at: null,
    };
    await db<InboxRow>(TABLE)
      .insert(row)
      .onConflict(["owner", "sender", "msg_id"])
      .merge(["retry", "state", "plaintext", "t", "offline", "received_at", "handled_at"]);
  }
}

function toEntry(row: InboxRow): InboxEntry {
  return {
    sender: row.sender,
    id: row.msg_id,
    retry: Number(row.retry),
    state: row.state as InboxState,
    plaintext: row.plaintext ? new Uint8Array(row.plaintext) : null,
    t: Number(row.t),
    offline: row.offline === true || row.offline === 1,
    receivedAt: Number(row.received_at),
  };
}
