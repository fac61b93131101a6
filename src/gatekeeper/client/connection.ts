import { connectNoise, NoiseError } from "../noise/index.js";
import type { NoiseConnection, StaticKeyPair } from "../noise/index.js";
import { buildPing, encodeStanza, errorAck, parseStanza, StanzaError } from "../stanza/index.js";
import type { AckStanza, IqStanza, Stanza, SuccessStanza } from "../stanza/index.js";
import { GatekeeperError, iqError, loginFailureError } from "./errors.js";
import { AckTracker, IqTracker } from "./iq-tracker.js";
import { errorText } from "./logger.js";
import type { ClientLogger } from "./logger.js";

/**
 * One logged-in session with the gatekeeper: the Noise transport, the stanza codec,
 * outstanding iqs and acks, and the keepalive. It knows nothing of messages' meaning; the
 * client above decides what to do with what arrives and when to ack it.
 */
export interface ConnectionOptions {
  url: string;
  serverStaticKey: Uint8Array;
  clientStaticKey: StaticKeyPair;
  /** Serialized gki.v1.ClientPayload. */
  payload: Uint8Array;
  iqTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  /** How long to wait for <success>/<failure> after the handshake. */
  loginTimeoutMs: number;
  handshakeTimeoutMs?: number;
  logger: ClientLogger;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** The <stream:error> the gatekeeper sent before closing, if any. */
  streamError?: { code: number; text?: string };
  /** Milliseconds between <success> and the close. */
  upForMs: number;
  /** True when we closed it (stop(), keepalive failure). */
  byUs: boolean;
}

export interface ConnectionHandlers {
  /** Everything except iq results, acks and stream errors, in arrival order. */
  onStanza(stanza: Stanza, connection: Connection): void;
  onClose(info: CloseInfo, connection: Connection): void;
}

type IqRequest = Omit<IqStanza, "kind" | "id" | "type"> & { type: "get" | "set" };

export class Connection {
  private readonly iqs = new IqTracker<IqStanza>(
    (id, ms) => new GatekeeperError("timeout", `no answer to iq ${id} within ${ms} ms`),
  );
  private readonly acks = new AckTracker<AckStanza>();
  private readonly connectedAt = Date.now();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private streamError: CloseInfo["streamError"];
  private closedByUs = false;
  private isClosed = false;
  private markClosed!: (info: CloseInfo) => void;
  /** Resolves once the socket has closed. */
  readonly whenClosed = new Promise<CloseInfo>((resolve) => (this.markClosed = resolve));

  private constructor(
    private readonly noise: NoiseConnection,
    readonly login: SuccessStanza,
    private readonly opts: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    noise.on("frame", (frame) => this.onFrame(frame));
    noise.on("error", (err) =>
      opts.logger.warn("gatekeeper transport error", { error: errorText(err) }),
    );
    noise.on("close", (code, reason) => this.onClose(code, reason));
    this.scheduleKeepalive();
  }

