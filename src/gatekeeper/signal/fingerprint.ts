import { Fingerprint, PublicKey } from "@signalapp/libsignal-client";
import type { LocalIdentity } from "./account-record.js";
import { copyBytes } from "./bytes.js";
import type { Bytes } from "./bytes.js";

// Safety numbers as Signal computes them (fingerprint version 2); our identifiers are
// the UTF-8 addresses, so both ends must use the same address strings.
const FINGERPRINT_ITERATIONS = 5200;
const FINGERPRINT_VERSION = 2;
const utf8 = (s: string): Bytes => copyBytes(new TextEncoder().encode(s));

/** The 60-digit safety number of our identity and a peer's (serialized) identity key. */
export function safetyNumber(local: LocalIdentity, peerName: string, peerKey: Bytes): string {
  return Fingerprint.new(
    FINGERPRINT_ITERATIONS,
    FINGERPRINT_VERSION,
    utf8(local.owner),
    local.identityKeyPair.publicKey,
    utf8(peerName),
    PublicKey.deserialize(peerKey),
  )
    .displayableFingerprint()
    .toString();
}
