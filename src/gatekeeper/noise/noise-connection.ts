/**
 * An established GKI/1 Noise session over one WebSocket: one AES-GCM sealed
 * frame per WebSocket binary message, empty associated data.
 */
import { EventEmitter } from "node:events";
import { WebSocket, type RawData } from "ws";
import type { CipherState } from "./noise-handshake.js";
import { TAGLEN } from "./noise-crypto.js";
import { DEFAULT_MAX_FRAME_PAYLOAD, decodeFrame, encodeFrame } from "./framing.js";
import { NoiseError, type NoiseErrorCode } from "./noise-error.js";

/**
 * WebSocket close codes this layer sends when it gives up on a connection, as in
 * docs/protocol.md §3.3 (private-use 4000 range; 4013 mirrors GKI code 413).
 */
export const NOISE_CLOSE_CODES = {
  /** The first message did not start with the GKI/1 intro bytes. */
  badIntro: 4000,
  /**
   * Noise failure: a frame or handshake message failed to decrypt or had a bad length or key, the
   * pinned gatekeeper key did not match (client side), or a CipherState ran out of nonces.
   */
  noiseFailure: 4001,
  /** Framing violation: length mismatch, message shorter than the header, text message. */
  badFrame: 4002,
  /** The handshake did not finish within the timeout. */
  handshakeTimeout: 4008,
  /** A frame payload exceeded the maximum (GKI 413). */
  frameTooLarge: 4013,
} as const;

export function closeCodeFor(code: NoiseErrorCode): number {
  switch (code) {
    case "bad-intro":
      return NOISE_CLOSE_CODES.badIntro;
    case "bad-frame":
      return NOISE_CLOSE_CODES.badFrame;
    case "handshake-timeout":
      return NOISE_CLOSE_CODES.handshakeTimeout;
    case "frame-too-large":
      return NOISE_CLOSE_CODES.frameTooLarge;
    default:
      return NOISE_CLOSE_CODES.noiseFailure;
  }
}

/** Held bytes, in units of maxFramePayload, after which the socket is paused until frames are consumed. */
const HOLD_PAUSE_FACTOR = 4;

/** How long a peer gets to answer our close frame before the TCP socket is cut. */
const CLOSE_GRACE_MS = 5_000;

/** Starts the closing handshake and makes sure the socket goes away even if the peer never answers. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED) return;
  if (ws.readyState === WebSocket.CONNECTING) {
    ws.terminate();
    return;
  }
  if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
  const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
  timer.unref();
  ws.once("close", () => clearTimeout(timer));
}

export function rawDataToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Maps a ws-level error to ours; ws reports its own maxPayload cap as WS_ERR_UNSUPPORTED_MESSAGE_LENGTH. */
export function fromSocketError(err: Error): NoiseError {
  if ((err as NodeJS.ErrnoException).code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
    return new NoiseError("frame-too-large", `WebSocket message too large: ${err.message}`, {
      cause: err,
    });
  }
  return new NoiseError("socket-error", `WebSocket error: ${err.message}`, { cause: err });
}

export interface NoiseConnectionEvents {
  frame: [plaintext: Buffer];
  error: [err: NoiseError];
  close: [code: number, reason: string];
}

type HeldEvent =
  | { name: "frame"; args: [Buffer] }
  | { name: "error"; args: [NoiseError] }
  | { name: "close"; args: [number, string] };

export interface NoiseConnectionInit {
  sendCipher: CipherState;
  receiveCipher: CipherState;
  remoteStaticKey: Uint8Array;
  handshakeHash: Uint8Array;
  maxFramePayload?: number;
}

/**
 * Events:
 * - `frame (plaintext)`: one decrypted frame, in arrival order.
 * - `error (err)`: a NoiseError; after a receive error the socket is closed (see NOISE_CLOSE_CODES).
 *   The close starts right after the event, so a listener may still send() one last frame
 *   synchronously, e.g. `<stream:error code="413"/>` (docs/protocol.md §3.1).
 *   Without an `error` listener errors are dropped rather than thrown, so a bad peer cannot crash the process.
 * - `close (code, reason)`: the WebSocket closed; emitted once.
 *
 * Frames that arrive before the first `frame` listener is attached are held and delivered in order once
 * one is (like a Node Readable before it flows), so frames that arrive while the owner is still busy
 * (checking the login) are not lost; `error` and `close` queue behind held frames to keep the order,
 * and are emitted at once when no frame is waiting. Past HOLD_PAUSE_FACTOR frames' worth of held bytes
 * the socket is paused, so a peer cannot make us buffer without bound.
 */
