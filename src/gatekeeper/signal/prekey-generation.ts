import type { Knex } from "knex";
import { allocateKeyIds, readCurrentKeyIds, setCurrentKeyId } from "./account-record.js";
import type { LocalIdentity } from "./account-record.js";
import type { Bytes } from "./bytes.js";
import {
  newKyberPreKeyRecord,
  newPreKeyRecord,
  newSignedPreKeyRecord,
  preKeyPublic,
  signedPreKeyPublic,
} from "./prekey-records.js";
import type { PreKeyPublic, SignedPreKeyPublic } from "./prekey-records.js";
import type { SignalStores } from "./signal-stores.js";

/** What the prekey upload iq carries (all keys serialized as libsignal gives them). */
export interface PreKeyUpload {
  registrationId: number;
  identityKey: Bytes;
  preKeys: PreKeyPublic[];
  signedPreKey: SignedPreKeyPublic;
  /** The signed last-resort Kyber prekey: the server hands it out with every bundle. */
  kyberPreKey: SignedPreKeyPublic;
}

export const MAX_PREKEYS_PER_CALL = 1000;

/** Generates and stores `count` one-time prekeys with ids continuing from the last ones. */
export async function generatePreKeys(
  t: Knex,
  stores: SignalStores,
  count: number,
): Promise<PreKeyPublic[]> {
  if (!Number.isInteger(count) || count < 0 || count > MAX_PREKEYS_PER_CALL) {
    throw new RangeError(`prekey count must be an integer in 0..${MAX_PREKEYS_PER_CALL}`);
  }
  if (count === 0) return [];
  const ids = await allocateKeyIds(t, stores.owner, "prekey", count);
  const records = ids.map(newPreKeyRecord);
  await stores.preKey.savePreKeys(records);
  return records.map(preKeyPublic);
}

/** Generates, stores and makes current a new signed EC prekey. */
export async function generateSignedPreKey(
  t: Knex,
  stores: SignalStores,
  local: LocalIdentity,
  now: number,
): Promise<SignedPreKeyPublic> {
  const [id] = await allocateKeyIds(t, stores.owner, "signed-prekey", 1);
  const record = newSignedPreKeyRecord(id!, local.identityKeyPair.privateKey, now);
  await stores.signedPreKey.saveSignedPreKey(id!, record);
  await setCurrentKeyId(t, stores.owner, "signed-prekey", id!);
  return signedPreKeyPublic(record);
}

/** Generates and stores a signed Kyber prekey; a last-resort one becomes the current one. */
export async function generateKyberPreKey(
  t: Knex,
  stores: SignalStores,
  local: LocalIdentity,
  lastResort: boolean,
  now: number,
): Promise<SignedPreKeyPublic> {
  const [id] = await allocateKeyIds(t, stores.owner, "kyber-prekey", 1);
  const record = newKyberPreKeyRecord(id!, local.identityKeyPair.privateKey, now);
  await stores.kyberPreKey.saveKyberPreKey(id!, record, lastResort);
  if (lastResort) await setCurrentKeyId(t, stores.owner, "kyber-prekey", id!);
  return signedPreKeyPublic(record);
}

export interface UploadOptions {
  /** Replace the current signed prekey even if one exists. */
  rotateSignedPreKey?: boolean;
  /** Replace the current last-resort Kyber prekey even if one exists. */
  rotateKyberPreKey?: boolean;
}

/**
 * Everything one upload needs: `preKeyCount` new one-time prekeys plus the current signed
 * and last-resort Kyber prekeys (generated when missing or when rotation is asked for).
 */
export async function generateUpload(
  t: Knex,
  stores: SignalStores,
  local: LocalIdentity,
  preKeyCount: number,
  options: UploadOptions,
  now: number,
): Promise<PreKeyUpload> {
  const preKeys = await generatePreKeys(t, stores, preKeyCount);
  const current = await readCurrentKeyIds(t, stores.owner);
  const signedPreKey =
    current.signedPreKeyId === null || options.rotateSignedPreKey
      ? await generateSignedPreKey(t, stores, local, now)
      : signedPreKeyPublic(await stores.signedPreKey.getSignedPreKey(current.signedPreKeyId));
  const kyberPreKey =
    current.kyberPreKeyId === null || options.rotateKyberPreKey
      ? await generateKyberPreKey(t, stores, local, true, now)
      : signedPreKeyPublic(await stores.kyberPreKey.getKyberPreKey(current.kyberPreKeyId));
  return {
    registrationId: local.registrationId,
    identityKey: local.identityKeyPair.publicKey.serialize(),
    preKeys,
    signedPreKey,
    kyberPreKey,
  };
}
