import { randomInt } from "node:crypto";
import { IdentityKeyPair } from "@signalapp/libsignal-client";
import type { Knex } from "knex";
import { bytesFromDb, bytesToDb, numberFromDb } from "./bytes.js";

/** Our side of one account: what libsignal calls the local identity. */
export interface LocalIdentity {
  owner: string;
  deviceId: number;
  registrationId: number;
  identityKeyPair: IdentityKeyPair;
}

export type KeyIdKind = "prekey" | "signed-prekey" | "kyber-prekey";

/** Prekey ids are 24-bit on the wire; counters wrap from MAX_KEY_ID back to 1. */
export const MAX_KEY_ID = 0xffffff;
/** Registration ids are 14-bit; Signal's clients keep them in 1..16380. */
export const MAX_REGISTRATION_ID = 16380;

const ACCOUNTS = "signal_accounts";
/** Every table holding per-owner Signal state, for wiping an owner. */
export const OWNER_TABLES = [
  "signal_sessions",
  "signal_identities",
  "signal_prekeys",
  "signal_signed_prekeys",
  "signal_kyber_prekeys",
  "signal_sender_keys",
  "signal_group_distributions",
  "signal_group_recipients",
  ACCOUNTS,
] as const;

const NEXT_ID_COLUMN: Record<KeyIdKind, string> = {
  prekey: "next_prekey_id",
  "signed-prekey": "next_signed_prekey_id",
  "kyber-prekey": "next_kyber_prekey_id",
};

interface AccountRow {
  owner: string;
  device_id: unknown;
  registration_id: unknown;
  identity_key_pair: unknown;
  next_prekey_id: unknown;
  next_signed_prekey_id: unknown;
  next_kyber_prekey_id: unknown;
  current_signed_prekey_id: unknown;
  current_kyber_prekey_id: unknown;
}

export function nextKeyId(id: number): number {
  return id >= MAX_KEY_ID ? 1 : id + 1;
}

function randomKeyId(): number {
  // A random start, as Signal's clients do, so ids from before an identity reset that a
  // server may still hand out are unlikely to collide with new ones.
  return randomInt(1, MAX_KEY_ID + 1);
}

function rowToLocal(row: AccountRow): LocalIdentity {
  return {
    owner: row.owner,
    deviceId: numberFromDb(row.device_id),
    registrationId: numberFromDb(row.registration_id),
    identityKeyPair: IdentityKeyPair.deserialize(bytesFromDb(row.identity_key_pair)),
  };
}

export async function readLocalIdentity(db: Knex, owner: string): Promise<LocalIdentity | null> {
  const row = (await db(ACCOUNTS).where({ owner }).first()) as AccountRow | undefined;
  return row ? rowToLocal(row) : null;
}

/** Generates and stores a new identity key pair and registration id for `owner`. */
export async function insertLocalIdentity(
  db: Knex,
  owner: string,
  deviceId: number,
  now: number,
): Promise<LocalIdentity> {
  const local: LocalIdentity = {
    owner,
    deviceId,
    registrationId: randomInt(1, MAX_REGISTRATION_ID + 1),
    identityKeyPair: IdentityKeyPair.generate(),
  };
  await db(ACCOUNTS).insert({
    owner,
    device_id: deviceId,
    registration_id: local.registrationId,
    identity_key_pair: bytesToDb(local.identityKeyPair.serialize()),
    next_prekey_id: randomKeyId(),
    next_signed_prekey_id: randomKeyId(),
    next_kyber_prekey_id: randomKeyId(),
    current_signed_prekey_id: null,
    current_kyber_prekey_id: null,
    created_at: now,
  });
  return local;
}

/** Reserves `count` consecutive key ids (wrapping at 24 bits). Call inside a transaction. */
export async function allocateKeyIds(
  db: Knex,
  owner: string,
  kind: KeyIdKind,
  count: number,
): Promise<number[]> {
  const column = NEXT_ID_COLUMN[kind];
  // FOR UPDATE (PostgreSQL) makes concurrent allocations queue instead of handing out
  // the same ids twice; SQLite has a single writer anyway.
  const row = (await db(ACCOUNTS).where({ owner }).select(column).forUpdate().first()) as
    Record<string, unknown> | undefined;
  if (!row) throw new Error(`no Signal account for ${owner}`);
  const ids: number[] = [];
  let id = numberFromDb(row[column]);
  for (let i = 0; i < count; i++) {
    ids.push(id);
    id = nextKeyId(id);
  }
  await db(ACCOUNTS)
    .where({ owner })
    .update({ [column]: id });
  return ids;
}

export interface CurrentKeyIds {
  signedPreKeyId: number | null;
  kyberPreKeyId: number | null;
}

export async function readCurrentKeyIds(db: Knex, owner: string): Promise<CurrentKeyIds> {
  const row = (await db(ACCOUNTS)
    .where({ owner })
    .select("current_signed_prekey_id", "current_kyber_prekey_id")
    .first()) as
    Pick<AccountRow, "current_signed_prekey_id" | "current_kyber_prekey_id"> | undefined;
  const read = (v: unknown) => (v === null || v === undefined ? null : numberFromDb(v));
  return {
    signedPreKeyId: read(row?.current_signed_prekey_id),
    kyberPreKeyId: read(row?.current_kyber_prekey_id),
  };
}

export async function setCurrentKeyId(
  db: Knex,
  owner: string,
  kind: "signed-prekey" | "kyber-prekey",
  id: number,
): Promise<void> {
  const column = kind === "signed-prekey" ? "current_signed_prekey_id" : "current_kyber_prekey_id";
  await db(ACCOUNTS)
    .where({ owner })
    .update({ [column]: id });
}

/** Deletes every Signal row of `owner`: keys, sessions, identities and the account. */
export async function wipeOwner(db: Knex, owner: string): Promise<void> {
  for (const table of OWNER_TABLES) await db(table).where({ owner }).delete();
}
