/**
 * The messages seen in this chat session, so that a command can name one by the short id
 * its line showed (`#A1B2C3`, the last six characters) or by its full id.
 */
import type { Message } from "../../gen/gki_pb.js";
import { describeContent } from "../../gatekeeper/content/index.js";
import { isValidId } from "../../gatekeeper/stanza/index.js";
import { ChatError } from "./chat-error.js";

export const SHORT_ID_LENGTH = 6;
/** A shorter end of an id matches too many messages to be of use. */
const MIN_ID_REF_LENGTH = 4;
/** A session is a person typing; this only keeps a forgotten terminal from growing forever. */
const MAX_LOGGED = 10_000;

/** How a line shows a message id. */
export function shortId(id: string): string {
  return `#${id.slice(-SHORT_ID_LENGTH)}`;
}

/** A message id as typed: the full id or its end, with or without the `#`; undefined if it is not one. */
export function parseIdRef(text: string): string | undefined {
  const ref = text.startsWith("#") ? text.slice(1) : text;
  // Any stanza id (docs/protocol.md §5): ours are hex, other clients' need not be.
  return ref.length >= MIN_ID_REF_LENGTH && isValidId(ref) ? ref.toUpperCase() : undefined;
}

export interface LoggedMessage {
  id: string;
  /** The contact whose chat it is in, or the group. */
  chat: string;
  /** Who wrote it: the contact (in a group, the member) or we. */
  sender: string;
  fromMe: boolean;
  content: Message;
  deleted?: boolean;
}

export class MessageLog {
  readonly #byId = new Map<string, LoggedMessage>();

  constructor(private readonly max = MAX_LOGGED) {}

  record(message: LoggedMessage): void {
    this.#byId.delete(message.id);
    this.#byId.set(message.id, message);
    if (this.#byId.size > this.max) {
      const oldest = this.#byId.keys().next().value;
      if (oldest !== undefined) this.#byId.delete(oldest);
    }
  }

  get(id: string): LoggedMessage | undefined {
    return this.#byId.get(id);
  }

  /**
   * A message from `from` in `chat` (the group, or the contact's own chat): a text or file
   * is remembered; the sender's edit or deletion of one of their own messages in the same
   * chat is applied to it (they cannot change ours, or anyone else's).
   */
  received(from: string, id: string, content: Message, chat = from): void {
    const kind = describeContent(content);
    if (kind.kind !== "edit" && kind.kind !== "revoke") {
      if (kind.kind !== "reaction") {
        this.record({ id, chat, sender: from, fromMe: false, content });
      }
      return;
    }
    const target = this.#byId.get(kind.key.id);
    if (!kind.key.fromMe || target?.sender !== from || target.chat !== chat) return;
    if (kind.kind === "revoke") target.deleted = true;
    else if (content.protocolMessage?.editedMessage)
      target.content = content.protocolMessage.editedMessage;
  }

  /** The message a command names: by its full id, else by the end of it. */
  resolve(ref: string): LoggedMessage {
    const wanted = ref.toUpperCase();
    const matches: LoggedMessage[] = [];
    for (const m of this.#byId.values()) {
      const id = m.id.toUpperCase();
      if (id === wanted) return m;
      if (id.endsWith(wanted)) matches.push(m);
    }
    const [only, second] = matches;
    if (only === undefined) {
      throw new ChatError(
        "unknown-id",
        `no message #${ref} in this session: use the #… shown in a message's line`,
      );
    }
    if (second !== undefined) {
      throw new ChatError(
        "ambiguous-id",
        `#${ref} is the end of ${matches.length} messages' ids (${matches.map((m) => m.id).join(", ")}): give the full id`,
      );
    }
    return only;
  }
}
