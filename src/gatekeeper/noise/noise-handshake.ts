/**
 * Noise Protocol Framework (rev 34) state machines for the suite
 * 25519 / AESGCM / SHA256: CipherState, SymmetricState and HandshakeState,
 * with the handshake patterns given as data.
 *
 * Hand-written (see noise-crypto.ts for why). Reproduces the cacophony vectors byte for byte.
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import {
  DHLEN,
  HASHLEN,
  TAGLEN,
  aeadDecrypt,
  aeadEncrypt,
  dh,
  generateKeyPairWithObject,
  hash,
  hkdf,
  privateKeyObject,
  publicKeyFromPrivate,
  type KeyPair,
} from "./noise-crypto.js";
import { NoiseError } from "./noise-error.js";

/** Noise caps every handshake message at 65535 bytes (spec §3). */
export const MAX_HANDSHAKE_MESSAGE = 65535;
/** Nonce 2^64-1 is reserved (spec §5.1); reaching it ends the CipherState. */
const MAX_NONCE = (1n << 64n) - 1n;
const EMPTY = Buffer.alloc(0);

export class CipherState {
  /** A KeyObject: node:crypto converts a raw key on every call otherwise (half an AEAD call's cost). */
  #key: KeyObject | null = null;
  #nonce = 0n;

  constructor(key?: Uint8Array) {
    if (key !== undefined) this.initializeKey(key);
  }

  initializeKey(key: Uint8Array | null): void {
    this.#key = key === null ? null : createSecretKey(Buffer.from(key));
    this.#nonce = 0n;
  }

  hasKey(): boolean {
    return this.#key !== null;
  }

  get nonce(): bigint {
    return this.#nonce;
  }

