/**
 * Every event the bridge posts and every redaction, with a client transaction id derived from
 * the caller's key (PUT /send/{type}/{txnId} as the sender), so a retry after a crash gets the
 * first event's id back instead of posting twice; Intent.sendMessage would pick a random txn id.
 *
 * The homeserver's memory of txn ids does not survive its restart, so a send that got no
 * answer is remembered, and before it is sent again the sender's latest events are searched
 * for it (by TXN_MARKER in their content).
 */
import type { MatrixRequests } from "./matrix-requests.js";
import { MENTIONS_KEY } from "./room-content.js";
import { TXN_MARKER, txnIdFor } from "./txn-id.js";
import { MatrixSideError, errcodeOf } from "./matrix-errors.js";
import { wellFormedJson } from "../util/unicode.js";

type Json = Record<string, unknown>;

/** Errors of a connection that broke under a request (no answer; safe to retry a txn PUT). */
const CONNECTION_RESET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
/** How many of a sender's latest events are searched for an unanswered send. */
const LOOKBACK = 50;
/** Unanswered sends remembered (a bound, should the homeserver stay away for long). */
const MAX_UNANSWERED = 10_000;

export class EventSender {
  /** Txn ids of sends that got no answer (no HTTP status, or a 5xx): look before resending. */
  private readonly unanswered = new Set<string>();

  constructor(private readonly r: MatrixRequests) {}

  /**
   * PUT /rooms/{roomId}/send/{type}/{txnId} as `senderMxid`: every event the bridge posts.
   * The bot-sdk client of a puppet's intent adds `user_id` (appservice masquerading) to every
   * request itself. `what` names the event in errors ("the bridge's reply").
   */
  async send(
    what: string,
    senderMxid: string,
    roomId: string,
    type: string,
    content: Record<string, unknown>,
    txnId: string,
    timestamp?: number,
    againOnReset = true,
  ): Promise<string> {
    const intent = this.r.intent(senderMxid);
    const path =
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}` +
      `/send/${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`;
    const body: Json = { ...wellFormedJson(content), [TXN_MARKER]: txnId };
    if (type === "m.room.message" && !(MENTIONS_KEY in body)) body[MENTIONS_KEY] = {};
    if (this.unanswered.has(txnId)) {
      // An earlier attempt got no answer: the homeserver may have stored it and then lost
      // its txn id memory (Synapse keeps it in memory only: a restart forgets it).
      const sent = await this.findSent(roomId, senderMxid, type, txnId).catch(() => null);
      if (sent) {
        this.unanswered.delete(txnId);
        return sent;
      }
    }
    const put = (): Promise<string> =>
      this.r.limited(what, async () => {
        // A fresh query object each time: the client adds user_id to it.
        const qs = timestamp !== undefined ? { ts: timestamp } : null;
        const res = (await intent.matrixClient.doRequest("PUT", path, qs, body)) as {
          event_id?: unknown;
        };
        if (typeof res.event_id !== "string") {
          throw new MatrixSideError(
            "server-error",
            "M_UNKNOWN",
            `the homeserver answered ${what} without an event id`,
          );
        }
        return res.event_id;
      });
    try {
      const eventId = await put().catch(async (err: unknown) => {
        // Not registered or not joined yet (e.g. the bot in an older room): join, then retry.
        if (errcodeOf(err) !== "M_FORBIDDEN") throw err;
        await this.r.limited("joining the room", () => intent.join(roomId));
        return put();
      });
      this.unanswered.delete(txnId);
      return eventId;
    } catch (err) {
      if (!(err instanceof MatrixSideError) || err.status === undefined || err.status >= 500) {
        if (this.unanswered.size >= MAX_UNANSWERED) this.unanswered.clear();
        this.unanswered.add(txnId);
      }
      // A kept-alive connection the homeserver closed just as it was reused (the load bench
      // met one in 10,000 logins): once more at once, looking for the event first.
      if (againOnReset && err instanceof MatrixSideError && CONNECTION_RESET.has(err.code)) {
        return this.send(what, senderMxid, roomId, type, content, txnId, timestamp, false);
      }
      throw err;
    }
  }

  async redact(roomId: string, asMxid: string, eventId: string, txnKey: string): Promise<string> {
    const intent = this.r.intent(asMxid);
    // Its own txn namespace: a send and a redaction may share the caller's key.
    const txnId = txnIdFor(`redact\n${txnKey}`);
    const path =
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}` +
      `/redact/${encodeURIComponent(eventId)}/${encodeURIComponent(txnId)}`;
    const put = (): Promise<string> =>
      this.r.limited("the redaction", async () => {
        const res = (await intent.matrixClient.doRequest("PUT", path, null, {})) as {
          event_id?: unknown;
        };
        if (typeof res.event_id !== "string") {
          throw new MatrixSideError(
            "server-error",
            "M_UNKNOWN",
            "the homeserver answered the redaction without an event id",
          );
        }
        return res.event_id;
      });
    try {
      return await put();
    } catch (err) {
      // Not joined yet (the bot in an older room): join, then retry once.
      if (errcodeOf(err) !== "M_FORBIDDEN") throw err;
      await this.r.limited("joining the room", () => intent.join(roomId));
      return put();
    }
  }

  /**
   * The room's latest events, newest first (`GET /messages?dir=b`), as `asMxid` (default the
   * bot) sees them; `filter` is a RoomEventFilter.
   */
  async latestEvents(
    roomId: string,
    limit: number,
    options: { asMxid?: string; filter?: Record<string, unknown> } = {},
  ): Promise<Record<string, unknown>[]> {
    const query: Record<string, unknown> = { dir: "b", limit };
    if (options.filter) query.filter = JSON.stringify({ ...options.filter, limit });
    const res = (await this.r
      .intent(options.asMxid ?? this.r.botMxid)
      .matrixClient.doRequest(
        "GET",
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`,
        query,
      )) as { chunk?: unknown };
    return Array.isArray(res.chunk)
      ? res.chunk.filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null)
      : [];
  }

  /**
   * The event this bridge sent with `txnId` (TXN_MARKER in its content) among the sender's
   * latest events of the type in the room, if the homeserver has it.
   */
  private async findSent(
    roomId: string,
    senderMxid: string,
    type: string,
    txnId: string,
  ): Promise<string | undefined> {
    const latest = await this.latestEvents(roomId, LOOKBACK, {
      asMxid: senderMxid,
      filter: { senders: [senderMxid], types: [type] },
    });
    const found = latest.find(
      (e) => (e.content as Record<string, unknown> | undefined)?.[TXN_MARKER] === txnId,
    );
    return typeof found?.event_id === "string" ? found.event_id : undefined;
  }
}
