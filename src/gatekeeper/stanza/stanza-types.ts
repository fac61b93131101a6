/**
 * The GKI/1 top-level stanzas (docs/protocol.md §5–§14) as one discriminated union.
 * Binary fields are bytes here and base64 on the wire; numbers are numbers here and decimal on the wire.
 */
import type { XmlNode } from "./xml-codec.js";

export type MessageType = "text" | "media";
/** A pairwise Signal message: PreKeySignalMessage or SignalMessage (§8.1). */
export type PairwiseEncType = "pkmsg" | "msg";
/** `skmsg` is a group's SenderKeyMessage (§19.5). */
export type EncType = PairwiseEncType | "skmsg";
export type ReceiptType = "read" | "played" | "retry";
export type IqType = "get" | "set" | "result" | "error";
export type ChatState = "composing" | "paused";
export type PresenceType = "available" | "unavailable" | "subscribe";

/** One `<enc v="2" type [mediatype]>BASE64</enc>`. */
export interface Enc<T extends EncType = EncType> {
  v: 2;
  type: T;
  mediatype?: string;
  ciphertext: Uint8Array;
}

/** `<to jid><enc/></to>` inside a group message's `<participants>` (§19.5): pairwise to one member. */
export interface MessageParticipant {
  jid: string;
  enc: Enc<PairwiseEncType>;
}

/**
 * A message stanza, one-to-one (§8.1) or group (§19.5). The codec checks which shapes may appear:
 * - one-to-one (neither `to` nor `from` a group): `enc` required, no `skmsg`, no `participants`;
 * - a group message as sent (`to` = G): `skmsg`, and pairwise encs only inside `participants`;
 *   a retry resend (`retry` set) may carry `participants` alone, without `skmsg`;
 * - a group message as delivered (`from` = G): `participant` (the sender), `skmsg` and/or the
 *   member's own pairwise `enc`, never `participants`.
 */
export interface MessageStanza {
  kind: "message";
  id: string;
  /** A user, or a group when sent to one. */
  to?: string;
  /** A user, or the group when delivered from one. */
  from?: string;
  /** On delivery from a group: the member who sent it. */
  participant?: string;
  t?: number;
  type: MessageType;
  /** Wire `offline="1"`: delivered from the offline queue. */
  offline?: boolean;
  retry?: number;
  /** The sender's push name, added by the gatekeeper on delivery (wire `notify`). */
  notify?: string;
  /** The pairwise `<enc>` outside `<participants>`: always in a one-to-one message. */
  enc?: Enc<PairwiseEncType>;
  /** The group's `<enc type="skmsg">` (§19.5). */
  skmsg?: Enc<"skmsg">;
  /** `<participants>`: per-member pairwise encs of a group message as sent (§19.5). */
  participants?: MessageParticipant[];
}

export interface ReceiptStanza {
  kind: "receipt";
  id: string;
  to?: string;
  from?: string;
  /** Group receipts (§19.6): the message's sender as sent, the reader as delivered. */
  participant?: string;
  t?: number;
  /** Absent = delivery receipt. */
  type?: ReceiptType;
  offline?: boolean;
  /** The extra `<list><item id/></list>` ids, not including `id`. */
  ids: string[];
  retry?: { count: number; id: string; t: number };
  /** `<registration>`: BASE64 of the 4-byte big-endian registration id. */
  registrationId?: number;
}

export interface AckStanza {
  kind: "ack";
  /** "message" | "receipt" | "notification" | "frame" | the tag of an unknown stanza. */
  class: string;
  id?: string;
  to?: string;
  from?: string;
  /** Acking a group stanza: its `participant` (§19.5), since ids are unique only per sender. */
  participant?: string;
  t?: number;
  type?: string;
  error?: number;
  text?: string;
  /**
   * On a negative ack from the gatekeeper: the index of the client's transport frame that carried
   * the refused stanza (0 = the first frame after the handshake, its Noise nonce), §5.1.
   */
  seq?: number;
}

export interface IqError {
  code: number;
  text?: string;
  /** Wire `retry-after`, seconds. */
  retryAfter?: number;
}

export interface IqStanza {
  kind: "iq";
  id: string;
  type: IqType;
  xmlns?: string;
  to?: string;
  from?: string;
  /** The payload elements (see iq-payloads.ts); for type="error" the `<error>` element is in `error`, not here. */
  children: XmlNode[];
  /** Required when type="error", ignored otherwise. */
  error?: IqError;
}

export interface NotificationStanza {
  kind: "notification";
  id: string;
  type: string;
  from?: string;
  to?: string;
  /** Group notifications (§19.4): who made the change (`gk` for the gatekeeper). */
  participant?: string;
  t?: number;
  offline?: boolean;
  children: XmlNode[];
}

export interface ChatStateStanza {
  kind: "chatstate";
  to?: string;
  from?: string;
  /** On delivery from a group: the member whose state it is (§19.6). */
  participant?: string;
  state: ChatState;
  media?: "audio";
}

export interface PresenceStanza {
  kind: "presence";
  type: PresenceType;
  to?: string;
  from?: string;
  name?: string;
  last?: number;
}

export interface IbStanza {
  kind: "ib";
  /** `<offline count="N"/>`. */
  offlineCount?: number;
}

export interface SuccessStanza {
  kind: "success";
  t: number;
  jid: string;
  enlisted: boolean;
}

export interface FailureStanza {
  kind: "failure";
  reason: number;
  text?: string;
}

/** Wire tag "stream:error". */
export interface StreamErrorStanza {
  kind: "stream-error";
  code: number;
  text?: string;
}

export type Stanza =
  | MessageStanza
  | ReceiptStanza
  | AckStanza
  | IqStanza
  | NotificationStanza
  | ChatStateStanza
  | PresenceStanza
  | IbStanza
  | SuccessStanza
  | FailureStanza
  | StreamErrorStanza;

export type StanzaKind = Stanza["kind"];
export type StanzaOf<K extends StanzaKind> = Extract<Stanza, { kind: K }>;

/** Wire tag of each stanza kind. */
export const STANZA_TAGS: Readonly<Record<StanzaKind, string>> = Object.freeze({
  message: "message",
  receipt: "receipt",
  ack: "ack",
  iq: "iq",
  notification: "notification",
  chatstate: "chatstate",
  presence: "presence",
  ib: "ib",
  success: "success",
  failure: "failure",
  "stream-error": "stream:error",
});
