/**
 * One logged-in client connection: reads stanzas in order, answers each
 * (docs/protocol.md §5–§14), delivers its queue, and enforces the
 * connection-level rules (bad-frame budget, idle timeout, replacement).
 */
import type { NoiseConnection } from "../gatekeeper/noise/index.js";
import {
  DEFAULT_XML_LIMITS,
  type AckStanza,
  type Stanza,
  StanzaError,
  encodeStanza,
  errorAck,
  isValidId,
  parseXml,
  stanzaFromNode,
} from "../gatekeeper/stanza/index.js";
import { type SandboxContext, unixSeconds } from "./context.js";
import { SandboxError } from "./errors.js";
import { handleIq } from "./iq.js";
import type { IqSession } from "./iq-context.js";
import { routeChatState } from "./presence.js";
import { Delivery } from "./queue.js";
import { SlidingWindowLimiter } from "./rate-limit.js";
import { routeMessage, routeReceipt } from "./router.js";
import type { Account } from "./store/index.js";

const MINUTE_MS = 60_000;

/** Stanzas only the gatekeeper sends; from a client they are refused as such, whatever they hold (§5). */
const SERVER_ONLY = new Set(["success", "failure", "stream:error", "notification", "ib"]);

export class Session implements IqSession {
  readonly jid: string;
  #account: Account;
  #enlisted: boolean;
  readonly #ctx: SandboxContext;
  readonly #conn: NoiseConnection;
  readonly #delivery: Delivery;
  readonly #badFrames: SlidingWindowLimiter;
  #chain: Promise<void> = Promise.resolve();
  #idleTimer: NodeJS.Timeout | undefined;
  #afterReply: (() => void)[] = [];
  /** Transport frames received so far: the next one's index (its Noise nonce), for `seq` (§5.1). */
  #framesIn = 0;
  #deliveryStarted = false;
  #closing = false;

