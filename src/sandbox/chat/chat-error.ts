/** What a chat command could not do; the message is the one line the user is shown. */
export type ChatErrorCode =
  /** No current contact: `/to` first. */
  | "no-peer"
  /** A group command without a current group: `/group JID` first. */
  | "no-group"
  /** A group we are not in, or none of ours has that number or subject. */
  | "unknown-group"
  /** A subject that more than one of our groups' subjects fits. */
  | "ambiguous-group"
  /** A number nobody reachable has. */
  | "unknown-number"
  /** The gatekeeper refused a group request: not an admin (403), bad subject (400), … */
  | "group-refused"
  /** No message of this session has that id. */
  | "unknown-id"
  /** A short id that ends more than one message's id. */
  | "ambiguous-id"
  /** The message belongs to another chat than the current one. */
  | "other-chat"
  /** Editing or deleting someone else's message. */
  | "not-yours"
  /** The message was deleted. */
  | "deleted"
  /** The command does not apply to this kind of message (no caption to edit, …). */
  | "wrong-kind"
  /** A file to send is missing, unreadable, empty or not a file. */
  | "bad-file"
  /** Over the gatekeeper's media cap. */
  | "too-large"
  /** The media host refused or failed the upload. */
  | "upload-failed"
  /** A received file could not be downloaded, verified or stored. */
  | "save-failed";

export class ChatError extends Error {
  override readonly name = "ChatError";

  constructor(
    readonly code: ChatErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
