import { KEMPublicKey, PreKeyBundle, PublicKey } from "@signalapp/libsignal-client";
import type { SignalAddress } from "./address.js";
import { copyBytes } from "./bytes.js";
import { SignalError } from "./errors.js";

/** A peer's prekey bundle as fetched from the server (serialized keys). */
export interface RemoteBundle {
  registrationId: number;
  deviceId: number;
  identityKey: Uint8Array;
  preKey?: { id: number; publicKey: Uint8Array };
  signedPreKey: { id: number; publicKey: Uint8Array; signature: Uint8Array };
  /** Required: libsignal only speaks PQXDH. */
  kyberPreKey: { id: number; publicKey: Uint8Array; signature: Uint8Array };
}

function isKeyId(id: unknown): id is number {
  return typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= 0xffffff;
}

/** Checks the shape and parses the keys; signatures are verified by libsignal. */
export function toPreKeyBundle(address: SignalAddress, bundle: RemoteBundle): PreKeyBundle {
  const fail = (why: string, cause?: unknown) =>
    new SignalError("invalid-bundle", `bundle of ${address.name}: ${why}`, { cause });
  if (bundle.deviceId !== address.deviceId) {
    throw fail(`device id ${bundle.deviceId} does not match the address (${address.deviceId})`);
  }
  if (
    !Number.isInteger(bundle.registrationId) ||
    bundle.registrationId < 0 ||
    bundle.registrationId > 0x3fff
  ) {
    throw fail("registration id out of range");
  }
  if (!bundle.kyberPreKey) throw fail("no Kyber prekey (PQXDH needs one)");
  const ids = [
    bundle.signedPreKey?.id,
    bundle.kyberPreKey.id,
    ...(bundle.preKey ? [bundle.preKey.id] : []),
  ];
  if (!ids.every(isKeyId)) throw fail("prekey id out of range");
  try {
    return PreKeyBundle.new(
      bundle.registrationId,
      bundle.deviceId,
      bundle.preKey ? bundle.preKey.id : null,
      bundle.preKey ? PublicKey.deserialize(copyBytes(bundle.preKey.publicKey)) : null,
      bundle.signedPreKey.id,
      PublicKey.deserialize(copyBytes(bundle.signedPreKey.publicKey)),
      copyBytes(bundle.signedPreKey.signature),
      PublicKey.deserialize(copyBytes(bundle.identityKey)),
      bundle.kyberPreKey.id,
      KEMPublicKey.deserialize(copyBytes(bundle.kyberPreKey.publicKey)),
      copyBytes(bundle.kyberPreKey.signature),
    );
  } catch (err) {
    throw fail("malformed key", err);
  }
}
