import { toBinary } from "@bufbuild/protobuf";
import { MessageSchema } from "../../gen/gki_pb.js";
import type { Message } from "../../gen/gki_pb.js";
import { ContentError, decodeContent } from "../content/index.js";
import { SignalError } from "../signal/index.js";
import { GROUP_NOTIFICATION_TYPE, isGroupJid, parseCountResult } from "../stanza/index.js";
import type { MessageStanza, NotificationStanza, ReceiptStanza, Stanza } from "../stanza/index.js";
import type { Connection } from "./connection.js";
import { receiveThroughInbox } from "./inbox-flow.js";
import type { DecryptOutcome } from "./inbox-flow.js";
import { nowSeconds, peerAddress } from "./context.js";
import type { AccountState, ClientCore } from "./context.js";
import { ClientStoppedError, HandlerError } from "./events.js";
import { GroupInbound } from "./group-inbound.js";
import type { GroupOutbound } from "./group-outbound.js";
import type { GroupDirectory } from "./groups.js";
import { errorText } from "./logger.js";
import { MAX_RETRIES } from "./outbound.js";
import type { Outbound } from "./outbound.js";
import { KeyedLanes } from "./lanes.js";

/**
 * Senders whose stanzas are handled at the same time, per client. Bounded so that an offline
 * backlog from hundreds of senders does not start hundreds of decrypts, transactions and
 * Matrix sends at once (memory, database connections); 16 keeps one slow contact, or a few,
 * from delaying the rest.
 */
export const MAX_CONCURRENT_SENDERS = 16;

/** The lane of stanzas that name no sender (they are answered at once, or are `ib`). */
const NO_SENDER = "";

/**
 * The receiving half. Stanzas are handled in one lane per sender: in arrival order within a
 * lane (Signal decryption and the bridged order depend on it), concurrently across lanes, so
 * a contact whose message takes long (a homeserver being retried) delays only its own later
 * stanzas. The key guarantee: a message, receipt or notification is acked only after every
 * event handler finished without throwing; what is not acked is redelivered on the next
 * connection, and the inbox makes that redelivery exactly-once (docs §5.1, §9).
 */
export class Inbound {
  private readonly lanes = new KeyedLanes(MAX_CONCURRENT_SENDERS);
  private readonly groups: GroupInbound;

  constructor(
    private readonly core: ClientCore,
    private readonly outbound: Outbound,
    groupOutbound: GroupOutbound,
    directory: GroupDirectory,
  ) {
    this.groups = new GroupInbound(core, groupOutbound, directory, (err) => this.reportError(err));
  }

  /** Queues a stanza that arrived on `conn`. */
  push(stanza: Stanza, conn: Connection): void {
    const onError = (err: unknown): void => this.reportError(err);
    if (stanza.kind === "ib") {
      const count = stanza.offlineCount;
      // "The offline backlog was delivered" means handled, in every sender's lane.
      if (count !== undefined) {
        this.lanes.barrier(
          () => this.core.events.emitQuietly("offlineComplete", { count }),
          onError,
        );
      }
      return;
    }
    const sender = "from" in stanza ? stanza.from : undefined;
    this.lanes.push(sender ?? NO_SENDER, () => this.handle(stanza, conn), onError);
  }

  /** Resolves once everything received so far has been handled. */
  idle(): Promise<void> {
    return this.lanes.idle();
  }

  private async handle(stanza: Stanza, conn: Connection): Promise<void> {
    switch (stanza.kind) {
      case "message":
        return this.onMessage(stanza, conn);
      case "receipt":
        return this.onReceipt(stanza, conn);
      case "notification":
        return this.onNotification(stanza, conn);
      case "chatstate":
        if (stanza.from && isGroupJid(stanza.from)) {
          if (this.core.groups) await this.groups.onChatState(stanza, stanza.from);
        } else if (stanza.from) {
          const media = stanza.media === undefined ? {} : { media: stanza.media };
          await this.core.events.emitQuietly("chatstate", {
            from: stanza.from,
            state: stanza.state,
            ...media,
          });
        }
        return;
      case "presence":
        if (stanza.from && stanza.type !== "subscribe") {
          await this.core.events.emitQuietly("presence", {
            from: stanza.from,
            type: stanza.type,
            ...(stanza.last === undefined ? {} : { last: stanza.last }),
            ...(stanza.name === undefined ? {} : { name: stanza.name }),
          });
        }
        return;
      default:
        this.core.logger.debug("ignoring stanza", { kind: stanza.kind });
    }
  }

