/**
 * startSandbox: the reference gatekeeper on one HTTP port. WebSocket upgrades
 * on /gki/1/chat carry GKI/1 (Noise, then stanzas); plain HTTP serves the
 * media host under /media and the admin API under /admin.
 */
import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import express from "express";
import { type WebSocket, WebSocketServer } from "ws";
import { acceptNoise, generateKeyPair, publicKeyFromPrivate } from "../gatekeeper/noise/index.js";
import { encodeStanza } from "../gatekeeper/stanza/index.js";
import { SandboxAdmin } from "./admin.js";
import { adminRouter } from "./admin-api.js";
import { type SandboxContext, TaskTracker } from "./context.js";
import { type SandboxLimits, resolveLimits } from "./limits.js";
import { type SandboxLogger, silentLogger } from "./logger.js";
import { login } from "./login.js";
import { mediaRouter } from "./media-host.js";
import { MediaTokens } from "./media-tokens.js";
import { PresenceHub } from "./presence.js";
import { SlidingWindowLimiter } from "./rate-limit.js";
import { SessionRegistry } from "./registry.js";
import { Session } from "./session.js";
import { type SandboxDbConfig, type SandboxStore, openSandboxStore } from "./store/index.js";

export const CHAT_PATH = "/gki/1/chat";

/** The longest WebSocket message the gatekeeper reads: twice the frame cap (2 MiB by default), §3.3. */
export function wsMessageCapFor(maxFramePayload: number): number {
  return 2 * maxFramePayload;
}

export interface SandboxPartnerConfig {
  id: string;
  authUrl: string;
  secret: string;
  mediaOrigin?: string;
}

export interface SandboxOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 (the default) picks a free one. */
  port?: number;
  /** Default: in memory. A file keeps users, keys, queues and the static key across restarts. */
  db?: SandboxDbConfig;
  /** The Noise static key pair; default: generated once and kept in the database. */
  staticKey?: { privateKey: Uint8Array; publicKey: Uint8Array };
  partners?: SandboxPartnerConfig[];
  limits?: Partial<SandboxLimits>;
  /** Base URL clients reach the media host at, if not the listening address (e.g. behind a proxy). */
  publicHttpUrl?: string;
  /** Refuse partner users whose number is outside the EEA (failure 403). Default true. */
  requireEea?: boolean;
  logger?: SandboxLogger;
  /** Unix-milliseconds clock, for tests of expiry. Default Date.now. */
  clock?: () => number;
}

export interface Sandbox {
  /** ws://host:port/gki/1/chat */
  readonly url: string;
  /** http://host:port: the media host at /media/*, the admin API at /admin/*. */
  readonly httpUrl: string;
  /** The static public key clients pin (32 bytes). */
  readonly publicKey: Uint8Array;
  readonly publicKeyBase64: string;
  readonly admin: SandboxAdmin;
  /** Tells connected clients 503 (going away), then stops. */
  close(): Promise<void>;
}

const STATIC_KEY_META = "noise_static_private_key";
const PURGE_INTERVAL_MS = 60 * 60 * 1000;
const CLOSE_GRACE_MS = 2_000;

