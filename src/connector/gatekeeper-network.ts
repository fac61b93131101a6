/**
 * RemoteNetwork on GKI/1: one GatekeeperClient per login, all on the bridge's database.
 * Incoming messages are handed to the core inside the client's message handler, so the
 * client acks them to the gatekeeper only after the core has posted them to Matrix.
 */
import type { Knex } from "knex";
import type {
  ContactIdentity,
  GroupMemberOp,
  LoginCredentials,
  RemoteCapabilities,
  RemoteConnectionState,
  RemoteContact,
  RemoteEventHandler,
  RemoteGroupInfo,
  RemoteNetwork,
  RemoteParticipantFailure,
  RemotePicture,
  SendResult,
} from "../core/network.js";
import { RemoteError } from "../core/network.js";
import type { BridgeContent } from "../core/content.js";
import {
  GatekeeperClient,
  isTerminalLoginError,
  silentLogger,
  GatekeeperError,
} from "../gatekeeper/client/index.js";
import type { ClientLogger, GatekeeperClientOptions } from "../gatekeeper/client/index.js";
import { errorText } from "../gatekeeper/client/logger.js";
import { newMessageId } from "../gatekeeper/content/index.js";
import { formatInteropJid } from "../gatekeeper/stanza/index.js";
import { deleteAccountData } from "./client-data.js";
import { toGatekeeperMessage, toRemoteMessage, undecryptableReason } from "./content-mapping.js";
import { isMediaContent } from "../core/media.js";
import { GATEKEEPER_MEDIA_CAPABILITIES } from "./media-capabilities.js";
import type { HostedMedia } from "./media-host.js";
import type { IncomingMediaOptions } from "./media-incoming.js";
import { outgoingMediaMessage } from "./media-outgoing.js";
import { withEditWindow } from "./relation-mapping.js";
import { connectionProblem, toRemoteError } from "./error-mapping.js";
import { toRemoteReceipt, typingState } from "./ephemeral-mapping.js";
import { participantFailures, toRemoteGroupChange, toRemoteGroupInfo } from "./group-mapping.js";
import type { Operation } from "./error-mapping.js";

export const GATEKEEPER_CAPABILITIES: RemoteCapabilities = {
  networkName: "Gatekeeper",
  maxTextLength: 65_536,
  // Media into a group: its blob is hosted until it expires, for every member to fetch.
  groups: { media: true },
  features: {
    formatting: true,
    replies: true,
    edits: { windowSeconds: 15 * 60 },
    deletions: true,
    reactions: true,
    readReceipts: true,
    typing: true,
  },
};

export interface GatekeeperNetworkOptions {
  url: string;
  serverStaticKey: Uint8Array;
  partnerId: string;
  db: Knex;
  userAgent?: string;
  logger?: ClientLogger;
  /** Sends not acked within this time fail as transient (the outbox retries); default 30 s. */
  sendTimeoutMs?: number;
  /** Retry of a connection that could not be made at all: 1 s doubling to 60 s unless set. */
  startRetry?: { initialMs?: number; maxMs?: number };
  /** Passed to every client (tests use short timeouts and fast reconnects). */
  client?: Pick<
    GatekeeperClientOptions,
    "reconnect" | "keepaliveIntervalMs" | "keepaliveTimeoutMs" | "iqTimeoutMs"
  >;
  /** Media both ways: the partner media host for sending, a temp folder for receiving. */
  media?: { hosted: HostedMedia; tempDir: string };
  /** How long after sending a message may be edited (default 15 minutes); 0: no edits. */
  editWindowSeconds?: number;
  /**
   * Hold messages to a contact whose identity key changed until confirmIdentity (sends
   * reject IDENTITY_UNCONFIRMED); default false: keep sending.
   */
  holdOnIdentityChange?: boolean;
}

interface Entry {
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

export class GatekeeperNetwork implements RemoteNetwork {
  readonly capabilities: RemoteCapabilities;
  private handler: RemoteEventHandler | undefined;
  private readonly entries = new Map<string, Entry>();
  private readonly logger: ClientLogger;
  private stopped = false;

  constructor(private readonly o: GatekeeperNetworkOptions) {
    this.logger = o.logger ?? silentLogger;
    this.capabilities = o.media
      ? { ...GATEKEEPER_CAPABILITIES, media: GATEKEEPER_MEDIA_CAPABILITIES }
      : GATEKEEPER_CAPABILITIES;
    if (o.editWindowSeconds !== undefined)
      this.capabilities = withEditWindow(this.capabilities, o.editWindowSeconds);
  }

