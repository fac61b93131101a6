import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { MessageSchema } from "../../gen/gki_pb.js";
import type { Message } from "../../gen/gki_pb.js";
import { encodeContent, newMessageId } from "../content/index.js";
import { SignalError } from "../signal/index.js";
import {
  MAX_BUNDLE_USERS,
  buildBundleRequest,
  isBundleError,
  isUserJid,
  parseBundleResult,
} from "../stanza/index.js";
import type { AckStanza, MessageStanza, ReceiptStanza } from "../stanza/index.js";
import type { Connection } from "./connection.js";
import { nowSeconds, peerAddress, REMOTE_DEVICE_ID } from "./context.js";
import type { AccountState, ClientCore } from "./context.js";
import { GatekeeperError, nackError } from "./errors.js";
import { errorText } from "./logger.js";
import type { ReceiptKind, SendOptions, SendResult } from "./types.js";

/** A sender gives up after this many retry receipts for one message (docs §8.3). */
export const MAX_RETRIES = 5;

/**
 * The sending half: encrypt, put on the wire, wait for the gatekeeper's ack, and resend
 * the same stanza after a reconnect until it is acked (the gatekeeper dedupes by
 * (sender, id, retry)). Also answers retry receipts by re-encrypting under a new session.
 */
export class Outbound {
  constructor(private readonly core: ClientCore) {}

  async sendMessage(to: string, content: Message, opts: SendOptions = {}): Promise<SendResult> {
    checkJid(to);
    const id = opts.id ?? newMessageId();
    const body = toBinary(MessageSchema, content);
    let recorded = false;
    let stanza: MessageStanza | undefined;
    const ack = await this.untilAcked(opts.timeoutMs, async (conn, account) => {
      // Recorded before it first goes out, so a retry receipt can always be answered.
      if (!recorded) {
        await account.sent.record(to, id, body);
        recorded = true;
      }
      return this.core.peerLocks.run(to, async () => {
        stanza ??= await this.encryptMessage(conn, account, to, id, content, 0);
        // Wrapped: the lock covers putting it on the wire, not waiting for the ack.
        return { ack: conn.sendAwaitingAck(stanza, "message") };
      });
    });
    if (ack.error !== undefined) throw nackError(`message ${id}`, ack.error, ack.text);
    return { id, t: ack.t ?? nowSeconds() };
  }

  async sendReceipt(
    to: string,
    ids: string[],
    type: ReceiptKind | undefined,
    opts: { timeoutMs?: number } = {},
  ): Promise<void> {
    checkJid(to);
    const [first, ...rest] = ids;
    if (first === undefined)
      throw new GatekeeperError("bad-request", "a receipt needs at least one message id");
    const stanza: ReceiptStanza = {
      kind: "receipt",
      id: first,
      to,
      t: nowSeconds(),
      ids: rest,
      ...(type === undefined || type === "delivered" ? {} : { type }),
    };
    const ack = await this.untilAcked(opts.timeoutMs, async (conn) => ({
      ack: conn.sendAwaitingAck(stanza, "receipt"),
    }));
    if (ack.error !== undefined) throw nackError(`receipt ${first}`, ack.error, ack.text);
  }

  /**
   * Makes sure we know `to`'s current identity key: without a session (none yet, or dropped
   * after an identity notification) its bundle is fetched, as the next send would.
   */
  async ensureSession(to: string, timeoutMs: number): Promise<void> {
    checkJid(to);
    const conn = await this.core.waitForConnection(Date.now() + timeoutMs);
    const account = this.core.account();
    await this.core.peerLocks.run(to, async () => {
      if (!(await account.signal.hasSession(peerAddress(to))))
        await this.fetchSession(conn, account, to);
    });
  }

