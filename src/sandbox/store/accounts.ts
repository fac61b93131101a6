/**
 * Accounts: native gatekeeper users (created through the admin API) and
 * partner users (created on their first successful login), keyed by JID.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import type { Knex } from "knex";
import { type Row, toBool, toNum, toNumOrNull, toStr, toStrOrNull } from "./rows.js";

export type AccountKind = "native" | "interop";
export type InboxMode = "separate" | "combined";

/** A native user's interop consent (docs/protocol.md §12.2). */
export interface InteropSettings {
  enabled: boolean;
  /** Partner ids allowed to reach this user, or "*" for all. */
  partners: string[] | "*";
  inbox: InboxMode;
}

export interface Account {
  jid: string;
  kind: AccountKind;
  partnerId: string | null;
  accountId: string;
  phone: string | null;
  name: string | null;
  interop: InteropSettings;
  sendReadReceipts: boolean;
  /** The last login said `ClientPayload.groups` (§19.1): only such accounts can be added to a group. */
  groups: boolean;
  createdAt: number;
  lastSeenAt: number | null;
}

const TABLE = "sb_accounts";

function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function parsePartnerList(value: string): string[] | "*" {
  if (value.trim() === "*") return "*";
  return value
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

export function formatPartnerList(partners: string[] | "*"): string {
  return partners === "*" ? "*" : partners.join(",");
}

function toAccount(row: Row): Account {
  const inbox = toStr(row.inbox);
  return {
    jid: toStr(row.jid),
    kind: toStr(row.kind) === "native" ? "native" : "interop",
    partnerId: toStrOrNull(row.partner_id),
    accountId: toStr(row.account_id),
    phone: toStrOrNull(row.phone),
    name: toStrOrNull(row.name),
    interop: {
      enabled: toBool(row.interop_enabled),
      partners: parsePartnerList(toStr(row.interop_partners)),
      inbox: inbox === "combined" ? "combined" : "separate",
    },
    sendReadReceipts: toBool(row.send_read_receipts),
    groups: toBool(row.groups),
    createdAt: toNum(row.created_at),
    lastSeenAt: toNumOrNull(row.last_seen_at),
  };
}

/** 15 random decimal digits, not starting with 0 so it reads like a number. */
function randomLid(): string {
  let lid = String(randomInt(1, 10));
  while (lid.length < 15) lid += String(randomInt(0, 10));
  return lid;
}

export class AccountStore {
  constructor(
    private readonly db: Knex,
    private readonly now: () => number,
  ) {}

  async get(jid: string): Promise<Account | null> {
    const row = (await this.db(TABLE).where({ jid }).first()) as Row | undefined;
    return row ? toAccount(row) : null;
  }

  async findNativeByPhone(phone: string): Promise<Account | null> {
    const row = (await this.db(TABLE).where({ kind: "native", phone }).first()) as Row | undefined;
    return row ? toAccount(row) : null;
  }

  async listNative(): Promise<Account[]> {
    const rows = (await this.db(TABLE).where({ kind: "native" }).orderBy("created_at")) as Row[];
    return rows.map(toAccount);
  }

  async listInterop(): Promise<Account[]> {
    const rows = (await this.db(TABLE).where({ kind: "interop" }).orderBy("created_at")) as Row[];
    return rows.map(toAccount);
  }

  /** A new native user with interop disabled; returns the login token (stored only as a hash). */
  async createNative(phone: string, name: string): Promise<{ account: Account; token: string }> {
    const token = randomBytes(24).toString("base64url");
    for (;;) {
      const lid = randomLid();
      const jid = `${lid}@lid.gk`;
      if (await this.get(jid)) continue;
      await this.db(TABLE).insert({
        jid,
        kind: "native",
        partner_id: null,
        account_id: lid,
        phone,
        name,
        token_hash: hashToken(token),
        interop_enabled: false,
        interop_partners: "",
        inbox: "separate",
        send_read_receipts: true,
        created_at: this.now(),
      });
      const account = await this.get(jid);
      if (!account) throw new Error("native account vanished after insert");
      return { account, token };
    }
  }

  /** Replaces a native user's token; returns the new one. */
  async resetNativeToken(jid: string): Promise<string> {
    const token = randomBytes(24).toString("base64url");
    await this.db(TABLE)
      .where({ jid, kind: "native" })
      .update({ token_hash: hashToken(token) });
    return token;
  }

  /** The native account whose id and token match, or null. */
  async checkNativeToken(accountId: string, token: string): Promise<Account | null> {
    const row = (await this.db(TABLE).where({ kind: "native", account_id: accountId }).first()) as
      Row | undefined;
    if (!row) return null;
    const stored = Buffer.from(toStr(row.token_hash), "hex");
    const given = Buffer.from(hashToken(token), "hex");
    return stored.length === given.length && timingSafeEqual(stored, given) ? toAccount(row) : null;
  }

  /** Creates or refreshes a partner user after a valid partner callback. */
  async upsertInterop(
    jid: string,
    partnerId: string,
    accountId: string,
    phone: string,
  ): Promise<Account> {
    const existing = await this.get(jid);
    if (existing) {
      await this.db(TABLE).where({ jid }).update({ phone });
    } else {
      await this.db(TABLE).insert({
        jid,
        kind: "interop",
        partner_id: partnerId,
        account_id: accountId,
        phone,
        name: null,
        token_hash: null,
        interop_enabled: true,
        interop_partners: "",
        inbox: "separate",
        send_read_receipts: true,
        created_at: this.now(),
      });
    }
    const account = await this.get(jid);
    if (!account) throw new Error("interop account vanished after upsert");
    return account;
  }

  async recordLogin(
    jid: string,
    sendReadReceipts: boolean,
    pushName: string | undefined,
    groups = false,
  ): Promise<void> {
    const update: Row = {
      send_read_receipts: sendReadReceipts,
      groups,
      last_seen_at: this.now(),
    };
    if (pushName !== undefined && pushName !== "") update.name = pushName;
    await this.db(TABLE).where({ jid }).update(update);
  }

  async setName(jid: string, name: string): Promise<void> {
    await this.db(TABLE).where({ jid }).update({ name });
  }

  async touchLastSeen(jid: string): Promise<void> {
    await this.db(TABLE).where({ jid }).update({ last_seen_at: this.now() });
  }

  async updateSettings(jid: string, settings: Partial<InteropSettings>): Promise<Account | null> {
    const update: Row = {};
    if (settings.enabled !== undefined) update.interop_enabled = settings.enabled;
    if (settings.partners !== undefined)
      update.interop_partners = formatPartnerList(settings.partners);
    if (settings.inbox !== undefined) update.inbox = settings.inbox;
    if (Object.keys(update).length > 0) await this.db(TABLE).where({ jid }).update(update);
    return this.get(jid);
  }
}
