/**
 * Store-then-deliver (docs/protocol.md §9). Every message, receipt and
 * notification for a user goes into the persistent queue first; a connected
 * recipient's Delivery pump then sends it, and only the recipient's ack
 * removes it. On login the backlog goes first, with offline="1", then
 * `<ib><offline count/></ib>`, then live stanzas, all in the order accepted.
 */
import { randomBytes } from "node:crypto";
import {
  type AckStanza,
  type Stanza,
  type XmlNode,
  encodeStanza,
  isGroupJid,
  parseStanza,
} from "../gatekeeper/stanza/index.js";
import { type SandboxContext, unixSeconds } from "./context.js";
import type { QueuedKind, QueuedStanza } from "./store/index.js";

export interface EnqueueInput {
  recipient: string;
  sender: string;
  kind: QueuedKind;
  stanzaId: string;
  /** Receipt type ("" = delivery) or notification type. */
  type?: string;
  /** A group message's sender or a group receipt's reader: the client's ack names it (§19.5). */
  participant?: string;
  stanza: Stanza;
}

/** Persists a stanza for its recipient and wakes the recipient's connection, if any. */
export async function enqueue(ctx: SandboxContext, input: EnqueueInput): Promise<void> {
  const now = ctx.now();
  await ctx.store.queue.enqueue({
    recipient: input.recipient,
    sender: input.sender,
    kind: input.kind,
    stanzaId: input.stanzaId,
    type: input.type ?? "",
    participant: input.participant ?? "",
    payload: encodeStanza(input.stanza),
    createdAt: now,
    expiresAt: now + ctx.limits.queueTtlMs,
  });
  ctx.sessions.kick(input.recipient);
}

/**
 * Queues `<notification id type from [participant] t>children</notification>` for `recipient`.
 * `participant` (a group change's actor, §19.4) is shown, not matched: the gatekeeper's own
 * notification ids are unique, so an ack names one by id and `to` alone.
 */
export async function notify(
  ctx: SandboxContext,
  recipient: string,
  type: string,
  from: string,
  children: XmlNode[] = [],
  participant?: string,
): Promise<void> {
  const id = randomBytes(8).toString("hex").toUpperCase();
  await enqueue(ctx, {
    recipient,
    sender: from,
    kind: "notification",
    stanzaId: id,
    type,
    stanza: {
      kind: "notification",
      id,
      type,
      from,
      ...(participant === undefined ? {} : { participant }),
      t: unixSeconds(ctx),
      children,
    },
  });
}

function withOffline(payload: Buffer): Uint8Array {
  try {
    const stanza = parseStanza(payload);
    if (stanza.kind === "message" || stanza.kind === "receipt" || stanza.kind === "notification") {
      return encodeStanza({ ...stanza, offline: true });
    }
  } catch {
    // Stored by us, so it parses; if it ever did not, deliver it as stored.
  }
  return payload;
}

const PAGE = 200;

export class Delivery {
  readonly #ctx: SandboxContext;
  readonly #jid: string;
  readonly #send: (bytes: Uint8Array) => boolean;
  /** Highest queue seq sent on this connection; acks only remove what was sent. */
  #lastSeq = 0;
  #live = false;
  #stopped = false;
  #running: Promise<void> | null = null;
  #again = false;

  constructor(ctx: SandboxContext, jid: string, send: (bytes: Uint8Array) => boolean) {
    this.#ctx = ctx;
    this.#jid = jid;
    this.#send = send;
  }

  /** Sends the backlog, then `ib`; afterwards every kick delivers new stanzas live. */
  async start(): Promise<void> {
    const backlogEnd = await this.#ctx.store.queue.maxSeq(this.#jid);
    let count = 0;
    for (;;) {
      if (this.#stopped) return;
      const rows = (
        await this.#ctx.store.queue.pending(this.#jid, this.#lastSeq, this.#ctx.now(), PAGE)
      ).filter((r) => r.seq <= backlogEnd);
      if (rows.length === 0) break;
      for (const row of rows) {
        if (!this.#deliver(row, true)) return;
        count++;
      }
    }
    if (this.#stopped) return;
    this.#send(encodeStanza({ kind: "ib", offlineCount: count }));
    this.#live = true;
    this.kick();
  }

  kick(): void {
    if (!this.#live || this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#ctx.tasks
      .track(this.#pump())
      .catch((err: unknown) => {
        this.#ctx.logger.error("queue delivery failed", { jid: this.#jid, error: String(err) });
      })
      .finally(() => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  stop(): void {
    this.#stopped = true;
  }

  /**
   * Handles the client's ack of a delivered message, receipt or notification (§5.1): it names the
   * stanza by class, id and `to` (the stanza's sender), and a receipt's also by its type, since the
   * delivery and read receipts of one message share its id. A group message or receipt is named
   * by `to` = the group and its `participant` too (§19.5): ids are unique only per sender, and a
   * one-to-one stanza has none. An ack that matches nothing delivered on this connection is
   * ignored, so the stanza comes again on the next one.
   */
  async onAck(ack: AckStanza): Promise<void> {
    if (ack.id === undefined || ack.to === undefined) return;
    const kind = ack.class;
    if (kind !== "message" && kind !== "receipt" && kind !== "notification") return;
    await this.#ctx.store.queue.acknowledge(this.#jid, this.#lastSeq, {
      kind,
      stanzaId: ack.id,
      sender: ack.to,
      ...(kind === "receipt" ? { type: ack.type ?? "" } : {}),
      ...(kind !== "notification" && isGroupJid(ack.to)
        ? { participant: ack.participant ?? "" }
        : {}),
    });
  }

  async #pump(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      const rows = await this.#ctx.store.queue.pending(
        this.#jid,
        this.#lastSeq,
        this.#ctx.now(),
        PAGE,
      );
      if (rows.length === 0) return;
      for (const row of rows) if (!this.#deliver(row, false)) return;
    }
  }

  #deliver(row: QueuedStanza, offline: boolean): boolean {
    if (this.#stopped) return false;
    const sent = this.#send(offline ? withOffline(row.payload) : row.payload);
    if (!sent) {
      this.#stopped = true;
      return false;
    }
    this.#lastSeq = Math.max(this.#lastSeq, row.seq);
    return true;
  }
}
