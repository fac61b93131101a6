import {
  Direction,
  IdentityChange,
  IdentityKeyStore,
  PublicKey,
} from "@signalapp/libsignal-client";
import type { IdentityKeyPair, PrivateKey, ProtocolAddress } from "@signalapp/libsignal-client";
import type { Knex } from "knex";
import { readLocalIdentity } from "./account-record.js";
import type { LocalIdentity } from "./account-record.js";
import { fromProtocolAddress } from "./address.js";
import type { SignalAddress } from "./address.js";
import { bytesFromDb, bytesToDb, equalBytes, numberFromDb } from "./bytes.js";
import type { Bytes } from "./bytes.js";
import { SignalError } from "./errors.js";
import type { IdentityChangeEvent, StoreJournal } from "./store-journal.js";

/**
 * - trust-on-change: trust on first use, and trust a changed key too (as the gatekeeper's
 *   own clients do), recording the change so it can be surfaced.
 * - block-until-confirmed: a changed key is refused until confirmIdentity() accepts it.
 */
export type TrustPolicy = "trust-on-change" | "block-until-confirmed";

/**
 * first-use: seen once, never changed. changed: replaced under trust-on-change, not yet
 * acknowledged. unconfirmed: a change waits for confirmIdentity() (nothing is trusted for
 * this peer meanwhile). confirmed: the user accepted the current key.
 */
export type TrustState = "first-use" | "changed" | "unconfirmed" | "confirmed";

/** What we know of a peer's identity key. Keys are serialized public keys. */
export interface RemoteIdentity {
  name: string;
  identityKey: Bytes;
  previousKey: Bytes | null;
  pendingKey: Bytes | null;
  trust: TrustState;
  firstSeenAt: number;
  changedAt: number | null;
}

const TABLE = "signal_identities";

interface IdentityRow {
  name: string;
  identity_key: unknown;
  previous_key: unknown;
  pending_key: unknown;
  trust: string;
  first_seen_at: unknown;
  changed_at: unknown;
}

function rowToIdentity(row: IdentityRow): RemoteIdentity {
  const optional = (v: unknown) => (v === null || v === undefined ? null : bytesFromDb(v));
  return {
    name: row.name,
    identityKey: bytesFromDb(row.identity_key),
    previousKey: optional(row.previous_key),
    pendingKey: optional(row.pending_key),
    trust: row.trust as TrustState,
    firstSeenAt: numberFromDb(row.first_seen_at),
    changedAt: row.changed_at === null ? null : numberFromDb(row.changed_at),
  };
}

export interface IdentityStoreOptions {
  policy: TrustPolicy;
  journal: StoreJournal;
  clock: () => number;
  /** Our identity, if the caller already has it loaded (saves a query per operation). */
  local?: LocalIdentity;
}

/** libsignal's IdentityKeyStore on the database; identities are kept per peer name. */
export class DbIdentityKeyStore extends IdentityKeyStore {
  private local: LocalIdentity | undefined;

  constructor(
    private readonly db: Knex,
    readonly owner: string,
    private readonly options: IdentityStoreOptions,
  ) {
    super();
    this.local = options.local;
  }

  async localIdentity(): Promise<LocalIdentity> {
    if (!this.local) {
      const found = await this.options.journal.guard(() => readLocalIdentity(this.db, this.owner));
      if (!found) throw new SignalError("no-account", `no Signal account for ${this.owner}`);
      this.local = found;
    }
    return this.local;
  }

  async getIdentityKey(): Promise<PrivateKey> {
    return (await this.localIdentity()).identityKeyPair.privateKey;
  }

