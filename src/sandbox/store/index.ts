/** The sandbox's persistence: one knex database (SQLite file or in memory) behind small stores. */
import type { Knex } from "knex";
import { openDatabase } from "../../db/index.js";
import { AccountStore } from "./accounts.js";
import { ContactStore } from "./contacts.js";
import { EnlistmentStore } from "./enlistments.js";
import { GroupStore } from "./groups.js";
import { KeyStore } from "./keys.js";
import { type BlobStore, DiskBlobStore, MediaStore, MemoryBlobStore } from "./media.js";
import { migrateSandbox } from "./migrations.js";
import { MetaStore, PartnerStore } from "./partners.js";
import { QueueStore } from "./queue.js";

export interface SandboxDbConfig {
  type: "sqlite";
  /** A file path, or ":memory:". */
  filename: string;
}

export interface SandboxStore {
  db: Knex;
  /** True when state survives a restart (a database file). */
  persistent: boolean;
  accounts: AccountStore;
  contacts: ContactStore;
  enlistments: EnlistmentStore;
  groups: GroupStore;
  keys: KeyStore;
  queue: QueueStore;
  partners: PartnerStore;
  meta: MetaStore;
  media: MediaStore;
  blobs: BlobStore;
  close(): Promise<void>;
}

export async function openSandboxStore(
  cfg: SandboxDbConfig | undefined,
  now: () => number,
): Promise<SandboxStore> {
  const filename = cfg?.filename ?? ":memory:";
  const persistent = filename !== ":memory:" && filename !== "";
  const db = await openDatabase({ type: "sqlite", filename });
  try {
    await migrateSandbox(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return {
    db,
    persistent,
    accounts: new AccountStore(db, now),
    contacts: new ContactStore(db),
    enlistments: new EnlistmentStore(db),
    groups: new GroupStore(db),
    keys: new KeyStore(db, now),
    queue: new QueueStore(db),
    partners: new PartnerStore(db, now),
    meta: new MetaStore(db),
    media: new MediaStore(db),
    blobs: persistent ? new DiskBlobStore(`${filename}.media`) : new MemoryBlobStore(),
    close: () => db.destroy(),
  };
}

export type { Account, AccountKind, InboxMode, InteropSettings } from "./accounts.js";
export type { Partner } from "./partners.js";
export type { QueuedKind, QueuedStanza } from "./queue.js";
export type { Group, GroupMember, MemberRole } from "./groups.js";
export { isAdminRole } from "./groups.js";
