import type { Knex } from "knex";
import { readLocalIdentity } from "./account-record.js";
import type { LocalIdentity } from "./account-record.js";
import { DbIdentityKeyStore } from "./identity-key-store.js";
import type { TrustPolicy } from "./identity-key-store.js";
import { DbKyberPreKeyStore } from "./kyber-prekey-store.js";
import { DbPreKeyStore } from "./prekey-store.js";
import { DbSenderKeyStore } from "./sender-key-store.js";
import { DbSessionStore } from "./session-store.js";
import { DbSignedPreKeyStore } from "./signed-prekey-store.js";
import { executorOn } from "./sql-executor.js";
import { SqlRecords } from "./sql-records.js";
import type { SignalRecords } from "./sql-records.js";
import { StoreJournal } from "./store-journal.js";

export interface SignalStoresOptions {
  trustPolicy?: TrustPolicy;
  clock?: () => number;
  /** Our identity if already loaded; otherwise read from the database when first needed. */
  local?: LocalIdentity;
  /** Where the stores note what they observed; a fresh one per set of stores by default. */
  journal?: StoreJournal;
}

/**
 * The libsignal stores of one account (`owner`) on its records (the five of one-to-one
 * sessions, and a sender key store per group). On a knex instance or
 * a transaction (SignalStores.on) every read and write goes straight to the database, so a
 * decrypt and the caller's own rows commit or roll back together; SignalAccount builds them
 * on cached records instead.
 */
export class SignalStores {
  readonly identity: DbIdentityKeyStore;
  readonly session: DbSessionStore;
  readonly preKey: DbPreKeyStore;
  readonly signedPreKey: DbSignedPreKeyStore;
  readonly kyberPreKey: DbKyberPreKeyStore;
  readonly journal: StoreJournal;

  private constructor(
    readonly records: SignalRecords,
    options: SignalStoresOptions & { loadLocal?: () => Promise<LocalIdentity | null> },
  ) {
    this.journal = records.journal;
    this.identity = new DbIdentityKeyStore(records, {
      policy: options.trustPolicy ?? "trust-on-change",
      clock: options.clock ?? Date.now,
      ...(options.local ? { local: options.local } : {}),
      ...(options.loadLocal ? { loadLocal: options.loadLocal } : {}),
    });
    this.session = new DbSessionStore(records);
    this.preKey = new DbPreKeyStore(records);
    this.signedPreKey = new DbSignedPreKeyStore(records);
    this.kyberPreKey = new DbKyberPreKeyStore(records);
  }

  get owner(): string {
    return this.records.owner;
  }

  /** The sender key store of group `groupJid` (§19.5) on the same records. */
  senderKey(groupJid: string): DbSenderKeyStore {
    return new DbSenderKeyStore(this.records, groupJid);
  }

  /** Stores for `owner` on `dbOrTrx` (a Knex instance or a Knex.Transaction), uncached. */
  static on(dbOrTrx: Knex, owner: string, options: SignalStoresOptions = {}): SignalStores {
    const journal = options.journal ?? new StoreJournal();
    const records = new SqlRecords(executorOn(dbOrTrx), owner, journal, options.clock ?? Date.now);
    return new SignalStores(records, {
      ...options,
      loadLocal: () => readLocalIdentity(dbOrTrx, owner),
    });
  }

  /** Stores on `records` (their journal is the stores' journal). */
  static over(records: SignalRecords, options: SignalStoresOptions = {}): SignalStores {
    return new SignalStores(records, options);
  }
}
