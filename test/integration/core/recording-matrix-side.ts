/**
 * A MatrixSide that records what the core asked of it, for tests of the core without a
 * homeserver (the real Matrix side is tested on its own and end to end). It behaves as a
 * homeserver would where the core depends on it: a repeated txn key returns the first event
 * id instead of posting twice; faults can be injected to play a homeserver outage.
 */
import type { BridgeContent } from "../../../src/core/content.js";
import type { MatrixSide, PortalRoomSpec, SendStatus } from "../../../src/core/matrix-side.js";

export interface RecordedEvent {
  eventId: string;
  roomId: string;
  sender: string;
  kind: "message" | "notice";
  content: BridgeContent;
  text: string;
  timestamp?: number;
}

export class RecordingMatrixSide implements MatrixSide {
  readonly botMxid = "@gatekeeperbot:test.local";
  readonly events: RecordedEvent[] = [];
  readonly rooms = new Map<string, PortalRoomSpec>();
  readonly invites: { roomId: string; inviter: string; user: string }[] = [];
  readonly statuses: { roomId: string; eventId: string; status: SendStatus }[] = [];
  readonly joins: { roomId: string; mxid: string }[] = [];
  readonly leaves: { roomId: string; mxid: string }[] = [];
  readonly spaces = new Map<string, string>();
  readonly spaceChildren: { spaceId: string; roomId: string }[] = [];
  readonly puppets = new Map<string, string | undefined>();
  readonly redactions: { roomId: string; sender: string; eventId: string; redactionId: string }[] =
    [];
  /** Calls to sendMessage that fail (before posting) while > 0: a homeserver outage. */
  failSends = 0;
  /** Post, then fail once per count (the answer lost on the way back). */
  failAfterPosting = 0;
  /** A homeserver that refuses some contents (the error to throw), e.g. as too large. */
  refuse: ((content: BridgeContent) => Error | undefined) | undefined;
  /** Calls to sendMessage so far (each attempt counts). */
  sendAttempts = 0;
  /** Rooms whose puppet lowered its power level, in order. */
  readonly lowered: { roomId: string; puppet: string }[] = [];
  /** lowerPuppet fails with this while set. */
  lowerFails: Error | undefined;
  private readonly txns = new Map<string, string>();
  private counter = 0;
  private waiters: (() => void)[] = [];

  async ensurePuppet(contactId: string, displayName: string | undefined): Promise<string> {
    this.puppets.set(contactId, displayName);
    return `@gk_${contactId.split("@")[0]}:test.local`;
  }

  async createPortalRoom(spec: PortalRoomSpec): Promise<string> {
    const roomId = `!portal${++this.counter}:test.local`;
    this.rooms.set(roomId, spec);
    this.invites.push({ roomId, inviter: spec.puppetMxid, user: spec.userMxid });
    this.changed();
    return roomId;
  }

  async lowerPuppet(roomId: string, puppetMxid: string): Promise<void> {
    if (this.lowerFails) throw this.lowerFails;
    this.lowered.push({ roomId, puppet: puppetMxid });
  }

  async invite(roomId: string, inviterMxid: string, userMxid: string): Promise<void> {
    this.invites.push({ roomId, inviter: inviterMxid, user: userMxid });
    this.changed();
  }

  async ensureSpace(userMxid: string): Promise<string> {
    let space = this.spaces.get(userMxid);
    if (!space) this.spaces.set(userMxid, (space = `!space${++this.counter}:test.local`));
    return space;
  }

  async addToSpace(spaceId: string, roomId: string): Promise<void> {
    this.spaceChildren.push({ spaceId, roomId });
  }

  async sendMessage(
    roomId: string,
    senderMxid: string,
    content: BridgeContent,
    txnKey: string,
    timestamp?: number,
  ): Promise<string> {
    this.sendAttempts += 1;
    if (this.failSends > 0) {
      this.failSends -= 1;
      throw new Error("homeserver unavailable (test)");
    }
    const refused = this.refuse?.(content);
    if (refused) throw refused;
    const key = `${senderMxid}\n${txnKey}`;
    let eventId = this.txns.get(key);
    if (!eventId) {
      eventId = this.post(roomId, senderMxid, "message", content, timestamp);
      this.txns.set(key, eventId);
    }
    if (this.failAfterPosting > 0) {
      this.failAfterPosting -= 1;
      throw new Error("connection reset after posting (test)");
    }
    return eventId;
  }

  /** Redactions, as a homeserver would take them: a repeated txn key is the first one. */
  async redact(roomId: string, asMxid: string, eventId: string, txnKey: string): Promise<string> {
    const key = `${asMxid}\nredact\n${txnKey}`;
    let redactionId = this.txns.get(key);
    if (!redactionId) {
      redactionId = `$redaction${++this.counter}`;
      this.redactions.push({ roomId, sender: asMxid, eventId, redactionId });
      this.txns.set(key, redactionId);
      this.changed();
    }
    return redactionId;
  }

  /** The recorded event's text (what the bridge posted; the user's own messages are unknown). */
  async messageText(_roomId: string, eventId: string): Promise<string | undefined> {
    return this.events.find((e) => e.eventId === eventId && e.kind === "message")?.text;
  }

  async sendNotice(
    roomId: string,
    text: string,
    senderMxid?: string,
    txnKey?: string,
  ): Promise<string> {
    const sender = senderMxid ?? this.botMxid;
    const key = txnKey === undefined ? undefined : `${sender}\nnotice\n${txnKey}`;
    const known = key === undefined ? undefined : this.txns.get(key);
    if (known) return known;
    const eventId = this.post(roomId, sender, "notice", { kind: "text", text, style: "notice" });
    if (key !== undefined) this.txns.set(key, eventId);
    return eventId;
  }

  async sendStatus(roomId: string, eventId: string, status: SendStatus): Promise<void> {
    this.statuses.push({ roomId, eventId, status });
    this.changed();
  }

  async sendReadReceipt(): Promise<void> {}

  async join(roomId: string, mxid: string): Promise<void> {
    this.joins.push({ roomId, mxid });
  }

  async leave(roomId: string, mxid: string): Promise<void> {
    this.leaves.push({ roomId, mxid });
    this.changed();
  }

  // ------------------------------------------------------------------ for the tests

  /** Messages and notices in a room, oldest first. */
  inRoom(roomId: string): RecordedEvent[] {
    return this.events.filter((e) => e.roomId === roomId);
  }

  notices(roomId: string): string[] {
    return this.inRoom(roomId)
      .filter((e) => e.kind === "notice")
      .map((e) => e.text);
  }

  /** Resolves once `predicate` holds (checked after every recorded call). */
  async until<T>(predicate: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value) return value;
      const left = end - Date.now();
      if (left <= 0) throw new Error("the Matrix side did not see what was expected in time");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private post(
    roomId: string,
    sender: string,
    kind: "message" | "notice",
    content: BridgeContent,
    timestamp?: number,
  ): string {
    const eventId = `$event${++this.counter}`;
    const text = recordedText(content);
    this.events.push({
      eventId,
      roomId,
      sender,
      kind,
      content,
      text,
      ...(timestamp ? { timestamp } : {}),
    });
    this.changed();
    return eventId;
  }

  private changed(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** What a recorded event says, for assertions: text, description, caption, emoji. */
function recordedText(content: BridgeContent): string {
  switch (content.kind) {
    case "text":
    case "edit":
      return content.text;
    case "unsupported":
      return content.description;
    case "reaction":
      return content.emoji;
    case "delete":
      return "";
    default:
      return content.caption ?? "";
  }
}
