/**
 * A scriptable gatekeeper for the protocol edges the reference server never produces
 * (garbage frames, unanswered pings, stream errors). It speaks real GKI/1: real Noise over a
 * real WebSocket on 127.0.0.1, real stanza codec; only the behaviour is scripted.
 */
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import type { NoiseConnection } from "../../../src/gatekeeper/noise/index.js";
import { acceptNoise, generateKeyPair } from "../../../src/gatekeeper/noise/index.js";
import {
  buildCountResult,
  encodeStanza,
  parseStanza,
} from "../../../src/gatekeeper/stanza/index.js";
import type { IqStanza, Stanza } from "../../../src/gatekeeper/stanza/index.js";

export interface FakeSessionOptions {
  /** Answer keepalive pings (default true). */
  answerPings: boolean;
  /** What `<count/>` answers (default 50: no upload needed). */
  preKeyCount: number;
}

export class FakeSession {
  readonly received: Stanza[] = [];
  private waiters: { predicate: (s: Stanza) => boolean; resolve: (s: Stanza) => void }[] = [];
  readonly options: FakeSessionOptions = { answerPings: true, preKeyCount: 50 };
  closed = false;

  constructor(readonly connection: NoiseConnection) {
    connection.on("frame", (frame) => this.onFrame(frame));
    connection.on("close", () => (this.closed = true));
    connection.on("error", () => undefined);
  }

  send(stanza: Stanza): void {
    this.connection.send(encodeStanza(stanza));
  }

  sendRaw(text: string): void {
    this.connection.send(new TextEncoder().encode(text));
  }

  /** The first stanza (already received or still to come) that matches. */
  next(predicate: (s: Stanza) => boolean, timeoutMs = 5_000): Promise<Stanza> {
    const found = this.received.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("expected stanza did not arrive")),
        timeoutMs,
      );
      this.waiters.push({
        predicate,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      });
    });
  }

  private onFrame(frame: Buffer): void {
    const stanza = parseStanza(frame);
    this.received.push(stanza);
    if (stanza.kind === "iq") this.answer(stanza);
    this.waiters = this.waiters.filter((w) => {
      if (!w.predicate(stanza)) return true;
      w.resolve(stanza);
      return false;
    });
  }

  private answer(iq: IqStanza): void {
    if (iq.type !== "get" && iq.type !== "set") return;
    if (iq.xmlns === "w:p") {
      if (this.options.answerPings)
        this.send({ kind: "iq", id: iq.id, type: "result", from: "gk", children: [] });
      return;
    }
    if (iq.xmlns === "encrypt" && iq.children.some((c) => c.tag === "count")) {
      this.send({
        kind: "iq",
        id: iq.id,
        type: "result",
        children: buildCountResult(this.options.preKeyCount),
      });
      return;
    }
    if (iq.xmlns === "encrypt") {
      this.send({ kind: "iq", id: iq.id, type: "result", children: [] });
    }
  }
}

export class FakeGatekeeper {
  readonly staticKey = generateKeyPair();
  readonly sessions: FakeSession[] = [];
  private readonly wss: WebSocketServer;
  url = "";
  jid = "111111111111111@lid.gk";

  constructor() {
    this.wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    this.wss.on("connection", (ws) => {
      ws.on("error", () => undefined);
      void acceptNoise(ws, { staticKey: this.staticKey })
        .then(({ connection }) => {
          const session = new FakeSession(connection);
          this.sessions.push(session);
          session.send({
            kind: "success",
            t: Math.floor(Date.now() / 1000),
            jid: this.jid,
            enlisted: true,
          });
        })
        .catch(() => undefined);
    });
  }

  async listening(): Promise<void> {
    await new Promise<void>((resolve) => this.wss.once("listening", () => resolve()));
    this.url = `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/gki/1/chat`;
  }

  /** The n-th session (1-based), waiting for it if needed. */
  async session(n: number, timeoutMs = 5_000): Promise<FakeSession> {
    const end = Date.now() + timeoutMs;
    while (this.sessions.length < n) {
      if (Date.now() > end) throw new Error(`session ${n} never came`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.sessions[n - 1]!;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.connection.close();
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
