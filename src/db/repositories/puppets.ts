import type { Knex } from "knex";
import { num } from "./columns.js";

/**
 * Puppets (table bridge_puppets): the Matrix ghost user of each gatekeeper contact, keyed
 * by the contact's JID and shared by every login that talks to them.
 */
export interface Puppet {
  jid: string;
  mxid: string;
  displayName: string | null;
  /** The contact's number, when a directory lookup told us. */
  phone: string | null;
  avatarMxc: string | null;
  /** Identifies the remote picture the avatar was made from (to notice a change). */
  avatarSource: string | null;
  updatedAt: number;
}

export interface PuppetProfile {
  displayName?: string | null;
  phone?: string | null;
  avatarMxc?: string | null;
  avatarSource?: string | null;
}

interface PuppetRow {
  jid: string;
  mxid: string;
  display_name: string | null;
  phone: string | null;
  avatar_mxc: string | null;
  avatar_source: string | null;
  updated_at: number | string;
}

const TABLE = "bridge_puppets";

export class PuppetRepository {
  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {}

  async get(jid: string): Promise<Puppet | undefined> {
    const row = await this.db<PuppetRow>(TABLE).where({ jid }).first();
    return row ? toPuppet(row) : undefined;
  }

  async getByMxid(mxid: string): Promise<Puppet | undefined> {
    const row = await this.db<PuppetRow>(TABLE).where({ mxid }).first();
    return row ? toPuppet(row) : undefined;
  }

  async getByPhone(phone: string): Promise<Puppet | undefined> {
    const row = await this.db<PuppetRow>(TABLE)
      .where({ phone })
      .orderBy("updated_at", "desc")
      .first();
    return row ? toPuppet(row) : undefined;
  }

  /** The puppets of these contacts (those without one are left out), in no order. */
  async listByJids(jids: readonly string[]): Promise<Puppet[]> {
    const out: Puppet[] = [];
    // In chunks: SQLite allows a limited number of bound parameters per statement.
    for (let i = 0; i < jids.length; i += 500) {
      const rows = await this.db<PuppetRow>(TABLE).whereIn("jid", jids.slice(i, i + 500));
      out.push(...rows.map(toPuppet));
    }
    return out;
  }

  /**
   * The puppet of `jid`, created with `mxid` if it does not exist yet. An existing puppet
   * keeps its mxid (a user ID, once used, must not change); only profile fields given are
   * updated.
   */
  async ensure(
    jid: string,
    mxid: string,
    profile: PuppetProfile = {},
    now = Date.now(),
  ): Promise<Puppet> {
    const change = profileColumns(profile);
    const row: PuppetRow = {
      jid,
      mxid,
      display_name: null,
      phone: null,
      avatar_mxc: null,
      avatar_source: null,
      updated_at: now,
      ...change,
    };
    const query = this.db<PuppetRow>(TABLE).insert(row).onConflict("jid");
    await (Object.keys(change).length > 0
      ? query.merge({ ...change, updated_at: now })
      : query.ignore());
    const stored = await this.get(jid);
    if (!stored) throw new Error(`puppet ${jid} vanished after upsert`);
    return stored;
  }

  /** Updates the profile fields given; false when there is no such puppet. */
  async setProfile(jid: string, profile: PuppetProfile, now = Date.now()): Promise<boolean> {
    const change = profileColumns(profile);
    const n = await this.db<PuppetRow>(TABLE)
      .where({ jid })
      .update({ ...change, updated_at: now });
    return n > 0;
  }
}

function profileColumns(p: PuppetProfile): Partial<PuppetRow> {
  const out: Partial<PuppetRow> = {};
  if (p.displayName !== undefined) out.display_name = p.displayName;
  if (p.phone !== undefined) out.phone = p.phone;
  if (p.avatarMxc !== undefined) out.avatar_mxc = p.avatarMxc;
  if (p.avatarSource !== undefined) out.avatar_source = p.avatarSource;
  return out;
}

function toPuppet(row: PuppetRow): Puppet {
  return {
    jid: row.jid,
    mxid: row.mxid,
    displayName: row.display_name,
    phone: row.phone,
    avatarMxc: row.avatar_mxc,
    avatarSource: row.avatar_source,
    updatedAt: num(row.updated_at),
  };
}
