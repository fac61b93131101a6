/**
 * The per-recipient store-and-forward queue (docs/protocol.md §9), and the
 * record of accepted stanzas that makes a resent (sender, id, retry) idempotent.
 */
import type { Knex } from "knex";
import { type Row, toBuf, toNum, toStr } from "./rows.js";

export type QueuedKind = "message" | "receipt" | "notification";

export interface QueuedStanza {
  seq: number;
  recipient: string;
  sender: string;
  kind: QueuedKind;
  stanzaId: string;
  type: string;
  /** A group stanza's `participant` (the sender of a message, the reader of a receipt); else "". */
  participant: string;
  /** The encoded stanza as delivered (without offline="1"). */
  payload: Buffer;
  size: number;
  createdAt: number;
  expiresAt: number;
}

export interface NewQueuedStanza {
  recipient: string;
  sender: string;
  kind: QueuedKind;
  stanzaId: string;
  type?: string;
  participant?: string;
  payload: Uint8Array;
  createdAt: number;
  expiresAt: number;
}

function toQueued(row: Row): QueuedStanza {
  const kind = toStr(row.kind);
  return {
    seq: toNum(row.seq),
    recipient: toStr(row.recipient),
    sender: toStr(row.sender),
    kind: kind === "receipt" ? "receipt" : kind === "notification" ? "notification" : "message",
    stanzaId: toStr(row.stanza_id),
    type: toStr(row.type),
    participant: toStr(row.participant ?? ""),
    payload: toBuf(row.payload),
    size: toNum(row.size),
    createdAt: toNum(row.created_at),
    expiresAt: toNum(row.expires_at),
  };
}

export class QueueStore {
  constructor(private readonly db: Knex) {}

  async enqueue(s: NewQueuedStanza): Promise<number> {
    const [inserted] = (await this.db("sb_queue")
      .insert({
        recipient: s.recipient,
        sender: s.sender,
        kind: s.kind,
        stanza_id: s.stanzaId,
        type: s.type ?? "",
        participant: s.participant ?? "",
        payload: Buffer.from(s.payload),
        size: s.payload.length,
        created_at: s.createdAt,
        expires_at: s.expiresAt,
      })
      .returning("seq")) as (Row | number)[];
    if (inserted === undefined) throw new Error("queue insert returned no sequence number");
    return typeof inserted === "number" ? inserted : toNum(inserted.seq);
  }

  /** Live stanzas for a recipient after `afterSeq`, in the order accepted. */
  async pending(
    recipient: string,
    afterSeq: number,
    now: number,
    limit = 500,
  ): Promise<QueuedStanza[]> {
    const rows = (await this.db("sb_queue")
      .where({ recipient })
      .andWhere("seq", ">", afterSeq)
      .andWhere("expires_at", ">", now)
      .orderBy("seq")
      .limit(limit)) as Row[];
    return rows.map(toQueued);
  }

  async maxSeq(recipient: string): Promise<number> {
    const row = (await this.db("sb_queue").where({ recipient }).max({ m: "seq" }).first()) as
      Row | undefined;
    return row && row.m !== null && row.m !== undefined ? toNum(row.m) : 0;
  }

  /**
   * Removes what an ack acknowledges among the recipient's stanzas up to
   * `maxSeq` (those already delivered): kind and id, and sender / type /
   * participant where given. Returns how many were removed.
   */
  async acknowledge(
    recipient: string,
    maxSeq: number,
    match: {
      kind: QueuedKind;
      stanzaId: string;
      sender?: string;
      type?: string;
      participant?: string;
    },
  ): Promise<number> {
    const q = this.db("sb_queue")
      .where({ recipient, kind: match.kind, stanza_id: match.stanzaId })
      .andWhere("seq", "<=", maxSeq);
    if (match.sender !== undefined) q.andWhere({ sender: match.sender });
    if (match.type !== undefined) q.andWhere({ type: match.type });
    if (match.participant !== undefined) q.andWhere({ participant: match.participant });
    return q.delete();
  }

  async hasPending(
    recipient: string,
    kind: QueuedKind,
    type: string,
    now: number,
  ): Promise<boolean> {
    const row = (await this.db("sb_queue")
      .where({ recipient, kind, type })
      .andWhere("expires_at", ">", now)
      .first("seq")) as Row | undefined;
    return row !== undefined;
  }

  async deleteFor(recipient: string): Promise<void> {
    await this.db("sb_queue").where({ recipient }).delete();
  }

  async purgeExpired(now: number): Promise<number> {
    return this.db("sb_queue").where("expires_at", "<=", now).delete();
  }

  async all(now: number): Promise<QueuedStanza[]> {
    const rows = (await this.db("sb_queue").where("expires_at", ">", now).orderBy("seq")) as Row[];
    return rows.map(toQueued);
  }

  /** The server time `t` of an earlier accepted (sender, kind, id, retry), or null. */
  async acceptedAt(
    sender: string,
    kind: string,
    stanzaId: string,
    retry: number,
  ): Promise<number | null> {
    const row = (await this.db("sb_accepted")
      .where({ sender, kind, stanza_id: stanzaId, retry })
      .first()) as Row | undefined;
    return row ? toNum(row.t) : null;
  }

  async recordAccepted(
    sender: string,
    kind: string,
    stanzaId: string,
    retry: number,
    t: number,
    now: number,
  ): Promise<void> {
    await this.db("sb_accepted")
      .insert({ sender, kind, stanza_id: stanzaId, retry, t, created_at: now })
      .onConflict(["sender", "kind", "stanza_id", "retry"])
      .ignore();
  }

  async purgeAcceptedBefore(cutoff: number): Promise<void> {
    await this.db("sb_accepted").where("created_at", "<", cutoff).delete();
  }
}
