/**
 * A thin GKI/1 client written for the conformance suite: WebSocket, framing and the
 * Noise_XX handshake done here step by step (only the Noise primitives come from the
 * project's library), so a test can send exactly the bytes it wants, at any point, and see
 * every byte and every close code the gatekeeper answers with.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { WebSocket, type RawData } from "ws";
import { ClientPayloadSchema, ClientPayload_Product } from "../../src/gen/gki_pb.js";
import {
  type CipherState,
  type KeyPair,
  HandshakeState,
  generateKeyPair,
} from "../../src/gatekeeper/noise/index.js";
import { parseXml } from "../../src/gatekeeper/stanza/index.js";
import type { XmlNode } from "./xml.js";

export { ClientPayload_Product };

/** "G" "K" major 1 minor 1 (§3.1); also the Noise prologue (§3.2). */
export const INTRO = Buffer.from([0x47, 0x4b, 0x01, 0x01]);
/** Largest frame payload (§3.1). */
export const MAX_FRAME_PAYLOAD = 1_048_576;
/** Largest WebSocket message (§3.3). */
export const MAX_WS_MESSAGE = 2_097_152;
export const TAG_LENGTH = 16;

/** One frame: 3-byte big-endian length (default: the payload's), then the payload. */
export function frame(payload: Uint8Array, length = payload.length): Buffer {
  const out = Buffer.alloc(3 + payload.length);
  out.writeUIntBE(length, 0, 3);
  out.set(payload, 3);
  return out;
}

export interface PayloadFields {
  product?: ClientPayload_Product;
  partnerId?: string;
  accountId?: string;
  token?: string;
  device?: number;
  sendReadReceipts?: boolean;
  clientIp?: string;
  userAgent?: string;
  protocolVersion?: number;
  pushName?: string;
  /** §19.1: the client takes part in groups. */
  groups?: boolean;
}

/** The login payload of handshake message 3 (§4.1). */
export function encodePayload(p: PayloadFields): Uint8Array {
  return toBinary(
    ClientPayloadSchema,
    create(ClientPayloadSchema, {
      device: 1,
      protocolVersion: 1,
      userAgent: "gki-conformance/1",
      clientIp: "198.51.100.7",
      ...p,
    }),
  );
}

export interface CloseInfo {
  code: number;
  reason: string;
}

const WAIT_MS = 5_000;

interface Waiter<T> {
  match: (item: T) => boolean;
  resolve: (item: T) => void;
}

/** Items in arrival order; `next` takes the first that matches, waiting for it if needed. */
class Inbox<T> {
  readonly items: T[] = [];
  readonly #waiters: Waiter<T>[] = [];

  push(item: T): void {
    const i = this.#waiters.findIndex((w) => w.match(item));
    if (i >= 0) this.#waiters.splice(i, 1)[0]?.resolve(item);
    else this.items.push(item);
  }

