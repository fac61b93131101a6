/**
 * The Noise cipher suite 25519 / AESGCM / SHA256 on node:crypto.
 *
 * Written by hand rather than taken from npm: GKI/1 needs byte-exact control
 * (the pinned-key check, the cacophony test vectors) and no well-kept npm Noise
 * package covers AESGCM + 25519 on node:crypto.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { NoiseError } from "./noise-error.js";

export const DHLEN = 32;
export const HASHLEN = 32;
export const KEYLEN = 32;
export const TAGLEN = 16;

/** A raw X25519 key pair (32 bytes each). */
export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

// DER wrappers that turn a raw 32-byte X25519 key into PKCS#8 / SPKI (RFC 8410).
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

function assertKeyLength(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== DHLEN) {
    throw new NoiseError("bad-key", `${what} must be a raw ${DHLEN}-byte X25519 key`);
  }
}

/** A raw X25519 private key as a node:crypto KeyObject (to reuse over several DH calls). */
export function privateKeyObject(privateKey: Uint8Array): KeyObject {
  assertKeyLength(privateKey, "X25519 private key");
  return createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]),
    format: "der",
    type: "pkcs8",
  });
}

/** Public keys seen lately as KeyObjects: the gatekeeper's static key is in every handshake. */
const publicKeyObjects = new Map<string, KeyObject>();
const PUBLIC_KEY_OBJECTS = 256;

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  assertKeyLength(publicKey, "X25519 public key");
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, DHLEN).toString("base64");
  let key = publicKeyObjects.get(id);
  if (key === undefined) {
    key = createPublicKey({
      key: Buffer.concat([SPKI_X25519_PREFIX, publicKey]),
      format: "der",
      type: "spki",
    });
    if (publicKeyObjects.size >= PUBLIC_KEY_OBJECTS) {
      publicKeyObjects.delete(publicKeyObjects.keys().next().value!);
    }
    publicKeyObjects.set(id, key);
  }
  return key;
}

function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ format: "der", type: "spki" }).subarray(SPKI_X25519_PREFIX.length);
}

/** A fresh random X25519 key pair as raw 32-byte keys. */
export function generateKeyPair(): { privateKey: Buffer; publicKey: Buffer } {
  return generateKeyPairWithObject().pair;
}

/** A fresh key pair, and its private key as a KeyObject too (for DH without converting). */
export function generateKeyPairWithObject(): {
  pair: { privateKey: Buffer; publicKey: Buffer };
  privateObject: KeyObject;
} {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
  return {
    pair: {
      privateKey: Buffer.from(pkcs8.subarray(PKCS8_X25519_PREFIX.length)),
      publicKey: rawPublicKey(publicKey),
    },
    privateObject: privateKey,
  };
}

/** The X25519 public key of a raw 32-byte private key. */
export function publicKeyFromPrivate(privateKey: Uint8Array): Buffer {
  return rawPublicKey(createPublicKey(privateKeyObject(privateKey)));
}

/** DH(private, public); rejects invalid public keys (including low-order points, whose output is all zeros). */
export function dh(privateKey: Uint8Array | KeyObject, publicKey: Uint8Array): Buffer {
  try {
    return diffieHellman({
      privateKey: isKeyObject(privateKey) ? privateKey : privateKeyObject(privateKey),
      publicKey: publicKeyObject(publicKey),
    });
  } catch (err) {
    if (err instanceof NoiseError) throw err;
    throw new NoiseError(
      "bad-key",
      "X25519 key agreement failed (invalid or low-order public key)",
      { cause: err },
    );
  }
}

function isKeyObject(key: Uint8Array | KeyObject): key is KeyObject {
  return !(key instanceof Uint8Array);
}

/** Noise AESGCM nonce: 32 bits of zeros, then the 64-bit counter big-endian. */
function gcmNonce(n: bigint): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(n, 4);
  return iv;
}

export function aeadEncrypt(
  key: Uint8Array | KeyObject,
  n: bigint,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Buffer {
  const cipher = createCipheriv("aes-256-gcm", key, gcmNonce(n));
  cipher.setAAD(ad);
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([body, cipher.getAuthTag()]);
}

export function aeadDecrypt(
  key: Uint8Array | KeyObject,
  n: bigint,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Buffer {
  if (ciphertext.length < TAGLEN) {
    throw new NoiseError("decrypt-failed", "ciphertext is shorter than the AES-GCM tag");
  }
  const bodyLength = ciphertext.length - TAGLEN;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, gcmNonce(n), { authTagLength: TAGLEN });
    decipher.setAAD(ad);
    decipher.setAuthTag(ciphertext.subarray(bodyLength));
    const body = decipher.update(ciphertext.subarray(0, bodyLength));
    decipher.final();
    return body;
  } catch (err) {
    throw new NoiseError("decrypt-failed", "AES-GCM authentication failed", { cause: err });
  }
}

export function hash(...parts: Uint8Array[]): Buffer {
  const h = createHash("sha256");
  for (const part of parts) h.update(part);
  return h.digest();
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const m = createHmac("sha256", key);
  for (const part of parts) m.update(part);
  return m.digest();
}

/**
 * Noise HKDF (spec §4.3): an HMAC-SHA256 chain keyed by the chaining key.
 * Not RFC 5869 expand-with-info, so node's hkdfSync does not fit.
 */
export function hkdf(chainingKey: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): Buffer[] {
  const tempKey = hmac(chainingKey, ikm);
  const out1 = hmac(tempKey, Uint8Array.of(1));
  const out2 = hmac(tempKey, out1, Uint8Array.of(2));
  if (outputs === 2) return [out1, out2];
  return [out1, out2, hmac(tempKey, out2, Uint8Array.of(3))];
}