async function loadStaticKey(store: SandboxStore, given: SandboxOptions["staticKey"]) {
  if (given) {
    if (!publicKeyFromPrivate(given.privateKey).equals(Buffer.from(given.publicKey))) {
      throw new RangeError("staticKey: the public key does not belong to the private key");
    }
    return {
      privateKey: Uint8Array.from(given.privateKey),
      publicKey: Uint8Array.from(given.publicKey),
    };
  }
  const stored = await store.meta.get(STATIC_KEY_META);
  if (stored !== null) {
    const privateKey = Buffer.from(stored, "base64");
    return { privateKey, publicKey: publicKeyFromPrivate(privateKey) };
  }
  const pair = generateKeyPair();
  await store.meta.set(STATIC_KEY_META, pair.privateKey.toString("base64"));
  return pair;
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const now = opts.clock ?? Date.now;
  const limits = resolveLimits(opts.limits);
  const logger = opts.logger ?? silentLogger;
  const host = opts.host ?? "127.0.0.1";
  const store = await openSandboxStore(opts.db, now);
  let server: Server | undefined;
  try {
    const staticKey = await loadStaticKey(store, opts.staticKey);
    let httpUrl = "";
    const ctx: SandboxContext = {
      store,
      limits,
      logger,
      now,
      requireEea: opts.requireEea ?? true,
      sessions: new SessionRegistry(),
      tasks: new TaskTracker(),
      presence: new PresenceHub(),
      mediaTokens: new MediaTokens(now, limits.mediaTokenTtlSeconds),
      mediaHost: () => (opts.publicHttpUrl ?? httpUrl).replace(/\/+$/, ""),
      limiters: {
        messages: new SlidingWindowLimiter(limits.messagesPerWindow, limits.messageWindowMs, now),
        lookups: new SlidingWindowLimiter(limits.lookupContactsPerHour, 60 * 60 * 1000, now),
      },
    };
    const publicKeyBase64 = Buffer.from(staticKey.publicKey).toString("base64");
    const admin = new SandboxAdmin(ctx, () => ({
      url: `${httpUrl.replace(/^http/, "ws")}${CHAT_PATH}`,
      httpUrl,
      publicKey: publicKeyBase64,
    }));
    for (const p of opts.partners ?? []) await admin.addPartner(p);

    const app = express();
    app.disable("x-powered-by");
    app.use("/media", mediaRouter(ctx));
    app.use("/admin", adminRouter(admin, logger));
    app.use((_req, res) => {
      res.status(404).json({ error: "not-found" });
    });

    const sockets = new Set<WebSocket>();
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // §3.3: twice the frame cap, so a frame a little too large is refused by the Noise layer with
      // `<stream:error code="413"/>` and 4013; a longer message stops at ws (1009) before it is read.
      maxPayload: wsMessageCapFor(limits.maxFramePayload),
    });
    const onConnection = (ws: WebSocket, req: IncomingMessage): void => {
      sockets.add(ws);
      ws.on("close", () => sockets.delete(ws));
      ws.on("error", () => undefined);
      void ctx.tasks.track(handleConnection(ctx, ws, req.socket.remoteAddress ?? "", staticKey));
    };
    server = createServer(app);
    let closing = false;
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (closing) {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n");
        return;
      }
      const path = (req.url ?? "").split("?")[0];
      if (path !== CHAT_PATH) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
    });
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once("error", reject);
      listening.listen(opts.port ?? 0, host, () => {
        listening.off("error", reject);
        resolve();
      });
    });
    const port = (listening.address() as AddressInfo).port;
    httpUrl = `http://${urlHost(host)}:${port}`;
    const url = `ws://${urlHost(host)}:${port}${CHAT_PATH}`;

    const purge = async (): Promise<void> => {
      const removed = await store.queue.purgeExpired(now());
      await store.queue.purgeAcceptedBefore(now() - limits.queueTtlMs);
      if (removed > 0) logger.info("expired queued stanzas removed", { count: removed });
    };
    await purge();
    const purgeTimer = setInterval(() => void purge().catch(() => undefined), PURGE_INTERVAL_MS);
    purgeTimer.unref();
    logger.info("sandbox listening", { url, httpUrl, publicKey: publicKeyBase64 });

    let closed: Promise<void> | null = null;
    const close = (): Promise<void> =>
      (closed ??= (async () => {
        closing = true;
        clearInterval(purgeTimer);
        for (const session of ctx.sessions.all()) session.streamError(503, "shutting-down");
        const allClosed = Promise.all(
          [...sockets].map(
            (ws) =>
              new Promise<void>((resolve) =>
                ws.readyState === ws.CLOSED ? resolve() : ws.once("close", () => resolve()),
              ),
          ),
        );
        // Sockets still in the handshake, or peers that never answer our close frame.
        const grace = setTimeout(() => sockets.forEach((ws) => ws.terminate()), CLOSE_GRACE_MS);
        await allClosed;
        clearTimeout(grace);
        await ctx.tasks.drain();
        wss.close();
        listening.closeAllConnections();
        await new Promise<void>((resolve) => listening.close(() => resolve()));
        await store.close();
        logger.info("sandbox stopped");
      })());

    return {
      url,
      httpUrl,
      publicKey: Uint8Array.from(staticKey.publicKey),
      publicKeyBase64,
      admin,
      close,
    };
  } catch (err) {
    server?.close();
    await store.close();
    throw err;
  }
}

async function handleConnection(
  ctx: SandboxContext,
  ws: WebSocket,
  remoteIp: string,
  staticKey: { privateKey: Uint8Array; publicKey: Uint8Array },
): Promise<void> {
  let accepted;
  try {
    accepted = await acceptNoise(ws, {
      staticKey,
      maxFramePayload: ctx.limits.maxFramePayload,
      handshakeTimeoutMs: ctx.limits.handshakeTimeoutMs,
    });
  } catch (err) {
    ctx.logger.debug("handshake failed", {
      remoteIp,
      error: err instanceof Error ? err.message : String(err),
    });
    return;
  }
  const { connection, payload } = accepted;
  try {
    const result = await login(ctx, payload, remoteIp);
    if (!result.ok) {
      ctx.logger.info("login refused", { reason: result.reason, text: result.text });
      connection.send(encodeStanza({ kind: "failure", reason: result.reason, text: result.text }));
      connection.close(1000, "login failed");
      return;
    }
    // Gone while its login was checked (the partner's auth callback takes a round trip): its
    // close came before a session listened, so a session now would stay online for good, and
    // the account's next connection would count as replacing it.
    if (connection.closed) {
      ctx.logger.info("client disconnected during login", { jid: result.account.jid });
      return;
    }
    new Session(ctx, connection, result.account, result.enlisted).start();
  } catch (err) {
    ctx.logger.error("login failed", { error: String(err) });
    try {
      connection.send(encodeStanza({ kind: "failure", reason: 503, text: "internal" }));
    } catch {
      // The client is gone already.
    }
    connection.close(1000, "login failed");
  }
}
