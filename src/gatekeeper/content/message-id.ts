import { randomBytes } from "node:crypto";

/** The prefix the gatekeeper's own clients give the ids they generate [CLIENT]. */
export const MESSAGE_ID_PREFIX = "3EB0";

/** A new message id: "3EB0" + 16 upper-case hex digits from 8 random bytes (20 characters). */
export function newMessageId(): string {
  return MESSAGE_ID_PREFIX + randomBytes(8).toString("hex").toUpperCase();
}

const VALID_ID = /^[0-9A-F]{4,64}$/;

/**
 * Whether a peer's message id is acceptable. Deliberately lenient: any 4..64 upper-case hex
 * digits, with or without our prefix, because other clients generate ids of other lengths.
 * Anything else (lower case, other characters) is refused: ids end up in XML attributes,
 * database keys and Matrix event content, and a narrow alphabet keeps them safe there.
 */
export function isValidMessageId(id: string): boolean {
  return VALID_ID.test(id);
}
