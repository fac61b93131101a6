/**
 * What the Matrix side tells the core. The Matrix side calls these from its durable intake
 * worker (one room at a time, in order); an event counts as handled only when the promise
 * resolves, so a rejection (or a crash) means the same event is offered again later.
 */
import type { MatrixMessage } from "./content.js";

export interface IncomingMatrixMessage extends MatrixMessage {
  /** The plain-text body as sent, for command parsing. */
  body: string;
}

export interface MatrixEventSink {
  /** m.room.message (text, notice, emote) in any room the bridge is in. */
  onRoomMessage(message: IncomingMatrixMessage): Promise<void>;
  /** The bot was invited; `isDirect` when the invite says so (a management-room candidate). */
  onBotInvited(roomId: string, inviter: string, isDirect: boolean): Promise<void>;
  /** A membership change of a real (non-puppet) user in a room the bridge knows. */
  onMembership(
    roomId: string,
    userMxid: string,
    membership: "join" | "leave" | "ban",
  ): Promise<void>;

  /** A real user invited a puppet, or kicked (banned) one, in a room the bridge knows. */
  onPuppetMembership?(
    roomId: string,
    sender: string,
    puppetMxid: string,
    membership: "invite" | "leave" | "ban",
  ): Promise<void>;
  /** A real user renamed a room the bridge knows. */
  onRoomName?(roomId: string, sender: string, name: string): Promise<void>;

  // Ephemeral data: best effort, not stored, may come in any order relative to the events.
  /** A real user's public read receipt (m.read; private receipts are never passed on). */
  onReadReceipt?(roomId: string, userMxid: string, eventId: string, ts: number): Promise<void>;
  /** A real user started or stopped typing in a room. */
  onTyping?(roomId: string, userMxid: string, typing: boolean): Promise<void>;
  /** A real user's Matrix presence changed. */
  onPresence?(userMxid: string, presence: "online" | "unavailable" | "offline"): Promise<void>;
}
