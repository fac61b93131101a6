/**
 * How a message that could not be shown is told (docs/protocol.md §8.3), in a chat or a
 * group: an undecryptable one is asked for again; a damaged one (it decrypted, but is no
 * content) is not, since the sender's app would send the same again; a lost one stayed
 * undecryptable after the last retry.
 */
import type { UndecryptableReason } from "./network.js";

/** Follows "A message from …". */
export function undecryptableText(reason: UndecryptableReason): string {
  switch (reason) {
    case "damaged":
      return (
        "arrived damaged (their app sent content the bridge cannot read) and cannot be shown. " +
        "Ask them to send it again."
      );
    case "lost":
      return (
        "could not be decrypted, even after their app sent it again. Ask them to send it " +
        "once more; if it keeps happening, compare safety numbers (`safety-number`)."
      );
    case "undecryptable":
      return "could not be decrypted. The bridge asked their app to send it again.";
  }
}
