import type { Knex } from "knex";
import { generateKeyPair } from "../noise/index.js";
import type { StaticKeyPair } from "../noise/index.js";

/**
 * Per-account client state (table gk_client_accounts): the Noise static key the client
 * logs in with, created once and kept across restarts, and what we last told the
 * gatekeeper about our Signal keys.
 */
interface AccountRow {
  owner: string;
  noise_private_key: Buffer;
  noise_public_key: Buffer;
  jid: string | null;
  uploaded_identity_key: Buffer | null;
  created_at: number | string;
}

const TABLE = "gk_client_accounts";

export class AccountRepository {
  constructor(
    private readonly db: Knex,
    private readonly owner: string,
  ) {}

  /** Loads the Noise static key pair, creating and storing one on first use. */
  async noiseKeyPair(): Promise<StaticKeyPair> {
    const existing = await this.row();
    if (existing) return toKeyPair(existing);
    const pair = generateKeyPair();
    const row: AccountRow = {
      owner: this.owner,
      noise_private_key: pair.privateKey,
      noise_public_key: pair.publicKey,
      jid: null,
      uploaded_identity_key: null,
      created_at: Date.now(),
    };
    // Two processes starting the same account at once: keep whichever key was stored first.
    await this.db<AccountRow>(TABLE).insert(row).onConflict("owner").ignore();
    const stored = await this.row();
    if (!stored) throw new Error("account row vanished right after insert");
    return toKeyPair(stored);
  }

  async jid(): Promise<string | null> {
    return (await this.row())?.jid ?? null;
  }

  async setJid(jid: string): Promise<void> {
    await this.db<AccountRow>(TABLE).where({ owner: this.owner }).update({ jid });
  }

  /** The identity key of our last complete key upload, or null if none happened. */
  async uploadedIdentityKey(): Promise<Uint8Array | null> {
    const key = (await this.row())?.uploaded_identity_key;
    return key ? new Uint8Array(key) : null;
  }

  async setUploadedIdentityKey(key: Uint8Array | null): Promise<void> {
    await this.db<AccountRow>(TABLE)
      .where({ owner: this.owner })
      .update({ uploaded_identity_key: key ? Buffer.from(key) : null });
  }

  private async row(): Promise<AccountRow | undefined> {
    return (await this.db<AccountRow>(TABLE).where({ owner: this.owner }).first()) as
      AccountRow | undefined;
  }
}

function toKeyPair(row: AccountRow): StaticKeyPair {
  return {
    privateKey: new Uint8Array(row.noise_private_key),
    publicKey: new Uint8Array(row.noise_public_key),
  };
}
