/**
 * Content about an earlier message: edits, deletions and reactions (replies are ordinary
 * messages with `replyTo`, see content.ts). Like a reply's target, a relation's target is a
 * Matrix event id on the Matrix side and a remote message id on the remote side; the relays
 * map one to the other through the message map.
 */
import type { BridgeContent } from "./content.js";

/**
 * Which message a relation is about. Matrix side: `id` is the event id, `sender` unset.
 * Remote side: `id` is the remote message id and `sender` the remote id of its author (the
 * contact, or the login's own id), since remote ids are unique per sender only.
 */
export interface MessageRef {
  id: string;
  sender?: string;
}

/**
 * The remote side of a reply: who wrote the quoted message and, for display only (never
 * trusted as the original), a copy of its text in the gatekeeper's markup.
 */
export interface ReplyQuote {
  sender?: string;
  text?: string;
}

/** New text for an earlier message (in the gatekeeper's markup). */
export interface EditContent {
  kind: "edit";
  target: MessageRef;
  text: string;
  style?: "emote" | "notice";
}

/** A reaction; the empty emoji takes the sender's reaction on the target away. */
export interface ReactionContent {
  kind: "reaction";
  target: MessageRef;
  emoji: string;
}

/** Deletes an earlier message for everyone. */
export interface DeleteContent {
  kind: "delete";
  target: MessageRef;
}

export type RelationContent = EditContent | ReactionContent | DeleteContent;

/** Content that is a message of its own (the rest only changes an earlier one). */
export type OwnMessageContent = Exclude<BridgeContent, RelationContent>;

const RELATION_KINDS: ReadonlySet<string> = new Set(["edit", "reaction", "delete"]);

export function isRelationContent(content: { kind: string }): content is RelationContent {
  return RELATION_KINDS.has(content.kind);
}

/** Whether sending `content` makes a message that later replies, edits and reactions can name. */
export function isOwnMessage(content: BridgeContent): content is OwnMessageContent {
  return !isRelationContent(content);
}

/** "your edit", "your reaction", … for notices about what could not be delivered. */
export function relationNoun(content: RelationContent): string {
  switch (content.kind) {
    case "edit":
      return "edit";
    case "reaction":
      return content.emoji === "" ? "reaction removal" : "reaction";
    case "delete":
      return "deletion";
  }
}