  constructor(ctx: SandboxContext, conn: NoiseConnection, account: Account, enlisted: boolean) {
    this.#ctx = ctx;
    this.#conn = conn;
    this.jid = account.jid;
    this.#account = account;
    this.#enlisted = enlisted;
    this.#delivery = new Delivery(ctx, account.jid, (bytes) => this.#sendBytes(bytes));
    this.#badFrames = new SlidingWindowLimiter(
      ctx.limits.badFramesPerMinute - 1,
      MINUTE_MS,
      ctx.now,
    );
  }

  get account(): Account {
    return this.#account;
  }

  get enlisted(): boolean {
    return this.#enlisted;
  }

  /** Takes over the account's connection slot, says `success`, then delivers the backlog. */
  start(): void {
    const ctx = this.#ctx;
    ctx.sessions.claim(this);
    this.#conn.on("frame", (frame) => this.#onFrame(frame));
    this.#conn.on("error", (err) => {
      ctx.logger.debug("connection error", { jid: this.jid, code: err.code });
      // §3.1: the stanza goes out before the connection layer closes with 4013 (sent synchronously,
      // while the socket is still open; a message too long for the WebSocket layer gets only 1009).
      if (err.code === "frame-too-large") {
        this.send({ kind: "stream-error", code: 413, text: "frame-too-large" });
      }
    });
    this.#conn.on("close", (code) => this.#onClose(code));
    this.#resetIdle();
    this.send({ kind: "success", t: unixSeconds(ctx), jid: this.jid, enlisted: this.#enlisted });
    ctx.logger.info("client logged in", { jid: this.jid, enlisted: this.#enlisted });
    if (this.#enlisted) this.#startDelivery();
  }

  send(stanza: Stanza): boolean {
    let bytes: Uint8Array;
    try {
      bytes = encodeStanza(stanza);
    } catch (err) {
      this.#ctx.logger.error("could not encode a stanza", {
        jid: this.jid,
        kind: stanza.kind,
        error: String(err),
      });
      return false;
    }
    return this.#sendBytes(bytes);
  }

  kick(): void {
    this.#delivery.kick();
  }

  streamError(code: number, text?: string): void {
    if (this.#closing) return;
    this.send({ kind: "stream-error", code, ...(text === undefined ? {} : { text }) });
    this.#close(1000, text ?? `stream error ${code}`);
  }

  setEnlisted(enlisted: boolean): void {
    this.#enlisted = enlisted;
    if (enlisted) this.#startDelivery();
  }

  afterReply(action: () => void): void {
    this.#afterReply.push(action);
  }

  #startDelivery(): void {
    if (this.#deliveryStarted) return;
    this.#deliveryStarted = true;
    void this.#ctx.tasks.track(
      this.#delivery.start().catch((err: unknown) => {
        this.#ctx.logger.error("backlog delivery failed", { jid: this.jid, error: String(err) });
      }),
    );
  }

  #sendBytes(bytes: Uint8Array): boolean {
    if (this.#closing || this.#conn.closed) return false;
    try {
      this.#conn.send(bytes);
      return true;
    } catch (err) {
      this.#ctx.logger.debug("send failed", { jid: this.jid, error: String(err) });
      return false;
    }
  }

  #close(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#delivery.stop();
    clearTimeout(this.#idleTimer);
    this.#conn.close(code, reason);
  }

  #resetIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#ctx.logger.debug("closing idle connection", { jid: this.jid });
      this.#close(1000, "idle-timeout");
    }, this.#ctx.limits.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  #onFrame(frame: Buffer): void {
    const seq = this.#framesIn++;
    if (this.#closing) return;
    this.#resetIdle();
    let stanza: Stanza;
    try {
      const node = parseXml(frame, {
        ...DEFAULT_XML_LIMITS,
        maxBytes: this.#ctx.limits.maxFramePayload,
      });
      // §5: refused as what it is, whatever it holds, before its fields are read.
      if (SERVER_ONLY.has(node.tag)) {
        const id = node.attrs.id;
        throw new StanzaError(488, `<${node.tag}> is sent only by the gatekeeper`, {
          tag: node.tag,
          id: id !== undefined && isValidId(id) ? id : undefined,
          text: "server-only",
        });
      }
      stanza = stanzaFromNode(node);
    } catch (err) {
      // The codec throws only StanzaError; anything else is still the client's bad frame, never a crash.
      const refused = err instanceof StanzaError ? err : new StanzaError(487, "unreadable frame");
      const answer = this.#refusal(refused, seq);
      if (answer) this.send(answer);
      if (answer?.kind !== "iq") this.#countBadFrame();
      return;
    }
    this.#chain = this.#ctx.tasks.track(
      this.#chain
        .then(() => this.#handle(stanza, seq))
        .catch((err: unknown) =>
          this.#ctx.logger.error("stanza handling failed", { jid: this.jid, error: String(err) }),
        ),
    );
  }

  #countBadFrame(): void {
    if (!this.#badFrames.take("frames").ok) this.streamError(487, "too-many-bad-frames");
  }

  #onClose(code: number): void {
    const ctx = this.#ctx;
    this.#closing = true;
    this.#delivery.stop();
    clearTimeout(this.#idleTimer);
    const stillOwner = ctx.sessions.get(this.jid) === this;
    ctx.sessions.release(this);
    ctx.logger.info("client disconnected", { jid: this.jid, code });
    if (!stillOwner) return;
    void ctx.tasks.track(
      Promise.all([
        ctx.presence.disconnected(ctx, this.jid),
        ctx.store.accounts.touchLastSeen(this.jid),
      ]).catch(() => undefined),
    );
  }

  async #handle(stanza: Stanza, seq: number): Promise<void> {
    if (this.#closing) return;
    const ctx = this.#ctx;
    const me = await ctx.store.accounts.get(this.jid);
    if (!me) {
      this.streamError(401, "removed");
      return;
    }
    this.#account = me;
    switch (stanza.kind) {
      case "iq": {
        const reply = await handleIq(ctx, this, me, stanza);
        if (reply) this.send(reply);
        const actions = this.#afterReply;
        this.#afterReply = [];
        for (const action of actions) action();
        return;
      }
      case "ack":
        if (this.#deliveryStarted) await this.#delivery.onAck(stanza);
        return;
      case "message":
      case "receipt":
      case "chatstate":
      case "presence":
        if (!this.#enlisted) {
          this.send(this.#nack(stanza, seq, 403, "not-enlisted"));
          return;
        }
        return this.#handleRouted(me, stanza, seq);
      default:
        // Stanzas only the gatekeeper sends are not something a client may send.
        this.send(this.#nack(stanza, seq, 488, "server-only"));
        this.#countBadFrame();
    }
  }

  /**
   * The answer to a stanza the codec refused (§5, §5.1, §5.2): an iq with a usable id gets an iq
   * error, an iq result or error nothing (it answers nothing we asked), anything else the codec's
   * negative ack; `seq` names the frame.
   */
  #refusal(err: StanzaError, seq: number): Stanza | null {
    if (err.tag === "iq" && err.code === 400 && err.id !== undefined) {
      if (err.type === "result" || err.type === "error") return null;
      const badType = err.type === undefined || !["get", "set"].includes(err.type);
      return {
        kind: "iq",
        id: err.id,
        type: "error",
        from: "gk",
        children: [],
        error: { code: 400, text: badType ? "bad-type" : "bad-request" },
      };
    }
    return errorAck(err, seq);
  }

  async #handleRouted(me: Account, stanza: Stanza, seq: number): Promise<void> {
    const ctx = this.#ctx;
    try {
      switch (stanza.kind) {
        case "message": {
          const { t } = await routeMessage(ctx, me, stanza);
          this.send({ kind: "ack", class: "message", id: stanza.id, t });
          return;
        }
        case "receipt": {
          const { t } = await routeReceipt(ctx, me, stanza);
          this.send({
            kind: "ack",
            class: "receipt",
            id: stanza.id,
            ...(stanza.type === undefined ? {} : { type: stanza.type }),
            t,
          });
          return;
        }
        case "chatstate":
          await routeChatState(ctx, me, stanza);
          return;
        case "presence":
          if (stanza.type === "subscribe") {
            if (stanza.to === undefined) throw new SandboxError(400, "missing-to");
            await ctx.presence.subscribe(ctx, this, stanza.to);
          } else {
            await ctx.presence.setOwn(ctx, this, stanza);
          }
          return;
        default:
          return;
      }
    } catch (err) {
      if (err instanceof SandboxError) {
        this.send(this.#nack(stanza, seq, err.code, err.text));
        return;
      }
      ctx.logger.error("routing failed", { jid: this.jid, kind: stanza.kind, error: String(err) });
      this.send(this.#nack(stanza, seq, 500, "internal"));
    }
  }

  /** A negative ack names the stanza by id where it has one, and always by its frame's `seq` (§5.1). */
  #nack(stanza: Stanza, seq: number, code: number, text?: string): AckStanza {
    const id = "id" in stanza && typeof stanza.id === "string" ? stanza.id : undefined;
    return {
      kind: "ack",
      class: stanza.kind === "stream-error" ? "stream:error" : stanza.kind,
      ...(id === undefined ? {} : { id }),
      error: code,
      ...(text === undefined ? {} : { text }),
      seq,
    };
  }
}
