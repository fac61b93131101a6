/**
 * Typing notifications both ways; ephemeral, so best effort and never retried.
 * Matrix → remote: the user typing in a portal is "composing" for the contact, stopping is
 * "paused" (not while the chat is a message request). Remote → Matrix: the contact's puppet
 * types ("recording" a voice message too: Matrix has no separate indicator) until "paused"
 * or the timeout, which ends typing the remote side forgot to stop.
 */
import type { Repositories } from "../db/repositories/index.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteNetwork, RemoteTypingState } from "./network.js";
import type { Puppets } from "./puppets.js";

/** How long a contact shows as typing without hearing from them again. */
export const REMOTE_TYPING_TIMEOUT_MS = 20_000;

export interface TypingRelayOptions {
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  logger: CoreLogger;
  mayUse(mxid: string): boolean;
}

export class TypingRelay {
  constructor(private readonly o: TypingRelayOptions) {}

  /** Matrix → remote. */
  async onMatrixTyping(roomId: string, userMxid: string, typing: boolean): Promise<void> {
    const send = this.o.network.sendTyping?.bind(this.o.network);
    if (!send || !this.o.network.capabilities.features.typing) return;
    const portal = await this.o.repos.portals.getByRoom(roomId);
    if (!portal || portal.state !== "active") return;
    const login = await this.o.repos.logins.get(portal.loginId);
    if (!login || login.mxid !== userMxid || !this.o.mayUse(userMxid)) return;
    await send(login.id, portal.contactJid, typing ? "composing" : "paused");
  }

  /** Remote → Matrix. */
  async onRemoteTyping(
    loginId: string,
    contactId: string,
    state: RemoteTypingState,
  ): Promise<void> {
    const setTyping = this.o.matrix.setTyping?.bind(this.o.matrix);
    if (!setTyping) return;
    const portal = await this.o.repos.portals.getByContact(loginId, contactId);
    if (!portal?.roomId || portal.state === "blocked") return;
    const puppet = await this.o.puppets.mxidOf(contactId);
    if (!puppet) return;
    await setTyping(portal.roomId, puppet, state !== "paused", REMOTE_TYPING_TIMEOUT_MS);
  }
}
