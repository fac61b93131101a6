import { toBinary } from "@bufbuild/protobuf";
import type { Knex } from "knex";
import { MessageSchema } from "../../gen/gki_pb.js";
import type { Message } from "../../gen/gki_pb.js";
import { ContentError, decodeContent } from "../content/index.js";
import { SignalError } from "../signal/index.js";
import { StanzaError, parseGroupNotification } from "../stanza/index.js";
import type {
  ChatStateStanza,
  MessageStanza,
  NotificationStanza,
  ReceiptStanza,
} from "../stanza/index.js";
import type { Connection } from "./connection.js";
import { receiveThroughInbox } from "./inbox-flow.js";
import type { DecryptOutcome } from "./inbox-flow.js";
import { nowSeconds, peerAddress } from "./context.js";
import type { AccountState, ClientCore } from "./context.js";
import type { GroupOutbound } from "./group-outbound.js";
import type { GroupDirectory } from "./groups.js";
import { errorText } from "./logger.js";
import { MAX_RETRIES } from "./outbound.js";

/**
 * Receiving in groups (docs §19.4–§19.6): group messages (pairwise distribution or retry
 * content first, then the skmsg), group receipts and chat states, membership notifications.
 * Acks name the group and the member (§19.5); a message is acked only after the handlers
 * finished, as one-to-one. Everything of one group arrives in one inbound lane (its `from`).
 */
export class GroupInbound {
  constructor(
    private readonly core: ClientCore,
    private readonly outbound: GroupOutbound,
    private readonly directory: GroupDirectory,
    private readonly reportError: (err: unknown) => void,
  ) {}

  async onMessage(m: MessageStanza, group: string, conn: Connection): Promise<void> {
    const sender = m.participant as string; // the codec requires it from a group
    const account = await this.core.accountReady();
    const ack = (error?: number): void =>
      conn.ack({
        class: "message",
        id: m.id,
        to: group,
        participant: sender,
        ...(error === undefined ? {} : { error }),
      });
    if (sender === account.owner) {
      ack(400); // the gatekeeper never sends us our own message
      return;
    }
    const key = inboxKey(group, sender);
    const retry = m.retry ?? 0;
    const meta = { retry, t: m.t ?? nowSeconds(), offline: m.offline === true };

    await receiveThroughInbox({
      account,
      key,
      id: m.id,
      retry,
      decrypt: () => this.decrypt(account, m, group, sender, meta),
      deliver: (content) => {
        const pushName = m.notify?.trim() || undefined;
        return this.core.handOver("message", {
          id: m.id,
          from: sender,
          group,
          t: meta.t,
          offline: meta.offline,
          ...(pushName === undefined ? {} : { pushName }),
          content,
        });
      },
      duplicate: () => this.core.events.emitQuietly("duplicate", { from: sender, group, id: m.id }),
      undecryptable: (code) => this.undecryptable(conn, account, m, group, sender, code),
      ack: () => ack(),
      reportError: (err) => this.reportError(err),
    });
  }

