/**
 * The bridge's core: receives what the Matrix side and the remote network report, and
 * routes it to commands, the relays, logins and portals. Protocol-neutral: it sees only
 * the MatrixSide and RemoteNetwork interfaces.
 */
import type { Knex } from "knex";
import { permissionLevel } from "../config/index.js";
import type { Config } from "../config/index.js";
import { repositories } from "../db/repositories/index.js";
import type { Portal, Repositories } from "../db/repositories/index.js";
import { CommandDispatcher } from "./commands/dispatcher.js";
import { helpText } from "./commands/help.js";
import type { RemoteMessage } from "./content.js";
import { Conversation } from "./conversation.js";
import { GroupBridge } from "./group-bridge.js";
import { errorText, silentLogger } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import { Logins } from "./logins.js";
import type { IncomingMatrixMessage, MatrixEventSink } from "./matrix-events.js";
import type { MatrixSide } from "./matrix-side.js";
import { MediaRelay } from "./media-relay.js";
import type {
  LoginSettings,
  RemoteConnectionState,
  RemoteEventHandler,
  RemoteGroupChange,
  RemoteNetwork,
  RemoteReceipt,
  RemoteTypingState,
  UndecryptableReason,
} from "./network.js";
import { LoginMovedError } from "./ownership.js";
import type { LoginOwnership } from "./ownership.js";
import { portalNotice } from "./portal-notice.js";
import { Portals } from "./portals.js";
import { PuppetPowerUpkeep } from "./puppet-power.js";
import { Puppets } from "./puppets.js";
import { RelayIn } from "./relay-in.js";
import type { RelayInOptions } from "./relay-in.js";
import { RelayOut } from "./relay-out.js";
import type { RelayOutOptions } from "./relay-out.js";
import { undecryptableText } from "./undecryptable.js";

export interface BridgeCoreOptions {
  config: Config;
  db: Knex;
  network: RemoteNetwork;
  matrix: MatrixSide;
  /** A logger per module (default: silent). */
  logger?: (module: string) => CoreLogger;
  relayIn?: Pick<RelayInOptions, "maxAttempts" | "backoff">;
  relayOut?: Pick<RelayOutOptions, "backoff" | "stopGraceMs">;
  /**
   * Several processes on one database: the logins this one holds. The core then connects
   * only what it is given (`takeLogin`) and sends only those logins' messages. Without it,
   * every login is this process's.
   */
  ownership?: LoginOwnership;
}

export class BridgeCore implements MatrixEventSink, RemoteEventHandler {
  readonly repos: Repositories;
  readonly puppets: Puppets;
  readonly portals: Portals;
  readonly groups: GroupBridge;
  readonly logins: Logins;
  readonly relayIn: RelayIn;
  private readonly puppetPower: PuppetPowerUpkeep;
  readonly relayOut: RelayOut;
  readonly commands: CommandDispatcher;
  /** Receipts, typing, presence, identity changes. */
  readonly conversation: Conversation;
  readonly media: MediaRelay;
  private readonly log: CoreLogger;
  private readonly matrix: MatrixSide;
  private readonly network: RemoteNetwork;
  private readonly config: Config;
  private readonly ownership: LoginOwnership | undefined;

