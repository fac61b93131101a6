/**
 * A contact's identity key change, as the user sees it: a notice in the portal, the
 * safety number to compare out of band, and, under the "hold" policy, outgoing messages
 * held (not sent, not failed) until the user confirms the new key. The network refuses
 * to encrypt to an unconfirmed key (RemoteError IDENTITY_UNCONFIRMED), so holding does not
 * depend on the notice having arrived; the outbox keeps the held messages in order, and
 * the relay sends them once `confirm-identity` wakes it.
 */
import type { Login, Portal, Repositories } from "../db/repositories/index.js";
import { UserFacingError, asUserFacing } from "./errors.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { ContactIdentity, RemoteNetwork } from "./network.js";
import { portalNotice } from "./portal-notice.js";
import type { Puppets } from "./puppets.js";

export type IdentityChangePolicy = "keep-sending" | "hold";

/** What the outbound relay asks about portals whose sends wait for the user. */
export interface HeldPortals {
  isHeld(portalId: number): boolean;
  /** The send of `eventId` was refused for an unconfirmed identity: hold the portal. */
  hold(portal: Portal, eventId: string): Promise<void>;
}

export interface IdentityGuardOptions {
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  logger: CoreLogger;
  policy: IdentityChangePolicy;
  commandPrefix: string;
  /** Restarts the outbound relay of a portal (its held messages go). */
  wake(portalId: number): void;
}

/** How a command is written where the user is: `cmd` in the management room, `!gk cmd` elsewhere. */
export type CommandHint = (command: string) => string;

/** 60 digits as 12 groups of 5, four groups a line (as Signal-style apps show them). */
export function formatSafetyNumber(digits: string): string {
  const groups = digits.match(/\d{1,5}/g) ?? [];
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += 4) lines.push(groups.slice(i, i + 4).join(" "));
  return lines.join("\n");
}

export class IdentityGuard implements HeldPortals {
  private readonly held = new Set<number>();

  constructor(private readonly o: IdentityGuardOptions) {}

  private get networkName(): string {
    return this.o.network.capabilities.networkName;
  }

  isHeld(portalId: number): boolean {
    return this.held.has(portalId);
  }

  async hold(portal: Portal, eventId: string): Promise<void> {
    const first = !this.held.has(portal.id);
    this.held.add(portal.id);
    const roomId = portal.roomId;
    if (roomId === null) return;
    const name = await this.nameOf(portal.contactJid);
    const confirm = this.inPortal("confirm-identity");
    try {
      await this.o.matrix.sendStatus(roomId, eventId, {
        status: "retrying",
        reason: `held until you confirm ${name}'s new security code (${confirm})`,
      });
    } catch (err) {
      this.o.logger.debug("could not send a held status", { error: errorText(err) });
    }
    if (!first) return;
    this.o.logger.info("messages held for an identity change", { portal: portal.id });
    await this.tell(
      roomId,
      portal.contactJid,
      `Your messages to ${name} are held, not sent: their security code changed and you have ` +
        `not confirmed the new one. Compare the safety number with them (send ` +
        `${this.inPortal("safety-number")}), then send ${confirm} to send the held messages.`,
    );
  }

  /** The network saw the contact's identity key change. */
  async onIdentityChange(loginId: string, contactId: string): Promise<void> {
    const portal = await this.o.repos.portals.getByContact(loginId, contactId);
    if (!portal?.roomId) return;
    const name = await this.nameOf(contactId);
    const what =
      this.o.policy === "hold"
        ? `Until you confirm it with ${this.inPortal("confirm-identity")}, messages you send ` +
          `here are held, not sent.`
        : `That happens when they reinstall ${this.networkName} or change phones; your ` +
          `messages keep going to them.`;
    await this.tell(
      portal.roomId,
      contactId,
      `${capitalise(name)}'s security code changed. Compare the new safety number with them ` +
        `out of band: send ${this.inPortal("safety-number")}. ${what}`,
    );
  }

  /** The answer to `safety-number`. */
  async describe(login: Login, contactId: string, hint: CommandHint): Promise<string> {
    const read = this.o.network.contactIdentity?.bind(this.o.network);
    if (!read) throw notSupported(this.networkName);
    const name = await this.nameOf(contactId);
    let identity: ContactIdentity | null;
    try {
      identity = await read(login.id, contactId);
    } catch (err) {
      throw asUserFacing(err, "Could not read the safety number");
    }
    if (!identity) {
      return `You and ${name} have not exchanged messages yet, so there is no safety number to compare.`;
    }
    const lines = [
      `Safety number with ${name}:`,
      formatSafetyNumber(identity.safetyNumber),
      `Compare it with the number their ${this.networkName} app shows for you, in person or ` +
        `over a call you trust. If both show the same digits, nobody is in between.`,
    ];
    if (identity.changed) {
      const when = identity.changedAt ? ` on ${new Date(identity.changedAt).toUTCString()}` : "";
      lines.push(
        `Their security code changed${when} and you have not confirmed it; once you have ` +
          `compared, send ${hint("confirm-identity")}.`,
      );
    }
    return lines.join("\n");
  }

  /** `confirm-identity`: accepts the contact's current key; held messages go. */
  async confirm(login: Login, contactId: string): Promise<string> {
    const confirm = this.o.network.confirmIdentity?.bind(this.o.network);
    if (!confirm) throw notSupported(this.networkName);
    const name = await this.nameOf(contactId);
    try {
      await confirm(login.id, contactId);
    } catch (err) {
      const facing = asUserFacing(err, "Could not confirm it");
      if (facing instanceof UserFacingError && facing.code === "not-found") {
        throw new UserFacingError(
          "no-identity",
          `You and ${name} have not exchanged messages yet: there is nothing to confirm.`,
        );
      }
      throw facing;
    }
    const portal = await this.o.repos.portals.getByContact(login.id, contactId);
    const wasHeld = portal !== undefined && this.held.delete(portal.id);
    // Also after a restart (nothing marked held yet): pending messages are tried again.
    if (portal) this.o.wake(portal.id);
    this.o.logger.info("identity confirmed", { login: login.id, held: wasHeld });
    return (
      `Confirmed ${name}'s security code.` +
      (wasHeld ? " Your held messages are being sent now, in order." : "")
    );
  }

  private inPortal(command: string): string {
    return `\`${this.o.commandPrefix} ${command}\``;
  }

  private async nameOf(contactId: string): Promise<string> {
    return (await this.o.puppets.nameOf(contactId)) ?? "this contact";
  }

  private async tell(roomId: string, contactId: string, text: string): Promise<void> {
    await portalNotice(this.o.matrix, roomId, text, await this.o.puppets.mxidOf(contactId));
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function notSupported(networkName: string): UserFacingError {
  return new UserFacingError(
    "not-supported",
    `${networkName} does not offer safety numbers through this bridge.`,
  );
}
