import {
  Direction,
  IdentityChange,
  IdentityKeyStore,
  PublicKey,
} from "@signalapp/libsignal-client";
import type { IdentityKeyPair, PrivateKey, ProtocolAddress } from "@signalapp/libsignal-client";
import type { LocalIdentity } from "./account-record.js";
import { fromProtocolAddress } from "./address.js";
import type { SignalAddress } from "./address.js";
import { copyBytes, equalBytes } from "./bytes.js";
import type { Bytes } from "./bytes.js";
import { SignalError } from "./errors.js";
import type { RemoteIdentity, SignalRecords, TrustState } from "./sql-records.js";
import type { IdentityChangeEvent } from "./store-journal.js";

export type { RemoteIdentity, TrustState } from "./sql-records.js";

/**
 * - trust-on-change: trust on first use, and trust a changed key too (as the gatekeeper's
 *   own clients do), recording the change so it can be surfaced.
 * - block-until-confirmed: a changed key is refused until confirmIdentity() accepts it.
 */
export type TrustPolicy = "trust-on-change" | "block-until-confirmed";

export interface IdentityStoreOptions {
  policy: TrustPolicy;
  clock: () => number;
  /** Our identity, if the caller already has it loaded (saves a query per operation). */
  local?: LocalIdentity;
  /** Reads our identity when `local` is not given. */
  loadLocal?: () => Promise<LocalIdentity | null>;
}

/** libsignal's IdentityKeyStore on the database; identities are kept per peer name. */
export class DbIdentityKeyStore extends IdentityKeyStore {
  private local: LocalIdentity | undefined;

  constructor(
    private readonly records: SignalRecords,
    private readonly options: IdentityStoreOptions,
  ) {
    super();
    this.local = options.local;
  }

  get owner(): string {
    return this.records.owner;
  }

  async localIdentity(): Promise<LocalIdentity> {
    if (!this.local) {
      const load = this.options.loadLocal;
      const found = load ? await this.records.journal.guard(load) : null;
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

  getRemoteIdentity(name: string): Promise<RemoteIdentity | null> {
    return this.records.identity(name);
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
      const first: RemoteIdentity = {
        name,
        identityKey: newKey,
        previousKey: null,
        pendingKey: null,
        trust: "first-use",
        firstSeenAt: now,
        changedAt: null,
      };
      await this.records.putIdentity(first, null);
      return IdentityChange.NewOrUnchanged;
    }
    if (equalBytes(existing.identityKey, newKey)) return IdentityChange.NewOrUnchanged;

    // Only reached when isTrustedIdentity let the new key through (or libsignal saved
    // without asking): under the blocking policy it still needs a confirmation.
    const trust: TrustState =
      this.options.policy === "block-until-confirmed" ? "unconfirmed" : "changed";
    const changed: RemoteIdentity = {
      ...existing,
      identityKey: newKey,
      previousKey: existing.identityKey,
      pendingKey: null,
      trust,
      changedAt: now,
    };
    await this.records.putIdentity(changed, existing);
    this.records.journal.identityChanges.push(
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
    const existing = await this.getRemoteIdentity(change.address.name);
    if (!existing) return null;
    const pending: RemoteIdentity = {
      ...existing,
      pendingKey: change.newKey,
      trust: "unconfirmed",
      changedAt: change.at,
    };
    await this.records.putIdentity(pending, existing);
    return change;
  }

  /**
   * Accepts the peer's identity: a pending key becomes the trusted one; otherwise the
   * current key is marked as confirmed (acknowledging a change notice).
   */
  async confirmIdentity(name: string): Promise<RemoteIdentity | null> {
    const existing = await this.getRemoteIdentity(name);
    if (!existing) return null;
    const confirmed: RemoteIdentity = { ...existing, trust: "confirmed", pendingKey: null };
    if (existing.pendingKey) {
      confirmed.identityKey = existing.pendingKey;
      confirmed.previousKey = existing.identityKey;
      confirmed.changedAt = this.options.clock();
    }
    await this.records.putIdentity(confirmed, existing);
    return confirmed;
  }

  private noteBlocked(address: ProtocolAddress, oldKey: Bytes, newKey: Bytes): void {
    const journal = this.records.journal;
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
    // Copies: the keys of cached rows must not change under the cache.
    return {
      owner: this.owner,
      address,
      oldKey: copyBytes(oldKey),
      newKey: copyBytes(newKey),
      blocked,
      at,
    };
  }
}
