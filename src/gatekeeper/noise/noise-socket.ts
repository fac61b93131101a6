/**
 * GKI/1 transport over WebSocket: the Noise_XX handshake (client = initiator) and the
 * hand-over to a NoiseConnection.
 *
 *   client → server  intro "GK" 1 1, frame(msg1: e)
 *   server → client  frame(msg2: e, ee, s, es)        client checks the pinned server key here
 *   client → server  frame(msg3: s, se + login payload)
 */
import { timingSafeEqual } from "node:crypto";
import { WebSocket, type RawData } from "ws";
import { HandshakeState } from "./noise-handshake.js";
import { publicKeyFromPrivate } from "./noise-crypto.js";
import {
  DEFAULT_MAX_FRAME_PAYLOAD,
  FRAME_HEADER_LENGTH,
  GKI_INTRO,
  checkMaxFramePayload,
  decodeFirstClientMessage,
  decodeFrame,
  encodeFirstClientMessage,
  encodeFrame,
} from "./framing.js";
import {
  NoiseConnection,
  closeCodeFor,
  closeSocket,
  fromSocketError,
  rawDataToBuffer,
} from "./noise-connection.js";
import { NoiseError } from "./noise-error.js";

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface StaticKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface ConnectNoiseOptions {
  url: string;
  /** The gatekeeper's static X25519 public key, pinned in the config (32 bytes). */
  serverStaticKey: Uint8Array;
  clientStaticKey: StaticKeyPair;
  /** The login payload; travels encrypted in handshake message 3. */
  payload: Uint8Array;
  maxFramePayload?: number;
  handshakeTimeoutMs?: number;
  headers?: Record<string, string>;
}

export interface AcceptNoiseOptions {
  staticKey: StaticKeyPair;
  maxFramePayload?: number;
  handshakeTimeoutMs?: number;
}

export interface AcceptedNoise {
  connection: NoiseConnection;
  /** The client's static public key, authenticated by the handshake. */
  remoteStaticKey: Uint8Array;
  /** The client's login payload from handshake message 3. */
  payload: Uint8Array;
}

/**
 * The WebSocket `maxPayload` that fits one frame of `maxFramePayload` bytes plus the intro,
 * for a WebSocketServer that hands its sockets to acceptNoise. Larger messages are then refused by ws
 * before being buffered (reported as "frame-too-large"; ws itself closes those with 1009, not 4013).
 */
export function wsMaxPayloadFor(maxFramePayload = DEFAULT_MAX_FRAME_PAYLOAD): number {
  return checkMaxFramePayload(maxFramePayload) + FRAME_HEADER_LENGTH + GKI_INTRO.length;
}

/** Opens a WebSocket to the gatekeeper and runs the handshake as initiator. */
export async function connectNoise(opts: ConnectNoiseOptions): Promise<NoiseConnection> {
  const maxFramePayload = checkMaxFramePayload(opts.maxFramePayload ?? DEFAULT_MAX_FRAME_PAYLOAD);
  checkStaticKeyPair(opts.clientStaticKey, "client static key");
  if (opts.serverStaticKey.length !== 32) {
    throw new NoiseError("bad-key", "the pinned gatekeeper static key must be 32 bytes");
  }
  const pinned = Buffer.from(opts.serverStaticKey);
  const hs = new HandshakeState({
    pattern: "XX",
    initiator: true,
    prologue: GKI_INTRO,
    staticPrivateKey: opts.clientStaticKey.privateKey,
  });
  let ws: WebSocket;
  try {
    ws = new WebSocket(opts.url, {
      headers: opts.headers,
      // Noise ciphertext does not compress. The cap keeps a misbehaving server from making us buffer
      // more than one frame; ws then closes with 1009 (not 4013) but we still report frame-too-large.
      perMessageDeflate: false,
      maxPayload: maxFramePayload + FRAME_HEADER_LENGTH,
    });
  } catch (err) {
    throw new NoiseError("socket-error", `cannot open the WebSocket: ${String(err)}`, {
      cause: err,
    });
  }

  return driveHandshake(ws, opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, {
    onOpen: () => ws.send(encodeFirstClientMessage(hs.writeMessage(), maxFramePayload)),
    onMessage: (data) => {
      hs.readMessage(decodeFrame(data, maxFramePayload));
      const serverKey = hs.remoteStatic;
      if (serverKey === null || !timingSafeEqual(serverKey, pinned)) {
        throw new NoiseError(
          "server-key-mismatch",
          `The gatekeeper's static public key (${serverKey?.toString("base64") ?? "none"}) does not match ` +
            `the pinned key in the config (${pinned.toString("base64")}). Refusing to log in; check the ` +
            `configured gatekeeper key or the URL.`,
        );
      }
      ws.send(encodeFrame(hs.writeMessage(opts.payload), maxFramePayload));
      const [clientToServer, serverToClient] = hs.split();
      return new NoiseConnection(ws, {
        sendCipher: clientToServer,
        receiveCipher: serverToClient,
        remoteStaticKey: serverKey,
        handshakeHash: hs.handshakeHash,
        maxFramePayload,
      });
    },
  });
}