  override async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return (await this.localIdentity()).identityKeyPair;
  }

  async getLocalRegistrationId(): Promise<number> {
    return (await this.localIdentity()).registrationId;
  }

  async getRemoteIdentity(name: string): Promise<RemoteIdentity | null> {
    const row = (await this.options.journal.guard(() =>
      this.db(TABLE).where({ owner: this.owner, name }).first(),
    )) as IdentityRow | undefined;
    return row ? rowToIdentity(row) : null;
  }

  async getIdentity(address: ProtocolAddress): Promise<PublicKey | null> {
    const found = await this.getRemoteIdentity(address.name());
    return found ? PublicKey.deserialize(found.identityKey) : null;
  }

  async saveIdentity(address: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const name = address.name();
    const newKey = key.serialize();
    const now = this.options.clock();
    const existing = await this.getRemoteIdentity(name);
    if (!existing) {
      await this.options.journal.guard(() =>
        this.db(TABLE).insert({
          owner: this.owner,
          name,
          identity_key: bytesToDb(newKey),
          previous_key: null,
          pending_key: null,
          trust: "first-use",
          first_seen_at: now,
          changed_at: null,
        }),
      );
      return IdentityChange.NewOrUnchanged;
    }
    if (equalBytes(existing.identityKey, newKey)) return IdentityChange.NewOrUnchanged;

    // Only reached when isTrustedIdentity let the new key through (or libsignal saved
    // without asking): under the blocking policy it still needs a confirmation.
    const trust: TrustState =
      this.options.policy === "block-until-confirmed" ? "unconfirmed" : "changed";
    await this.options.journal.guard(() =>
      this.db(TABLE)
        .where({ owner: this.owner, name })
        .update({
          identity_key: bytesToDb(newKey),
          previous_key: bytesToDb(existing.identityKey),
          pending_key: null,
          trust,
          changed_at: now,
        }),
    );
    this.options.journal.identityChanges.push(
      this.changeEvent(fromProtocolAddress(address), existing.identityKey, newKey, false, now),
    );
    return IdentityChange.ReplacedExisting;
  }

  async isTrustedIdentity(
    address: ProtocolAddress,
    key: PublicKey,
    _direction: Direction,
  ): Promise<boolean> {
    if (this.options.policy === "trust-on-change") return true;
    const existing = await this.getRemoteIdentity(address.name());
    if (!existing) return true; // trust on first use
    const offered = key.serialize();
    const known =
      equalBytes(existing.identityKey, offered) ||
      (existing.pendingKey !== null && equalBytes(existing.pendingKey, offered));
    if (existing.trust === "unconfirmed") {
      if (!known) this.noteBlocked(address, existing.identityKey, offered);
      return false;
    }
    if (equalBytes(existing.identityKey, offered)) return true;
    this.noteBlocked(address, existing.identityKey, offered);
    return false;
  }

  /**
   * Stores a refused key as pending (trust "unconfirmed") so confirmIdentity() can accept
   * it. Called after the refused operation rolled back.
   */
  async recordPendingIdentity(change: IdentityChangeEvent): Promise<IdentityChangeEvent | null> {
    const updated = await this.options.journal.guard(() =>
      this.db(TABLE)
        .where({ owner: this.owner, name: change.address.name })
        .update({
          pending_key: bytesToDb(change.newKey),
          trust: "unconfirmed",
          changed_at: change.at,
        }),
    );
    return updated > 0 ? change : null;
  }

  /**
   * Accepts the peer's identity: a pending key becomes the trusted one; otherwise the
   * current key is marked as confirmed (acknowledging a change notice).
   */
  async confirmIdentity(name: string): Promise<RemoteIdentity | null> {
    const existing = await this.getRemoteIdentity(name);
    if (!existing) return null;
    const update: Record<string, unknown> = { trust: "confirmed", pending_key: null };
    if (existing.pendingKey) {
      update.identity_key = bytesToDb(existing.pendingKey);
      update.previous_key = bytesToDb(existing.identityKey);
      update.changed_at = this.options.clock();
    }
    await this.options.journal.guard(() =>
      this.db(TABLE).where({ owner: this.owner, name }).update(update),
    );
    return this.getRemoteIdentity(name);
  }

  /** Peers whose key changed and who were not confirmed since (the notices to show). */
  async listChangedIdentities(): Promise<RemoteIdentity[]> {
    const rows = (await this.options.journal.guard(() =>
      this.db(TABLE)
        .where({ owner: this.owner })
        .whereIn("trust", ["changed", "unconfirmed"])
        .orderBy("name"),
    )) as IdentityRow[];
    return rows.map(rowToIdentity);
  }

  private noteBlocked(address: ProtocolAddress, oldKey: Bytes, newKey: Bytes): void {
    const journal = this.options.journal;
    if (journal.blockedIdentities.some((c) => equalBytes(c.newKey, newKey))) return;
    journal.blockedIdentities.push(
      this.changeEvent(fromProtocolAddress(address), oldKey, newKey, true, this.options.clock()),
    );
  }

  private changeEvent(
    address: SignalAddress,
    oldKey: Bytes,
    newKey: Bytes,
    blocked: boolean,
    at: number,
  ): IdentityChangeEvent {
    return { owner: this.owner, address, oldKey, newKey, blocked, at };
  }
}