  /** A retry receipt from a peer that could not decrypt one of our messages. */
  async handleRetryReceipt(receipt: ReceiptStanza, from: string, conn: Connection): Promise<void> {
    const account = await this.core.accountReady();
    const id = receipt.retry?.id ?? receipt.id;
    const count = receipt.retry?.count ?? 1;
    const sent = await account.sent.get(from, id);
    if (!sent) {
      this.core.logger.info("retry receipt for a message we no longer have", { id });
      return;
    }
    if (count <= sent.retryCount) return; // answered already (a redelivered receipt)
    if (count > MAX_RETRIES) {
      await account.sent.setRetryCount(from, id, count);
      const error = new GatekeeperError(
        "retries-exhausted",
        `${from} could not decrypt message ${id} after ${MAX_RETRIES} retries`,
      );
      await this.core.events.emitQuietly("sendFailed", { to: from, id, error });
      return;
    }
    let ack: AckStanza;
    try {
      ack = await this.core.peerLocks.run(from, async () => {
        await account.signal.deleteSession(peerAddress(from));
        const content = fromBinary(MessageSchema, sent.content);
        const stanza = await this.encryptMessage(conn, account, from, id, content, count);
        return conn.sendAwaitingAck(stanza, "message");
      });
    } catch (err) {
      if (err instanceof GatekeeperError && (err.code === "disconnected" || err.code === "timeout"))
        throw err;
      await this.core.events.emitQuietly("sendFailed", {
        to: from,
        id,
        error: asGatekeeperError(err),
      });
      await account.sent.setRetryCount(from, id, count);
      return;
    }
    await account.sent.setRetryCount(from, id, count);
    if (ack.error !== undefined) {
      await this.core.events.emitQuietly("sendFailed", {
        to: from,
        id,
        error: nackError(`message ${id}`, ack.error, ack.text),
      });
    }
  }

