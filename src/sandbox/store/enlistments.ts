/** Verified phone numbers of partner users, and the one-time codes that verify them. */
import type { Knex } from "knex";
import { type Row, toNum, toStr } from "./rows.js";

export interface Enlistment {
  phone: string;
  jid: string;
  enlistedAt: number;
}

export interface EnlistCode {
  jid: string;
  phone: string;
  code: string;
  requestedAt: number;
  expiresAt: number;
  attempts: number;
}

function toCode(row: Row): EnlistCode {
  return {
    jid: toStr(row.jid),
    phone: toStr(row.phone),
    code: toStr(row.code),
    requestedAt: toNum(row.requested_at),
    expiresAt: toNum(row.expires_at),
    attempts: toNum(row.attempts),
  };
}

function toEnlistment(row: Row): Enlistment {
  return { phone: toStr(row.phone), jid: toStr(row.jid), enlistedAt: toNum(row.enlisted_at) };
}

export class EnlistmentStore {
  constructor(private readonly db: Knex) {}

  async byPhone(phone: string): Promise<Enlistment | null> {
    const row = (await this.db("sb_enlistments").where({ phone }).first()) as Row | undefined;
    return row ? toEnlistment(row) : null;
  }

  async byJid(jid: string): Promise<Enlistment | null> {
    const row = (await this.db("sb_enlistments").where({ jid }).first()) as Row | undefined;
    return row ? toEnlistment(row) : null;
  }

  /** Binds `phone` to `jid`, replacing an older number of the same account. */
  async enlist(phone: string, jid: string, now: number): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx("sb_enlistments").where({ jid }).delete();
      await trx("sb_enlistments").insert({ phone, jid, enlisted_at: now });
      await trx("sb_enlist_codes").where({ jid }).delete();
    });
  }

  async remove(jid: string): Promise<void> {
    await this.db("sb_enlistments").where({ jid }).delete();
    await this.db("sb_enlist_codes").where({ jid }).delete();
  }

  async codeFor(jid: string): Promise<EnlistCode | null> {
    const row = (await this.db("sb_enlist_codes").where({ jid }).first()) as Row | undefined;
    return row ? toCode(row) : null;
  }

  /** The most recently requested code for a number (the admin API's "SMS inbox"). */
  async latestCodeForPhone(phone: string): Promise<EnlistCode | null> {
    const row = (await this.db("sb_enlist_codes")
      .where({ phone })
      .orderBy("requested_at", "desc")
      .first()) as Row | undefined;
    return row ? toCode(row) : null;
  }

  async putCode(code: EnlistCode): Promise<void> {
    await this.db("sb_enlist_codes").where({ jid: code.jid }).delete();
    await this.db("sb_enlist_codes").insert({
      jid: code.jid,
      phone: code.phone,
      code: code.code,
      requested_at: code.requestedAt,
      expires_at: code.expiresAt,
      attempts: code.attempts,
    });
  }

  async countAttempt(jid: string): Promise<void> {
    await this.db("sb_enlist_codes").where({ jid }).increment("attempts", 1);
  }
}
