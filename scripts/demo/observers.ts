/**
 * What the people see, printed as it arrives and awaitable by the script: Alice's
 * matrix-js-sdk client (messages and reactions in her rooms from the bot and from puppets)
 * and the gatekeeper apps (Bob's; Carol's too in the group demo: messages from their
 * contacts and groups, and the changes of their groups). Probe messages of the latency
 * measurement are waited for here too, but not printed.
 */
import { KnownMembership, RoomEvent } from "matrix-js-sdk";
import type {
  GatekeeperClient,
  GroupChangeEvent,
  MessageEvent,
} from "../../src/gatekeeper/client/index.js";
import { describeContent } from "../../src/gatekeeper/content/index.js";
import type { MatrixClient, MatrixEvent, Room } from "../../test/harness/matrix-user.js";
import type { Transcript } from "./transcript.js";

type Json = Record<string, unknown>;

const MATRIX_MEDIA: Record<string, string> = {
  "m.image": "image",
  "m.video": "video",
  "m.audio": "audio",
  "m.file": "file",
};

/** How a Matrix message reads in the transcript: its body, then its HTML if it has any. */
export function matrixText(content: Json): { text: string; extra: string[] } {
  const body = typeof content.body === "string" ? content.body : "";
  const media = MATRIX_MEDIA[String(content.msgtype)];
  const text =
    content.msgtype === "m.emote"
      ? `(emote) ${body}`
      : media !== undefined
        ? `[${media}] ${body}`
        : body;
  const html =
    content.format === "org.matrix.custom.html" && typeof content.formatted_body === "string"
      ? [`html: ${content.formatted_body}`]
      : [];
  return { text, extra: html };
}

/** How a gatekeeper message reads in the transcript (the markup as the app gets it). */
export function gatekeeperText(m: MessageEvent): string {
  const c = describeContent(m.content);
  switch (c.kind) {
    case "text":
      return c.text;
    case "reaction":
      return `reacts ${c.emoji}`;
    case "image":
    case "video":
    case "audio":
    case "document":
      return c.caption === undefined ? `[${c.kind}]` : `[${c.kind}] ${c.caption}`;
    default:
      return `[${c.kind}]`;
  }
}

type GroupChange = GroupChangeEvent["change"];

/** How a group change reads in a member's app; `name` names a member by JID. */
export function groupChangeText(change: GroupChange, name: (jid: string) => string): string {
  switch (change.type) {
    case "create": {
      const members = change.group.participants.map((p) => name(p.jid)).join(", ");
      return `added you to "${change.group.subject}" (members: ${members})`;
    }
    case "add":
      return `added ${change.participants.map(name).join(", ")}`;
    case "remove":
      return `removed ${change.participants.map(name).join(", ")}`;
    case "leave":
      return "left the group";
    case "promote":
      return `made ${change.participants.map(name).join(", ")} admin`;
    case "demote":
      return `made ${change.participants.map(name).join(", ")} no longer admin`;
    case "subject":
      return `renamed the group to "${change.subject}"`;
    case "description":
      return "deleted" in change
        ? "deleted the description"
        : `set the description: ${change.text}`;
    case "picture":
      return "deleted" in change ? "removed the picture" : "changed the picture";
  }
}

interface Waiter<T> {
  match: (item: T) => boolean;
  resolve: (item: T) => void;
}

/** Items (with the time they arrived) and the waiters for the next matching one. */
export class Arrivals<T> {
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

/** What one native user's app received. */
export interface AppArrivals {
  messages: Arrivals<Arrived<MessageEvent>>;
  changes: Arrivals<GroupChangeEvent>;
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
  /** Bob's app. */
  readonly bobApp: AppArrivals;
  /** Bob's app's messages. */
  readonly gatekeeper: Arrivals<Arrived<MessageEvent>>;
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
      const shown = ["m.room.message", "m.reaction"].includes(event.getType());
      if (shown && (!mine || this.unscripted)) this.printMatrix(event, room);
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

    this.bobApp = this.watchApp(bob, names.bobApp);
    this.gatekeeper = this.bobApp.messages;
  }

