/**
 * One received message through the account's inbox (docs §9), the same for one-to-one and
 * group messages: a copy already handled is acked again as a duplicate; a copy that failed to
 * decrypt before is acked unless it is a newer retry; a pending row's plaintext is used
 * instead of a second decrypt (the ratchet moved on); and the message is marked handled and
 * acked only once the application's handlers finished.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { MessageSchema } from "../../gen/gki_pb.js";
import type { Message } from "../../gen/gki_pb.js";
import type { AccountState } from "./context.js";

export type DecryptOutcome =
  | { kind: "ok"; content: Message }
  /** Only key material (a group distribution without anything to show). */
  | { kind: "empty" }
  | { kind: "failed"; code: string }
  | { kind: "duplicate" }
  /** Not the message's fault (the database, say): not acked, so it comes again. */
  | { kind: "transient"; error: Error };

export interface InboxMessage {
  account: AccountState;
  /** The inbox's sender key (the contact, or group and member). */
  key: string;
  id: string;
  retry: number;
  decrypt(): Promise<DecryptOutcome>;
  /** Runs the application's handlers (rejects if one failed). */
  deliver(content: Message): Promise<void>;
  /** Tells the application a copy came again (best effort). */
  duplicate(): Promise<void>;
  /** Asks for the message again, or gives up on it; acks it. */
  undecryptable(code: string): Promise<void>;
  ack(): void;
  reportError(err: unknown): void;
}

export async function receiveThroughInbox(m: InboxMessage): Promise<void> {
  const known = await m.account.inbox.get(m.key, m.id);
  if (known?.state === "handled") {
    m.ack();
    await m.duplicate();
    return;
  }
  if (known?.state === "failed" && m.retry <= known.retry) {
    m.ack(); // the same undecryptable copy again; its retry receipt went out already
    return;
  }
  let content: Message;
  if (known?.state === "pending" && known.plaintext) {
    // Decrypted before, but the application never finished with it: no second decrypt.
    content = fromBinary(MessageSchema, known.plaintext);
  } else {
    const outcome = await m.decrypt();
    switch (outcome.kind) {
      case "transient":
        throw outcome.error; // not acked: redelivered later
      case "duplicate":
        m.ack();
        await m.duplicate();
        return;
      case "empty":
        m.ack();
        return;
      case "failed":
        await m.undecryptable(outcome.code);
        return;
      case "ok":
        content = outcome.content;
    }
  }
  try {
    await m.deliver(content);
  } catch (err) {
    m.reportError(err); // not acked; the pending inbox row serves the redelivery
    return;
  }
  await m.account.inbox.markHandled(m.key, m.id);
  m.ack();
}