  // ---------------------------------------------------------------- messages

  private async onMessage(m: MessageStanza, conn: Connection): Promise<void> {
    const from = m.from;
    if (from === undefined) {
      conn.ack({ class: "message", id: m.id, error: 400, text: "missing from" });
      return;
    }
    if (isGroupJid(from) && this.core.groups) return this.groups.onMessage(m, from, conn);
    const enc = m.enc;
    if (enc === undefined || isGroupJid(from)) {
      // §19.1: a client that does not log in with `groups` is never in one; refuse, never loop.
      refuseGroupStanza(conn, "message", m.id, from, m.participant);
      return;
    }
    const account = await this.core.accountReady();
    const ack = (error?: number): void =>
      conn.ack({ class: "message", id: m.id, to: from, ...(error === undefined ? {} : { error }) });
    const retry = m.retry ?? 0;
    const t = m.t ?? nowSeconds();
    const offline = m.offline === true;

    await receiveThroughInbox({
      account,
      key: from,
      id: m.id,
      retry,
      decrypt: () => this.decrypt(account, m, enc, from, { retry, t, offline }),
      deliver: (content) => {
        const pushName = m.notify?.trim() || undefined;
        return this.core.handOver("message", {
          id: m.id,
          from,
          t,
          offline,
          ...(pushName === undefined ? {} : { pushName }),
          content,
        });
      },
      duplicate: () => this.core.events.emitQuietly("duplicate", { from, id: m.id }),
      undecryptable: (code) => this.undecryptable(conn, account, m, from, code, retry),
      ack: () => ack(),
      reportError: (err) => this.reportError(err),
    });
  }