  /**
   * Prints what a native user's app receives, under `label` (its group messages and changes
   * under "`label`: group"); resolves its arrivals for the script to wait on.
   */
  watchApp(client: GatekeeperClient, label: string): AppArrivals {
    const messages = new Arrivals<Arrived<MessageEvent>>();
    const changes = new Arrivals<GroupChangeEvent>();
    const where = (group: string | undefined): string =>
      group === undefined ? label : `${label}: group`;
    const onMessage = (m: MessageEvent): void => {
      const at = performance.now();
      const text = gatekeeperText(m);
      if (!this.quiet.has(text)) {
        const c = describeContent(m.content);
        const quoted = c.kind === "text" ? c.contextInfo?.participant : undefined;
        const target = c.kind === "reaction" ? c.key.participant : undefined;
        const extra = quoted === undefined ? [] : [`in reply to ${this.contact(quoted)}`];
        const shown = target === undefined ? text : `${text} to ${this.contact(target)}'s message`;
        this.transcript.say(where(m.group), this.contact(m.from), shown, extra);
      }
      messages.push({ value: m, at });
    };
    const onChange = (e: GroupChangeEvent): void => {
      const text = groupChangeText(e.change, (jid) =>
        jid === client.jid ? "you" : this.contact(jid),
      );
      this.transcript.say(where(e.group), this.contact(e.actor), text);
      changes.push(e);
    };
    this.detach.push(client.on("message", onMessage), client.on("groupChange", onChange));
    return { messages, changes };
  }

  roomLabel(roomId: string): string {
    return this.rooms.get(roomId) ?? `Matrix: ${roomId}`;
  }

  private contact(jid: string): string {
    return jid === "gk" ? "Gatekeeper" : (this.contacts.get(jid) ?? jid);
  }

  /** How Alice's client names a user. */
  private nameIn(room: Room | undefined, mxid: string): string {
    if (mxid === this.names.bot) return "bot";
    if (mxid === this.alice.getUserId()) return "Alice";
    return room?.getMember(mxid)?.name ?? mxid;
  }

  private printMatrix(event: MatrixEvent, room: Room | undefined): void {
    const content = event.getContent();
    if (this.quiet.has(String(content.body))) return;
    const sender = event.getSender() ?? "";
    const where = this.roomLabel(event.getRoomId() ?? "");
    const relates = content["m.relates_to"] as
      { event_id?: string; key?: string; "m.in_reply_to"?: { event_id?: string } } | undefined;
    const authorOf = (id: string | undefined): string => {
      const author = id === undefined ? undefined : room?.findEventById(id)?.getSender();
      return author === undefined ? "a message" : `${this.nameIn(room, author)}'s message`;
    };
    if (event.getType() === "m.reaction") {
      const text = `reacts ${relates?.key ?? ""} to ${authorOf(relates?.event_id)}`;
      this.transcript.say(where, this.nameIn(room, sender), text);
      return;
    }
    const { text, extra } = matrixText(content);
    const replyTo = relates?.["m.in_reply_to"]?.event_id;
    const reply = replyTo === undefined ? [] : [`in reply to ${authorOf(replyTo)}`];
    // The bot's replies are shown as their text; the HTML matters for the relayed messages.
    const more = sender === this.names.bot ? [] : [...reply, ...extra];
    this.transcript.say(where, this.nameIn(room, sender), text, more);
  }

  stop(): void {
    for (const fn of this.detach.splice(0)) fn();
  }
}

/**
 * Runs `script` with `obs` printing what arrives; with `keep` they go on (unscripted) after it
 * until `stopObserving`, else they stop with it.
 */
export async function observing<R extends object>(
  obs: Observers,
  keep: boolean | undefined,
  script: (obs: Observers) => Promise<R>,
): Promise<R & { stopObserving: () => void }> {
  try {
    const result = await script(obs);
    if (keep) obs.unscripted = true;
    else obs.stop();
    return { ...result, stopObserving: () => obs.stop() };
  } catch (err) {
    obs.stop();
    throw err;
  }
}
