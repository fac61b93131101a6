import type { Knex } from "knex";
import { createAccount } from "../../../src/gatekeeper/signal/index.js";
import type {
  PreKeyUpload,
  RemoteBundle,
  SignalAccount,
  SignalAccountOptions,
  SignalAddress,
} from "../../../src/gatekeeper/signal/index.js";

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);

let counter = 0;
/** A fresh address per call, so tests sharing one database never share an owner. */
export function uniqueName(label: string): string {
  counter += 1;
  return `${label}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}@lid.gk`;
}

/** What the server would hand out for one fetch: the upload, with one one-time prekey. */
export function bundleFrom(
  account: SignalAccount,
  upload: PreKeyUpload,
  preKeyIndex: number | null = 0,
): RemoteBundle {
  const preKey = preKeyIndex === null ? undefined : upload.preKeys[preKeyIndex];
  return {
    registrationId: upload.registrationId,
    deviceId: account.deviceId,
    identityKey: upload.identityKey,
    ...(preKey ? { preKey } : {}),
    signedPreKey: upload.signedPreKey,
    kyberPreKey: upload.kyberPreKey,
  };
}

export interface Party {
  account: SignalAccount;
  address: SignalAddress;
  upload: PreKeyUpload;
}

export async function newParty(
  db: Knex,
  label: string,
  options: SignalAccountOptions = {},
  preKeys = 5,
): Promise<Party> {
  const account = await createAccount(db, uniqueName(label), 1, options);
  const upload = await account.generateUpload(preKeys);
  return { account, address: account.address, upload };
}

/** Alice fetched Bob's bundle, sent a pkmsg, Bob decrypted it and replied. */
export async function connected(
  db: Knex,
  aliceOptions: SignalAccountOptions = {},
  bobOptions: SignalAccountOptions = {},
): Promise<{ alice: Party; bob: Party }> {
  const alice = await newParty(db, "alice", aliceOptions);
  const bob = await newParty(db, "bob", bobOptions);
  await alice.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload));
  const first = await alice.account.encrypt(bob.address, text("hello bob"));
  await bob.account.decrypt(alice.address, first.type, first.ciphertext);
  const reply = await bob.account.encrypt(alice.address, text("hello alice"));
  await alice.account.decrypt(bob.address, reply.type, reply.ciphertext);
  return { alice, bob };
}