  /** Decrypts and stores the content in one transaction with the session update. */
  private async decrypt(
    account: AccountState,
    m: MessageStanza,
    enc: NonNullable<MessageStanza["enc"]>,
    from: string,
    meta: { retry: number; t: number; offline: boolean },
  ): Promise<DecryptOutcome> {
    try {
      return await this.core.peerLocks.run(from, () =>
        this.core.db.transaction(async (trx): Promise<DecryptOutcome> => {
          const plaintext = await account.signal.decrypt(
            peerAddress(from),
            enc.type,
            enc.ciphertext,
            trx,
          );
          let content: Message;
          try {
            content = decodeContent(plaintext);
          } catch (err) {
            if (!(err instanceof ContentError)) throw err;
            // The session step stays committed; only the content is unusable.
            await account.inbox.putFailed({ sender: from, id: m.id, ...meta }, trx);
            return { kind: "failed", code: err.code };
          }
          const stored = toBinary(MessageSchema, content);
          await account.inbox.putPending(trx, {
            sender: from,
            id: m.id,
            plaintext: stored,
            ...meta,
          });
          return { kind: "ok", content };
        }),
      );
    } catch (err) {
      if (err instanceof SignalError) {
        if (err.code === "duplicate-message") return { kind: "duplicate" };
        if (err.code === "storage") return { kind: "transient", error: err };
        await account.inbox.putFailed({ sender: from, id: m.id, ...meta });
        return { kind: "failed", code: err.code };
      }
      return { kind: "transient", error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  /** docs §8.3: ack, ask the sender to retry (unless the content itself is broken), tell the user. */
  private async undecryptable(
    conn: Connection,
    account: AccountState,
    m: MessageStanza,
    from: string,
    code: string,
    retry: number,
  ): Promise<void> {
    this.core.logger.warn("could not decrypt a message", { id: m.id, code, retry });
    const badContent = code === "bad-protobuf" || code === "bad-padding";
    // A retry cannot fix content the sender encoded wrongly: that is nacked 491 instead.
    const retryRequested = !badContent && retry < MAX_RETRIES;
    if (retryRequested) {
      conn.sendQuietly({
        kind: "receipt",
        id: m.id,
        to: from,
        type: "retry",
        ids: [],
        retry: { count: retry + 1, id: m.id, t: nowSeconds() },
        registrationId: account.signal.registrationId,
      });
    }
    await this.core.events.emitQuietly("undecryptable", { from, id: m.id, code, retryRequested });
    conn.ack({ class: "message", id: m.id, to: from, ...(badContent ? { error: 491 } : {}) });
  }

  // ---------------------------------------------------------------- receipts

  private async onReceipt(r: ReceiptStanza, conn: Connection): Promise<void> {
    const from = r.from;
    const ack = (): void =>
      conn.ack({
        class: "receipt",
        id: r.id,
        ...(from === undefined ? {} : { to: from }),
        ...(r.type ? { type: r.type } : {}),
      });
    if (from === undefined) {
      conn.ack({ class: "receipt", id: r.id, error: 400, text: "missing from" });
      return;
    }
    if (isGroupJid(from)) {
      if (this.core.groups) return this.groups.onReceipt(r, from, conn);
      refuseGroupStanza(conn, "receipt", r.id, from, r.participant, r.type);
      return;
    }
    if (r.type === "retry") {
      await this.outbound.handleRetryReceipt(r, from, conn);
      ack();
      return;
    }
    try {
      await this.core.handOver("receipt", {
        from,
        // §13: the list does not repeat the first id; a sender that does is not counted twice.
        ids: [...new Set([r.id, ...r.ids])],
        type: r.type ?? "delivered",
        t: r.t ?? nowSeconds(),
        offline: r.offline === true,
      });
    } catch (err) {
      this.reportError(err);
      return;
    }
    ack();
  }

  // ---------------------------------------------------------------- notifications

  private async onNotification(n: NotificationStanza, conn: Connection): Promise<void> {
    if (n.type === GROUP_NOTIFICATION_TYPE && this.core.groups)
      return this.groups.onNotification(n, conn);
    const account = await this.core.accountReady();
    if (n.type === "encrypt") {
      const count = safeCount(n);
      if (count !== undefined) await this.core.keys.refill(conn, account.signal, count);
    } else if (
      n.type === "identity" &&
      n.from !== undefined &&
      n.from !== "gk" &&
      this.core.identityNotified(n.from)
    ) {
      // Our session was built on the old key: the next send must fetch the new bundle.
      const jid = n.from;
      await this.core.peerLocks.run(jid, () => account.signal.deleteSession(peerAddress(jid)));
      try {
        await this.core.handOver("identityChange", { jid });
      } catch (err) {
        this.reportError(err);
        return;
      }
    }
    conn.ack({
      class: "notification",
      id: n.id,
      type: n.type,
      ...(n.from === undefined ? {} : { to: n.from }),
    });
  }

  private reportError(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    // Stopping: the stanza comes again on the next connection; nothing went wrong.
    if (err instanceof ClientStoppedError) return;
    if (!(err instanceof HandlerError))
      this.core.logger.error("inbound stanza failed", { error: errorText(err) });
    void this.core.events.emitQuietly("error", error);
  }
}

/** A group stanza to a client without `groups`: refused, so the gatekeeper drops it (§19.1). */
function refuseGroupStanza(
  conn: Connection,
  cls: "message" | "receipt",
  id: string,
  from: string,
  participant: string | undefined,
  type?: string,
): void {
  conn.ack({
    class: cls,
    id,
    to: from,
    ...(participant === undefined ? {} : { participant }),
    ...(type === undefined ? {} : { type }),
    error: 400,
    text: "groups-unsupported",
  });
}

function safeCount(n: NotificationStanza): number | undefined {
  try {
    return parseCountResult(n.children);
  } catch {
    return undefined;
  }
}
