/** Registered partners (docs/protocol.md §4.2, §11.4) and the sandbox's own settings. */
import type { Knex } from "knex";
import { type Row, toBool, toStr, toStrOrNull } from "./rows.js";

export interface Partner {
  id: string;
  authUrl: string;
  secret: string;
  /** Origin (scheme://host[:port]) the partner serves its users' media from. */
  mediaOrigin: string | null;
  suspended: boolean;
}

function toPartner(row: Row): Partner {
  return {
    id: toStr(row.id),
    authUrl: toStr(row.auth_url),
    secret: toStr(row.secret),
    mediaOrigin: toStrOrNull(row.media_origin),
    suspended: toBool(row.suspended),
  };
}

export class PartnerStore {
  constructor(
    private readonly db: Knex,
    private readonly now: () => number,
  ) {}

  async get(id: string): Promise<Partner | null> {
    const row = (await this.db("sb_partners").where({ id }).first()) as Row | undefined;
    return row ? toPartner(row) : null;
  }

  async list(): Promise<Partner[]> {
    return ((await this.db("sb_partners").orderBy("id")) as Row[]).map(toPartner);
  }

  async upsert(p: Omit<Partner, "suspended"> & { suspended?: boolean }): Promise<Partner> {
    const values = {
      auth_url: p.authUrl,
      secret: p.secret,
      media_origin: p.mediaOrigin,
      suspended: p.suspended ?? false,
    };
    await this.db("sb_partners")
      .insert({ id: p.id, ...values, created_at: this.now() })
      .onConflict("id")
      .merge(values);
    const saved = await this.get(p.id);
    if (!saved) throw new Error("partner vanished after upsert");
    return saved;
  }
}

export class MetaStore {
  constructor(private readonly db: Knex) {}

  async get(key: string): Promise<string | null> {
    const row = (await this.db("sb_meta").where({ key }).first()) as Row | undefined;
    return row ? toStr(row.value) : null;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db("sb_meta").insert({ key, value }).onConflict("key").merge({ value });
  }
}
