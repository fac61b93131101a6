/**
 * RemoteNetwork on GKI/1: one GatekeeperClient per login, all on the bridge's database.
 * Incoming messages are handed to the core inside the client's message handler, so the
 * client acks them to the gatekeeper only after the core has posted them to Matrix.
 * The parts live beside it: each login's client and its life (./login-clients.ts), the
 * client's events (./client-events.ts), groups (./group-network.ts).
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
import type { BridgeContent } from "../core/content.js";
import { silentLogger } from "../gatekeeper/client/index.js";
import type { ClientLogger, GatekeeperClientOptions } from "../gatekeeper/client/index.js";
import { newMessageId } from "../gatekeeper/content/index.js";
import { GATEKEEPER_MEDIA_CAPABILITIES } from "./media-capabilities.js";
import type { HostedMedia } from "./media-host.js";
import { withEditWindow } from "./relation-mapping.js";
import { toRemoteError } from "./error-mapping.js";
import { GroupNetwork } from "./group-network.js";
import { LoginClients } from "./login-clients.js";
import { DEFAULT_SEND_TIMEOUT_MS, sendOutgoing } from "./outgoing-message.js";

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

export class GatekeeperNetwork implements RemoteNetwork {
  readonly capabilities: RemoteCapabilities;
  private handler: RemoteEventHandler | undefined;
  private readonly clients: LoginClients;
  private readonly groups: GroupNetwork;

  constructor(private readonly o: GatekeeperNetworkOptions) {
    this.clients = new LoginClients(o, o.logger ?? silentLogger, () => this.handler);
    this.groups = new GroupNetwork(this.clients, o);
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
    const entry = this.clients.entryFor(login);
    try {
      await this.clients.ensureStarted(entry);
      const { length, expiresIn } = await entry.client.requestCode();
      return { codeLength: length, expiresInSeconds: expiresIn };
    } catch (err) {
      throw toRemoteError(err, "login");
    }
  }

  async completeLogin(loginId: string, code: string): Promise<{ remoteId: string }> {
    const entry = this.clients.entry(loginId, "verify");
    try {
      // Its connection failed a moment ago and is being tried again: give it an iq's time.
      await this.clients.retried(entry, entry.client.iqTimeoutMs);
      const { jid } = await entry.client.verifyCode(code);
      return { remoteId: jid };
    } catch (err) {
      throw toRemoteError(err, "verify");
    }
  }

  async connect(login: LoginCredentials): Promise<void> {
    await this.clients.connect(login);
  }

  expect(logins: readonly LoginCredentials[]): void {
    this.clients.expect(logins);
  }

  async logout(loginId: string, credentials?: LoginCredentials): Promise<void> {
    await this.clients.logout(loginId, credentials);
  }

  async disconnect(loginId: string): Promise<void> {
    await this.clients.disconnect(loginId);
  }

  connectionState(loginId: string): RemoteConnectionState | "not-connected" {
    return this.clients.connectionState(loginId);
  }

  async lookup(loginId: string, phone: string): Promise<RemoteContact | null> {
    const client = (await this.clients.ready(loginId, "lookup")).client;
    try {
      const [found] = await client.lookup([phone]);
      if (!found?.jid) return null;
      return found.name === undefined ? { id: found.jid } : { id: found.jid, name: found.name };
    } catch (err) {
      throw toRemoteError(err, "lookup");
    }
  }

  async block(loginId: string, contactId: string): Promise<void> {
    await this.clients.call(loginId, "block", (c) => c.block(contactId));
  }

  async unblock(loginId: string, contactId: string): Promise<void> {
    await this.clients.call(loginId, "block", (c) => c.unblock(contactId));
  }

  async sendMessage(
    loginId: string,
    contactId: string,
    messageId: string,
    content: BridgeContent,
  ): Promise<SendResult> {
    return sendOutgoing(
      this.clients,
      this.o,
      { loginId, to: contactId, messageId },
      content,
      (c, message, options) => c.sendMessage(contactId, message, options),
    );
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
    return this.groups.sendGroupMessage(loginId, groupId, messageId, content);
  }

  async groupInfo(loginId: string, groupId: string): Promise<RemoteGroupInfo> {
    return this.groups.groupInfo(loginId, groupId);
  }

  async groupPicture(loginId: string, groupId: string): Promise<RemotePicture | null> {
    return this.groups.groupPicture(loginId, groupId);
  }

  async listGroups(loginId: string): Promise<RemoteGroupInfo[]> {
    return this.groups.listGroups(loginId);
  }

  async createGroup(
    loginId: string,
    subject: string,
    participantIds: string[],
  ): Promise<{ group: RemoteGroupInfo; failed: RemoteParticipantFailure[] }> {
    return this.groups.createGroup(loginId, subject, participantIds);
  }

  async changeGroupMembers(
    loginId: string,
    groupId: string,
    op: GroupMemberOp,
    participantIds: string[],
  ): Promise<RemoteParticipantFailure[]> {
    return this.groups.changeGroupMembers(loginId, groupId, op, participantIds);
  }

  async setGroupSubject(loginId: string, groupId: string, subject: string): Promise<void> {
    await this.groups.setGroupSubject(loginId, groupId, subject);
  }

  async leaveGroup(loginId: string, groupId: string): Promise<void> {
    await this.groups.leaveGroup(loginId, groupId);
  }

  async sendReadReceipt(loginId: string, contactId: string, messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return;
    await this.clients.call(loginId, "send", (c) =>
      c.sendReceipt(contactId, messageIds, "read", {
        timeoutMs: this.o.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
      }),
    );
  }

  setReadReceipts(loginId: string, enabled: boolean): void {
    // A login not connected yet reads the setting when it connects (loginSettings).
    this.clients.get(loginId)?.client.setSendReadReceipts(enabled);
  }

  async sendTyping(
    loginId: string,
    contactId: string,
    state: "composing" | "paused",
  ): Promise<void> {
    await this.clients.call(loginId, "send", (c) => c.sendChatState(contactId, state));
  }

  async sendGroupReadReceipt(
    loginId: string,
    groupId: string,
    senderId: string,
    messageIds: string[],
  ): Promise<void> {
    await this.groups.sendGroupReadReceipt(loginId, groupId, senderId, messageIds);
  }

  async sendGroupTyping(
    loginId: string,
    groupId: string,
    state: "composing" | "paused",
  ): Promise<void> {
    await this.groups.sendGroupTyping(loginId, groupId, state);
  }

  async setPresence(loginId: string, presence: "available" | "unavailable"): Promise<void> {
    // The client repeats it after every reconnect.
    await this.clients.call(loginId, "send", (c) => c.setPresence(presence));
  }

  async contactIdentity(loginId: string, contactId: string): Promise<ContactIdentity | null> {
    const found = await this.clients.call(loginId, "lookup", (c) =>
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
    await this.clients.call(loginId, "lookup", (c) => c.confirmIdentity(contactId));
  }

  async stop(): Promise<void> {
    await this.clients.stop();
  }
}
