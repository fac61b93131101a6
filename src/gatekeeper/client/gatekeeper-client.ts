import type { Message } from "../../gen/gki_pb.js";
import type { StaticKeyPair } from "../noise/index.js";
import { SignalAccount, SignalError } from "../signal/index.js";
import { formatInteropJid } from "../stanza/index.js";
import type { InteropSettings, MediaConn } from "../stanza/index.js";
import { AccountRepository } from "./account-repository.js";
import type { Connection } from "./connection.js";
import { peerAddress } from "./context.js";
import type { AccountState, ClientCore } from "./context.js";
import { GatekeeperError } from "./errors.js";
import { ClientStoppedError, EventHub } from "./events.js";
import { GroupApi } from "./group-api.js";
import { GroupOutbound } from "./group-outbound.js";
import { GroupDirectory } from "./groups.js";
import type { EventHandler } from "./events.js";
import { INBOX_RETENTION_MS, InboxRepository } from "./inbox-repository.js";
import { Inbound } from "./inbound.js";
import * as iqApi from "./iq-api.js";
import { KeyManager } from "./keys.js";
import { errorText, silentLogger } from "./logger.js";
import type { ClientLogger } from "./logger.js";
import { MediaTransfer } from "./media-http.js";
import type { DownloadOptions } from "./media-http.js";
import { Outbound } from "./outbound.js";
import { SENT_RETENTION_MS, SentRepository } from "./sent-repository.js";
import { KeyedLock } from "./serial.js";
import { SessionManager, withTimeout } from "./session-manager.js";
import type {
  ConnectionState,
  GatekeeperClientEvents,
  GatekeeperClientOptions,
  LookupEntry,
  PeerIdentity,
  ReceiptKind,
  SendOptions,
  SendResult,
  UploadedMedia,
} from "./types.js";

const PRUNE_INTERVAL_MS = 3600_000;
const STOP_GRACE_MS = 5_000;

/**
 * A GKI/1 client for one account: keeps one logged-in connection to the gatekeeper
 * (reconnecting with backoff), keeps the gatekeeper supplied with our Signal keys, sends
 * end-to-end encrypted messages and delivers received ones through `events`, acking each
 * only after the handlers finished (see docs/protocol.md).
 */
export class GatekeeperClient {
  readonly events = new EventHub<GatekeeperClientEvents>();
  private readonly logger: ClientLogger;
  private readonly accounts: AccountRepository;
  private readonly keys: KeyManager;
  private readonly outbound: Outbound;
  private readonly inbound: Inbound;
  /** Groups (docs §19): create, members, info, send; see GroupApi. */
  readonly groups: GroupApi;
  private readonly media: MediaTransfer;
  private readonly session: SessionManager;
  private readonly subscriptions = new Set<string>();
  // One identity change is usually seen twice: as a notification and when Signal meets the new
  // key (bundle or message). Whichever comes first announces it; the other is then skipped.
  private readonly changesFromNotification = new Set<string>();
  private readonly changesFromSignal = new Set<string>();
  private noiseKey: StaticKeyPair | undefined;
  private accountState: AccountState | undefined;
  private accountWaiters: ((a: AccountState) => void)[] = [];
  private isEnlisted = false;
  private ownJid: string | undefined;
  private presence: { type: "available" | "unavailable"; name?: string } | undefined;
  private mediaConnCache: { conn: MediaConn; expiresAt: number } | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | undefined;
  /** stop() was called (and start() not since): nothing more is handed to the application. */
  private stopping = false;

