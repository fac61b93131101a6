/**
 * What the two people see, printed as it arrives and awaitable by the script: Alice's
 * matrix-js-sdk client (messages in her rooms from the bot and from puppets) and Bob's
 * gatekeeper app (messages from his contacts). Probe messages of the latency measurement are
 * waited for here too, but not printed.
 */
import { KnownMembership, RoomEvent } from "matrix-js-sdk";
import type { GatekeeperClient, MessageEvent } from "../../src/gatekeeper/client/index.js";
import { describeContent } from "../../src/gatekeeper/content/index.js";
import type { MatrixClient, MatrixEvent, Room } from "../../test/harness/matrix-user.js";
import type { Transcript } from "./transcript.js";

type Json = Record<string, unknown>;

/** How a Matrix message reads in the transcript: its body, then its HTML if it has any. */
export function matrixText(content: Json): { text: string; extra: string[] } {
  const body = typeof content.body === "string" ? content.body : "";
  const text = content.msgtype === "m.emote" ? `(emote) ${body}` : body;
  const html =
    content.format === "org.matrix.custom.html" && typeof content.formatted_body === "string"
      ? [`html: ${content.formatted_body}`]
      : [];
  return { text, extra: html };
}

/** How a gatekeeper message reads in the transcript (the markup as the app gets it). */
export function gatekeeperText(m: MessageEvent): string {
  const c = describeContent(m.content);
  return c.kind === "text" ? c.text : `[${c.kind}]`;
}

interface Waiter<T> {
  match: (item: T) => boolean;
  resolve: (item: T) => void;
}

/** Items (with the time they arrived) and the waiters for the next matching one. */
class Arrivals<T> {
  private readonly waiters = new Set<Waiter<T>>();

  push(item: T): void {
    for (const w of this.waiters) {
      if (w.match(item)) {
        this.waiters.delete(w);
        w.resolve(item);
      }
    }
  }

  /** The next arrival matching `match`; register before causing it. */
  next(match: (item: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter<T> = {
        match,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      this.waiters.add(waiter);
    });
  }
}

export interface Arrived<T> {
  value: T;
  /** performance.now() when the client emitted it. */
  at: number;
}

export class Observers {
  /** Room id → how the transcript names it. */
  readonly rooms = new Map<string, string>();
  /** Gatekeeper JID → how the transcript names that sender in Bob's app. */
  readonly contacts = new Map<string, string>();
  /** Texts not to print (latency probes). */
  readonly quiet = new Set<string>();
  /**
   * After the script (--keep): also print Alice's own messages (sent from another client) and
   * her invites (a message request, a chat started by hand). The script prints those itself.
   */
  unscripted = false;
  readonly matrix = new Arrivals<Arrived<MatrixEvent>>();
  readonly gatekeeper = new Arrivals<Arrived<MessageEvent>>();
  private readonly detach: (() => void)[] = [];

  constructor(
    private readonly transcript: Transcript,
    private readonly alice: MatrixClient,
    bob: GatekeeperClient,
    private readonly names: { bot: string; bobApp: string },
  ) {
    const onTimeline = (
      event: MatrixEvent,
      room: Room | undefined,
      toStartOfTimeline: boolean | undefined,
    ): void => {
      // Live events from the homeserver only (not history, not local echoes of our sends).
      if (toStartOfTimeline || event.status !== null) return;
      const at = performance.now();
      const mine = event.getSender() === alice.getUserId();
      if (event.getType() === "m.room.message" && (!mine || this.unscripted))
        this.printMatrix(event, room);
      this.matrix.push({ value: event, at });
    };
    alice.on(RoomEvent.Timeline, onTimeline);
    this.detach.push(() => alice.off(RoomEvent.Timeline, onTimeline));

    const onMembership = (room: Room, membership: string): void => {
      if (!this.unscripted || membership !== KnownMembership.Invite) return;
      const inviter = room.getDMInviter() ?? "someone";
      this.transcript.say(
        "Matrix: invite",
        inviter === names.bot ? "bot" : (room.getMember(inviter)?.name ?? inviter),
        `invites Alice to ${room.roomId} (join it in your client)`,
      );
    };
    alice.on(RoomEvent.MyMembership, onMembership);
    this.detach.push(() => alice.off(RoomEvent.MyMembership, onMembership));

    const onMessage = (m: MessageEvent): void => {
      const at = performance.now();
      const text = gatekeeperText(m);
      if (!this.quiet.has(text)) {
        const from = this.contacts.get(m.from) ?? m.from;
        this.transcript.say(names.bobApp, from, text);
      }
      this.gatekeeper.push({ value: m, at });
    };
    this.detach.push(bob.on("message", onMessage));
  }

  roomLabel(roomId: string): string {
    return this.rooms.get(roomId) ?? `Matrix: ${roomId}`;
  }

  private printMatrix(event: MatrixEvent, room: Room | undefined): void {
    const content = event.getContent();
    const { text, extra } = matrixText(content);
    if (this.quiet.has(String(content.body))) return;
    const sender = event.getSender() ?? "";
    const who =
      sender === this.names.bot
        ? "bot"
        : sender === this.alice.getUserId()
          ? "Alice"
          : (room?.getMember(sender)?.name ?? sender);
    // The bot's replies are shown as their text; the HTML matters for the relayed messages.
    this.transcript.say(
      this.roomLabel(event.getRoomId() ?? ""),
      who,
      text,
      sender === this.names.bot ? [] : extra,
    );
  }

  stop(): void {
    for (const fn of this.detach.splice(0)) fn();
  }
}