/** Runs the handshake as responder on a freshly accepted WebSocket. */
export async function acceptNoise(ws: WebSocket, opts: AcceptNoiseOptions): Promise<AcceptedNoise> {
  let maxFramePayload: number;
  try {
    maxFramePayload = checkMaxFramePayload(opts.maxFramePayload ?? DEFAULT_MAX_FRAME_PAYLOAD);
    checkStaticKeyPair(opts.staticKey, "server static key");
    if (ws.readyState !== WebSocket.OPEN) {
      throw new NoiseError("connection-closed", "the WebSocket is not open");
    }
  } catch (err) {
    // Do not leave a socket open (and without an error listener) behind a configuration error.
    ws.on("error", () => {});
    closeSocket(ws, 1011, "");
    throw err;
  }
  const hs = new HandshakeState({
    pattern: "XX",
    initiator: false,
    prologue: GKI_INTRO,
    staticPrivateKey: opts.staticKey.privateKey,
  });

  return driveHandshake(ws, opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, {
    onMessage: (data, first) => {
      if (first) {
        hs.readMessage(decodeFirstClientMessage(data, maxFramePayload));
        ws.send(encodeFrame(hs.writeMessage(), maxFramePayload));
        return undefined;
      }
      const payload = hs.readMessage(decodeFrame(data, maxFramePayload));
      const clientKey = hs.remoteStatic;
      if (clientKey === null)
        throw new NoiseError("invalid-state", "handshake finished without a client key");
      const [clientToServer, serverToClient] = hs.split();
      const connection = new NoiseConnection(ws, {
        sendCipher: serverToClient,
        receiveCipher: clientToServer,
        remoteStaticKey: clientKey,
        handshakeHash: hs.handshakeHash,
        maxFramePayload,
      });
      return { connection, remoteStaticKey: clientKey, payload };
    },
  });
}

function checkStaticKeyPair(pair: StaticKeyPair, what: string): void {
  if (pair.privateKey.length !== 32 || pair.publicKey.length !== 32) {
    throw new NoiseError("bad-key", `${what} must be raw 32-byte X25519 keys`);
  }
  if (!publicKeyFromPrivate(pair.privateKey).equals(pair.publicKey)) {
    throw new NoiseError("bad-key", `${what}: the public key does not belong to the private key`);
  }
}

interface HandshakeSteps<T> {
  onOpen?: () => void;
  /** Returns the result when the handshake is done, undefined to wait for the next message. */
  onMessage: (data: Buffer, first: boolean) => T | undefined;
}

/**
 * Feeds WebSocket events to the handshake steps until one returns a result. Any failure closes the
 * socket with a 4000-range code and rejects with a NoiseError; nothing is thrown from an event handler.
 */
function driveHandshake<T>(ws: WebSocket, timeoutMs: number, steps: HandshakeSteps<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let first = true;

    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      ws.off("open", onOpen);
      ws.off("message", onMessage);
      ws.off("close", onClose);
      ws.off("error", onError);
    };
    const fail = (err: NoiseError): void => {
      if (settled) return;
      // Late ws errors (e.g. from the close below) must still find a listener.
      ws.on("error", () => {});
      finish();
      closeSocket(ws, closeCodeFor(err.code), err.code);
      reject(err);
    };
    const guard = (step: () => void): void => {
      try {
        step();
      } catch (err) {
        fail(
          err instanceof NoiseError
            ? err
            : new NoiseError("invalid-state", "handshake step failed", { cause: err }),
        );
      }
    };

    const onOpen = (): void => guard(() => steps.onOpen?.());
    const onMessage = (data: RawData, isBinary: boolean): void =>
      guard(() => {
        if (settled) return;
        if (!isBinary) {
          throw new NoiseError(
            first ? "bad-intro" : "bad-frame",
            "GKI/1 uses binary WebSocket messages only",
          );
        }
        const result = steps.onMessage(rawDataToBuffer(data), first);
        first = false;
        if (result !== undefined) {
          finish();
          resolve(result);
        }
      });
    const onClose = (code: number, reason: Buffer): void =>
      fail(
        new NoiseError(
          "connection-closed",
          `socket closed during the handshake (${code} ${reason.toString("utf8")})`,
        ),
      );
    const onError = (err: Error): void => fail(fromSocketError(err));
    const timer = setTimeout(
      () =>
        fail(
          new NoiseError(
            "handshake-timeout",
            `the Noise handshake did not complete within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );

    ws.on("open", onOpen);
    ws.on("message", onMessage);
    ws.on("close", onClose);
    ws.on("error", onError);
  });
}
