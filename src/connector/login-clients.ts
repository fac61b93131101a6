/**
 * One GatekeeperClient per login, and its life: made on first use, connected (retried in the
 * background while the gatekeeper cannot be reached), waited for by work that comes before
 * its start-up turn, its enlistment and data removed at logout, stopped with the bridge.
 */
import type {
  LoginCredentials,
  RemoteConnectionState,
  RemoteEventHandler,
} from "../core/network.js";
import { RemoteError } from "../core/network.js";
import {
  GatekeeperClient,
  isTerminalLoginError,
  GatekeeperError,
} from "../gatekeeper/client/index.js";
import type { ClientLogger } from "../gatekeeper/client/index.js";
import { errorText } from "../gatekeeper/client/logger.js";
import { forgetAccountScopes, sharedRecordCache } from "../gatekeeper/signal/index.js";
import { formatInteropJid } from "../gatekeeper/stanza/index.js";
import { deleteAccountData } from "./client-data.js";
import { subscribeClientEvents } from "./client-events.js";
import { toRemoteError } from "./error-mapping.js";
import type { Operation } from "./error-mapping.js";
import type { GatekeeperNetworkOptions } from "./gatekeeper-network.js";

export interface LoginEntry {
  loginId: string;
  credentials: LoginCredentials;
  client: GatekeeperClient;
  unsubscribe: (() => void)[];
  /** Set while a background retry of start() runs; cancel() ends it. */
  retry?: { cancel(): void; done: Promise<void> };
  /** Expected to connect at start-up and not tried yet: resolves once connect() ran. */
  expected?: { done: Promise<void>; resolve: () => void };
}

/** How long work for a login waits for its start-up connection before it is tried anyway. */
const EXPECTED_WAIT_MS = 60_000;

export class LoginClients {
  private readonly entries = new Map<string, LoginEntry>();
  private stopped = false;

  constructor(
    private readonly o: GatekeeperNetworkOptions,
    private readonly logger: ClientLogger,
    /** The core's handler, once set (the network is made before the core). */
    private readonly handler: () => RemoteEventHandler | undefined,
  ) {}

  get(loginId: string): LoginEntry | undefined {
    return this.entries.get(loginId);
  }

  /** The login's entry, or a not-connected error worded for what was being done. */
  entry(loginId: string, op: Operation): LoginEntry {
    const entry = this.entries.get(loginId);
    if (entry) return entry;
    const text =
      op === "verify"
        ? "no login is in progress; send `login <phone>` again"
        : "you are not connected to Gatekeeper; log in first";
    throw new RemoteError("not-connected", text, true);
  }

  /** The login's entry, once its start-up connection was tried (if it waits for one). */
  async ready(loginId: string, op: Operation): Promise<LoginEntry> {
    const entry = this.entry(loginId, op);
    if (entry.expected) await atMost(entry.expected.done, EXPECTED_WAIT_MS);
    return entry;
  }

  /**
   * Waits (at most `ms`) while the login's start is being retried in the background, so that
   * work that needs the connection once (a `verify`) is not refused for a failure that passed.
   */
  async retried(entry: LoginEntry, ms: number): Promise<void> {
    if (entry.retry) await atMost(entry.retry.done, ms);
  }

  /** Runs fn on the login's client once ready; its errors become RemoteErrors for op. */
  async call<T>(
    loginId: string,
    op: Operation,
    fn: (client: GatekeeperClient) => Promise<T>,
  ): Promise<T> {
    const { client } = await this.ready(loginId, op);
    try {
      return await fn(client);
    } catch (err) {
      throw toRemoteError(err, op);
    }
  }

  /** The login's entry, made (with its client) on first use; credentials are kept current. */
  entryFor(login: LoginCredentials): LoginEntry {
    if (this.stopped) throw new RemoteError("stopped", "the bridge is shutting down", false);
    const existing = this.entries.get(login.loginId);
    if (existing) {
      existing.credentials = login;
      return existing;
    }
    const client = new GatekeeperClient({
      url: this.o.url,
      serverStaticKey: this.o.serverStaticKey,
      db: this.o.db,
      account: {
        product: "interop",
        partnerId: this.o.partnerId,
        accountId: login.accountId,
        // Read at every (re)connect: a new login may have rotated it. The settings the
        // gatekeeper learns at login are brought up to date at the same moment.
        token: async () => {
          await this.applyLoginSettings(entry);
          return entry.credentials.token;
        },
        ...(this.o.userAgent === undefined ? {} : { userAgent: this.o.userAgent }),
      },
      logger: this.logger,
      // Group portals (docs/architecture.md, "Groups"): without it no one can add us to one.
      groups: true,
      ...(this.o.holdOnIdentityChange ? { holdOnIdentityChange: true } : {}),
      ...this.o.client,
    });
    const entry: LoginEntry = {
      loginId: login.loginId,
      credentials: login,
      client,
      unsubscribe: [],
    };
    entry.unsubscribe.push(
      ...subscribeClientEvents(client, {
        loginId: login.loginId,
        handler: this.handler,
        logger: this.logger,
        tempDir: this.o.media?.tempDir,
      }),
    );
    this.entries.set(login.loginId, entry);
    return entry;
  }

