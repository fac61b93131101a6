import { create, toBinary } from "@bufbuild/protobuf";
import { ClientPayload_Product, ClientPayloadSchema } from "../../gen/gki_pb.js";
import type { StaticKeyPair } from "../noise/index.js";
import type { Stanza } from "../stanza/index.js";
import { Connection } from "./connection.js";
import type { CloseInfo } from "./connection.js";
import { GatekeeperError, isTerminalLoginError } from "./errors.js";
import type { EventHub } from "./events.js";
import { errorText } from "./logger.js";
import type { ClientLogger } from "./logger.js";
import { Backoff, cancellableDelay } from "./reconnect.js";
import type { ConnectionState, GatekeeperClientEvents, GatekeeperClientOptions } from "./types.js";

const DEFAULTS = {
  keepaliveIntervalMs: 25_000,
  keepaliveTimeoutMs: 10_000,
  iqTimeoutMs: 20_000,
} as const;
const STOP_GRACE_MS = 5_000;
export const USER_AGENT = "matrix-gatekeeper-bridge/0.1.0";

/** What the client does at the edges of a connection's life. */
export interface SessionHooks {
  onStanza(stanza: Stanza, conn: Connection): void;
  /** After <success>, before the state turns "connected" (set up the account for this JID). */
  onLogin(conn: Connection): Promise<void>;
  /** After the state turned "connected" (presence, key upload); start() awaits it. */
  onConnected(conn: Connection): Promise<void>;
}

interface ConnectionWaiter {
  resolve(conn: Connection): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Keeps one logged-in connection alive: login, reconnect with backoff and jitter
 * (docs §10), the terminal states, and callers waiting for a connection.
 */
export class SessionManager {
  private readonly backoff: Backoff;
  private readonly waiters = new Set<ConnectionWaiter>();
  private conn: Connection | undefined;
  private currentState: ConnectionState = "stopped";
  private terminalError: GatekeeperError | undefined;
  private wanted = false;
  private sleeper: { cancel(): void } | undefined;
  private reconnecting: Promise<void> | undefined;