  async onReceipt(r: ReceiptStanza, group: string, conn: Connection): Promise<void> {
    const reader = r.participant as string; // the codec requires it from a group
    const ack = (): void =>
      conn.ack({
        class: "receipt",
        id: r.id,
        to: group,
        participant: reader,
        ...(r.type ? { type: r.type } : {}),
      });
    if (r.type === "retry") {
      await this.outbound.handleRetryReceipt(r, group, reader, conn);
      ack();
      return;
    }
    try {
      await this.core.handOver("receipt", {
        from: reader,
        group,
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

  async onChatState(c: ChatStateStanza, group: string): Promise<void> {
    if (c.participant === undefined) return;
    await this.core.events.emitQuietly("chatstate", {
      from: c.participant,
      group,
      state: c.state,
      ...(c.media === undefined ? {} : { media: c.media }),
    });
  }

  /** A `w:gp2` notification: update what we know, rotate or forget keys, tell the app, ack. */
  async onNotification(n: NotificationStanza, conn: Connection): Promise<void> {
    const ack = (): void =>
      conn.ack({
        class: "notification",
        id: n.id,
        type: n.type,
        ...(n.from === undefined ? {} : { to: n.from }),
      });
    let parsed;
    try {
      parsed = parseGroupNotification(n);
    } catch (err) {
      if (!(err instanceof StanzaError)) throw err;
      this.core.logger.warn("ignoring a malformed group notification", { error: errorText(err) });
      ack();
      return;
    }
    const account = await this.core.accountReady();
    const { group, change } = parsed;
    const action = this.directory.apply(group, change, account.owner);
    if (action === "forget") {
      await this.core.peerLocks.run(group, () => this.directory.forget(group));
    } else if (action === "rotate") {
      // §19.5: whoever left must not read what we send next.
      await this.core.peerLocks.run(group, () => account.signal.groups.rotateGroupKey(group));
    }
    try {
      await this.core.handOver("groupChange", {
        group,
        actor: parsed.actor,
        ...(parsed.t === undefined ? {} : { t: parsed.t }),
        change,
        offline: n.offline === true,
      });
    } catch (err) {
      this.reportError(err);
      return;
    }
    ack();
  }

  /**
   * The member's pairwise `<enc>` first (a distribution, or a retry's content), then the
   * skmsg; content and key updates commit together with the pending inbox row.
   */
  private async decrypt(
    account: AccountState,
    m: MessageStanza,
    group: string,
    sender: string,
    meta: { retry: number; t: number; offline: boolean },
  ): Promise<DecryptOutcome> {
    const key = inboxKey(group, sender);
    const signal = account.signal;
    return this.core.peerLocks.run(sender, () =>
      this.core.db.transaction(async (trx): Promise<DecryptOutcome> => {
        const failed = async (code: string): Promise<DecryptOutcome> => {
          // Key updates of the pairwise part stay committed; only this message is lost.
          await account.inbox.putFailed({ sender: key, id: m.id, ...meta }, trx);
          return { kind: "failed", code };
        };
        let shown: Message | undefined;
        let pairwiseFailure: string | undefined;
        if (m.enc) {
          let pairwise: Message | undefined;
          try {
            const plaintext = await signal.decrypt(
              peerAddress(sender),
              m.enc.type,
              m.enc.ciphertext,
              trx,
            );
            pairwise = decodeContent(plaintext);
          } catch (err) {
            if (err instanceof ContentError) return failed(err.code);
            if (!(err instanceof SignalError) || err.code === "storage") throw err;
            if (err.code === "duplicate-message" && !m.skmsg) return { kind: "duplicate" };
            // The skmsg may still open with a key we hold; if not, the retry fixes both.
            pairwiseFailure = err.code;
          }
          if (pairwise) shown = await this.takeDistribution(account, pairwise, group, sender, trx);
        }
        if (m.skmsg) {
          let plaintext: Uint8Array;
          try {
            plaintext = await signal.groups.groupDecrypt(sender, group, m.skmsg.ciphertext, trx);
          } catch (err) {
            if (!(err instanceof SignalError) || err.code === "storage") throw err;
            if (err.code === "duplicate-message") return { kind: "duplicate" };
            return failed(err.code);
          }
          try {
            shown = decodeContent(plaintext);
          } catch (err) {
            if (err instanceof ContentError) return failed(err.code);
            throw err;
          }
        }
        if (!shown) return pairwiseFailure ? failed(pairwiseFailure) : { kind: "empty" };
        await account.inbox.putPending(trx, {
          sender: key,
          id: m.id,
          plaintext: toBinary(MessageSchema, shown),
          ...meta,
        });
        return { kind: "ok", content: shown };
      }),
    );
  }

  /**
   * Processes the sender key a pairwise message carries (for this group only) and answers
   * what else it carries to show: nothing for a plain distribution, the content of a retry.
   */
  private async takeDistribution(
    account: AccountState,
    message: Message,
    group: string,
    sender: string,
    trx: Knex.Transaction,
  ): Promise<Message | undefined> {
    const skdm = message.senderKeyDistributionMessage;
    if (!skdm) return message;
    const bytes = skdm.axolotlSenderKeyDistributionMessage;
    if (skdm.groupId === group && bytes && bytes.length > 0) {
      try {
        await account.signal.groups.processGroupDistribution(sender, group, bytes, trx);
      } catch (err) {
        if (!(err instanceof SignalError) || err.code === "storage") throw err;
        this.core.logger.warn("refused a member's sender key", { code: err.code });
      }
    } else {
      this.core.logger.warn("a sender key for another group came with a group message");
    }
    // Key material is not content (§19.5): what is left, if anything, is shown.
    message.senderKeyDistributionMessage = undefined;
    return toBinary(MessageSchema, message).length > 0 ? message : undefined;
  }

  /** §19.5: ack, ask the sender for it again pairwise (not for broken content), tell the user. */
  private async undecryptable(
    conn: Connection,
    account: AccountState,
    m: MessageStanza,
    group: string,
    sender: string,
    code: string,
  ): Promise<void> {
    const retry = m.retry ?? 0;
    this.core.logger.warn("could not decrypt a group message", { id: m.id, code, retry });
    const badContent = code === "bad-protobuf" || code === "bad-padding";
    const retryRequested = !badContent && retry < MAX_RETRIES;
    if (retryRequested) {
      conn.sendQuietly({
        kind: "receipt",
        id: m.id,
        to: group,
        participant: sender,
        type: "retry",
        ids: [],
        retry: { count: retry + 1, id: m.id, t: nowSeconds() },
        registrationId: account.signal.registrationId,
      });
    }
    await this.core.events.emitQuietly("undecryptable", {
      from: sender,
      group,
      id: m.id,
      code,
      retryRequested,
    });
    conn.ack({
      class: "message",
      id: m.id,
      to: group,
      participant: sender,
      ...(badContent ? { error: 491 } : {}),
    });
  }
}

/** Inbox rows of group messages: ids are unique per sender, and a sender is per group here. */
export function inboxKey(group: string, sender: string): string {
  return `${group}/${sender}`;
}