  constructor(o: BridgeCoreOptions) {
    const loggerFor = o.logger ?? (() => silentLogger);
    this.log = loggerFor("Core");
    this.matrix = o.matrix;
    this.network = o.network;
    this.config = o.config;
    this.ownership = o.ownership;
    const repos = (this.repos = repositories(o.db));
    this.puppets = new Puppets(repos.puppets, o.matrix, { logger: loggerFor("Puppets") });
    this.puppetPower = new PuppetPowerUpkeep({
      repos,
      matrix: o.matrix,
      puppets: this.puppets,
      logger: loggerFor("PuppetPower"),
    });
    this.portals = new Portals({
      repos,
      matrix: o.matrix,
      network: o.network,
      puppets: this.puppets,
      messageRequests: o.config.bridge.messageRequests,
      logger: loggerFor("Portals"),
    });
    const groups = (this.groups = new GroupBridge({
      config: o.config,
      repos,
      matrix: o.matrix,
      network: o.network,
      puppets: this.puppets,
      logger: loggerFor("Groups"),
      mayUse: (mxid) => this.mayUse(mxid),
      tellUser: (mxid, text) => this.tellUser(mxid, text),
      // Made after this: reached when a message comes.
      outbox: () => this.relayOut,
      activity: (mxid) => this.conversation.presence.activity(mxid),
      ...(o.ownership
        ? { exclusive: <T>(key: string, fn: () => Promise<T>) => o.ownership!.exclusive(key, fn) }
        : {}),
    }));
    this.logins = new Logins({
      repos,
      network: o.network,
      logger: loggerFor("Logins"),
      ...(o.ownership ? { adopt: (loginId: string) => o.ownership!.adopt(loginId) } : {}),
    });
    const media = (this.media = new MediaRelay({
      configured: o.config.bridge.media.maxBytes,
      network: o.network,
      matrix: o.matrix,
    }));
    this.relayIn = new RelayIn({
      repos,
      matrix: o.matrix,
      portals: this.portals,
      logger: loggerFor("RelayIn"),
      media,
      puppets: this.puppets,
      tellUser: (mxid, text) => this.tellUser(mxid, text),
      groups: groups.portals,
      ...o.relayIn,
    });
    const conversation = (this.conversation = new Conversation({
      db: o.db,
      repos,
      matrix: o.matrix,
      network: o.network,
      puppets: this.puppets,
      loggerFor,
      mayUse: (mxid) => this.mayUse(mxid),
      identityChange: o.config.bridge.identityChange,
      commandPrefix: o.config.bridge.commandPrefix,
      wake: (portalId) => this.relayOut.wake(portalId),
    }));
    this.relayOut = new RelayOut({
      db: o.db,
      repos,
      network: o.network,
      matrix: o.matrix,
      puppets: this.puppets,
      logger: loggerFor("RelayOut"),
      maxAttempts: o.config.bridge.maxSendAttempts,
      media,
      held: conversation.identity,
      ...(o.ownership ? { ownership: o.ownership } : {}),
      ...o.relayOut,
    });
    this.commands = new CommandDispatcher(
      {
        repos,
        network: o.network,
        logins: this.logins,
        portals: this.portals,
        puppets: this.puppets,
        relayOut: this.relayOut,
        commandPrefix: o.config.bridge.commandPrefix,
        spaceName: o.config.bridge.spaceName,
        media,
        groups: groups.actions,
        permission: (mxid) => permissionLevel(o.config, mxid),
        ...(o.ownership ? { scale: o.ownership } : {}),
      },
      (mxid) => this.mayUse(mxid),
      loggerFor("Commands"),
      conversation.commands(),
    );
    o.network.setHandler(this);
  }

  /**
   * Starts connecting the enlisted logins (a window at a time: thousands take a while) and
   * resumes the outbox. Work for a login that is not connected yet waits for it.
   */
  async start(): Promise<void> {
    if (this.ownership) {
      // The logins come one by one as their leases are taken (takeLogin).
      this.puppetPower.start();
      this.log.info("core started", { worker: this.ownership.workerId });
      return;
    }
    const { logins, connected } = await this.logins.connectAll();
    const portals = await this.relayOut.resume();
    this.puppetPower.start();
    this.log.info("core started", { logins, pendingPortals: portals });
    const started = Date.now();
    void connected.then(() => {
      if (logins > 0) this.log.info("logins connected", { logins, ms: Date.now() - started });
    });
  }

  /** Several processes: this one now holds these logins (their leases): connect them. */
  takeLogins(loginIds: readonly string[]): Promise<void> {
    return this.logins.take(loginIds);
  }

  private async reconnect(loginId: string): Promise<void> {
    if (!this.ownership?.owns(loginId)) return;
    try {
      await this.logins.give(loginId);
      if (this.ownership.owns(loginId)) await this.logins.take([loginId]);
    } catch (err) {
      this.log.warn("could not connect a login again", { login: loginId, error: errorText(err) });
    }
  }

  /** Several processes: the login's lease is gone (or given up): close its connection. */
  giveLogin(loginId: string): Promise<void> {
    return this.logins.give(loginId);
  }

  /** Several processes: logins were taken; their pending sends start. */
  async resumeSends(): Promise<void> {
    await this.relayOut.resume();
  }

  /** Takes no new work; sends in flight get a moment to finish. */
  async stop(): Promise<void> {
    await this.logins.stopConnecting();
    this.conversation.stop();
    this.relayIn.stop();
    await this.puppetPower.stop();
    await this.relayOut.stop();
  }

  // ------------------------------------------------------------------ MatrixEventSink

