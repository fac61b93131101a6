import { randomBytes } from "node:crypto";

/** The prefix the gatekeeper's own clients give the ids they generate [CLIENT]. */
export const MESSAGE_ID_PREFIX = "3EB0";

/** A new message id: "3EB0" + 16 upper-case hex digits from 8 random bytes (20 characters). */
export function newMessageId(): string {
  return MESSAGE_ID_PREFIX + randomBytes(8).toString("hex").toUpperCase();
}
