// GKI/1 Noise transport over real WebSockets on 127.0.0.1.
import { once } from "node:events";
import type { IncomingHttpHeaders } from "node:http";
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import {
  HandshakeState,
  NoiseError,
  acceptNoise,
  connectNoise,
  decodeFrame,
  encodeFirstClientMessage,
  encodeFrame,
  generateKeyPair,
  wsMaxPayloadFor,
  GKI_INTRO,
  type AcceptNoiseOptions,
  type AcceptedNoise,
  type NoiseConnection,
} from "../../../src/gatekeeper/noise/index.js";

/** A FIFO of values that tests await one by one. */
class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: ((item: T) => void)[] = [];
  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }
  next(): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

interface TestServer {
  url: string;
  key: { privateKey: Buffer; publicKey: Buffer };
  accepted: Inbox<AcceptedNoise & { ws: WebSocket; headers: IncomingHttpHeaders }>;
  rejected: Inbox<NoiseError>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(
  opts: Partial<AcceptNoiseOptions> & { wsMaxPayload?: number } = {},
): Promise<TestServer> {
  const key = generateKeyPair();
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: opts.wsMaxPayload });
  await once(wss, "listening");
  const server: TestServer = {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/chat`,
    key,
    accepted: new Inbox(),
    rejected: new Inbox(),
  };
  wss.on("connection", (ws, req) => {
    acceptNoise(ws, { ...opts, staticKey: key }).then(
      (accepted) => server.accepted.push({ ...accepted, ws, headers: req.headers }),
      (err: NoiseError) => server.rejected.push(err),
    );
  });
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });
  return server;
}

async function connect(
  server: TestServer,
  extra: Partial<Parameters<typeof connectNoise>[0]> = {},
): Promise<NoiseConnection> {
  const connection = await connectNoise({
    url: server.url,
    serverStaticKey: server.key.publicKey,
    clientStaticKey: generateKeyPair(),
    payload: Buffer.from("login"),
    ...extra,
  });
  cleanups.push(() => connection.close());
  return connection;
}

/** Collects `count` frames from a connection. */
function frames(connection: NoiseConnection, count: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    connection.on("frame", (plaintext) => {
      got.push(plaintext);
      if (got.length === count) resolve(got);
    });
  });
}

function nextError(connection: NoiseConnection): Promise<NoiseError> {
  return new Promise((resolve) => connection.once("error", resolve));
}

function nextClose(connection: NoiseConnection): Promise<[number, string]> {
  return new Promise((resolve) =>
    connection.once("close", (code, reason) => resolve([code, reason])),
  );
}

async function rejection(promise: Promise<unknown>): Promise<NoiseError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof NoiseError) return err;
    throw err;
  }
  throw new Error("expected the promise to reject");
}

/** A hand-driven client: raw ws plus the XX handshake, for sending what connectNoise never would. */
async function rawHandshake(server: TestServer): Promise<WebSocket> {
  const ws = new WebSocket(server.url);
  cleanups.push(() => ws.terminate());
  await once(ws, "open");
  const hs = new HandshakeState({
    pattern: "XX",
    initiator: true,
    prologue: GKI_INTRO,
    staticPrivateKey: generateKeyPair().privateKey,
  });
  ws.send(encodeFirstClientMessage(hs.writeMessage()));
  const [msg2] = (await once(ws, "message")) as [Buffer];
  hs.readMessage(decodeFrame(msg2));
  ws.send(encodeFrame(hs.writeMessage(Buffer.from("login"))));
  return ws;
}

async function rawClose(ws: WebSocket): Promise<number> {
  const [code] = (await once(ws, "close")) as [number];
  return code;
}

describe("GKI/1 Noise transport", () => {
  it("completes the handshake and carries frames both ways in order", async () => {
    const server = await startServer();
    const clientKey = generateKeyPair();
    const login = randomBytes(300);
    const client = await connect(server, {
      clientStaticKey: clientKey,
      payload: login,
      headers: { "X-Forwarded-For": "203.0.113.7" },
    });
    const accepted = await server.accepted.next();

    expect(accepted.payload).toEqual(login);
    expect(Buffer.from(accepted.remoteStaticKey)).toEqual(clientKey.publicKey);
    expect(accepted.connection.remoteStaticKey).toEqual(clientKey.publicKey);
    expect(client.remoteStaticKey).toEqual(server.key.publicKey);
    expect(client.handshakeHash).toEqual(accepted.connection.handshakeHash);
    expect(accepted.headers["x-forwarded-for"]).toBe("203.0.113.7");

    accepted.connection.on("frame", (plaintext) =>
      accepted.connection.send(Buffer.concat([Buffer.from("echo:"), plaintext])),
    );
    const sent = Array.from({ length: 50 }, (_, i) => randomBytes(1 + ((i * 997) % 5000)));
    const echoes = frames(client, sent.length);
    for (const plaintext of sent) client.send(plaintext);
    expect(await echoes).toEqual(sent.map((p) => Buffer.concat([Buffer.from("echo:"), p])));
    expect(client.bufferedAmount).toBeGreaterThanOrEqual(0);

    const serverClosed = nextClose(accepted.connection);
    client.close(1000, "bye");
    expect(await serverClosed).toEqual([1000, "bye"]);
    expect(() => client.send(Buffer.from("late"))).toThrow(NoiseError);
  });

  it("holds frames that arrive before the owner listens, and delivers them in order", async () => {
    const server = await startServer();
    const client = await connect(server);
    const sent = Array.from({ length: 20 }, (_, i) => Buffer.from(`frame ${i}`));
    for (const plaintext of sent) client.send(plaintext);
    const accepted = await server.accepted.next();
    // The owner is busy (e.g. verifying the login) before it listens.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await frames(accepted.connection, sent.length)).toEqual(sent);
  });

  it("keeps every held frame when more arrive than it buffers before pausing the socket", async () => {
    const server = await startServer({ maxFramePayload: 1024 });
    const client = await connect(server, { maxFramePayload: 1024 });
    const accepted = await server.accepted.next();
    // 100 frames of ~1 KiB: far past the held-bytes threshold (4 frames' worth).
    const sent = Array.from({ length: 100 }, () => randomBytes(1000));
    for (const plaintext of sent) client.send(plaintext);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await frames(accepted.connection, sent.length)).toEqual(sent);
    // The connection still works both ways afterwards.
    const reply = frames(client, 1);
    accepted.connection.send(Buffer.from("done"));
    expect((await reply)[0]?.toString()).toBe("done");
  });

  it("refuses a gatekeeper whose static key is not the pinned one, and keeps serving", async () => {
    const server = await startServer();
    const wrongPin = generateKeyPair().publicKey;
    const err = await rejection(
      connectNoise({
        url: server.url,
        serverStaticKey: wrongPin,
        clientStaticKey: generateKeyPair(),
        payload: Buffer.from("login"),
      }),
    );
    expect(err.code).toBe("server-key-mismatch");
    expect(err.message).toContain(server.key.publicKey.toString("base64"));
    expect(err.message).toContain(wrongPin.toString("base64"));
    expect(err.message).toMatch(/does not match the pinned key/);
    // The login payload was never sent: the server saw the client leave mid-handshake.
    const serverSide = await server.rejected.next();
    expect(serverSide.code).toBe("connection-closed");
    expect(serverSide.message).toContain("4001"); // the client's close code (protocol §3.3)

    const client = await connect(server);
    const accepted = await server.accepted.next();
    const got = frames(accepted.connection, 1);
    client.send(Buffer.from("still serving"));
    expect((await got)[0]?.toString()).toBe("still serving");
  });

  it("closes on a frame that fails to decrypt, and serves the next client", async () => {
    const server = await startServer();
    const ws = await rawHandshake(server);
    const accepted = await server.accepted.next();
    accepted.connection.on("frame", () => {});
    const error = nextError(accepted.connection);
    const closed = nextClose(accepted.connection);
    const rawClosed = rawClose(ws);

    ws.send(encodeFrame(randomBytes(40)));
    expect((await error).code).toBe("decrypt-failed");
    expect(await rawClosed).toBe(4001);
    expect((await closed)[0]).toBe(4001);

    const client = await connect(server);
    const next = await server.accepted.next();
    const got = frames(next.connection, 1);
    client.send(Buffer.from("after garbage"));
    expect((await got)[0]?.toString()).toBe("after garbage");
  });

  it("survives a bad frame when nobody listens for errors", async () => {
    const server = await startServer();
    const ws = await rawHandshake(server);
    const accepted = await server.accepted.next();
    accepted.connection.on("frame", () => {});
    const closed = nextClose(accepted.connection);
    const rawClosed = rawClose(ws);
    ws.send(Buffer.from([0, 0, 9, 1])); // length says 9, one byte follows
    expect((await closed)[0]).toBe(4002);
    expect(await rawClosed).toBe(4002);
  });

  it("the client closes on a garbage frame from the server", async () => {
    const server = await startServer();
    const client = await connect(server);
    const accepted = await server.accepted.next();
    client.on("frame", () => {});
    const error = nextError(client);
    const closed = nextClose(client);
    accepted.ws.send(encodeFrame(randomBytes(64)));
    expect((await error).code).toBe("decrypt-failed");
    expect((await closed)[0]).toBe(4001);
  });

  it("refuses an oversize frame with frame-too-large (413), after a last frame from the error handler", async () => {
    const server = await startServer({ maxFramePayload: 4096 });
    const client = await connect(server, { maxFramePayload: 8192 });
    const accepted = await server.accepted.next();
    const got = frames(accepted.connection, 1);
    const error = nextError(accepted.connection);
    // The layer above answers with <stream:error code="413"/> before the close (protocol §3.1).
    accepted.connection.on("error", (err) => {
      if (err.code === "frame-too-large") accepted.connection.send(Buffer.from("stream:error 413"));
    });
    const lastWord = frames(client, 1);
    const closed = nextClose(client);

    // Fits exactly: 4080 bytes + 16-byte tag = 4096.
    client.send(Buffer.alloc(4080, 1));
    expect((await got)[0]).toHaveLength(4080);
    client.send(Buffer.alloc(4081, 1));
    const err = await error;
    expect(err.code).toBe("frame-too-large");
    expect(err.gkiCode).toBe(413);
    expect((await lastWord)[0]?.toString()).toBe("stream:error 413");
    expect((await closed)[0]).toBe(4013);
  });

  it("send() refuses a frame over the local maximum without breaking the connection", async () => {
    const server = await startServer();
    const client = await connect(server, { maxFramePayload: 1024 });
    const accepted = await server.accepted.next();
    let err: unknown;
    try {
      client.send(Buffer.alloc(1024 - 16 + 1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NoiseError);
    expect((err as NoiseError).code).toBe("frame-too-large");
    const got = frames(accepted.connection, 1);
    client.send(Buffer.alloc(1024 - 16, 2));
    expect((await got)[0]).toHaveLength(1008);
  });

  it("reports ws-level oversize refusal as frame-too-large", async () => {
    const server = await startServer({
      maxFramePayload: 2048,
      wsMaxPayload: wsMaxPayloadFor(2048),
    });
    const client = await connect(server, { maxFramePayload: 1 << 20 });
    const accepted = await server.accepted.next();
    accepted.connection.on("frame", () => {});
    const error = nextError(accepted.connection);
    client.send(Buffer.alloc(100_000));
    expect((await error).code).toBe("frame-too-large");
  });

  it("rejects a client whose first message lacks the intro", async () => {
    const server = await startServer();
    const ws = new WebSocket(server.url);
    cleanups.push(() => ws.terminate());
    await once(ws, "open");
    ws.send(Buffer.concat([Buffer.from([0x58, 0x58, 0x01, 0x01]), encodeFrame(randomBytes(32))]));
    expect((await server.rejected.next()).code).toBe("bad-intro");
    expect(await rawClose(ws)).toBe(4000);

    const text = new WebSocket(server.url);
    cleanups.push(() => text.terminate());
    await once(text, "open");
    text.send("GK\x01\x01");
    expect((await server.rejected.next()).code).toBe("bad-intro");
    expect(await rawClose(text)).toBe(4000);
  });

  it("times out a client that never finishes the handshake", async () => {
    const server = await startServer({ handshakeTimeoutMs: 200 });
    const ws = new WebSocket(server.url);
    cleanups.push(() => ws.terminate());
    await once(ws, "open");
    expect((await server.rejected.next()).code).toBe("handshake-timeout");
    expect(await rawClose(ws)).toBe(4008);
  });

  it("times out a server that never answers", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(wss, "listening");
    cleanups.push(async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
    });
    const err = await rejection(
      connectNoise({
        url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`,
        serverStaticKey: generateKeyPair().publicKey,
        clientStaticKey: generateKeyPair(),
        payload: Buffer.from("login"),
        handshakeTimeoutMs: 200,
      }),
    );
    expect(err.code).toBe("handshake-timeout");
  });

  it("reports a refused connection as socket-error", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(wss, "listening");
    const port = (wss.address() as { port: number }).port;
    await new Promise((resolve) => wss.close(resolve));
    const err = await rejection(
      connectNoise({
        url: `ws://127.0.0.1:${port}/`,
        serverStaticKey: generateKeyPair().publicKey,
        clientStaticKey: generateKeyPair(),
        payload: Buffer.from("login"),
      }),
    );
    expect(err.code).toBe("socket-error");

    const badUrl = await rejection(
      connectNoise({
        url: "not a url",
        serverStaticKey: generateKeyPair().publicKey,
        clientStaticKey: generateKeyPair(),
        payload: Buffer.from("login"),
      }),
    );
    expect(badUrl.code).toBe("socket-error");
  });

  it("refuses a client key pair whose halves do not belong together", async () => {
    const server = await startServer();
    const err = await rejection(
      connectNoise({
        url: server.url,
        serverStaticKey: server.key.publicKey,
        clientStaticKey: {
          privateKey: generateKeyPair().privateKey,
          publicKey: generateKeyPair().publicKey,
        },
        payload: Buffer.from("login"),
      }),
    );
    expect(err.code).toBe("bad-key");
  });
});