  setHandler(handler: RemoteEventHandler): void {
    this.handler = handler;
  }

  async beginLogin(
    login: LoginCredentials,
  ): Promise<{ codeLength: number; expiresInSeconds: number }> {
    const entry = this.entryFor(login);
    try {
      await this.ensureStarted(entry);
      const { length, expiresIn } = await entry.client.requestCode();
      return { codeLength: length, expiresInSeconds: expiresIn };
    } catch (err) {
      throw toRemoteError(err, "login");
    }
  }

  async completeLogin(loginId: string, code: string): Promise<{ remoteId: string }> {
    const entry = this.entry(loginId, "verify");
    try {
      const { jid } = await entry.client.verifyCode(code);
      return { remoteId: jid };
    } catch (err) {
      throw toRemoteError(err, "verify");
    }
  }

  async connect(login: LoginCredentials): Promise<void> {
    const entry = this.entryFor(login);
    try {
      await this.ensureStarted(entry);
    } catch (err) {
      if (err instanceof GatekeeperError && isTerminalLoginError(err))
        throw toRemoteError(err, "login");
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

  expect(logins: readonly LoginCredentials[]): void {
    for (const login of logins) {
      const entry = this.entryFor(login);
      if (entry.expected || entry.client.state !== "stopped") continue;
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      entry.expected = { done, resolve };
    }
  }

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

  connectionState(loginId: string): RemoteConnectionState | "not-connected" {
    const entry = this.entries.get(loginId);
    if (entry?.expected) return "connecting"; // waiting for its turn at start-up
    return entry?.client.state ?? "not-connected";
  }

  async lookup(loginId: string, phone: string): Promise<RemoteContact | null> {
    const client = (await this.ready(loginId, "lookup")).client;
    try {
      const [found] = await client.lookup([phone]);
      if (!found?.jid) return null;
      return found.name === undefined ? { id: found.jid } : { id: found.jid, name: found.name };
    } catch (err) {
      throw toRemoteError(err, "lookup");
    }
  }

  async block(loginId: string, contactId: string): Promise<void> {
    await this.call(loginId, "block", (c) => c.block(contactId));
  }

  async unblock(loginId: string, contactId: string): Promise<void> {
    await this.call(loginId, "block", (c) => c.unblock(contactId));
  }

  async sendMessage(
    loginId: string,
    contactId: string,
    messageId: string,
    content: BridgeContent,
  ): Promise<SendResult> {
    await this.ready(loginId, "send"); // its own JID (for quotes of its messages) comes with it
    const message =
      isMediaContent(content) && this.o.media
        ? await outgoingMediaMessage(this.o.media.hosted, loginId, messageId, content)
        : toGatekeeperMessage(content, {
            contactId,
            ownJid: this.entries.get(loginId)?.client.jid,
          });
    const { t } = await this.call(loginId, "send", (c) =>
      c.sendMessage(contactId, message, {
        id: messageId,
        timeoutMs: this.o.sendTimeoutMs ?? 30_000,
      }),
    );
    return { timestamp: t * 1000 };
  }

  newMessageId(): string {
    return newMessageId();
  }

  async sendGroupMessage(
    loginId: string,
    groupId: string,
    messageId: string,
    content: BridgeContent,
  ): Promise<SendResult> {
    await this.ready(loginId, "send");
    const message =
      isMediaContent(content) && this.o.media
        ? await outgoingMediaMessage(this.o.media.hosted, loginId, messageId, content, {
            group: true,
          })
        : toGatekeeperMessage(content, {
            contactId: groupId,
            ownJid: this.entries.get(loginId)?.client.jid,
            group: true,
          });
    const { t } = await this.call(loginId, "send", (c) =>
      c.groups.send(groupId, message, {
        id: messageId,
        timeoutMs: this.o.sendTimeoutMs ?? 30_000,
      }),
    );
    return { timestamp: t * 1000 };
  }

  async groupInfo(loginId: string, groupId: string): Promise<RemoteGroupInfo> {
    return toRemoteGroupInfo(await this.call(loginId, "lookup", (c) => c.groups.info(groupId)));
  }

  async groupPicture(loginId: string, groupId: string): Promise<RemotePicture | null> {
    return this.call(loginId, "group", (c) => c.groups.picture(groupId));
  }

  async listGroups(loginId: string): Promise<RemoteGroupInfo[]> {
    const groups = await this.call(loginId, "group", (c) => c.groups.list());
    return groups.map(toRemoteGroupInfo);
  }

  async createGroup(
    loginId: string,
    subject: string,
    participantIds: string[],
  ): Promise<{ group: RemoteGroupInfo; failed: RemoteParticipantFailure[] }> {
    const { group, results } = await this.call(loginId, "group", (c) =>
      c.groups.create(subject, participantIds),
    );
    return { group: toRemoteGroupInfo(group), failed: participantFailures(results, "create") };
  }

  async changeGroupMembers(
    loginId: string,
    groupId: string,
    op: GroupMemberOp,
    participantIds: string[],
  ): Promise<RemoteParticipantFailure[]> {
    const results = await this.call(loginId, "group", (c) => c.groups[op](groupId, participantIds));
    return participantFailures(results, op);
  }

  async setGroupSubject(loginId: string, groupId: string, subject: string): Promise<void> {
    await this.call(loginId, "group", (c) => c.groups.setSubject(groupId, subject));
  }

  async leaveGroup(loginId: string, groupId: string): Promise<void> {
    await this.call(loginId, "group", (c) => c.groups.leave(groupId));
  }

  async sendReadReceipt(loginId: string, contactId: string, messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return;
    await this.call(loginId, "send", (c) =>
      c.sendReceipt(contactId, messageIds, "read", { timeoutMs: this.o.sendTimeoutMs ?? 30_000 }),
    );
  }

  setReadReceipts(loginId: string, enabled: boolean): void {
    // A login not connected yet reads the setting when it connects (loginSettings).
    this.entries.get(loginId)?.client.setSendReadReceipts(enabled);
  }

  async sendTyping(
    loginId: string,
    contactId: string,
    state: "composing" | "paused",
  ): Promise<void> {
    await this.call(loginId, "send", (c) => c.sendChatState(contactId, state));
  }

  async sendGroupReadReceipt(
    loginId: string,
    groupId: string,
    senderId: string,
    messageIds: string[],
  ): Promise<void> {
    if (messageIds.length === 0) return;
    await this.call(loginId, "send", (c) =>
      c.groups.sendReceipt(groupId, senderId, messageIds, "read", {
        timeoutMs: this.o.sendTimeoutMs ?? 30_000,
      }),
    );
  }

  async sendGroupTyping(
    loginId: string,
    groupId: string,
    state: "composing" | "paused",
  ): Promise<void> {
    await this.call(loginId, "send", (c) => c.sendChatState(groupId, state));
  }

  async setPresence(loginId: string, presence: "available" | "unavailable"): Promise<void> {
    // The client repeats it after every reconnect.
    await this.call(loginId, "send", (c) => c.setPresence(presence));
  }

  async contactIdentity(loginId: string, contactId: string): Promise<ContactIdentity | null> {
    const found = await this.call(loginId, "lookup", (c) =>
      c.peerIdentity(contactId, { refresh: true }),
    );
    if (!found) return null;
    return {
      safetyNumber: found.fingerprint,
      changed: found.changed,
      ...(found.changedAt === undefined ? {} : { changedAt: found.changedAt }),
    };
  }

  async confirmIdentity(loginId: string, contactId: string): Promise<void> {
    await this.call(loginId, "lookup", (c) => c.confirmIdentity(contactId));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.entries.values()].map((entry) => this.dispose(entry)));
  }

