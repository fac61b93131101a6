import {
  CiphertextMessageType,
  PreKeySignalMessage,
  ProtocolAddress,
  SessionRecord,
  SignalMessage,
  processPreKeyBundle,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from "@signalapp/libsignal-client";
import type { Knex } from "knex";
import { insertLocalIdentity, readLocalIdentity, wipeOwner } from "./account-record.js";
import type { LocalIdentity } from "./account-record.js";
import { accountScope } from "./account-scope.js";
import type { AccountScope } from "./account-scope.js";
import { toProtocolAddress, validateAddress } from "./address.js";
import type { SignalAddress } from "./address.js";
import { copyBytes } from "./bytes.js";
import { safetyNumber } from "./fingerprint.js";
import { GroupCipher } from "./group-cipher.js";
import type { Bytes } from "./bytes.js";
import { SignalError, toSignalError } from "./errors.js";
import type { SignalErrorCode } from "./errors.js";
import type { RemoteIdentity, TrustPolicy } from "./identity-key-store.js";
import * as prekeys from "./prekey-generation.js";
import type { PreKeyUpload, UploadOptions } from "./prekey-generation.js";
import type { PreKeyPublic, SignedPreKeyPublic } from "./prekey-records.js";
import { sharedRecordCache } from "./record-cache.js";
import type { SignalRecordCache } from "./record-cache.js";
import { toPreKeyBundle } from "./remote-bundle.js";
import type { RemoteBundle } from "./remote-bundle.js";
import { SignalStores } from "./signal-stores.js";
import { executorOn } from "./sql-executor.js";
import { SqlRecords, copyIdentity } from "./sql-records.js";
import { StoreJournal } from "./store-journal.js";
import type { IdentityChangeEvent } from "./store-journal.js";
import { inTransaction } from "./transactions.js";
import { announceIdentityChanges } from "./identity-notifier.js";
import type { IdentityChangeListener } from "./identity-notifier.js";

export type SignalMessageType = "pkmsg" | "msg";

export interface SignalAccountOptions {
  /** Default "trust-on-change". */
  trustPolicy?: TrustPolicy;
  /**
   * Called once a peer's identity change is durably recorded (after the commit of the
   * transaction that saw it). Errors thrown here are ignored.
   */
  onIdentityChange?: IdentityChangeListener;
  clock?: () => number;
  /**
   * Where recently used sessions and peer identities are kept in memory; by default one
   * cache shared by every account of the process (DEFAULT_CACHE_PEERS peers).
   */
  cache?: SignalRecordCache;
}

/**
 * One account's Signal Protocol state and operations, persisted in the database. Sessions
 * and peer identities are read from a cache of committed rows and written through to the
 * database before an operation returns (with the caller's transaction: when it commits);
 * see AccountScope. Write Signal rows only through this class while it is in use.
 */
export class SignalAccount {
  /** Sender Keys: encrypting for and decrypting from groups (§19.5). */
  readonly groups: GroupCipher;
  private scope: AccountScope;
  private readonly localAddress: ProtocolAddress;

  private constructor(
    private readonly db: Knex,
    private local: LocalIdentity,
    private readonly options: SignalAccountOptions,
  ) {
    this.scope = accountScope(db, local, this.cache);
    this.localAddress = ProtocolAddress.new(local.owner, local.deviceId);
    this.groups = new GroupCipher({
      db,
      owner: local.owner,
      localAddress: this.localAddress,
      clock: () => this.clock(),
      onPeer: (name, trx, fn) => this.onPeer(name, trx, fn),
    });
  }

  /** Loads the account of `owner`, creating its identity and registration id if absent. */
  static async create(
    db: Knex,
    owner: string,
    deviceId: number,
    options: SignalAccountOptions = {},
  ): Promise<SignalAccount> {
    validateAddress({ name: owner, deviceId });
    const clock = options.clock ?? Date.now;
    let local: LocalIdentity;
    try {
      local = await db.transaction(async (t) => {
        const found = await readLocalIdentity(t, owner);
        return found ?? insertLocalIdentity(t, owner, deviceId, clock());
      });
    } catch (err) {
      // Another process created it at the same moment (primary key clash): use theirs.
      const created = await readLocalIdentity(db, owner);
      if (!created) throw err;
      local = created;
    }
    if (local.deviceId !== deviceId) {
      throw new SignalError(
        "invalid-address",
        `account ${owner} exists with device id ${local.deviceId}, not ${deviceId}`,
      );
    }
    return new SignalAccount(db, local, options);
  }

  /** The stored account of `owner`, or null if none was created. */
  static async load(
    db: Knex,
    owner: string,
    options: SignalAccountOptions = {},
  ): Promise<SignalAccount | null> {
    const local = await readLocalIdentity(db, owner);
    return local ? new SignalAccount(db, local, options) : null;
  }

  get owner(): string {
    return this.local.owner;
  }
  get deviceId(): number {
    return this.local.deviceId;
  }
  get registrationId(): number {
    return this.local.registrationId;
  }
  /** Our serialized public identity key. */
  get identityKey(): Bytes {
    return this.local.identityKeyPair.publicKey.serialize();
  }
  get address(): SignalAddress {
    return { name: this.local.owner, deviceId: this.local.deviceId };
  }

  /**
   * libsignal stores for this account straight on `dbOrTrx`, bypassing the cache: for
   * reading, and for prekeys. Sessions and identities written through them are not seen by
   * this account's cache.
   */
  stores(dbOrTrx: Knex = this.db, journal?: StoreJournal): SignalStores {
    return SignalStores.on(dbOrTrx, this.owner, {
      ...this.storeOptions,
      ...(journal ? { journal } : {}),
    });
  }

  // ---- keys to upload ----

  async generatePreKeys(count: number, trx?: Knex.Transaction): Promise<PreKeyPublic[]> {
    return inTransaction(this.db, trx, (t) => prekeys.generatePreKeys(t, this.stores(t), count));
  }

  async generateSignedPreKey(trx?: Knex.Transaction): Promise<SignedPreKeyPublic> {
    return inTransaction(this.db, trx, (t) =>
      prekeys.generateSignedPreKey(t, this.stores(t), this.local, this.clock()),
    );
  }

  async generateKyberPreKey(
    lastResort: boolean,
    trx?: Knex.Transaction,
  ): Promise<SignedPreKeyPublic> {
    return inTransaction(this.db, trx, (t) =>
      prekeys.generateKyberPreKey(t, this.stores(t), this.local, lastResort, this.clock()),
    );
  }

  /** New one-time prekeys plus the current signed and last-resort Kyber prekeys. */
  async generateUpload(
    preKeyCount: number,
    options: UploadOptions = {},
    trx?: Knex.Transaction,
  ): Promise<PreKeyUpload> {
    return inTransaction(this.db, trx, (t) =>
      prekeys.generateUpload(t, this.stores(t), this.local, preKeyCount, options, this.clock()),
    );
  }

  async remainingPreKeyCount(trx?: Knex.Transaction): Promise<number> {
    return this.stores(trx ?? this.db).preKey.count();
  }

  // ---- sessions ----

  /** Builds a session from a fetched bundle (PQXDH). Detects an identity change too. */
  async processBundle(
    address: SignalAddress,
    bundle: RemoteBundle,
    trx?: Knex.Transaction,
  ): Promise<void> {
    const preKeyBundle = toPreKeyBundle(address, bundle);
    await this.run(address, trx, "invalid-bundle", (stores, remote) =>
      processPreKeyBundle(preKeyBundle, remote, this.localAddress, stores.session, stores.identity),
    );
  }

  async hasSession(address: SignalAddress, trx?: Knex.Transaction): Promise<boolean> {
    validateAddress(address);
    const stored = await this.scope.peekSession(trx ?? this.db, address);
    return stored !== null && SessionRecord.deserialize(stored.record).hasCurrentState();
  }

  async deleteSession(address: SignalAddress, trx?: Knex.Transaction): Promise<boolean> {
    validateAddress(address);
    return this.onPeer(address.name, trx, (stores) => stores.records.deleteSession(address));
  }

  async encrypt(
    address: SignalAddress,
    plaintext: Uint8Array,
    trx?: Knex.Transaction,
  ): Promise<{ type: SignalMessageType; ciphertext: Bytes }> {
    return this.run(address, trx, "internal", async (stores, remote) => {
      // A session without a current state fails in libsignal as "not found": no-session too.
      if (!(await stores.records.session(address))) throw noSession(address);
      const message = await signalEncrypt(
        copyBytes(plaintext),
        remote,
        this.localAddress,
        stores.session,
        stores.identity,
      );
      const type = message.type() === CiphertextMessageType.PreKey ? "pkmsg" : "msg";
      return { type, ciphertext: message.serialize() };
    });
  }

  /**
   * Decrypts a message from `address`. With `trx`, the session update joins the caller's
   * transaction and reaches the cache once that commits. A decrypt that fails writes nothing,
   * so `trx` stays usable (several writes, as a pkmsg's, go in a savepoint of it).
   */
  async decrypt(
    address: SignalAddress,
    type: SignalMessageType,
    ciphertext: Uint8Array,
    trx?: Knex.Transaction,
  ): Promise<Bytes> {
    return this.run(address, trx, "invalid-message", async (stores, remote) => {
      const local = this.localAddress;
      if (type === "msg") {
        const message = SignalMessage.deserialize(copyBytes(ciphertext));
        if (!(await stores.records.session(address))) throw noSession(address);
        return signalDecrypt(message, remote, local, stores.session, stores.identity);
      }
      if (type === "pkmsg") {
        const message = PreKeySignalMessage.deserialize(copyBytes(ciphertext));
        return signalDecryptPreKey(
          message,
          remote,
          local,
          stores.session,
          stores.identity,
          stores.preKey,
          stores.signedPreKey,
          stores.kyberPreKey,
        );
      }
      throw new SignalError("invalid-message", `unknown message type "${String(type)}"`);
    });
  }

  // ---- identities ----

  async identity(address: SignalAddress): Promise<RemoteIdentity | null> {
    validateAddress(address);
    const known = await this.scope.peekIdentity(this.db, address.name);
    return known && copyIdentity(known); // the cached row must not change under the cache
  }

  /** Peers whose identity key changed since they were last confirmed. */
  async listChangedIdentities(): Promise<RemoteIdentity[]> {
    return this.direct().changedIdentities();
  }

  /**
   * Accepts the peer's identity key: a key waiting under "block-until-confirmed" becomes
   * trusted (and sessions built on the old key are dropped); a change notice is cleared.
   */
  async confirmIdentity(address: SignalAddress, trx?: Knex.Transaction): Promise<RemoteIdentity> {
    validateAddress(address);
    return this.onPeer(address.name, trx, async (stores) => {
      const before = await stores.identity.getRemoteIdentity(address.name);
      const after = await stores.identity.confirmIdentity(address.name);
      if (!before || !after) {
        throw new SignalError("unknown-identity", `no identity key known for ${address.name}`);
      }
      if (before.pendingKey) await stores.session.deleteSessionsOf(address.name);
      return after;
    });
  }

  /** The safety number (60 digits) of our identity and the peer's current (or pending) key. */
  async fingerprint(
    address: SignalAddress,
    which: "current" | "pending" = "current",
  ): Promise<string> {
    const known = await this.identity(address);
    const key = which === "pending" ? known?.pendingKey : known?.identityKey;
    if (!key)
      throw new SignalError("unknown-identity", `no ${which} identity key for ${address.name}`);
    return safetyNumber(this.local, address.name, key);
  }

  /** Wipes every key, session and identity of this account and starts a new identity. */
  async resetIdentity(): Promise<void> {
    this.local = await this.db.transaction(async (t) => {
      await wipeOwner(t, this.owner);
      return insertLocalIdentity(t, this.owner, this.deviceId, this.clock());
    });
    // The new identity is a new scope: nothing of the old one is cached for it.
    this.scope = accountScope(this.db, this.local, this.cache);
  }

  /** Removes everything this account stored (logout). The object is unusable afterwards. */
  async deleteAll(): Promise<void> {
    await this.db.transaction((t) => wipeOwner(t, this.owner));
  }

  // ---- internals ----

  private get clock(): () => number {
    return this.options.clock ?? Date.now;
  }

  private get cache(): SignalRecordCache {
    return this.options.cache ?? sharedRecordCache;
  }

  private get storeOptions() {
    return {
      trustPolicy: this.options.trustPolicy ?? "trust-on-change",
      clock: this.clock,
      local: this.local,
    } as const;
  }

  /** Runs `fn` on the stores of peer `name`, cached (see AccountScope.run). */
  private onPeer<T>(
    name: string,
    trx: Knex.Transaction | undefined,
    fn: (stores: SignalStores) => Promise<T>,
  ): Promise<T> {
    return this.scope.run(this.db, trx, name, this.clock, (records) =>
      fn(SignalStores.over(records, this.storeOptions)),
    );
  }

  /** Uncached reads: what the database holds. */
  private direct(): SqlRecords {
    return new SqlRecords(executorOn(this.db), this.owner, new StoreJournal(), this.clock);
  }

  /**
   * Runs one libsignal operation on `address` atomically, maps its failure to a
   * SignalError and reports identity changes once they are committed.
   */
  private async run<T>(
    address: SignalAddress,
    trx: Knex.Transaction | undefined,
    fallback: SignalErrorCode,
    op: (stores: SignalStores, remote: ProtocolAddress) => Promise<T>,
  ): Promise<T> {
    const remote = toProtocolAddress(address);
    let journal = new StoreJournal();
    try {
      const result = await this.onPeer(address.name, trx, (stores) => {
        journal = stores.journal; // the attempt that counts
        return op(stores, remote);
      });
      this.report(trx, journal.identityChanges);
      return result;
    } catch (err) {
      const error = toSignalError(err, journal, fallback);
      if (error.code === "untrusted-identity" && journal.blockedIdentities.length > 0) {
        // Best effort: if this write fails, the next attempt refuses and records again.
        await this.recordBlocked(trx, address, journal.blockedIdentities).catch(() => undefined);
        const refused = journal.blockedIdentities[0]!.newKey;
        throw new SignalError(error.code, error.message, {
          cause: error.cause,
          identityKey: refused,
        });
      }
      throw error;
    }
  }

  /** A refused key is recorded as pending after the refused operation rolled back. */
  private async recordBlocked(
    trx: Knex.Transaction | undefined,
    address: SignalAddress,
    blocked: IdentityChangeEvent[],
  ): Promise<void> {
    const recorded = await this.onPeer(address.name, trx, async (stores) => {
      const done: IdentityChangeEvent[] = [];
      for (const change of blocked) {
        const saved = await stores.identity.recordPendingIdentity(change);
        if (saved) done.push(saved);
      }
      return done;
    });
    this.report(trx, recorded);
  }

  private report(trx: Knex.Transaction | undefined, changes: IdentityChangeEvent[]): void {
    announceIdentityChanges(this.options.onIdentityChange, trx, changes, (name) =>
      this.direct().identity(name),
    );
  }
}

function noSession(address: SignalAddress): SignalError {
  return new SignalError("no-session", `no session with ${address.name}.${address.deviceId}`);
}

/** Loads the Signal account of `owner`, creating its identity if absent. */
export function createAccount(
  db: Knex,
  owner: string,
  deviceId: number,
  options?: SignalAccountOptions,
): Promise<SignalAccount> {
  return SignalAccount.create(db, owner, deviceId, options);
}

export function loadAccount(
  db: Knex,
  owner: string,
  options?: SignalAccountOptions,
): Promise<SignalAccount | null> {
  return SignalAccount.load(db, owner, options);
}
