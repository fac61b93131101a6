import type { Knex } from "knex";

/**
 * Messages we sent (table gk_client_sent), kept 24 h: a retry receipt from the recipient
 * (docs §8.3) is answered by re-encrypting the same content under a fresh session.
 */
export interface SentEntry {
  recipient: string;
  id: string;
  /** Serialized gki.v1.Message (without padding). */
  content: Uint8Array;
  retryCount: number;
  createdAt: number;
}

interface SentRow {
  owner: string;
  recipient: string;
  msg_id: string;
  content: Buffer;
  retry_count: number;
  created_at: number | string;
}

const TABLE = "gk_client_sent";
export const SENT_RETENTION_MS = 24 * 3600 * 1000;

export class SentRepository {
  constructor(
    private readonly db: Knex,
    private readonly owner: string,
  ) {}

  /** Records a message before it goes on the wire. Recording the same id again keeps the first content. */
  async record(recipient: string, id: string, content: Uint8Array): Promise<void> {
    const row: SentRow = {
      owner: this.owner,
      recipient,
      msg_id: id,
      content: Buffer.from(content),
      retry_count: 0,
      created_at: Date.now(),
    };
    await this.db<SentRow>(TABLE).insert(row).onConflict(["owner", "recipient", "msg_id"]).ignore();
  }

  async get(recipient: string, id: string): Promise<SentEntry | undefined> {
    const row = (await this.db<SentRow>(TABLE)
      .where({ owner: this.owner, recipient, msg_id: id })
      .first()) as SentRow | undefined;
    if (!row) return undefined;
    return {
      recipient: row.recipient,
      id: row.msg_id,
      content: new Uint8Array(row.content),
      retryCount: Number(row.retry_count),
      createdAt: Number(row.created_at),
    };
  }

  async setRetryCount(recipient: string, id: string, retryCount: number): Promise<void> {
    await this.db<SentRow>(TABLE)
      .where({ owner: this.owner, recipient, msg_id: id })
      .update({ retry_count: retryCount });
  }

  /** Deletes entries created before `before` (ms). */
  async prune(before: number): Promise<number> {
    return this.db<SentRow>(TABLE)
      .where({ owner: this.owner })
      .andWhere("created_at", "<", before)
      .delete();
  }
}
