/**
 * Message content as the core sees it: neither Matrix event JSON nor GKI/1 protobuf.
 * Text is in the gatekeeper's lightweight markup (*bold*, _italic_, ~strike~, `code`,
 * ```block```, "> " quotes, "- "/"1. " lists); the Matrix side converts to and from HTML
 * (src/matrix/formatting/). Media kinds (image, video, audio, file) are in ./media.ts.
 * `mentions` names the Matrix users a message really mentions (m.mentions): the user whose
 * message a contact answers, the people its text mentions; nobody else, whatever the text
 * says ("@room" included).
 *
 * People a group message's text (or caption) mentions are spans of it, named by each side in
 * its own terms: `remoteMentions` by remote id, as the connector reads and writes them (GKI/1:
 * "@" + the JID's user part, and the JID in the message), `matrixMentions` by MXID, as the
 * Matrix side reads and writes them (pills). The core maps one to the other (group-mentions.ts).
 */
import type { MediaMessageContent } from "./media.js";
import type { RelationContent, ReplyQuote } from "./relations.js";

/** Where a text names someone: [start, end) of the text, in UTF-16 code units. */
export interface TextSpan {
  start: number;
  end: number;
}

/** Someone a text mentions, by their remote id (the network's own "@…" is the span). */
export interface RemoteMention extends TextSpan {
  id: string;
}

/** Someone a text mentions, as a Matrix user (a pill), shown as `name` where it is known. */
export interface MatrixMention extends TextSpan {
  mxid: string;
  name?: string;
}

/** The people a text or caption mentions, as each side names them (see above). */
export interface TextMentions {
  remoteMentions?: RemoteMention[];
  matrixMentions?: MatrixMention[];
}

/** Edits, deletions and reactions (about an earlier message) are in ./relations.ts. */
export type BridgeContent =
  | ({
      kind: "text";
      text: string;
      style?: "emote" | "notice";
      replyTo?: string;
      quote?: ReplyQuote;
      mentions?: string[];
    } & TextMentions)
  | {
      kind: "unsupported";
      description: string;
      replyTo?: string;
      quote?: ReplyQuote;
      mentions?: string[];
    }
  | MediaMessageContent
  | RelationContent;

/** A message from the remote network, after decryption. */
export interface RemoteMessage {
  /** The remote message id (unique per sender). */
  id: string;
  /** The contact's opaque remote id (for GKI/1: the JID); in a group, the member's. */
  sender: string;
  /** The group it was sent in (absent: one to one). */
  group?: string;
  /** Server timestamp, ms since the epoch. */
  timestamp: number;
  /** Delivered from the offline backlog. */
  offline: boolean;
  /** The contact's display name as the network sent it with the message. */
  senderName?: string;
  content: BridgeContent;
  /**
   * What else the message carried that `content` does not show (a message should carry one
   * thing): a sentence for the user, to be posted as a notice right after `content`.
   */
  notShown?: string;
}

/** A Matrix message event the core is asked to bridge. */
export interface MatrixMessage {
  roomId: string;
  eventId: string;
  sender: string;
  timestamp: number;
  content: BridgeContent;
}