  async onRoomMessage(message: IncomingMatrixMessage): Promise<void> {
    const portal = await this.repos.portals.getByRoom(message.roomId);
    const owner = await this.repos.users.getByManagementRoom(message.roomId);
    const base = {
      sender: message.sender,
      roomId: message.roomId,
      portal,
      inManagementRoom: owner?.mxid === message.sender,
    };
    const command = this.commands.parse(message.body, base);
    if (command) {
      // Replies are keyed by the command's event: if the bridge dies after answering but before
      // the intake marks the command done, the re-run's answers collapse onto the first ones.
      let replies = 0;
      await this.asUser(message.sender, () =>
        this.commands.run(command, {
          ...base,
          reply: (text) =>
            this.reply(message.roomId, portal, text, `reply\n${message.eventId}\n${replies++}`),
        }),
      );
      return;
    }
    if (!portal) {
      const group = await this.repos.groupPortals.getByRoom(message.roomId);
      if (group) await this.groups.roomMessage(group, message);
      return; // else talk in a room that is not a chat with a contact
    }
    const login = await this.repos.logins.get(portal.loginId);
    if (!login || login.mxid !== message.sender) {
      this.log.debug("message by someone else in a portal ignored", { portal: portal.id });
      return;
    }
    if (!this.mayUse(message.sender)) {
      await this.relayOut.tellFailure(
        portal,
        message.eventId,
        "you are no longer allowed to use this bridge",
      );
      return;
    }
    if (portal.state === "blocked") {
      await this.relayOut.tellFailure(
        portal,
        message.eventId,
        "you blocked this contact (send `unblock` here to undo it)",
      );
      return;
    }
    if (portal.state === "request") {
      // Answering a message request accepts it, as in the network's own apps.
      await this.portals.accept(portal);
      await this.reply(message.roomId, portal, "You answered, so the message request is accepted.");
    }
    this.conversation.presence.activity(message.sender);
    await this.relayOut.enqueue({ ...portal, state: "active" }, message);
  }

  /**
   * Runs what a user's Matrix event asks of the network (a command, a group change).
   * Several processes: their login stays in this process meanwhile, so that it is not given
   * to another worker halfway through (its connection closed under the work). A login that
   * moved away a moment ago throws LoginMovedError: the event is the new holder's.
   */
  private async asUser<T>(mxid: string, work: () => Promise<T>): Promise<T> {
    if (!this.ownership) return work();
    const login = await this.repos.logins.getByMxid(mxid);
    // No login (a first `login`, say): any process may do it.
    if (!login || login.state === "logged-out") return work();
    const done = this.ownership.use(login.id);
    if (!done) throw new LoginMovedError(login.id);
    try {
      return await work();
    } finally {
      done();
    }
  }

  async onBotInvited(roomId: string, inviter: string, isDirect: boolean): Promise<void> {
    const bot = this.matrix.botMxid;
    await this.matrix.join(roomId, bot);
    if (!this.mayUse(inviter)) {
      await this.matrix.sendNotice(
        roomId,
        "Sorry, you are not allowed to use this bridge. If you think you should be, please ask the administrator of your homeserver.",
      );
      await this.matrix.leave(roomId, bot);
      return;
    }
    const prefix = this.config.bridge.commandPrefix;
    const networkName = this.network.capabilities.networkName;
    if (!isDirect) {
      await this.matrix.sendNotice(roomId, `Hello! Send \`${prefix} help\` to see what I can do.`);
      return;
    }
    await this.repos.users.setManagementRoom(inviter, roomId);
    const greeting =
      `Hello! I bridge your chats with ${networkName}. This is your management room: ` +
      `send commands here without a prefix. Start with \`login <your phone number>\`.`;
    const help = helpText(this.commands.commands, {
      prefix,
      inManagementRoom: true,
      networkName,
      spaceName: this.config.bridge.spaceName,
    });
    await this.matrix.sendNotice(roomId, `${greeting}\n\n${help}`);
  }

  async onMembership(
    roomId: string,
    userMxid: string,
    membership: "join" | "leave" | "ban",
  ): Promise<void> {
    await this.portals.onUserMembership(roomId, userMxid, membership);
    if (membership === "join") return;
    if (await this.groups.userLeft(roomId, userMxid)) return;
    const owner = await this.repos.users.getByManagementRoom(roomId);
    if (owner?.mxid !== userMxid) return;
    await this.repos.users.setManagementRoom(userMxid, null);
    try {
      await this.matrix.leave(roomId, this.matrix.botMxid);
    } catch (err) {
      this.log.debug("could not leave a management room", { error: errorText(err) });
    }
  }

  onReadReceipt(roomId: string, userMxid: string, eventId: string, ts: number): Promise<void> {
    return this.conversation.onReadReceipt(roomId, userMxid, eventId, ts);
  }

  onTyping(roomId: string, userMxid: string, typing: boolean): Promise<void> {
    return this.conversation.onTyping(roomId, userMxid, typing);
  }

  onPresence(userMxid: string, presence: "online" | "unavailable" | "offline"): Promise<void> {
    return this.conversation.onPresence(userMxid, presence);
  }

