/** Who has exchanged messages with whom (for first-contact limits, chat states, identity notices), and blocks. */
import type { Knex } from "knex";
import { type Row, toNum, toStr } from "./rows.js";

function pair(x: string, y: string): { a: string; b: string } {
  return x < y ? { a: x, b: y } : { a: y, b: x };
}

export class ContactStore {
  constructor(private readonly db: Knex) {}

  async hasConversation(x: string, y: string): Promise<boolean> {
    return (await this.db("sb_conversations").where(pair(x, y)).first("a")) !== undefined;
  }

  /** Records a conversation started by `initiator`; true if it is new. */
  async addConversation(initiator: string, other: string, now: number): Promise<boolean> {
    const inserted = (await this.db("sb_conversations")
      .insert({ ...pair(initiator, other), initiator, created_at: now })
      .onConflict(["a", "b"])
      .ignore()
      .returning("a")) as unknown[];
    return inserted.length > 0;
  }

  async conversationsStartedSince(initiator: string, since: number): Promise<number> {
    const row = (await this.db("sb_conversations")
      .where({ initiator })
      .andWhere("created_at", ">", since)
      .count({ n: "*" })
      .first()) as Row | undefined;
    return row ? toNum(row.n) : 0;
  }

  /** Oldest conversation start by `initiator` after `since` (to compute retry-after). */
  async oldestStartSince(initiator: string, since: number): Promise<number | null> {
    const row = (await this.db("sb_conversations")
      .where({ initiator })
      .andWhere("created_at", ">", since)
      .min({ m: "created_at" })
      .first()) as Row | undefined;
    return row && row.m !== null && row.m !== undefined ? toNum(row.m) : null;
  }

  async peersOf(jid: string): Promise<string[]> {
    const rows = (await this.db("sb_conversations").where({ a: jid }).orWhere({ b: jid })) as Row[];
    return rows.map((r) => (toStr(r.a) === jid ? toStr(r.b) : toStr(r.a)));
  }

  async deleteFor(jid: string): Promise<void> {
    await this.db("sb_conversations").where({ a: jid }).orWhere({ b: jid }).delete();
  }

  async block(blocker: string, blocked: string, now: number): Promise<void> {
    await this.db("sb_blocks")
      .insert({ blocker, blocked, created_at: now })
      .onConflict(["blocker", "blocked"])
      .ignore();
  }

  async unblock(blocker: string, blocked: string): Promise<void> {
    await this.db("sb_blocks").where({ blocker, blocked }).delete();
  }

  async blockedBy(blocker: string): Promise<string[]> {
    const rows = (await this.db("sb_blocks").where({ blocker }).orderBy("created_at")) as Row[];
    return rows.map((r) => toStr(r.blocked));
  }

  async isBlocked(blocker: string, blocked: string): Promise<boolean> {
    return (await this.db("sb_blocks").where({ blocker, blocked }).first("blocker")) !== undefined;
  }

  /** True if either has blocked the other. */
  async eitherBlocked(x: string, y: string): Promise<boolean> {
    const row = (await this.db("sb_blocks")
      .where({ blocker: x, blocked: y })
      .orWhere({ blocker: y, blocked: x })
      .first("blocker")) as Row | undefined;
    return row !== undefined;
  }
}
