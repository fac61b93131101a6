/**
 * libsignal with in-memory stores: the physical floor of the cryptography the store-backed
 * rows are compared with. The npm package does not export libsignal's own in-memory stores
 * (they live in its test sources), so these follow them: Map-based, records kept
 * serialized as any persistent store must, no database and no transactions.
 */
import { randomInt } from "node:crypto";
import {
  CiphertextMessageType,
  Direction,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeySignalMessage,
  PreKeyRecord,
  PreKeyStore,
  SessionRecord,
  SessionStore,
  SignalMessage,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  processPreKeyBundle,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from "@signalapp/libsignal-client";
import type { PrivateKey, ProtocolAddress, PublicKey } from "@signalapp/libsignal-client";
import { copyBytes, type Bytes } from "../src/gatekeeper/signal/bytes.js";
import {
  MAX_REGISTRATION_ID,
  toProtocolAddress,
  type RemoteBundle,
  type SignalAddress,
  type SignalMessageType,
} from "../src/gatekeeper/signal/index.js";
import {
  newKyberPreKeyRecord,
  newPreKeyRecord,
  newSignedPreKeyRecord,
  preKeyPublic,
  signedPreKeyPublic,
} from "../src/gatekeeper/signal/prekey-records.js";
import { toPreKeyBundle } from "../src/gatekeeper/signal/remote-bundle.js";

const keyOf = (address: ProtocolAddress): string => `${address.name()}::${address.deviceId()}`;

export class InMemorySessionStore extends SessionStore {
  private readonly records = new Map<string, Bytes>();

  async saveSession(address: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.records.set(keyOf(address), record.serialize());
  }

  async getSession(address: ProtocolAddress): Promise<SessionRecord | null> {
    const found = this.records.get(keyOf(address));
    return found ? SessionRecord.deserialize(found) : null;
  }

  async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return addresses.map((address) => {
      const found = this.records.get(keyOf(address));
      if (!found) throw new Error(`no session with ${keyOf(address)}`);
      return SessionRecord.deserialize(found);
    });
  }
}

/** Trust on first use; a changed key is saved and reported, as libsignal's test store does. */
export class InMemoryIdentityKeyStore extends IdentityKeyStore {
  private readonly identities = new Map<string, PublicKey>();

  constructor(
    private readonly identityKeyPair: IdentityKeyPair,
    private readonly registrationId: number,
  ) {
    super();
  }

  async getIdentityKey(): Promise<PrivateKey> {
    return this.identityKeyPair.privateKey;
  }

  override async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return this.identityKeyPair;
  }

  async getLocalRegistrationId(): Promise<number> {
    return this.registrationId;
  }

  async saveIdentity(address: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const previous = this.identities.get(address.name());
    this.identities.set(address.name(), key);
    return previous && !previous.equals(key)
      ? IdentityChange.ReplacedExisting
      : IdentityChange.NewOrUnchanged;
  }

  async isTrustedIdentity(
    address: ProtocolAddress,
    key: PublicKey,
    _direction: Direction,
  ): Promise<boolean> {
    const known = this.identities.get(address.name());
    return known ? known.equals(key) : true;
  }

  async getIdentity(address: ProtocolAddress): Promise<PublicKey | null> {
    return this.identities.get(address.name()) ?? null;
  }
}

export class InMemoryPreKeyStore extends PreKeyStore {
  private readonly records = new Map<number, Bytes>();

  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.records.set(id, record.serialize());
  }

  async getPreKey(id: number): Promise<PreKeyRecord> {
    const found = this.records.get(id);
    if (!found) throw new Error(`no prekey ${id}`);
    return PreKeyRecord.deserialize(found);
  }

  async removePreKey(id: number): Promise<void> {
    this.records.delete(id);
  }
}

export class InMemorySignedPreKeyStore extends SignedPreKeyStore {
  private readonly records = new Map<number, Bytes>();

  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.records.set(id, record.serialize());
  }

  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const found = this.records.get(id);
    if (!found) throw new Error(`no signed prekey ${id}`);
    return SignedPreKeyRecord.deserialize(found);
  }
}

