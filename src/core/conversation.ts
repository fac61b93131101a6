/**
 * What goes on around the messages of a chat: read receipts and typing (one-to-one and in
 * groups), the user's presence, and the contact's identity (safety numbers, held messages).
 * One object, so the core wires them with a few lines; each part lives in its own file.
 */
import type { Knex } from "knex";
import type { Repositories } from "../db/repositories/index.js";
import { receiptsCommand, securityCommands } from "./commands/security-commands.js";
import type { Command } from "./commands/types.js";
import { GroupReceipts } from "./group-receipts.js";
import { GroupTyping } from "./group-typing.js";
import { IdentityGuard } from "./identity-guard.js";
import type { IdentityChangePolicy } from "./identity-guard.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { LoginSettings, RemoteNetwork, RemoteReceipt, RemoteTypingState } from "./network.js";
import { PresenceRelay } from "./presence.js";
import type { Puppets } from "./puppets.js";
import { ReadReceipts } from "./read-receipts.js";
import { TypingRelay } from "./typing.js";

export interface ConversationOptions {
  db: Knex;
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  loggerFor(module: string): CoreLogger;
  mayUse(mxid: string): boolean;
  identityChange: IdentityChangePolicy;
  commandPrefix: string;
  /** Restarts a portal's outbound relay (held messages released). */
  wake(portalId: number): void;
}

export class Conversation {
  readonly receipts: ReadReceipts;
  readonly typing: TypingRelay;
  readonly groupReceipts: GroupReceipts;
  readonly groupTyping: GroupTyping;
  readonly presence: PresenceRelay;
  readonly identity: IdentityGuard;
  private readonly log: CoreLogger;

  constructor(o: ConversationOptions) {
    const { db, repos, matrix, network, puppets, mayUse } = o;
    this.log = o.loggerFor("Conversation");
    const env = { repos, matrix, network, puppets, mayUse, logger: this.log };
    this.receipts = new ReadReceipts({ db, ...env });
    this.typing = new TypingRelay(env);
    this.groupReceipts = new GroupReceipts({
      db,
      ...env,
      sendsReadReceipts: (mxid) => this.receipts.enabled(mxid),
    });
    this.groupTyping = new GroupTyping(env);
    this.presence = new PresenceRelay({ repos, network, mayUse, logger: this.log });
    this.identity = new IdentityGuard({
      repos,
      matrix,
      network,
      puppets,
      logger: o.loggerFor("Identity"),
      policy: o.identityChange,
      commandPrefix: o.commandPrefix,
      wake: o.wake,
    });
  }

  commands(): Command[] {
    return [...securityCommands(this.identity), receiptsCommand(this.receipts)];
  }

  /** For the network, at every (re)connect of a login. */
  async loginSettings(loginId: string): Promise<LoginSettings> {
    return { sendReadReceipts: await this.receipts.enabledForLogin(loginId) };
  }

  stop(): void {
    this.presence.stop();
  }

  // Ephemeral handlers: best effort, so failures are logged here and never passed on. A
  // Matrix room is a one-to-one portal or a group's (or neither): each part checks its own.

  onReadReceipt(roomId: string, userMxid: string, eventId: string, ts: number): Promise<void> {
    this.presence.activity(userMxid);
    return this.quietly("read receipt", async () => {
      await this.receipts.onMatrixReceipt(roomId, userMxid, eventId, ts);
      await this.groupReceipts.onMatrixReceipt(roomId, userMxid, eventId, ts);
    });
  }

  onTyping(roomId: string, userMxid: string, typing: boolean): Promise<void> {
    if (typing) this.presence.activity(userMxid);
    return this.quietly("typing", async () => {
      await this.typing.onMatrixTyping(roomId, userMxid, typing);
      await this.groupTyping.onMatrixTyping(roomId, userMxid, typing);
    });
  }

  onPresence(userMxid: string, presence: "online" | "unavailable" | "offline"): Promise<void> {
    return this.quietly("presence", () => this.presence.onMatrixPresence(userMxid, presence));
  }

  onContactReceipt(loginId: string, receipt: RemoteReceipt): Promise<void> {
    return this.quietly("contact receipt", () => this.receipts.onRemoteReceipt(loginId, receipt));
  }

  onContactTyping(loginId: string, contactId: string, state: RemoteTypingState): Promise<void> {
    return this.quietly("contact typing", () =>
      this.typing.onRemoteTyping(loginId, contactId, state),
    );
  }

  onGroupReceipt(loginId: string, groupId: string, receipt: RemoteReceipt): Promise<void> {
    return this.quietly("group receipt", () =>
      this.groupReceipts.onRemoteReceipt(loginId, groupId, receipt),
    );
  }

  onGroupTyping(
    loginId: string,
    groupId: string,
    memberId: string,
    state: RemoteTypingState,
  ): Promise<void> {
    return this.quietly("group typing", () =>
      this.groupTyping.onRemoteTyping(loginId, groupId, memberId, state),
    );
  }

  private async quietly(what: string, task: () => Promise<void>): Promise<void> {
    try {
      await task();
    } catch (err) {
      this.log.debug(`${what} not relayed`, { error: errorText(err) });
    }
  }
}