  constructor(
    private readonly options: GatekeeperClientOptions,
    private readonly noiseKey: () => Promise<StaticKeyPair>,
    private readonly events: EventHub<GatekeeperClientEvents>,
    private readonly logger: ClientLogger,
    private readonly hooks: SessionHooks,
  ) {
    this.backoff = new Backoff(options.reconnect ?? {});
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get iqTimeoutMs(): number {
    return this.options.iqTimeoutMs ?? DEFAULTS.iqTimeoutMs;
  }

  /** The connection if we are logged in right now. */
  get current(): Connection | undefined {
    return this.conn && this.currentState === "connected" && !this.conn.closed
      ? this.conn
      : undefined;
  }

  async start(): Promise<void> {
    if (this.wanted) throw new GatekeeperError("bad-request", "the client is already started");
    this.wanted = true;
    this.terminalError = undefined;
    this.setState("connecting");
    try {
      await this.connectOnce();
    } catch (err) {
      const e = asGatekeeperError(err);
      this.wanted = false;
      this.conn?.close();
      this.conn = undefined;
      this.setState(stateForFailure(e), e);
      this.rejectWaiters(e);
      throw e;
    }
  }

  async stop(): Promise<void> {
    this.wanted = false;
    this.sleeper?.cancel();
    this.rejectWaiters(new GatekeeperError("stopped", "the client was stopped"));
    const conn = this.conn;
    this.conn = undefined;
    if (conn) {
      conn.close(1000, "");
      await withTimeout(conn.whenClosed, STOP_GRACE_MS);
    }
    // A reconnect attempt in flight must not touch the database after stop() returned.
    if (this.reconnecting) await withTimeout(this.reconnecting, STOP_GRACE_MS);
    if (!isTerminal(this.currentState)) this.setState("stopped");
  }

  /** The current connection, waiting for one (until `deadline`, ms since epoch) if needed. */
  waitForConnection(deadline?: number): Promise<Connection> {
    const current = this.current;
    if (current) return Promise.resolve(current);
    if (!this.wanted) {
      return Promise.reject(
        this.terminalError ?? new GatekeeperError("stopped", "the client is not started"),
      );
    }
    return new Promise<Connection>((resolve, reject) => {
      const waiter: ConnectionWaiter = { resolve, reject, timer: undefined };
      if (deadline !== undefined) {
        waiter.timer = setTimeout(
          () => {
            this.waiters.delete(waiter);
            reject(new GatekeeperError("timeout", "no gatekeeper connection in time"));
          },
          Math.max(0, deadline - Date.now()),
        );
      }
      this.waiters.add(waiter);
    });
  }

  /** For iqs: wait for a connection at most one iq timeout. */
  connectionForIq(): Promise<Connection> {
    return this.waitForConnection(Date.now() + this.iqTimeoutMs);
  }

  /** The connection, or "not-connected" (for ephemeral stanzas). */
  connected(): Connection {
    const current = this.current;
    if (!current) throw new GatekeeperError("not-connected", "not connected to the gatekeeper");
    return current;
  }

  private async connectOnce(): Promise<void> {
    const clientStaticKey = await this.noiseKey();
    const conn = await Connection.open(
      {
        url: this.options.url,
        serverStaticKey: this.options.serverStaticKey,
        clientStaticKey,
        payload: await this.loginPayload(),
        iqTimeoutMs: this.iqTimeoutMs,
        keepaliveIntervalMs: this.options.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
        keepaliveTimeoutMs: this.options.keepaliveTimeoutMs ?? DEFAULTS.keepaliveTimeoutMs,
        loginTimeoutMs: this.iqTimeoutMs,
        logger: this.logger,
      },
      {
        onStanza: (stanza, c) => this.hooks.onStanza(stanza, c),
        onClose: (info, c) => this.onClosed(info, c),
      },
    );
    if (!this.wanted) {
      conn.close();
      throw new GatekeeperError("stopped", "the client was stopped");
    }
    this.conn = conn;
    await this.hooks.onLogin(conn);
    if (conn.closed) return; // dropped already: onClosed has taken over
    this.logger.info("logged in to the gatekeeper", { enlisted: conn.login.enlisted });
    this.setState("connected");
    await this.hooks.onConnected(conn);
  }

  private async loginPayload(): Promise<Uint8Array> {
    const { account } = this.options;
    const token = typeof account.token === "function" ? await account.token() : account.token;
    const payload = create(ClientPayloadSchema, {
      product:
        account.product === "interop"
          ? ClientPayload_Product.INTEROP
          : ClientPayload_Product.NATIVE,
      ...(account.partnerId === undefined ? {} : { partnerId: account.partnerId }),
      accountId: account.accountId,
      token,
      device: account.deviceId ?? 1,
      sendReadReceipts: account.sendReadReceipts ?? true,
      ...(account.clientIp === undefined ? {} : { clientIp: account.clientIp }),
      userAgent: account.userAgent ?? USER_AGENT,
      protocolVersion: 1,
      ...(account.pushName === undefined ? {} : { pushName: account.pushName }),
      ...(this.options.groups ? { groups: true } : {}),
    });
    return toBinary(ClientPayloadSchema, payload);
  }

  private onClosed(info: CloseInfo, conn: Connection): void {
    if (conn !== this.conn) return;
    this.conn = undefined;
    this.backoff.connectionEnded(info.upForMs);
    if (!this.wanted) return;
    const code = info.streamError?.code;
    const text = info.streamError?.text;
    if (code === 409) {
      this.terminate(
        "replaced",
        new GatekeeperError("replaced", "another connection logged in to this account", {
          gkiCode: 409,
        }),
      );
      return;
    }
    if (code === 401) {
      const why = `the gatekeeper ended the session${text ? `: ${text}` : ""}`;
      this.terminate("logged-out", new GatekeeperError("unauthorized", why, { gkiCode: 401 }));
      return;
    }
    this.logger.info("gatekeeper connection lost", { code: info.code, streamError: code });
    this.setState("reconnecting");
    if (!this.reconnecting) {
      this.reconnecting = this.reconnectLoop(code === 515).finally(
        () => (this.reconnecting = undefined),
      );
    }
  }

  private async reconnectLoop(immediate: boolean): Promise<void> {
    let first = true;
    while (this.wanted && !this.conn) {
      // 515 means "reconnect now" — unless we are already failing repeatedly.
      const delay = first && immediate && this.backoff.attempts === 0 ? 0 : this.backoff.next();
      first = false;
      this.setState("reconnecting");
      const sleep = cancellableDelay(delay);
      this.sleeper = sleep;
      await sleep.promise;
      this.sleeper = undefined;
      if (!this.wanted) return;
      this.setState("connecting");
      try {
        await this.connectOnce();
      } catch (err) {
        const e = asGatekeeperError(err);
        if (isTerminalLoginError(e)) {
          this.terminate(stateForFailure(e), e);
          return;
        }
        this.logger.warn("reconnect failed", { error: errorText(e) });
      }
    }
  }

  private terminate(state: ConnectionState, err: GatekeeperError): void {
    this.wanted = false;
    this.terminalError = err;
    this.sleeper?.cancel();
    this.conn?.close();
    this.conn = undefined;
    this.logger.warn("gatekeeper session ended", { state, error: errorText(err) });
    this.setState(state, err);
    this.rejectWaiters(err);
  }

  private setState(state: ConnectionState, error?: GatekeeperError): void {
    const previous = this.currentState;
    if (state === previous && error === undefined) return;
    this.currentState = state;
    const current = this.current;
    if (current) {
      for (const w of [...this.waiters]) {
        this.waiters.delete(w);
        if (w.timer) clearTimeout(w.timer);
        w.resolve(current);
      }
    }
    void this.events.emitQuietly("connectionState", {
      state,
      previous,
      ...(error ? { error } : {}),
    });
  }

  private rejectWaiters(err: Error): void {
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      if (w.timer) clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

function asGatekeeperError(err: unknown): GatekeeperError {
  if (err instanceof GatekeeperError) return err;
  return new GatekeeperError("connection-failed", errorText(err), { cause: err });
}

function stateForFailure(err: GatekeeperError): ConnectionState {
  if (err.code === "unauthorized") return "logged-out";
  if (err.code === "replaced") return "replaced";
  if (isTerminalLoginError(err)) return "failed";
  return "stopped";
}

function isTerminal(state: ConnectionState): boolean {
  return state === "logged-out" || state === "replaced" || state === "failed";
}

export async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  if (timer) clearTimeout(timer);
}