export class NoiseConnection extends EventEmitter<NoiseConnectionEvents> {
  readonly remoteStaticKey: Buffer;
  /** The Noise handshake hash; identifies this session (for channel binding). */
  readonly handshakeHash: Buffer;
  readonly maxFramePayload: number;
  readonly #ws: WebSocket;
  readonly #send: CipherState;
  readonly #receive: CipherState;
  #held: HeldEvent[] | null = [];
  #heldBytes = 0;
  #hasHeldFrame = false;
  #failed = false;
  #closed = false;

  /** @internal Built by connectNoise / acceptNoise once the handshake is done. */
  constructor(ws: WebSocket, init: NoiseConnectionInit) {
    super();
    this.#ws = ws;
    this.#send = init.sendCipher;
    this.#receive = init.receiveCipher;
    this.remoteStaticKey = Buffer.from(init.remoteStaticKey);
    this.handshakeHash = Buffer.from(init.handshakeHash);
    this.maxFramePayload = init.maxFramePayload ?? DEFAULT_MAX_FRAME_PAYLOAD;

    ws.on("message", (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on("error", (err) => {
      if (!this.#failed) this.#deliver({ name: "error", args: [fromSocketError(err)] });
    });
    ws.on("close", (code, reason) => {
      this.#closed = true;
      this.#deliver({ name: "close", args: [code, reason.toString("utf8")] });
    });
    // "newListener" is outside the typed event map; it fires before the listener is added, hence the microtask.
    (this as EventEmitter).on("newListener", (event: string | symbol) => {
      if (event === "frame" && this.#held !== null) queueMicrotask(() => this.#release());
    });
  }

  /** Bytes queued in the WebSocket but not yet written to the network. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** True once the socket is closing or closed (which follows any fatal error). */
  get closed(): boolean {
    return this.#closed || this.#ws.readyState !== WebSocket.OPEN;
  }

  /**
   * Seals and sends one frame. Throws NoiseError: "frame-too-large" when the sealed frame would exceed
   * maxFramePayload (nothing is sent, the connection stays usable), "connection-closed",
   * "nonce-exhausted" (which also closes the connection).
   */
  send(plaintext: Uint8Array): void {
    if (this.closed) throw new NoiseError("connection-closed", "the Noise connection is closed");
    if (plaintext.length + TAGLEN > this.maxFramePayload) {
      throw new NoiseError(
        "frame-too-large",
        `frame payload of ${plaintext.length + TAGLEN} bytes exceeds the maximum of ${this.maxFramePayload}`,
      );
    }
    let sealed: Buffer;
    try {
      sealed = this.#send.encrypt(plaintext);
    } catch (err) {
      if (err instanceof NoiseError) this.#fail(err);
      throw err;
    }
    this.#ws.send(encodeFrame(sealed, this.maxFramePayload));
  }

  close(code = 1000, reason = ""): void {
    // Keep reading so the peer's close frame is seen even while events are held.
    this.#ws.resume();
    closeSocket(this.#ws, code, reason);
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.#failed) return;
    try {
      if (!isBinary)
        throw new NoiseError("bad-frame", "GKI/1 frames travel in binary WebSocket messages");
      const sealed = decodeFrame(rawDataToBuffer(data), this.maxFramePayload);
      this.#deliver({ name: "frame", args: [this.#receive.decrypt(sealed)] });
    } catch (err) {
      this.#fail(
        err instanceof NoiseError
          ? err
          : new NoiseError("bad-frame", "unreadable frame", { cause: err }),
      );
    }
  }

  #fail(err: NoiseError): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#deliver({ name: "error", args: [err] });
    // The socket must keep reading to see the peer's close frame even if events are still held.
    this.#ws.resume();
    closeSocket(this.#ws, closeCodeFor(err.code), err.code);
  }

  #deliver(event: HeldEvent): void {
    if (this.#held === null || (event.name !== "frame" && !this.#hasHeldFrame)) {
      this.#emitNow(event);
      return;
    }
    this.#held.push(event);
    if (event.name !== "frame") return;
    this.#hasHeldFrame = true;
    this.#heldBytes += event.args[0].length;
    if (!this.#failed && this.#heldBytes > HOLD_PAUSE_FACTOR * this.maxFramePayload)
      this.#ws.pause();
  }

  #emitNow(event: HeldEvent): void {
    switch (event.name) {
      case "frame":
        this.emit("frame", ...event.args);
        break;
      case "error":
        if (this.listenerCount("error") > 0) this.emit("error", ...event.args);
        break;
      case "close":
        this.emit("close", ...event.args);
        break;
    }
  }

  #release(): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.resume();
    for (const event of held) this.#emitNow(event);
  }
}
