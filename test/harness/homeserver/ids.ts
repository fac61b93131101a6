/** Identifier grammar (spec appendix "Identifier Grammar") and random ids. */
import { randomBytes } from "node:crypto";
import { MatrixHttpError } from "./errors.js";

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

export function randomString(length: number, alphabet = ALNUM): string {
  const bytes = randomBytes(length);
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

/** Room version 4+ event ids: `$` + url-safe unpadded base64 of a (here random) 32-byte hash. */
export function newEventId(): string {
  return "$" + randomBytes(32).toString("base64url");
}

export function newRoomId(serverName: string): string {
  return `!${randomString(18)}:${serverName}`;
}

export function newDeviceId(): string {
  return randomString(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
}

export function newAccessToken(localpart: string): string {
  // Shaped like Synapse's `syt_<b64 localpart>_<random>_<crc>`; only the randomness matters.
  const b64 = Buffer.from(localpart).toString("base64url");
  return `syt_${b64}_${randomString(20)}_${randomString(6)}`;
}

export function newMediaId(): string {
  return randomString(24);
}

/** Localparts a server accepts for new users (lower case since spec v1.8's grammar). */
const NEW_LOCALPART = /^[a-z0-9._=\-/+]+$/;
/** Historical user ids (any printable ASCII but ':') are still valid to refer to. */
const USER_ID = /^@([\x21-\x39\x3b-\x7e]+):([A-Za-z0-9.\-:[\]]+)$/;

export function parseUserId(userId: string): { localpart: string; server: string } | undefined {
  if (userId.length > 255) return undefined;
  const m = USER_ID.exec(userId);
  return m ? { localpart: m[1]!, server: m[2]! } : undefined;
}

export function assertValidNewLocalpart(localpart: string, serverName: string): void {
  if (!NEW_LOCALPART.test(localpart)) {
    throw new MatrixHttpError(
      400,
      "M_INVALID_USERNAME",
      "User ID can only contain characters a-z, 0-9, or '=_-./+'",
    );
  }
  if (`@${localpart}:${serverName}`.length > 255) {
    throw new MatrixHttpError(
      400,
      "M_INVALID_USERNAME",
      "User ID may not be longer than 255 characters",
    );
  }
}

export function parseRoomAlias(alias: string): { localpart: string; server: string } | undefined {
  const m = /^#([^:]+):(.+)$/.exec(alias);
  return m ? { localpart: m[1]!, server: m[2]! } : undefined;
}

export function stateKeyOf(type: string, stateKey: string): string {
  return `${type}\u0000${stateKey}`;
}