  next(match: (item: T) => boolean, timeoutMs: number, what: () => string): Promise<T> {
    const i = this.items.findIndex(match);
    if (i >= 0) return Promise.resolve(this.items.splice(i, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        match,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`nothing matching within ${timeoutMs} ms; ${what()}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }
}

export type Match = (s: XmlNode) => boolean;

/** `tag` with at least these attribute values. */
export function is(tag: string, attrs: Record<string, string | undefined> = {}): Match {
  return (s) =>
    s.tag === tag &&
    Object.entries(attrs).every(([k, v]) => (v === undefined ? !(k in s.attrs) : s.attrs[k] === v));
}

export class Wire {
  readonly ws: WebSocket;
  readonly closed: Promise<CloseInfo>;
  /** Every stanza the gatekeeper sent after the handshake, in order. */
  readonly received: XmlNode[] = [];
  /** Handshake message 2 as it arrived (the whole WebSocket message). */
  message2: Buffer | undefined;
  /** Frames from the gatekeeper that did not decrypt or parse (a conformance failure by itself). */
  readonly bad: string[] = [];
  readonly #raw = new Inbox<Buffer>();
  readonly #stanzas = new Inbox<XmlNode>();
  #send: CipherState | undefined;
  #receive: CipherState | undefined;
  #sent = 0;
  #closeInfo: CloseInfo | undefined;
  #iq = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) =>
      ws.on("close", (code, reason) => {
        this.#closeInfo = { code, reason: reason.toString("utf8") };
        resolve(this.#closeInfo);
      }),
    );
    ws.on("error", () => undefined);
    ws.on("message", (data: RawData) => this.#onMessage(toBuffer(data)));
  }

  /** Opens the WebSocket; nothing is sent yet. */
  static open(url: string): Promise<Wire> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    const wire = new Wire(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(wire));
      ws.once("error", reject);
    });
  }

  /** The close, if the socket closed already. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** Frames sent since the handshake: the seq (= Noise nonce) the next frame gets (§5.1). */
  get nextSeq(): number {
    return this.#sent;
  }

  /** One WebSocket message, exactly these bytes (binary unless told otherwise). */
  sendRaw(data: Uint8Array | string, opts: { binary?: boolean; fin?: boolean } = {}): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data, { binary: opts.binary ?? true, fin: opts.fin ?? true }, () => undefined);
  }

  /** The next raw WebSocket message during the handshake. */
  nextRaw(timeoutMs = WAIT_MS): Promise<Buffer> {
    return this.#raw.next(
      () => true,
      timeoutMs,
      () => "no handshake message",
    );
  }

  /**
   * Runs the client side of Noise_XX (§3.2). Returns once message 3 is sent. Throws if the
   * gatekeeper's static key is not `serverKey` (pinning is the client's duty, §3.2).
   */
  async handshake(opts: {
    serverKey: Uint8Array;
    payload: Uint8Array;
    clientKey?: KeyPair;
  }): Promise<void> {
    const key = opts.clientKey ?? generateKeyPair();
    const hs = new HandshakeState({
      pattern: "XX",
      initiator: true,
      prologue: INTRO,
      staticPrivateKey: key.privateKey,
    });
    this.sendRaw(Buffer.concat([INTRO, frame(hs.writeMessage())]));
    const m2 = await this.nextRaw();
    this.message2 = m2;
    if (m2.length < 3 || m2.readUIntBE(0, 3) !== m2.length - 3)
      throw new Error("message 2 is not one frame");
    hs.readMessage(m2.subarray(3));
    if (!hs.remoteStatic || !hs.remoteStatic.equals(Buffer.from(opts.serverKey))) {
      throw new Error("the gatekeeper's static key is not the pinned one");
    }
    this.sendRaw(frame(hs.writeMessage(opts.payload)));
    const [send, receive] = hs.split();
    this.#send = send;
    this.#receive = receive;
  }

  /** Seals `plaintext` as the next frame's payload without sending it; returns it and its seq. */
  seal(plaintext: Uint8Array | string): { seq: number; sealed: Buffer } {
    if (!this.#send) throw new Error("handshake not done");
    const bytes = typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext;
    return { seq: this.#sent++, sealed: this.#send.encrypt(bytes) };
  }

  /** Sends one stanza (or any bytes) as one sealed frame; returns the frame's seq. */
  send(plaintext: Uint8Array | string): number {
    const { seq, sealed } = this.seal(plaintext);
    this.sendRaw(frame(sealed));
    return seq;
  }

  /** The next stanza that matches, waiting for it. */
  next(match: Match = () => true, timeoutMs = WAIT_MS): Promise<XmlNode> {
    return this.#stanzas.next(
      match,
      timeoutMs,
      () => `unclaimed: ${JSON.stringify(this.#stanzas.items)}`,
    );
  }

  /** Stanzas received and not taken by `next`. */
  get unclaimed(): readonly XmlNode[] {
    return this.#stanzas.items;
  }

  /** Sends an iq and waits for the answer with its id. */
  async iq(
    xmlns: string,
    type: "get" | "set",
    inner = "",
    extra: Record<string, string> = {},
  ): Promise<XmlNode> {
    const id = `c${++this.#iq}`;
    const attrs = Object.entries({ id, type, xmlns, to: "gk", ...extra })
      .map(([k, v]) => ` ${k}="${v}"`)
      .join("");
    this.send(inner === "" ? `<iq${attrs}/>` : `<iq${attrs}>${inner}</iq>`);
    return this.next((s) => s.tag === "iq" && s.attrs.id === id);
  }

  /**
   * A ping round trip (§10). The gatekeeper answers a connection's stanzas in order, so
   * whatever it sent in answer to earlier frames has arrived once this resolves.
   */
  async ping(): Promise<void> {
    const result = await this.iq("w:p", "get", "<ping/>");
    if (result.attrs.type !== "result") throw new Error(`ping failed: ${JSON.stringify(result)}`);
  }

  /** Waits `ms`, then a ping; returns what arrived meanwhile and matches (it stays unclaimed). */
  async settle(match: Match = () => true, ms = 150): Promise<XmlNode[]> {
    await new Promise((r) => setTimeout(r, ms));
    await this.ping();
    return this.#stanzas.items.filter(match);
  }

  /** Acks a delivered stanza the way §5.1 says: class, id, to = its from, type for receipts/notifications. */
  ack(stanza: XmlNode): void {
    const attrs: Record<string, string | undefined> = {
      class: stanza.tag,
      id: stanza.attrs.id,
      to: stanza.attrs.from,
      type: stanza.tag === "message" ? undefined : stanza.attrs.type,
    };
    const a = Object.entries(attrs)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => ` ${k}="${v}"`)
      .join("");
    this.send(`<ack${a}/>`);
  }

  /** Resolves with the close, or rejects if the socket is still open after `timeoutMs`. */
  async closedWithin(timeoutMs = WAIT_MS): Promise<CloseInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000, "done");
    }
    setTimeout(() => this.ws.terminate(), 1_000).unref();
  }

  #onMessage(data: Buffer): void {
    if (!this.#receive) {
      this.#raw.push(data);
      return;
    }
    try {
      if (data.length < 3 || data.readUIntBE(0, 3) !== data.length - 3)
        throw new Error("bad frame length");
      const stanza = parseXml(this.#receive.decrypt(data.subarray(3)));
      this.received.push(stanza);
      this.#stanzas.push(stanza);
    } catch (err) {
      this.bad.push(err instanceof Error ? err.message : String(err));
    }
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