  onPuppetMembership(
    roomId: string,
    sender: string,
    puppetMxid: string,
    membership: "invite" | "leave" | "ban",
  ): Promise<void> {
    return this.asUser(sender, () =>
      this.groups.puppetMembership(roomId, sender, puppetMxid, membership),
    );
  }

  onRoomName(roomId: string, sender: string, name: string): Promise<void> {
    return this.asUser(sender, () => this.groups.roomRenamed(roomId, sender, name));
  }

  // ------------------------------------------------------------------ RemoteEventHandler

  onMessage(loginId: string, message: RemoteMessage): Promise<void> {
    return this.relayIn.handle(loginId, message);
  }

  async onConnectionState(
    loginId: string,
    state: RemoteConnectionState,
    detail?: string,
  ): Promise<void> {
    this.log.debug("connection state", { login: loginId, state });
    // A connection this process no longer holds the login for ended (replaced by its new
    // holder's, say): the new holder speaks for the login now.
    if (this.ownership && !this.ownership.owns(loginId)) return;
    if (this.ownership && state === "replaced") {
      // The other connection was a process that held the login a moment ago (it lets go at
      // once). This one holds it now: it connects again rather than giving up.
      this.log.warn("a held login's connection was replaced; connecting again", {
        login: loginId,
      });
      const again = setTimeout(() => void this.reconnect(loginId), 1_000);
      again.unref();
      return;
    }
    const tell = await this.logins.onConnectionState(loginId, state, detail);
    if (tell) await this.tellUser(tell.mxid, tell.notice);
  }

  async onIdentityChange(loginId: string, contactId: string): Promise<void> {
    await this.conversation.identity.onIdentityChange(loginId, contactId);
    await this.groups.identityChanged(loginId, contactId);
  }

  onContactReceipt(loginId: string, receipt: RemoteReceipt): Promise<void> {
    return this.conversation.onContactReceipt(loginId, receipt);
  }

  onContactTyping(loginId: string, contactId: string, state: RemoteTypingState): Promise<void> {
    return this.conversation.onContactTyping(loginId, contactId, state);
  }

  onGroupReceipt(loginId: string, groupId: string, receipt: RemoteReceipt): Promise<void> {
    return this.conversation.onGroupReceipt(loginId, groupId, receipt);
  }

  onGroupTyping(
    loginId: string,
    groupId: string,
    memberId: string,
    state: RemoteTypingState,
  ): Promise<void> {
    return this.conversation.onGroupTyping(loginId, groupId, memberId, state);
  }

  onGroupChange(loginId: string, change: RemoteGroupChange): Promise<void> {
    return this.groups.changed(loginId, change);
  }

  loginSettings(loginId: string): Promise<LoginSettings> {
    return this.conversation.loginSettings(loginId);
  }

  /** In the chat with the contact, or (no chat yet) the management room. */
  async onUndecryptable(
    loginId: string,
    contactId: string,
    _messageId: string,
    reason: UndecryptableReason = "undecryptable",
  ): Promise<void> {
    const what = undecryptableText(reason);
    const portal = await this.repos.portals.getByContact(loginId, contactId);
    if (portal?.roomId) {
      const puppet = await this.puppets.mxidOf(contactId);
      await portalNotice(this.matrix, portal.roomId, `A message from this contact ${what}`, puppet);
      return;
    }
    // No chat yet (a stranger's first message): the user still learns that something came.
    const login = await this.repos.logins.get(loginId);
    if (login && portal?.state !== "blocked") {
      await this.tellUser(login.mxid, `A message from a contact you have no chat with yet ${what}`);
    }
  }

  onGroupUndecryptable(
    loginId: string,
    groupId: string,
    senderId: string,
    messageId: string,
    reason: UndecryptableReason,
  ): Promise<void> {
    return this.groups.undecryptable(loginId, groupId, senderId, messageId, reason);
  }

  // ------------------------------------------------------------------ helpers

  private mayUse(mxid: string): boolean {
    return permissionLevel(this.config, mxid) !== "none";
  }

  /** A command's answer, from the bot (in a portal, from the contact's puppet if the bot is missing). */
  private async reply(
    roomId: string,
    portal: Portal | undefined,
    text: string,
    txnKey?: string,
  ): Promise<void> {
    if (!portal) {
      await this.matrix.sendNotice(roomId, text, undefined, txnKey);
      return;
    }
    const puppet = await this.puppets.mxidOf(portal.contactJid);
    await portalNotice(this.matrix, roomId, text, puppet, txnKey);
  }

  private async tellUser(mxid: string, text: string): Promise<void> {
    const roomId = (await this.repos.users.get(mxid))?.managementRoomId;
    if (!roomId) {
      this.log.info("no management room to tell a user in", { user: mxid });
      return;
    }
    await this.matrix.sendNotice(roomId, text);
  }
}