  constructor(private readonly options: GatekeeperClientOptions) {
    const { account } = options;
    if (account.product === "interop" && !account.partnerId) {
      throw new GatekeeperError("bad-request", "an interop account needs a partnerId");
    }
    this.logger = options.logger ?? silentLogger;
    const accountKey =
      account.product === "interop"
        ? formatInteropJid(account.partnerId!, account.accountId)
        : `native:${account.accountId}`;
    this.accounts = new AccountRepository(options.db, accountKey);
    this.keys = new KeyManager(this.accounts, this.logger);
    this.session = new SessionManager(
      options,
      async () => (this.noiseKey ??= await this.accounts.noiseKeyPair()),
      this.events,
      this.logger,
      {
        onStanza: (stanza, conn) => this.inbound.push(stanza, conn),
        onLogin: (conn) => this.onLogin(conn),
        onConnected: (conn) => this.onConnected(conn),
      },
    );
    const core: ClientCore = {
      db: options.db,
      logger: this.logger,
      events: this.events,
      handOver: (event, payload) =>
        this.stopping
          ? Promise.reject(new ClientStoppedError(String(event)))
          : this.events.emit(event, payload),
      peerLocks: new KeyedLock(),
      keys: this.keys,
      holdOnIdentityChange: options.holdOnIdentityChange ?? false,
      groups: options.groups ?? false,
      account: () => this.account(),
      accountReady: () => this.accountReady(),
      waitForConnection: (deadline) => this.session.waitForConnection(deadline),
      identityNotified: (jid) => {
        if (this.changesFromSignal.delete(jid)) return false;
        this.changesFromNotification.add(jid);
        return true;
      },
    };
    this.outbound = new Outbound(core);
    const directory = new GroupDirectory(core, () => this.session.connectionForIq());
    const groupOutbound = new GroupOutbound(core, this.outbound, directory);
    this.groups = new GroupApi(directory, groupOutbound, () => options.account.sendReadReceipts);
    this.inbound = new Inbound(core, this.outbound, groupOutbound, directory);
    this.media = new MediaTransfer((refresh) => this.mediaConn(refresh));
  }

  /** Adds an event handler; returns a function that removes it. */
  on<K extends keyof GatekeeperClientEvents>(
    event: K,
    handler: EventHandler<GatekeeperClientEvents[K]>,
  ): () => void {
    return this.events.on(event, handler);
  }

  get state(): ConnectionState {
    return this.session.state;
  }

  /** How long a request waits for its answer (and for a connection to send it on). */
  get iqTimeoutMs(): number {
    return this.session.iqTimeoutMs;
  }

