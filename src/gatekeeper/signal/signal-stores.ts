import type { Knex } from "knex";
import type { LocalIdentity } from "./account-record.js";
import { DbIdentityKeyStore } from "./identity-key-store.js";
import type { TrustPolicy } from "./identity-key-store.js";
import { DbKyberPreKeyStore } from "./kyber-prekey-store.js";
import { DbPreKeyStore } from "./prekey-store.js";
import { DbSessionStore } from "./session-store.js";
import { DbSignedPreKeyStore } from "./signed-prekey-store.js";
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
 * The five libsignal stores of one account (`owner`) on a knex instance or a transaction.
 * On a transaction every read and write joins it, so a decrypt and the caller's own rows
 * commit or roll back together.
 */
export class SignalStores {
  readonly identity: DbIdentityKeyStore;
  readonly session: DbSessionStore;
  readonly preKey: DbPreKeyStore;
  readonly signedPreKey: DbSignedPreKeyStore;
  readonly kyberPreKey: DbKyberPreKeyStore;
  readonly journal: StoreJournal;

  private constructor(
    readonly db: Knex,
    readonly owner: string,
    options: SignalStoresOptions,
  ) {
    const clock = options.clock ?? Date.now;
    const journal = (this.journal = options.journal ?? new StoreJournal());
    this.identity = new DbIdentityKeyStore(db, owner, {
      policy: options.trustPolicy ?? "trust-on-change",
      journal,
      clock,
      ...(options.local ? { local: options.local } : {}),
    });
    this.session = new DbSessionStore(db, owner, journal, clock);
    this.preKey = new DbPreKeyStore(db, owner, journal, clock);
    this.signedPreKey = new DbSignedPreKeyStore(db, owner, journal, clock);
    this.kyberPreKey = new DbKyberPreKeyStore(db, owner, journal, clock);
  }

  /** Stores for `owner` on `dbOrTrx` (a Knex instance or a Knex.Transaction). */
  static on(dbOrTrx: Knex, owner: string, options: SignalStoresOptions = {}): SignalStores {
    return new SignalStores(dbOrTrx, owner, options);
  }
}