/** Every Kyber prekey here is a last-resort one (as in the bundles we upload): kept when used. */
export class InMemoryKyberPreKeyStore extends KyberPreKeyStore {
  private readonly records = new Map<number, Bytes>();

  async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    this.records.set(id, record.serialize());
  }

  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const found = this.records.get(id);
    if (!found) throw new Error(`no kyber prekey ${id}`);
    return KyberPreKeyRecord.deserialize(found);
  }

  async markKyberPreKeyUsed(
    _id: number,
    _signedPreKeyId: number,
    _baseKey: PublicKey,
  ): Promise<void> {}
}

/**
 * One device's Signal state in memory, with the calls the pipeline makes of SignalAccount
 * and nothing around them: libsignal called directly on the five stores.
 */
export class InMemorySignalAccount {
  readonly identityKeyPair = IdentityKeyPair.generate();
  readonly registrationId = randomInt(1, MAX_REGISTRATION_ID + 1);
  readonly session = new InMemorySessionStore();
  readonly identity = new InMemoryIdentityKeyStore(this.identityKeyPair, this.registrationId);
  readonly preKey = new InMemoryPreKeyStore();
  readonly signedPreKey = new InMemorySignedPreKeyStore();
  readonly kyberPreKey = new InMemoryKyberPreKeyStore();
  private readonly local: ProtocolAddress;

  constructor(readonly address: SignalAddress) {
    this.local = toProtocolAddress(address);
  }

  /** A bundle as the server hands it out: one one-time prekey, signed and Kyber prekeys. */
  async generateBundle(): Promise<RemoteBundle> {
    const identity = this.identityKeyPair.privateKey;
    const preKey = newPreKeyRecord(1);
    const signedPreKey = newSignedPreKeyRecord(1, identity, Date.now());
    const kyberPreKey = newKyberPreKeyRecord(1, identity, Date.now());
    await this.preKey.savePreKey(1, preKey);
    await this.signedPreKey.saveSignedPreKey(1, signedPreKey);
    await this.kyberPreKey.saveKyberPreKey(1, kyberPreKey);
    return {
      registrationId: this.registrationId,
      deviceId: this.address.deviceId,
      identityKey: this.identityKeyPair.publicKey.serialize(),
      preKey: preKeyPublic(preKey),
      signedPreKey: signedPreKeyPublic(signedPreKey),
      kyberPreKey: signedPreKeyPublic(kyberPreKey),
    };
  }

  /** Builds a session from `bundle` (PQXDH), parsed as SignalAccount parses it. */
  async processBundle(address: SignalAddress, bundle: RemoteBundle): Promise<void> {
    await processPreKeyBundle(
      toPreKeyBundle(address, bundle),
      toProtocolAddress(address),
      this.local,
      this.session,
      this.identity,
    );
  }

  async encrypt(
    address: SignalAddress,
    plaintext: Uint8Array,
  ): Promise<{ type: SignalMessageType; ciphertext: Bytes }> {
    const message = await signalEncrypt(
      copyBytes(plaintext),
      toProtocolAddress(address),
      this.local,
      this.session,
      this.identity,
    );
    const type = message.type() === CiphertextMessageType.PreKey ? "pkmsg" : "msg";
    return { type, ciphertext: message.serialize() };
  }

  async decrypt(
    address: SignalAddress,
    type: SignalMessageType,
    ciphertext: Uint8Array,
  ): Promise<Bytes> {
    const remote = toProtocolAddress(address);
    if (type === "msg") {
      const message = SignalMessage.deserialize(copyBytes(ciphertext));
      return signalDecrypt(message, remote, this.local, this.session, this.identity);
    }
    return signalDecryptPreKey(
      PreKeySignalMessage.deserialize(copyBytes(ciphertext)),
      remote,
      this.local,
      this.session,
      this.identity,
      this.preKey,
      this.signedPreKey,
      this.kyberPreKey,
    );
  }
}