  /**
   * Connects, runs the Noise handshake with the login payload and waits for the login
   * result. Rejects with GatekeeperError: the <failure> reason's code, "server-key-mismatch",
   * "connection-failed" or "timeout".
   */
  static async open(opts: ConnectionOptions, handlers: ConnectionHandlers): Promise<Connection> {
    let noise: NoiseConnection;
    try {
      noise = await connectNoise({
        url: opts.url,
        serverStaticKey: opts.serverStaticKey,
        clientStaticKey: opts.clientStaticKey,
        payload: opts.payload,
        ...(opts.handshakeTimeoutMs === undefined
          ? {}
          : { handshakeTimeoutMs: opts.handshakeTimeoutMs }),
      });
    } catch (err) {
      throw transportError(err);
    }
    return new Promise<Connection>((resolve, reject) => {
      let done = false;
      const finish = (err: GatekeeperError | null, conn?: Connection): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        noise.off("frame", onFrame);
        noise.off("close", onClose);
        if (err) {
          noise.close(1000, "");
          reject(err);
        } else if (conn) {
          resolve(conn);
        }
      };
      const timer = setTimeout(
        () =>
          finish(
            new GatekeeperError("timeout", `no login result within ${opts.loginTimeoutMs} ms`),
          ),
        opts.loginTimeoutMs,
      );
      const onClose = (code: number, reason: string): void =>
        finish(
          new GatekeeperError(
            "connection-failed",
            `connection closed during login (${code} ${reason})`,
          ),
        );
      const onFrame = (frame: Buffer): void => {
        let stanza: Stanza;
        try {
          stanza = parseStanza(frame);
        } catch (err) {
          finish(
            new GatekeeperError("protocol-error", `unreadable login result: ${errorText(err)}`),
          );
          return;
        }
        if (stanza.kind === "success") {
          // Synchronously hand the socket over, so no frame after <success> is missed.
          noise.off("frame", onFrame);
          noise.off("close", onClose);
          finish(null, new Connection(noise, stanza, opts, handlers));
        } else if (stanza.kind === "failure") {
          finish(loginFailureError(stanza.reason, stanza.text));
        } else if (stanza.kind === "stream-error") {
          finish(loginFailureError(stanza.code, stanza.text));
        } else {
          finish(
            new GatekeeperError(
              "protocol-error",
              `expected <success> or <failure>, got <${stanza.kind}>`,
            ),
          );
        }
      };
      noise.on("frame", onFrame);
      noise.on("close", onClose);
      noise.on("error", () => undefined); // reported through close
    });
  }

  get closed(): boolean {
    return this.isClosed || this.noise.closed;
  }

  get upForMs(): number {
    return Date.now() - this.connectedAt;
  }

  /** Sends a stanza; throws GatekeeperError "disconnected" / "too-large". */
  send(stanza: Stanza): void {
    if (this.closed)
      throw new GatekeeperError("disconnected", "the gatekeeper connection is closed");
    try {
      this.noise.send(encodeStanza(stanza));
    } catch (err) {
      if (err instanceof NoiseError && err.code === "frame-too-large") {
        throw new GatekeeperError("too-large", "stanza exceeds the maximum frame size", {
          gkiCode: 413,
          cause: err,
        });
      }
      if (err instanceof NoiseError) {
        throw new GatekeeperError("disconnected", "the gatekeeper connection is closed", {
          cause: err,
        });
      }
      throw err;
    }
  }

  /** Sends an iq and resolves with its result; an error result rejects with the iq error's code. */
  async iq(request: IqRequest, timeoutMs = this.opts.iqTimeoutMs): Promise<IqStanza> {
    const id = this.iqs.nextId();
    const answer = this.iqs.wait(id, timeoutMs);
    try {
      this.send({ kind: "iq", id, ...request });
    } catch (err) {
      this.iqs.fail(id, err as Error);
    }
    const result = await answer;
    if (result.type === "error") {
      const e = result.error;
      throw iqError(request.xmlns ?? "iq", e?.code ?? 500, e?.text, e?.retryAfter);
    }
    return result;
  }

  /**
   * Sends a message or receipt and resolves with the gatekeeper's ack (which may carry an
   * error code: the caller decides). Rejects "disconnected" when the connection ends first;
   * a missing ack within timeoutMs means the connection is dead: it is closed.
   */
  sendAwaitingAck(
    stanza: Stanza & { id: string },
    ackClass: string,
    timeoutMs = this.opts.iqTimeoutMs,
  ): Promise<AckStanza> {
    const key = `${ackClass}:${stanza.id}`;
    const { promise, fail } = this.acks.wait(key, timeoutMs, () => {
      // No ack in time: the connection is as good as dead; the caller resends on the next one.
      this.close(1000, "ack timeout");
      return new GatekeeperError("disconnected", `no ack for ${key} within ${timeoutMs} ms`);
    });
    try {
      this.send(stanza);
    } catch (err) {
      fail(err as Error);
    }
    return promise;
  }

  /** Acks a received stanza; quietly does nothing once the connection is gone (it will be redelivered). */
  ack(fields: Omit<AckStanza, "kind">): void {
    if (this.closed) return;
    try {
      this.send({ kind: "ack", ...fields });
    } catch (err) {
      this.opts.logger.debug("could not send ack", { error: errorText(err) });
    }
  }

  close(code = 1000, reason = ""): void {
    if (this.isClosed) return;
    this.closedByUs = true;
    this.noise.close(code, reason);
  }

  private onFrame(frame: Buffer): void {
    this.scheduleKeepalive();
    let stanza: Stanza;
    try {
      stanza = parseStanza(frame);
    } catch (err) {
      this.answerBadInput(err);
      return;
    }
    switch (stanza.kind) {
      case "iq":
        if (stanza.type === "result" || stanza.type === "error") {
          if (!this.iqs.settle(stanza.id, stanza))
            this.opts.logger.debug("late or unknown iq result", { id: stanza.id });
        } else {
          this.answerServerIq(stanza);
        }
        return;
      case "ack":
        this.onAck(stanza);
        return;
      case "stream-error":
        this.streamError = {
          code: stanza.code,
          ...(stanza.text === undefined ? {} : { text: stanza.text }),
        };
        return;
      case "success":
      case "failure":
        this.opts.logger.warn("unexpected login stanza after login", { kind: stanza.kind });
        return;
      default:
        this.handlers.onStanza(stanza, this);
    }
  }

  private onAck(ack: AckStanza): void {
    if (this.acks.settle(`${ack.class}:${ack.id ?? ""}`, ack)) return;
    if (ack.error !== undefined) {
      this.opts.logger.warn("gatekeeper rejected a stanza", {
        class: ack.class,
        id: ack.id,
        error: ack.error,
        text: ack.text,
        // §5.1: which of our frames it was, when the stanza had no usable id.
        seq: ack.seq,
      });
    }
  }

  // docs §5: a malformed frame is answered, never fatal.
  private answerBadInput(err: unknown): void {
    if (!(err instanceof StanzaError)) {
      this.opts.logger.error("stanza parser failed unexpectedly", { error: errorText(err) });
      this.ack({ class: "frame", error: 487 });
      return;
    }
    this.opts.logger.warn("unreadable stanza from the gatekeeper", {
      code: err.code,
      tag: err.tag,
    });
    const { kind: _kind, ...ack } = errorAck(err);
    this.ack(ack);
  }

  private answerServerIq(iq: IqStanza): void {
    if (iq.xmlns === "w:p") {
      this.sendQuietly({ kind: "iq", id: iq.id, type: "result", to: "gk", children: [] });
    } else {
      this.sendQuietly({
        kind: "iq",
        id: iq.id,
        type: "error",
        to: "gk",
        children: [],
        error: { code: 400, text: "unknown-namespace" },
      });
    }
  }

  /** Sends without waiting or failing: for answers whose loss only means a redelivery. */
  sendQuietly(stanza: Stanza): void {
    try {
      this.send(stanza);
    } catch (err) {
      this.opts.logger.debug("could not answer the gatekeeper", { error: errorText(err) });
    }
  }

  // Ping only when nothing arrived for a whole interval (docs §10); any frame proves liveness.
  private scheduleKeepalive(): void {
    if (this.isClosed) return;
    if (this.keepaliveTimer) {
      this.keepaliveTimer.refresh();
      return;
    }
    this.keepaliveTimer = setTimeout(() => void this.ping(), this.opts.keepaliveIntervalMs);
  }

  private async ping(): Promise<void> {
    try {
      await this.iq(
        { type: "get", xmlns: "w:p", to: "gk", children: buildPing() },
        this.opts.keepaliveTimeoutMs,
      );
      this.scheduleKeepalive();
    } catch (err) {
      if (this.closed) return;
      if (err instanceof GatekeeperError && err.code === "timeout") {
        this.opts.logger.warn("keepalive ping unanswered; dropping the connection");
        this.close(1000, "keepalive timeout");
      } else {
        this.scheduleKeepalive(); // an error answer still proves the gatekeeper is there
      }
    }
  }

  private onClose(code: number, reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    const gone = new GatekeeperError("disconnected", "the gatekeeper connection closed");
    this.iqs.failAll(gone);
    this.acks.failAll(gone);
    const info: CloseInfo = {
      code,
      reason,
      ...(this.streamError === undefined ? {} : { streamError: this.streamError }),
      upForMs: this.upForMs,
      byUs: this.closedByUs,
    };
    this.markClosed(info);
    this.handlers.onClose(info, this);
  }
}

function transportError(err: unknown): GatekeeperError {
  if (err instanceof NoiseError && err.code === "server-key-mismatch") {
    return new GatekeeperError("server-key-mismatch", err.message, { cause: err });
  }
  if (err instanceof NoiseError && err.code === "handshake-timeout") {
    return new GatekeeperError("timeout", err.message, { cause: err });
  }
  return new GatekeeperError(
    "connection-failed",
    `cannot connect to the gatekeeper: ${errorText(err)}`,
    { cause: err },
  );
}