  /**
   * Runs `attempt` on the current connection until it yields an ack; a dropped connection
   * means waiting for the next one and trying again. Rejects "timeout" after timeoutMs.
   */
  untilAcked(
    timeoutMs: number | undefined,
    attempt: (conn: Connection, account: AccountState) => Promise<{ ack: Promise<AckStanza> }>,
  ): Promise<AckStanza> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    let abandoned = false;
    const loop = async (): Promise<AckStanza> => {
      for (;;) {
        const conn = await this.core.waitForConnection(deadline);
        if (abandoned) throw timeoutError(timeoutMs);
        try {
          const { ack } = await attempt(conn, this.core.account());
          return await ack;
        } catch (err) {
          if (err instanceof GatekeeperError && err.code === "disconnected" && !abandoned) {
            this.core.logger.debug("connection lost before the ack; will resend", {
              error: errorText(err),
            });
            continue;
          }
          throw err;
        }
      }
    };
    if (deadline === undefined) return loop();
    return new Promise<AckStanza>((resolve, reject) => {
      const timer = setTimeout(() => {
        abandoned = true;
        reject(timeoutError(timeoutMs));
      }, timeoutMs);
      loop().then(
        (ack) => {
          clearTimeout(timer);
          resolve(ack);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Builds the encrypted stanza; fetches a bundle first if we have no session with `to`. */
  private async encryptMessage(
    conn: Connection,
    account: AccountState,
    to: string,
    id: string,
    content: Message,
    retry: number,
  ): Promise<MessageStanza> {
    const address = peerAddress(to);
    if (!(await account.signal.hasSession(address))) await this.fetchSession(conn, account, to);
    // Checked after a bundle fetch, which is where a changed key is usually first seen.
    if (this.core.holdOnIdentityChange) await refuseUnconfirmed(account, to);
    let encrypted: { type: "pkmsg" | "msg"; ciphertext: Uint8Array };
    try {
      encrypted = await account.signal.encrypt(address, encodeContent(content));
    } catch (err) {
      throw asGatekeeperError(err);
    }
    const mediatype = mediaTypeOf(content);
    return {
      kind: "message",
      id,
      to,
      type: mediatype === undefined ? "text" : "media",
      ...(retry > 0 ? { retry } : {}),
      enc: {
        v: 2,
        type: encrypted.type,
        ...(mediatype === undefined ? {} : { mediatype }),
        ciphertext: encrypted.ciphertext,
      },
    };
  }

  private async fetchSession(conn: Connection, account: AccountState, jid: string): Promise<void> {
    const failed = (await this.fetchSessions(conn, account, [jid], { locked: true })).get(jid);
    if (failed) throw failed;
  }

  /**
   * Fetches the bundles of `jids` (20 per iq, docs §7.3) and builds a session with each;
   * answers the ones that failed, with why. `locked`: the caller holds the peers' locks;
   * otherwise each session is built under its peer's lock, unless one appeared meanwhile.
   */
  async fetchSessions(
    conn: Connection,
    account: AccountState,
    jids: readonly string[],
    opts: { locked: boolean },
  ): Promise<Map<string, GatekeeperError>> {
    const failed = new Map<string, GatekeeperError>();
    for (let i = 0; i < jids.length; i += MAX_BUNDLE_USERS) {
      const chunk = jids.slice(i, i + MAX_BUNDLE_USERS);
      const result = await conn.iq({
        type: "get",
        xmlns: "encrypt",
        to: "gk",
        children: buildBundleRequest(chunk),
      });
      const items = new Map(parseBundleResult(result.children).map((u) => [u.jid, u]));
      for (const jid of chunk) {
        const item = items.get(jid);
        if (!item) {
          failed.set(
            jid,
            new GatekeeperError("protocol-error", `the bundle answer does not name ${jid}`),
          );
        } else if (isBundleError(item)) {
          const code =
            item.error === 404
              ? "unreachable"
              : item.error === 403
                ? "forbidden"
                : "protocol-error";
          failed.set(
            jid,
            new GatekeeperError(code, `no key bundle for ${jid} (${item.error})`, {
              gkiCode: item.error,
            }),
          );
        } else {
          const build = async (): Promise<void> => {
            const address = peerAddress(jid);
            if (!opts.locked && (await account.signal.hasSession(address))) return;
            await account.signal.processBundle(address, {
              registrationId: item.registrationId,
              deviceId: REMOTE_DEVICE_ID,
              identityKey: item.identityKey,
              ...(item.preKey ? { preKey: item.preKey } : {}),
              signedPreKey: item.signedPreKey,
              kyberPreKey: item.kyberPreKey,
            });
          };
          try {
            await (opts.locked ? build() : this.core.peerLocks.run(jid, build));
          } catch (err) {
            failed.set(jid, asGatekeeperError(err));
          }
        }
      }
    }
    return failed;
  }

  /**
   * Encrypts padded plaintext pairwise to `to`, over an existing session (see fetchSessions);
   * with holdOnIdentityChange, refuses a peer whose key change was not confirmed.
   */
  async encryptPairwise(
    account: AccountState,
    to: string,
    plaintext: Uint8Array,
  ): Promise<{ type: "pkmsg" | "msg"; ciphertext: Uint8Array }> {
    if (this.core.holdOnIdentityChange) await refuseUnconfirmed(account, to);
    try {
      return await account.signal.encrypt(peerAddress(to), plaintext);
    } catch (err) {
      throw asGatekeeperError(err);
    }
  }
}

/** The `mediatype` hint of `<enc>` (docs §8.1); undefined for text. */
export function mediaTypeOf(content: Message): string | undefined {
  if (content.imageMessage) return "image";
  if (content.videoMessage) return "video";
  if (content.audioMessage) return content.audioMessage.ptt ? "ptt" : "audio";
  if (content.documentMessage) return "document";
  return undefined;
}

/** holdOnIdentityChange: a changed key must be confirmed before we encrypt to it. */
async function refuseUnconfirmed(account: AccountState, to: string): Promise<void> {
  const known = await account.signal.identity(peerAddress(to));
  if (known && (known.trust === "changed" || known.trust === "unconfirmed")) {
    throw new GatekeeperError(
      "identity-unconfirmed",
      `the identity key of ${to} changed and the change was not confirmed`,
    );
  }
}

function checkJid(jid: string): void {
  if (!isUserJid(jid)) throw new GatekeeperError("bad-request", "not a user JID");
}

export function timeoutError(timeoutMs: number | undefined): GatekeeperError {
  return new GatekeeperError("timeout", `not acked by the gatekeeper within ${timeoutMs} ms`);
}

export function asGatekeeperError(err: unknown): GatekeeperError {
  if (err instanceof GatekeeperError) return err;
  if (err instanceof SignalError) {
    return new GatekeeperError(
      "encryption-failed",
      `encryption failed (${err.code}): ${err.message}`,
      { cause: err },
    );
  }
  return new GatekeeperError("internal", errorText(err), { cause: err });
}