  /** Our JID, once a login succeeded. */
  get jid(): string | undefined {
    return this.ownJid;
  }
  /** Whether our phone number is verified (docs §6); false allows only enlistment. */
  get enlisted(): boolean {
    return this.isEnlisted;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Connects and logs in; resolves after <success> (and, when enlisted, our keys are on the
   * gatekeeper). Rejects with GatekeeperError: "unauthorized", "partner-unknown",
   * "forbidden", "unsupported", "unavailable", "server-key-mismatch", "connection-failed", "timeout".
   */
  async start(): Promise<void> {
    this.stopping = false;
    await this.session.start();
    this.pruneTimer ??= setInterval(() => this.startPrune(), PRUNE_INTERVAL_MS).unref();
  }

  /**
   * Closes the connection and stops reconnecting; waiting sends reject with "stopped". From
   * the call on (before its first await) no message, receipt or group change is handed to the
   * application any more: what was not handed over yet stays unacked and comes again, so the
   * caller may drop its handlers right after calling it and lose nothing.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
    await this.session.stop();
    // Handlers still running finish; their acks are dropped (redelivery + inbox dedupe cover it).
    await withTimeout(this.inbound.idle(), STOP_GRACE_MS);
    if (this.pruning) await withTimeout(this.pruning, STOP_GRACE_MS);
  }

  // ---------------------------------------------------------------- enlistment (docs §6)

  async requestCode(): Promise<{ expiresIn: number; length: number }> {
    return iqApi.requestEnlistCode(await this.session.connectionForIq());
  }

  /** Verifies the one-time code; the connection is fully enabled at once and our keys get uploaded. */
  async verifyCode(code: string): Promise<{ jid: string }> {
    const conn = await this.session.connectionForIq();
    const jid = await iqApi.verifyEnlistCode(conn, code);
    this.isEnlisted = true;
    await this.keys.ensureUploaded(conn, this.account().signal);
    return { jid };
  }

  /** Removes the enlistment; the gatekeeper then ends the session (state becomes "logged-out"). */
  async removeEnlistment(): Promise<void> {
    await iqApi.removeEnlistment(await this.session.connectionForIq());
    this.isEnlisted = false;
    await this.keys.forget();
  }

  // ---------------------------------------------------------------- directory, settings, blocking

  /** Finds the JIDs of phone numbers (E.164); numbers whose owner did not opt in come back without. */
  async lookup(phones: string[]): Promise<LookupEntry[]> {
    return iqApi.lookupPhones(await this.session.connectionForIq(), phones);
  }
  async block(jid: string): Promise<void> {
    await iqApi.changeBlocklist(await this.session.connectionForIq(), "block", jid);
  }
  async unblock(jid: string): Promise<void> {
    await iqApi.changeBlocklist(await this.session.connectionForIq(), "unblock", jid);
  }
  async blocklist(): Promise<string[]> {
    return iqApi.fetchBlocklist(await this.session.connectionForIq());
  }
  /** A native user's interop opt-in (docs §12.2). */
  async setInteropSettings(settings: InteropSettings): Promise<void> {
    await iqApi.setInteropSettings(await this.session.connectionForIq(), settings);
  }

  // ---------------------------------------------------------------- media (docs §11)

  /** Host and bearer token for the media host; cached until shortly before its ttl ends. */
  async mediaConn(refresh = false): Promise<MediaConn> {
    const cached = this.mediaConnCache;
    if (!refresh && cached && cached.expiresAt > Date.now()) return cached.conn;
    const conn = await iqApi.requestMediaConn(await this.session.connectionForIq());
    this.mediaConnCache = { conn, expiresAt: Date.now() + conn.ttl * 900 };
    return conn;
  }
  /** Uploads an encrypted blob (see src/gatekeeper/media) to the gatekeeper's media host. */
  uploadMedia(blob: Uint8Array, opts?: { timeoutMs?: number }): Promise<UploadedMedia> {
    return this.media.upload(blob, opts);
  }
  /** Downloads a blob by direct path or URL; partner-hosted URLs go through the media proxy. */
  downloadMedia(urlOrPath: string, opts?: DownloadOptions): Promise<Uint8Array> {
    return this.media.download(urlOrPath, opts);
  }

  // ---------------------------------------------------------------- sending

  /**
   * Encrypts and sends a message; resolves with the gatekeeper's timestamp once it acked.
   * While disconnected it waits (until opts.timeoutMs); a nack rejects with its code
   * ("unreachable" for 404, "rate-limited" for 429, …).
   */
  sendMessage(to: string, content: Message, opts?: SendOptions): Promise<SendResult> {
    return this.outbound.sendMessage(to, content, opts);
  }

  /** Delivery (default), read or played receipt for one or more message ids of `to`. */
  async sendReceipt(
    to: string,
    ids: string[],
    type?: ReceiptKind,
    opts?: { timeoutMs?: number },
  ): Promise<void> {
    // A user who does not send read receipts sends none (docs §13).
    if (type === "read" && this.options.account.sendReadReceipts === false) return;
    await this.outbound.sendReceipt(to, ids, type, opts);
  }

  /**
   * Whether this user sends read receipts. The gatekeeper learns it at login (and then also
   * withholds the contacts' read receipts, docs §13), so a change reconnects at once.
   */
  setSendReadReceipts(on: boolean): void {
    if ((this.options.account.sendReadReceipts ?? true) === on) return;
    this.options.account.sendReadReceipts = on;
    // Dropping the connection makes the session manager log in again with the new value.
    this.session.current?.close(1000, "settings changed");
  }

  /** Typing notifications (to a user or a group) are ephemeral: rejects "not-connected" when offline. */
  async sendChatState(to: string, state: "composing" | "paused", media?: "audio"): Promise<void> {
    const stanza = {
      kind: "chatstate" as const,
      to,
      state,
      ...(media === undefined ? {} : { media }),
    };
    this.session.connected().send(stanza);
  }

  /** Sets our presence; remembered and sent again after every reconnect. */
  async setPresence(type: "available" | "unavailable", name?: string): Promise<void> {
    this.presence = { type, ...(name === undefined ? {} : { name }) };
    this.session.current?.sendQuietly({ kind: "presence", ...this.presence });
  }

  /** Asks for `jid`'s presence (answered by `presence` events); renewed after every reconnect. */
  async subscribePresence(jid: string): Promise<void> {
    this.subscriptions.add(jid);
    this.session.current?.sendQuietly({ kind: "presence", type: "subscribe", to: jid });
  }

  // ---------------------------------------------------------------- identity

  /** The safety number shared with `jid` (60 digits). */
  async fingerprint(jid: string): Promise<string> {
    return this.account().signal.fingerprint(peerAddress(jid));
  }

  /**
   * The peer's safety number and whether its key changed unconfirmed; null if we never
   * exchanged keys. `refresh` first fetches the peer's bundle when we hold no session with
   * it (after an identity notification), so the number shown is the new key's.
   */
  async peerIdentity(
    jid: string,
    opts: { refresh?: boolean; timeoutMs?: number } = {},
  ): Promise<PeerIdentity | null> {
    const signal = this.account().signal;
    if (opts.refresh) {
      try {
        await this.outbound.ensureSession(jid, opts.timeoutMs ?? this.session.iqTimeoutMs);
      } catch (err) {
        // Offline or no bundle: what we know already is still worth showing.
        this.logger.debug("could not refresh a peer's identity", { error: errorText(err) });
      }
    }
    const known = await signal.identity(peerAddress(jid));
    if (!known) return null;
    return {
      fingerprint: await signal.fingerprint(peerAddress(jid)),
      changed: known.trust === "changed" || known.trust === "unconfirmed",
      ...(known.changedAt === null ? {} : { changedAt: known.changedAt }),
    };
  }

  /**
   * Accepts the peer's current (or pending) identity key: with holdOnIdentityChange, sends
   * to it are allowed again. Rejects "not-found" if no key of the peer is known.
   */
  async confirmIdentity(jid: string): Promise<void> {
    const signal = this.account().signal;
    try {
      await signal.confirmIdentity(peerAddress(jid));
    } catch (err) {
      if (err instanceof SignalError && err.code === "unknown-identity")
        throw new GatekeeperError("not-found", `no identity key known for ${jid}`, { cause: err });
      throw err;
    }
  }

  /** Starts a new Signal identity; contacts are told (notification) once it is uploaded. */
  async resetIdentity(): Promise<void> {
    const account = this.account();
    await account.signal.resetIdentity();
    const conn = this.session.current;
    if (conn && this.isEnlisted) await this.keys.ensureUploaded(conn, account.signal);
  }

  // ---------------------------------------------------------------- connection hooks

  private async onLogin(conn: Connection): Promise<void> {
    const jid = conn.login.jid;
    this.ownJid = jid;
    this.isEnlisted = conn.login.enlisted;
    if (this.accountState?.owner === jid) return;
    await this.accounts.setJid(jid);
    const signal = await SignalAccount.create(
      this.options.db,
      jid,
      this.options.account.deviceId ?? 1,
      {
        onIdentityChange: (change) => {
          const who = change.address.name;
          if (this.changesFromNotification.delete(who)) return;
          this.changesFromSignal.add(who);
          return this.events.emitQuietly("identityChange", { jid: who });
        },
      },
    );
    const state: AccountState = {
      owner: jid,
      signal,
      inbox: new InboxRepository(this.options.db, jid),
      sent: new SentRepository(this.options.db, jid),
    };
    this.accountState = state;
    for (const resolve of this.accountWaiters.splice(0)) resolve(state);
  }

  private async onConnected(conn: Connection): Promise<void> {
    if (this.presence) conn.sendQuietly({ kind: "presence", ...this.presence });
    for (const jid of this.subscriptions)
      conn.sendQuietly({ kind: "presence", type: "subscribe", to: jid });
    this.startPrune();
    if (!this.isEnlisted) return;
    try {
      await this.keys.ensureUploaded(conn, this.account().signal);
    } catch (err) {
      if (conn.closed) return; // the next login tries again
      this.logger.error("could not upload Signal keys", { error: errorText(err) });
      void this.events.emitQuietly("error", err instanceof Error ? err : new Error(String(err)));
    }
  }

  private account(): AccountState {
    if (!this.accountState)
      throw new GatekeeperError("not-connected", "log in once before using the account");
    return this.accountState;
  }

  private accountReady(): Promise<AccountState> {
    if (this.accountState) return Promise.resolve(this.accountState);
    return new Promise((resolve) => this.accountWaiters.push(resolve));
  }

  private startPrune(): void {
    this.pruning ??= this.prune().finally(() => (this.pruning = undefined));
  }

  private async prune(): Promise<void> {
    const account = this.accountState;
    if (!account) return;
    try {
      await account.inbox.prune(Date.now() - INBOX_RETENTION_MS);
      await account.sent.prune(Date.now() - SENT_RETENTION_MS);
    } catch (err) {
      this.logger.warn("pruning old message records failed", { error: errorText(err) });
    }
  }
}
