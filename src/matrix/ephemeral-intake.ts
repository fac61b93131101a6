/**
 * Ephemeral data the homeserver pushes with appservice transactions (`receive_ephemeral`):
 * typing, read receipts, presence. Best effort, like the data itself: not stored, handled
 * after the transaction was answered (it can never fail or delay one), in order per room
 * (per user for presence), and dropped while no sink is set or once the bridge stops.
 * Only real users' data goes on, and never a private read receipt (m.read.private): the
 * user asked for that read to stay unknown.
 */
import type { MatrixEventSink } from "../core/matrix-events.js";
import { errorMessage } from "./intake-worker.js";

type Json = Record<string, unknown>;
type Presence = "online" | "unavailable" | "offline";

export interface EphemeralIntakeOptions {
  /** The bot and the puppets: their own typing and receipts are the bridge's echo. */
  isBridgeUser(userId: string): boolean;
  log?: { debug(message: string): void };
  /** Tasks waiting per room (or user) beyond which new ones are dropped (default 50). */
  maxPending?: number;
}

interface Chain {
  tail: Promise<void>;
  pending: number;
}

export class EphemeralIntake {
  private sink: MatrixEventSink | undefined;
  /** Real users typing per room, to turn m.typing's full lists into starts and stops. */
  private readonly typing = new Map<string, Set<string>>();
  private readonly chains = new Map<string, Chain>();
  private stopped = false;

  constructor(private readonly o: EphemeralIntakeOptions) {}

  setSink(sink: MatrixEventSink): void {
    this.sink = sink;
  }

  /** The `ephemeral` array of one transaction. */
  handle(events: readonly Json[]): void {
    for (const event of events) {
      try {
        this.dispatch(event);
      } catch (err) {
        this.o.log?.debug(`Ephemeral event skipped: ${errorMessage(err)}`);
      }
    }
  }

  /** Drops what has not started and waits (at most `graceMs`) for what has. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all([...this.chains.values()].map((c) => c.tail)), grace]);
    clearTimeout(timer);
  }

  private dispatch(event: Json): void {
    switch (event.type) {
      case "m.receipt":
        this.receipts(event);
        return;
      case "m.typing":
        this.typingChange(event);
        return;
      case "m.presence":
        this.presence(event);
        return;
    }
  }

  /** content: { eventId: { receiptType: { userId: { ts } } } }. */
  private receipts(event: Json): void {
    const roomId = event.room_id;
    if (typeof roomId !== "string" || !isObject(event.content)) return;
    for (const [eventId, byType] of Object.entries(event.content)) {
      const read = isObject(byType) ? byType["m.read"] : undefined;
      if (!isObject(read)) continue;
      for (const [userId, info] of Object.entries(read)) {
        if (this.o.isBridgeUser(userId)) continue;
        const ts = isObject(info) && typeof info.ts === "number" ? info.ts : Date.now();
        this.enqueue(roomId, (sink) => sink.onReadReceipt?.(roomId, userId, eventId, ts));
      }
    }
  }

  /** content: { user_ids: [everyone typing now] }. */
  private typingChange(event: Json): void {
    const roomId = event.room_id;
    const ids = isObject(event.content) ? event.content.user_ids : undefined;
    if (typeof roomId !== "string" || !Array.isArray(ids)) return;
    const now = new Set(
      ids.filter((u): u is string => typeof u === "string" && !this.o.isBridgeUser(u)),
    );
    const before = this.typing.get(roomId) ?? new Set<string>();
    for (const user of now) {
      if (!before.has(user)) this.enqueue(roomId, (sink) => sink.onTyping?.(roomId, user, true));
    }
    for (const user of before) {
      if (!now.has(user)) this.enqueue(roomId, (sink) => sink.onTyping?.(roomId, user, false));
    }
    if (now.size === 0) this.typing.delete(roomId);
    else this.typing.set(roomId, now);
  }

  /** sender, content: { presence }. */
  private presence(event: Json): void {
    const user = event.sender;
    const presence = isObject(event.content) ? event.content.presence : undefined;
    if (typeof user !== "string" || this.o.isBridgeUser(user) || !isPresence(presence)) return;
    this.enqueue(`presence\n${user}`, (sink) => sink.onPresence?.(user, presence));
  }

  private enqueue(key: string, task: (sink: MatrixEventSink) => Promise<void> | undefined): void {
    const sink = this.sink;
    if (this.stopped || !sink) return;
    const chain = this.chains.get(key) ?? { tail: Promise.resolve(), pending: 0 };
    if (chain.pending >= (this.o.maxPending ?? 50)) {
      this.o.log?.debug(`Ephemeral backlog for ${key} is full; dropped one`);
      return;
    }
    chain.pending += 1;
    const tail = chain.tail.then(async () => {
      try {
        if (!this.stopped) await task(sink);
      } catch (err) {
        this.o.log?.debug(`Ephemeral event not handled: ${errorMessage(err)}`);
      } finally {
        chain.pending -= 1;
        if (chain.pending === 0 && this.chains.get(key) === chain) this.chains.delete(key);
      }
    });
    chain.tail = tail;
    this.chains.set(key, chain);
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isPresence(v: unknown): v is Presence {
  return v === "online" || v === "unavailable" || v === "offline";
}
