import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { Knex } from "knex";
import { num } from "./columns.js";
import { isUniqueViolation, RepositoryError } from "./errors.js";
import { rowCacheOf } from "./row-cache.js";
import type { RowCache } from "./row-cache.js";

/**
 * Logins (table bridge_logins): a Matrix user's account with the gatekeeper. The bridge
 * picks the account id and a random token; it logs in with them, and the gatekeeper's
 * auth callback presents them back for us to confirm (verifyToken).
 */
export type LoginState =
  /** Created; enlisting the phone number (code requested, not verified yet). */
  | "enlisting"
  /** Enlisted and connected to the gatekeeper. */
  | "connected"
  /** Enlisted, not connected right now (reconnecting, or the bridge is starting). */
  | "disconnected"
  /** Logged out (by the user, or the gatekeeper refused the account): not to be connected. */
  | "logged-out";

export interface Login {
  id: string;
  mxid: string;
  /** E.164, e.g. +4915112345678. */
  phone: string;
  accountId: string;
  token: string;
  jid: string | null;
  state: LoginState;
  createdAt: number;
  updatedAt: number;
}

interface LoginRow {
  id: string;
  mxid: string;
  phone: string;
  account_id: string;
  token: string;
  jid: string | null;
  state: string;
  created_at: number | string;
  updated_at: number | string;
}

const TABLE = "bridge_logins";
// docs/protocol.md §2: "+" and 8-15 digits.
const E164 = /^\+[1-9][0-9]{7,14}$/;
const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class LoginRepository {
  /** Logins by id, mxid and account id (see row-cache.ts). */
  private readonly cache: RowCache;

  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {
    this.cache = rowCacheOf(db);
  }

  /**
   * Creates a login in state "enlisting" with a new id, account id (unless given) and
   * token. Throws RepositoryError "duplicate" (field mxid or phone) when the Matrix user
   * already has a login or another user has this number, "invalid" for a malformed phone.
   */
  async create(
    input: { mxid: string; phone: string; accountId?: string },
    now = Date.now(),
  ): Promise<Login> {
    if (!E164.test(input.phone)) {
      throw new RepositoryError("invalid", `phone must be E.164 (+ and 8-15 digits)`, "phone");
    }
    const accountId = input.accountId ?? randomBytes(16).toString("base64url");
    if (!ACCOUNT_ID.test(accountId)) {
      throw new RepositoryError(
        "invalid",
        "account id must be 1-64 of A-Z a-z 0-9 _ -",
        "accountId",
      );
    }
    const row: LoginRow = {
      id: randomUUID(),
      mxid: input.mxid,
      phone: input.phone,
      account_id: accountId,
      token: randomBytes(32).toString("base64url"),
      jid: null,
      state: "enlisting",
      created_at: now,
      updated_at: now,
    };
    try {
      await this.db.transaction(async (trx) => {
        for (const [field, column] of [
          ["mxid", "mxid"],
          ["phone", "phone"],
          ["accountId", "account_id"],
        ] as const) {
          const taken = await trx<LoginRow>(TABLE).where(column, row[column]).first("id");
          if (taken)
            throw new RepositoryError("duplicate", `a login with this ${field} exists`, field);
        }
        await this.cache.write(trx, () => trx<LoginRow>(TABLE).insert(row));
      });
    } catch (err) {
      // Two creates racing past the checks: the constraint decides.
      if (isUniqueViolation(err)) {
        throw new RepositoryError(
          "duplicate",
          "a login with this mxid, phone or account id exists",
          undefined,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
    return toLogin(row);
  }

  async get(id: string): Promise<Login | undefined> {
    return this.cache.through(this.db, `login#${id}`, () => this.first({ id }));
  }

  async getByMxid(mxid: string): Promise<Login | undefined> {
    return this.cache.through(this.db, `login-mxid\n${mxid}`, () => this.first({ mxid }));
  }

  async getByAccountId(accountId: string): Promise<Login | undefined> {
    return this.cache.through(this.db, `login-account\n${accountId}`, () =>
      this.first({ account_id: accountId }),
    );
  }

  /** The login whose gatekeeper id is `jid` (a group member who is one of ours). */
  async getByJid(jid: string): Promise<Login | undefined> {
    return this.cache.through(this.db, `login-jid\n${jid}`, () => this.first({ jid }));
  }

  async getByPhone(phone: string): Promise<Login | undefined> {
    return this.first({ phone });
  }

  /**
   * For the gatekeeper's auth callback: the login whose account id and token match, or
   * null. The token is compared in constant time; a logged-out login never matches.
   */
  async verifyToken(accountId: string, token: string): Promise<Login | null> {
    const login = await this.getByAccountId(accountId);
    // Compare digests, so unequal lengths take the same path as unequal contents.
    const expected = digest(login?.token ?? "");
    const matches = timingSafeEqual(expected, digest(token));
    if (!login || !matches || login.state === "logged-out") return null;
    return login;
  }

  /** Replaces the token (e.g. before logging in again after a logout); returns the new one. */
  async rotateToken(id: string, now = Date.now()): Promise<string> {
    const token = randomBytes(32).toString("base64url");
    await this.update(id, { token }, now);
    return token;
  }

  async setState(id: string, state: LoginState, now = Date.now()): Promise<void> {
    await this.update(id, { state }, now);
  }

  async setJid(id: string, jid: string | null, now = Date.now()): Promise<void> {
    await this.update(id, { jid }, now);
  }

  /** Deletes the login and, through the foreign keys, its portals, message map and outbox. */
  async delete(id: string): Promise<boolean> {
    const n = await this.cache.write(this.db, () =>
      this.db<LoginRow>(TABLE).where({ id }).delete(),
    );
    return n > 0;
  }

  /** These logins (those that exist), read at once. */
  async getMany(ids: readonly string[]): Promise<Login[]> {
    const out: Login[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db<LoginRow>(TABLE).whereIn("id", ids.slice(i, i + 500));
      out.push(...rows.map(toLogin));
    }
    return out;
  }

  /** Logins the bridge should connect: every one not logged out, oldest first. */
  async listActive(): Promise<Login[]> {
    const rows = await this.db<LoginRow>(TABLE)
      .whereNot({ state: "logged-out" })
      .orderBy([{ column: "created_at" }, { column: "id" }]);
    return rows.map(toLogin);
  }

  async count(): Promise<number> {
    const row = await this.db(TABLE).count<{ n: number | string }[]>({ n: "*" }).first();
    return row ? num(row.n) : 0;
  }

  private async first(where: Partial<LoginRow>): Promise<Login | undefined> {
    const row = await this.db<LoginRow>(TABLE).where(where).first();
    return row ? toLogin(row) : undefined;
  }

  private async update(id: string, change: Partial<LoginRow>, now: number): Promise<void> {
    const n = await this.cache.write(this.db, () =>
      this.db<LoginRow>(TABLE)
        .where({ id })
        .update({ ...change, updated_at: now }),
    );
    if (n === 0) throw new RepositoryError("not-found", `no login ${id}`, "id");
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

function toLogin(row: LoginRow): Login {
  return {
    id: row.id,
    mxid: row.mxid,
    phone: row.phone,
    accountId: row.account_id,
    token: row.token,
    jid: row.jid,
    state: row.state as LoginState,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}