  // ------------------------------------------------------------------ internals

  private entry(loginId: string, op: Operation): Entry {
    const entry = this.entries.get(loginId);
    if (entry) return entry;
    const text =
      op === "verify"
        ? "no login is in progress; send `login <phone>` again"
        : "you are not connected to Gatekeeper; log in first";
    throw new RemoteError("not-connected", text, true);
  }

  /** The login's entry, once its start-up connection was tried (if it waits for one). */
  private async ready(loginId: string, op: Operation): Promise<Entry> {
    const entry = this.entry(loginId, op);
    const expected = entry.expected;
    if (expected) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        expected.done,
        new Promise<void>((r) => (timer = setTimeout(r, EXPECTED_WAIT_MS))),
      ]);
      clearTimeout(timer);
    }
    return entry;
  }

  private async call<T>(
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
  private entryFor(login: LoginCredentials): Entry {
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
    const entry: Entry = { loginId: login.loginId, credentials: login, client, unsubscribe: [] };
    this.subscribe(entry);
    this.entries.set(login.loginId, entry);
    return entry;
  }

  private async applyLoginSettings(entry: Entry): Promise<void> {
    try {
      const settings = await this.handler?.loginSettings?.(entry.loginId);
      if (settings) entry.client.setSendReadReceipts(settings.sendReadReceipts);
    } catch (err) {
      // Connecting matters more: the last known setting stays.
      this.logger.warn("could not read a login's settings", {
        login: entry.loginId,
        error: errorText(err),
      });
    }
  }

  private subscribe(entry: Entry): void {
    const { client, loginId } = entry;
    const handler = (): RemoteEventHandler => {
      if (!this.handler) throw new Error("GatekeeperNetwork: setHandler was not called");
      return this.handler;
    };
    const quietly = (what: string, task: () => Promise<void>): Promise<void> =>
      task().catch((err: unknown) =>
        this.logger.warn(`${what} handler failed`, { login: loginId, error: errorText(err) }),
      );
    // Receipts and chat states are acked (or need none) at once: handled after, in order.
    let ephemeral = Promise.resolve();
    const later = (what: string, task: () => Promise<void>): void => {
      ephemeral = ephemeral.then(() => quietly(what, task));
    };
    entry.unsubscribe.push(
      // A group's (`from` is the member) goes to the group's handler, never to the chat with
      // that member.
      client.on("receipt", (event) =>
        later("receipt", async () => {
          const receipt = toRemoteReceipt(event);
          if (event.group === undefined) await handler().onContactReceipt?.(loginId, receipt);
          else await handler().onGroupReceipt?.(loginId, event.group, receipt);
        }),
      ),
      client.on("chatstate", (event) =>
        later("chat state", async () => {
          const state = typingState(event);
          if (event.group === undefined)
            await handler().onContactTyping?.(loginId, event.from, state);
          else await handler().onGroupTyping?.(loginId, event.group, event.from, state);
        }),
      ),
      // Not caught: a failure leaves the message unacked, to be delivered again.
      client.on("message", (event) =>
        handler().onMessage(
          loginId,
          toRemoteMessage(event, this.incomingMedia(client), client.jid),
        ),
      ),
      // Not caught either: a change the core could not take is announced again.
      client.on("groupChange", (event) =>
        handler().onGroupChange?.(loginId, toRemoteGroupChange(event)),
      ),
      client.on("connectionState", (event) =>
        quietly("connection state", () =>
          handler().onConnectionState(loginId, event.state, connectionProblem(event.error)),
        ),
      ),
      client.on("identityChange", ({ jid }) =>
        quietly("identity change", () => handler().onIdentityChange(loginId, jid)),
      ),
      client.on("undecryptable", ({ from, group, id, code, retryRequested }) =>
        quietly("undecryptable", async () => {
          const reason = undecryptableReason(code, retryRequested);
          // A group's is told in the group's room, not in the chat with that member.
          if (group !== undefined) {
            await handler().onGroupUndecryptable?.(loginId, group, from, id, reason);
            return;
          }
          await handler().onUndecryptable(loginId, from, id, reason);
        }),
      ),
      client.on("sendFailed", ({ id }) =>
        this.logger.warn("a contact could not decrypt a message", { login: loginId, id }),
      ),
      client.on("error", (err) =>
        this.logger.warn("gatekeeper client error", { login: loginId, error: errorText(err) }),
      ),
    );
  }

  private incomingMedia(client: GatekeeperClient): IncomingMediaOptions | undefined {
    return this.o.media && { client, tempDir: this.o.media.tempDir };
  }

  /** Starts the client unless it is running or trying to. */
  private async ensureStarted(entry: Entry): Promise<void> {
    const state = entry.client.state;
    if (state === "connected" || state === "connecting" || state === "reconnecting") return;
    if (entry.retry) return; // a background attempt is under way
    await entry.client.start();
  }

  /** start() failed for a reason that may pass: try again with backoff until it works or cannot. */
  private retryStart(entry: Entry): void {
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
        if (cancelled || this.stopped) return;
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
  private async removeEnlistment(entry: Entry): Promise<void> {
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

  private async dispose(entry: Entry): Promise<void> {
    entry.expected?.resolve();
    delete entry.expected;
    entry.retry?.cancel();
    await entry.retry?.done;
    for (const off of entry.unsubscribe.splice(0)) off();
    this.entries.delete(entry.loginId);
    await entry.client.stop();
  }
}
