import {
  KEMKeyPair,
  KyberPreKeyRecord,
  PreKeyRecord,
  PrivateKey,
  SignedPreKeyRecord,
} from "@signalapp/libsignal-client";
import type { Bytes } from "./bytes.js";

/** A one-time prekey as uploaded: id and serialized public key. */
export interface PreKeyPublic {
  id: number;
  publicKey: Bytes;
}

/** A signed (EC or Kyber) prekey as uploaded; the signature is by the identity key. */
export interface SignedPreKeyPublic {
  id: number;
  publicKey: Bytes;
  signature: Bytes;
}

export function newPreKeyRecord(id: number): PreKeyRecord {
  const key = PrivateKey.generate();
  return PreKeyRecord.new(id, key.getPublicKey(), key);
}

export function newSignedPreKeyRecord(
  id: number,
  identity: PrivateKey,
  now: number,
): SignedPreKeyRecord {
  const key = PrivateKey.generate();
  const signature = identity.sign(key.getPublicKey().serialize());
  return SignedPreKeyRecord.new(id, now, key.getPublicKey(), key, signature);
}

export function newKyberPreKeyRecord(
  id: number,
  identity: PrivateKey,
  now: number,
): KyberPreKeyRecord {
  const keyPair = KEMKeyPair.generate();
  const signature = identity.sign(keyPair.getPublicKey().serialize());
  return KyberPreKeyRecord.new(id, now, keyPair, signature);
}

export function preKeyPublic(record: PreKeyRecord): PreKeyPublic {
  return { id: record.id(), publicKey: record.publicKey().serialize() };
}

export function signedPreKeyPublic(
  record: SignedPreKeyRecord | KyberPreKeyRecord,
): SignedPreKeyPublic {
  return {
    id: record.id(),
    publicKey: record.publicKey().serialize(),
    signature: record.signature(),
  };
}