  /** Spec SetNonce(); for rekeying schemes and tests. */
  setNonce(n: bigint): void {
    if (n < 0n || n > MAX_NONCE) throw new RangeError("nonce must be in [0, 2^64-1]");
    this.#nonce = n;
  }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Buffer {
    if (this.#key === null) return Buffer.from(plaintext);
    this.#checkNonce();
    const out = aeadEncrypt(this.#key, this.#nonce, ad, plaintext);
    this.#nonce += 1n;
    return out;
  }

  /** On authentication failure throws NoiseError("decrypt-failed") and leaves the nonce unchanged. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Buffer {
    if (this.#key === null) return Buffer.from(ciphertext);
    this.#checkNonce();
    const out = aeadDecrypt(this.#key, this.#nonce, ad, ciphertext);
    this.#nonce += 1n;
    return out;
  }

  /** Transport-phase helpers: GKI/1 frames use empty associated data. */
  encrypt(plaintext: Uint8Array): Buffer {
    return this.encryptWithAd(EMPTY, plaintext);
  }

  decrypt(ciphertext: Uint8Array): Buffer {
    return this.decryptWithAd(EMPTY, ciphertext);
  }

  /** Spec Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, zeros). */
  rekey(): void {
    if (this.#key === null)
      throw new NoiseError("invalid-state", "cannot rekey a CipherState without a key");
    this.#key = createSecretKey(
      aeadEncrypt(this.#key, MAX_NONCE, EMPTY, Buffer.alloc(32)).subarray(0, 32),
    );
  }

  #checkNonce(): void {
    if (this.#nonce >= MAX_NONCE) {
      throw new NoiseError(
        "nonce-exhausted",
        "Noise nonce space exhausted; the session must be re-established",
      );
    }
  }
}

export class SymmetricState {
  readonly cipherState = new CipherState();
  #ck: Buffer;
  #h: Buffer;

  constructor(protocolName: string) {
    const name = Buffer.from(protocolName, "ascii");
    this.#h =
      name.length <= HASHLEN
        ? Buffer.concat([name, Buffer.alloc(HASHLEN - name.length)])
        : hash(name);
    this.#ck = Buffer.from(this.#h);
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = hkdf(this.#ck, ikm, 2) as [Buffer, Buffer];
    this.#ck = ck;
    this.cipherState.initializeKey(tempK);
  }

  mixHash(data: Uint8Array): void {
    this.#h = hash(this.#h, data);
  }

  /** For PSK tokens; unused by XX/IK but part of the standard object. */
  mixKeyAndHash(ikm: Uint8Array): void {
    const [ck, tempH, tempK] = hkdf(this.#ck, ikm, 3) as [Buffer, Buffer, Buffer];
    this.#ck = ck;
    this.mixHash(tempH);
    this.cipherState.initializeKey(tempK);
  }

  get handshakeHash(): Buffer {
    return Buffer.from(this.#h);
  }

  encryptAndHash(plaintext: Uint8Array): Buffer {
    const ciphertext = this.cipherState.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Buffer {
    const plaintext = this.cipherState.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf(this.#ck, EMPTY, 2) as [Buffer, Buffer];
    return [new CipherState(k1), new CipherState(k2)];
  }
}

export type PreMessageToken = "e" | "s";
export type MessageToken = "e" | "s" | "ee" | "es" | "se" | "ss";

export interface HandshakePattern {
  readonly initiatorPreMessage: readonly PreMessageToken[];
  readonly responderPreMessage: readonly PreMessageToken[];
  /** Message i is written by the initiator when i is even, by the responder when odd. */
  readonly messages: readonly (readonly MessageToken[])[];
}

export const HANDSHAKE_PATTERNS = {
  XX: {
    initiatorPreMessage: [],
    responderPreMessage: [],
    messages: [["e"], ["e", "ee", "s", "es"], ["s", "se"]],
  },
  IK: {
    initiatorPreMessage: [],
    responderPreMessage: ["s"],
    messages: [
      ["e", "es", "s", "ss"],
      ["e", "ee", "se"],
    ],
  },
} as const satisfies Record<string, HandshakePattern>;

export type HandshakePatternName = keyof typeof HANDSHAKE_PATTERNS;

export interface HandshakeOptions {
  pattern: HandshakePatternName;
  initiator: boolean;
  prologue?: Uint8Array;
  /** Our static X25519 private key (raw 32 bytes); the public key is derived. */
  staticPrivateKey?: Uint8Array;
  /** The peer's static public key, when the pattern pre-shares it (IK initiator). */
  remoteStaticKey?: Uint8Array;
  /** Fixed ephemeral private key. Only for test vectors: reusing an ephemeral key breaks security. */
  ephemeralPrivateKey?: Uint8Array;
}

function keyPairFrom(privateKey: Uint8Array): KeyPair {
  return { privateKey: Buffer.from(privateKey), publicKey: publicKeyFromPrivate(privateKey) };
}

export class HandshakeState {
  readonly protocolName: string;
  readonly initiator: boolean;
  readonly #pattern: HandshakePattern;
  readonly #ss: SymmetricState;
  #s: KeyPair | null;
  #e: KeyPair | null;
  #rs: Buffer | null;
  #re: Buffer | null = null;
  /** Our private keys as KeyObjects, made once per handshake (each is in two DH calls). */
  readonly #privateObjects = new WeakMap<Uint8Array, KeyObject>();
  #messageIndex = 0;
  #failed = false;

  constructor(options: HandshakeOptions) {
    const pattern: HandshakePattern | undefined = HANDSHAKE_PATTERNS[options.pattern];
    if (pattern === undefined)
      throw new NoiseError("invalid-state", `unsupported handshake pattern ${options.pattern}`);
    this.#pattern = pattern;
    this.initiator = options.initiator;
    this.protocolName = `Noise_${options.pattern}_25519_AESGCM_SHA256`;
    this.#s = options.staticPrivateKey === undefined ? null : keyPairFrom(options.staticPrivateKey);
    this.#e =
      options.ephemeralPrivateKey === undefined ? null : keyPairFrom(options.ephemeralPrivateKey);
    this.#rs = options.remoteStaticKey === undefined ? null : Buffer.from(options.remoteStaticKey);
    if (this.#rs !== null && this.#rs.length !== DHLEN) {
      throw new NoiseError("bad-key", `remote static key must be ${DHLEN} bytes`);
    }

    this.#ss = new SymmetricState(this.protocolName);
    this.#ss.mixHash(options.prologue ?? EMPTY);
    // Pre-messages are hashed initiator first, then responder (spec §7.1).
    this.#mixPreMessage(pattern.initiatorPreMessage, this.initiator);
    this.#mixPreMessage(pattern.responderPreMessage, !this.initiator);
  }

  get isComplete(): boolean {
    return this.#messageIndex >= this.#pattern.messages.length;
  }

  /** True when the next handshake message is ours to write. */
  get isMyTurn(): boolean {
    return !this.isComplete && this.#messageIndex % 2 === (this.initiator ? 0 : 1);
  }

  get handshakeHash(): Buffer {
    return this.#ss.handshakeHash;
  }

  /** The peer's static public key, once known (pre-shared or received). */
  get remoteStatic(): Buffer | null {
    return this.#rs === null ? null : Buffer.from(this.#rs);
  }

  writeMessage(payload: Uint8Array = EMPTY): Buffer {
    const tokens = this.#nextTokens(true);
    return this.#guard(() => {
      const parts: Buffer[] = [];
      for (const token of tokens) {
        if (token === "e") {
          if (this.#e === null) {
            const { pair, privateObject } = generateKeyPairWithObject();
            this.#privateObjects.set(pair.privateKey, privateObject);
            this.#e = pair;
          }
          parts.push(Buffer.from(this.#e.publicKey));
          this.#ss.mixHash(this.#e.publicKey);
        } else if (token === "s") {
          parts.push(this.#ss.encryptAndHash(this.#need(this.#s, "local static key").publicKey));
        } else {
          this.#mixDh(token);
        }
      }
      parts.push(this.#ss.encryptAndHash(payload));
      const message = Buffer.concat(parts);
      if (message.length > MAX_HANDSHAKE_MESSAGE) {
        throw new NoiseError(
          "bad-message-length",
          `handshake message exceeds ${MAX_HANDSHAKE_MESSAGE} bytes`,
        );
      }
      this.#messageIndex += 1;
      return message;
    });
  }

  /** Processes a handshake message from the peer and returns its payload. */
  readMessage(message: Uint8Array): Buffer {
    const tokens = this.#nextTokens(false);
    return this.#guard(() => {
      if (message.length > MAX_HANDSHAKE_MESSAGE) {
        throw new NoiseError(
          "bad-message-length",
          `handshake message exceeds ${MAX_HANDSHAKE_MESSAGE} bytes`,
        );
      }
      let offset = 0;
      const take = (n: number): Buffer => {
        if (message.length - offset < n) {
          throw new NoiseError(
            "bad-message-length",
            "handshake message is too short for its pattern",
          );
        }
        const slice = Buffer.from(message.subarray(offset, offset + n));
        offset += n;
        return slice;
      };
      for (const token of tokens) {
        if (token === "e") {
          this.#re = take(DHLEN);
          this.#ss.mixHash(this.#re);
        } else if (token === "s") {
          const sealed = take(DHLEN + (this.#ss.cipherState.hasKey() ? TAGLEN : 0));
          this.#rs = this.#ss.decryptAndHash(sealed);
        } else {
          this.#mixDh(token);
        }
      }
      if (this.#ss.cipherState.hasKey() && message.length - offset < TAGLEN) {
        throw new NoiseError(
          "bad-message-length",
          "handshake message is too short for its pattern",
        );
      }
      const payload = this.#ss.decryptAndHash(message.subarray(offset));
      this.#messageIndex += 1;
      return payload;
    });
  }

  /**
   * The two transport CipherStates: [initiator→responder, responder→initiator].
   * Only once the handshake is complete.
   */
  split(): [CipherState, CipherState] {
    if (this.#failed || !this.isComplete) {
      throw new NoiseError("invalid-state", "split() before the handshake completed");
    }
    return this.#ss.split();
  }

  #nextTokens(writing: boolean): readonly MessageToken[] {
    if (this.#failed) throw new NoiseError("invalid-state", "handshake already failed");
    const tokens = this.#pattern.messages[this.#messageIndex];
    if (tokens === undefined) throw new NoiseError("invalid-state", "handshake already complete");
    if (this.isMyTurn !== writing) {
      throw new NoiseError(
        "invalid-state",
        writing ? "not our turn to write" : "not our turn to read",
      );
    }
    return tokens;
  }

  /** A failed step leaves the transcript hash half-mixed, so the handshake cannot go on. */
  #guard<T>(step: () => T): T {
    try {
      return step();
    } catch (err) {
      this.#failed = true;
      throw err;
    }
  }

  #private(pair: KeyPair): KeyObject {
    let key = this.#privateObjects.get(pair.privateKey);
    if (key === undefined) {
      key = privateKeyObject(pair.privateKey);
      this.#privateObjects.set(pair.privateKey, key);
    }
    return key;
  }

  #mixDh(token: "ee" | "es" | "se" | "ss"): void {
    const e = (): KeyObject => this.#private(this.#need(this.#e, "local ephemeral key"));
    const s = (): KeyObject => this.#private(this.#need(this.#s, "local static key"));
    const re = (): Buffer => this.#need(this.#re, "remote ephemeral key");
    const rs = (): Buffer => this.#need(this.#rs, "remote static key");
    // First letter is the initiator's key, second the responder's (spec §7.1).
    switch (token) {
      case "ee":
        this.#ss.mixKey(dh(e(), re()));
        break;
      case "es":
        this.#ss.mixKey(this.initiator ? dh(e(), rs()) : dh(s(), re()));
        break;
      case "se":
        this.#ss.mixKey(this.initiator ? dh(s(), re()) : dh(e(), rs()));
        break;
      case "ss":
        this.#ss.mixKey(dh(s(), rs()));
        break;
    }
  }

  #mixPreMessage(tokens: readonly PreMessageToken[], ours: boolean): void {
    for (const token of tokens) {
      if (token === "s") {
        this.#ss.mixHash(
          ours
            ? this.#need(this.#s, "local static key").publicKey
            : this.#need(this.#rs, "remote static key"),
        );
      } else {
        this.#ss.mixHash(
          ours
            ? this.#need(this.#e, "local ephemeral key").publicKey
            : this.#need(this.#re, "remote ephemeral key"),
        );
      }
    }
  }

  #need<T>(value: T | null, what: string): T {
    if (value === null)
      throw new NoiseError("invalid-state", `the handshake needs the ${what}, which was not given`);
    return value;
  }
}
