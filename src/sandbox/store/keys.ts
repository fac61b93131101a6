/**
 * Public Signal key material per account: identity, one signed EC prekey, one
 * signed Kyber prekey and the one-time prekeys a bundle fetch consumes.
 */
import type { Knex } from "knex";
import { type Row, toBool, toBuf, toNum } from "./rows.js";

export interface SignedKey {
  id: number;
  publicKey: Buffer;
  signature: Buffer;
}

export interface OneTimeKey {
  id: number;
  publicKey: Buffer;
}

export interface IdentityRecord {
  registrationId: number;
  identityKey: Buffer;
  device: number;
  revoked: boolean;
}

export interface StoredBundle {
  registrationId: number;
  identityKey: Buffer;
  device: number;
  preKey: OneTimeKey | null;
  signedPreKey: SignedKey;
  kyberPreKey: SignedKey;
}

/** What an upload writes; absent parts are left as they are. */
export interface KeyWrite {
  identity?: { registrationId: number; identityKey: Uint8Array; device: number };
  /** Replace all one-time prekeys (identity change) instead of adding to them. */
  replacePreKeys?: boolean;
  preKeys?: OneTimeKey[];
  signedPreKey?: SignedKey;
  kyberPreKey?: SignedKey;
}

export class KeyStore {
  constructor(
    private readonly db: Knex,
    private readonly now: () => number,
  ) {}

  async identity(jid: string): Promise<IdentityRecord | null> {
    const row = (await this.db("sb_identities").where({ jid }).first()) as Row | undefined;
    if (!row) return null;
    return {
      registrationId: toNum(row.registration_id),
      identityKey: toBuf(row.identity_key),
      device: toNum(row.device),
      revoked: toBool(row.revoked),
    };
  }

  async signedKey(jid: string, kind: "ec" | "kyber"): Promise<SignedKey | null> {
    const row = (await this.db("sb_signed_prekeys").where({ jid, kind }).first()) as
      Row | undefined;
    return row
      ? { id: toNum(row.key_id), publicKey: toBuf(row.public_key), signature: toBuf(row.signature) }
      : null;
  }

  async write(jid: string, w: KeyWrite): Promise<void> {
    await this.db.transaction(async (trx) => {
      if (w.identity) {
        await trx("sb_identities").where({ jid }).delete();
        await trx("sb_identities").insert({
          jid,
          registration_id: w.identity.registrationId,
          identity_key: Buffer.from(w.identity.identityKey),
          device: w.identity.device,
          revoked: false,
          updated_at: this.now(),
        });
      }
      if (w.replacePreKeys) await trx("sb_prekeys").where({ jid }).delete();
      for (const [kind, key] of [
        ["ec", w.signedPreKey],
        ["kyber", w.kyberPreKey],
      ] as const) {
        if (!key) continue;
        await trx("sb_signed_prekeys").where({ jid, kind }).delete();
        await trx("sb_signed_prekeys").insert({
          jid,
          kind,
          key_id: key.id,
          public_key: key.publicKey,
          signature: key.signature,
        });
      }
      if (w.preKeys && w.preKeys.length > 0) {
        // A re-uploaded id replaces the old key of that id.
        const ids = w.preKeys.map((k) => k.id);
        for (let i = 0; i < ids.length; i += 200) {
          await trx("sb_prekeys")
            .where({ jid })
            .whereIn("key_id", ids.slice(i, i + 200))
            .delete();
        }
        const rows = w.preKeys.map((k) => ({ jid, key_id: k.id, public_key: k.publicKey }));
        for (let i = 0; i < rows.length; i += 100)
          await trx("sb_prekeys").insert(rows.slice(i, i + 100));
      }
    });
  }

  async countPreKeys(jid: string): Promise<number> {
    const row = (await this.db("sb_prekeys").where({ jid }).count({ n: "*" }).first()) as
      Row | undefined;
    return row ? toNum(row.n) : 0;
  }

  /** A bundle for `jid`, consuming its lowest-numbered one-time prekey; null without complete keys. */
  async takeBundle(jid: string): Promise<StoredBundle | null> {
    return this.db.transaction(async (trx) => {
      const identity = (await trx("sb_identities").where({ jid }).first()) as Row | undefined;
      if (!identity || toBool(identity.revoked)) return null;
      const signed = (await trx("sb_signed_prekeys").where({ jid })) as Row[];
      const ec = signed.find((r) => r.kind === "ec");
      const kyber = signed.find((r) => r.kind === "kyber");
      if (!ec || !kyber) return null;
      const pre = (await trx("sb_prekeys").where({ jid }).orderBy("key_id").first()) as
        Row | undefined;
      if (pre) await trx("sb_prekeys").where({ jid, key_id: pre.key_id }).delete();
      const toSigned = (r: Row): SignedKey => ({
        id: toNum(r.key_id),
        publicKey: toBuf(r.public_key),
        signature: toBuf(r.signature),
      });
      return {
        registrationId: toNum(identity.registration_id),
        identityKey: toBuf(identity.identity_key),
        device: toNum(identity.device),
        preKey: pre ? { id: toNum(pre.key_id), publicKey: toBuf(pre.public_key) } : null,
        signedPreKey: toSigned(ec),
        kyberPreKey: toSigned(kyber),
      };
    });
  }

  /** Deletes all keys but remembers the identity as revoked, so the next upload counts as an identity change. */
  async revoke(jid: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx("sb_prekeys").where({ jid }).delete();
      await trx("sb_signed_prekeys").where({ jid }).delete();
      await trx("sb_identities").where({ jid }).update({ revoked: true, updated_at: this.now() });
    });
  }

  async deleteAll(jid: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx("sb_prekeys").where({ jid }).delete();
      await trx("sb_signed_prekeys").where({ jid }).delete();
      await trx("sb_identities").where({ jid }).delete();
    });
  }
}