  /** Connects the login, or keeps trying in the background while the failure may pass. */
  async connect(login: LoginCredentials): Promise<void> {
    const entry = this.entryFor(login);
    try {
      await this.ensureStarted(entry);
    } catch (err) {
      if (err instanceof GatekeeperError && isTerminalLoginError(err))
        throw toRemoteError(err, "login");
      // Disconnected meanwhile (another process took the login over): nothing to retry.
      if (this.entries.get(entry.loginId) !== entry) return;
      // The gatekeeper (or our auth endpoint) is not there yet: keep trying in the background.
      this.logger.warn("gatekeeper connection failed, retrying", {
        login: login.loginId,
        error: errorText(err),
      });
      this.retryStart(entry);
    } finally {
      entry.expected?.resolve();
      delete entry.expected;
    }
  }

  /** Logins to be connected at start-up: work for them waits for their turn (ready()). */
  expect(logins: readonly LoginCredentials[]): void {
    for (const login of logins) {
      const entry = this.entryFor(login);
      if (entry.expected || entry.client.state !== "stopped") continue;
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      entry.expected = { done, resolve };
    }
  }

  /** Forgets the login: its enlistment at the gatekeeper, its client, its data and media. */
  async logout(loginId: string, credentials?: LoginCredentials): Promise<void> {
    const entry =
      this.entries.get(loginId) ?? (credentials ? this.entryFor(credentials) : undefined);
    if (!entry) return;
    entry.retry?.cancel();
    await this.removeEnlistment(entry);
    await this.dispose(entry);
    const { partnerId, db } = this.o;
    const owner = formatInteropJid(partnerId, entry.credentials.accountId);
    await deleteAccountData(db, [owner, ...(entry.client.jid ? [entry.client.jid] : [])]);
    await this.o.media?.hosted.removeLogin(loginId);
    this.logger.info("login removed", { login: loginId });
  }

  /**
   * Closes the login's connection and forgets its client, keeping everything it stored:
   * another process takes the login over. Its events stop before the connection closes, so
   * the core hears nothing of this end.
   */
  async disconnect(loginId: string): Promise<void> {
    const entry = this.entries.get(loginId);
    if (!entry) return;
    const jid = entry.client.jid;
    await this.dispose(entry);
    // The other process ratchets the account's sessions on from here: were the login to come
    // back, this process's cached copies would be behind the database.
    if (jid) forgetAccountScopes(this.o.db, jid, sharedRecordCache);
  }

  connectionState(loginId: string): RemoteConnectionState | "not-connected" {
    const entry = this.entries.get(loginId);
    if (entry?.expected) return "connecting"; // waiting for its turn at start-up
    return entry?.client.state ?? "not-connected";
  }

  /** Starts the client unless it is running or trying to. */
  async ensureStarted(entry: LoginEntry): Promise<void> {
    const state = entry.client.state;
    if (state === "connected" || state === "connecting" || state === "reconnecting") return;
    if (entry.retry) return; // a background attempt is under way
    await entry.client.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.entries.values()].map((entry) => this.dispose(entry)));
  }

  private async applyLoginSettings(entry: LoginEntry): Promise<void> {
    try {
      const settings = await this.handler()?.loginSettings?.(entry.loginId);
      if (settings) entry.client.setSendReadReceipts(settings.sendReadReceipts);
    } catch (err) {
      // Connecting matters more: the last known setting stays.
      this.logger.warn("could not read a login's settings", {
        login: entry.loginId,
        error: errorText(err),
      });
    }
  }

  /** start() failed for a reason that may pass: try again with backoff until it works or cannot. */
  private retryStart(entry: LoginEntry): void {
    if (entry.retry) return;
    let cancelled = false;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    const initial = this.o.startRetry?.initialMs ?? 1_000;
    const max = this.o.startRetry?.maxMs ?? 60_000;
    const done = (async () => {
      for (let delay = initial; !cancelled && !this.stopped; delay = Math.min(max, delay * 2)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, delay);
        });
        if (cancelled || this.stopped || this.entries.get(entry.loginId) !== entry) return;
        try {
          await entry.client.start();
          return;
        } catch (err) {
          if (err instanceof GatekeeperError && isTerminalLoginError(err)) return;
        }
      }
    })().finally(() => {
      if (entry.retry?.done === done) delete entry.retry;
    });
    entry.retry = {
      done,
      cancel: () => {
        cancelled = true;
        clearTimeout(timer);
        wake?.();
      },
    };
  }

  /** Removes the enlistment at the gatekeeper, connecting first if need be. */
  private async removeEnlistment(entry: LoginEntry): Promise<void> {
    try {
      await this.ensureStarted(entry);
    } catch (err) {
      // Refused outright: the gatekeeper has no usable account for us, so nothing to remove.
      if (err instanceof GatekeeperError && isTerminalLoginError(err)) return;
      throw toRemoteError(err, "logout");
    }
    if (!entry.client.enlisted) return;
    try {
      await entry.client.removeEnlistment();
    } catch (err) {
      const gone =
        err instanceof GatekeeperError &&
        ["not-found", "gone", "forbidden", "unauthorized"].includes(err.code);
      if (!gone) throw toRemoteError(err, "logout");
    }
  }

  private async dispose(entry: LoginEntry): Promise<void> {
    entry.expected?.resolve();
    delete entry.expected;
    entry.retry?.cancel();
    await entry.retry?.done;
    // Stopping first: a message the client had not handed over yet stays unacked for the next
    // connection rather than counting as handled by no handler (and being lost).
    const stopped = entry.client.stop();
    for (const off of entry.unsubscribe.splice(0)) off();
    this.entries.delete(entry.loginId);
    await stopped;
  }
}

/** Resolves when `done` does, or after `ms`, whichever comes first. */
async function atMost(done: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
