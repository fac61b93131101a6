/**
 * Who is who, as the rooms show it. A contact's name is theirs to choose: it can copy the name
 * of someone the user already chats with, or change in the middle of a chat. The puppet's
 * display name is global (one puppet per contact for every Matrix user), so what tells one
 * user's "Bob" from another "Bob" lives in that user's rooms: a room name and a warning in a
 * new chat whose contact is named like an existing one, and a notice in each chat when a
 * contact renames itself (src/core/puppets.ts rate-limits the renames).
 */
import type { Repositories } from "../db/repositories/index.js";
import { cleanDisplayName, sameName } from "../util/display-name.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import { portalNotice } from "./portal-notice.js";
import type { PuppetUpdate, Puppets } from "./puppets.js";

export interface ContactNamesOptions {
  repos: Repositories;
  matrix: MatrixSide;
  puppets: Puppets;
  networkName: string;
  logger: CoreLogger;
  now?: () => number;
}

/** Marks a room whose contact is named like another one and whose number is unknown. */
export const NEW_CONTACT_MARK = "new contact";

export class ContactNames {
  constructor(private readonly o: ContactNamesOptions) {}

  /** A name from the network, safe to show (the network's own tag removed); undefined: none. */
  clean(raw: string | undefined): string | undefined {
    return cleanDisplayName(raw, { networkNames: [this.o.networkName] });
  }

  /**
   * Whether the login has a chat with another contact (not `contactId`) whose name would be
   * taken for `name`.
   */
  async lookalike(loginId: string, contactId: string, name: string): Promise<boolean> {
    const others = (await this.o.repos.portals.listByLogin(loginId))
      .map((p) => p.contactJid)
      .filter((jid) => jid !== contactId);
    if (others.length === 0) return false;
    const names = await this.o.puppets.namesOf(others);
    return [...names.values()].some((other) => sameName(other, name));
  }

  /** The room name of a new chat whose contact is named like another: number or a mark. */
  distinctRoomName(name: string, phone: string | undefined): string {
    return `${name} (${phone ?? NEW_CONTACT_MARK})`;
  }

  /** The warning in a new chat whose contact is named like another one of the user's. */
  lookalikeWarning(name: string, phone: string | undefined, puppetMxid: string): string {
    const number = phone ? `their number is ${phone}` : "the bridge does not know their number";
    return (
      `Careful: you already have a chat with someone else named "${name}". This is a ` +
      `different person (${number}; their Matrix id is ${puppetMxid}).`
    );
  }

  /**
   * Tells every chat with the contact (of every login) that their name changed, or, once per
   * rate-limit window, that their renames are held back. Best effort: the rename is done
   * whether or not the notices get through.
   */
  async announce(contactId: string, update: PuppetUpdate): Promise<void> {
    if (!update.renamed && !update.renameHeld?.firstInWindow) return;
    for (const portal of await this.o.repos.portals.listByContact(contactId)) {
      if (!portal.roomId || portal.state === "blocked") continue;
      // A logged-out user's chats were closed: nobody is there to tell.
      const login = await this.o.repos.logins.get(portal.loginId);
      if (!login || login.state === "logged-out") continue;
      try {
        const text = update.renamed
          ? await this.renameNotice(portal.loginId, contactId, update.renamed)
          : heldNotice(update.renameHeld!.current, update.renameHeld!.retryAt, this.now());
        await portalNotice(this.o.matrix, portal.roomId, text, update.mxid);
      } catch (err) {
        this.o.logger.warn("could not tell a chat about a contact's name", {
          portal: portal.id,
          error: errorText(err),
        });
      }
    }
  }

  private async renameNotice(
    loginId: string,
    contactId: string,
    { from, to }: { from: string; to: string },
  ): Promise<string> {
    const text = `"${from}" changed their name to "${to}".`;
    if (!(await this.lookalike(loginId, contactId, to))) return text;
    return (
      `${text} Careful: you have a chat with someone else named "${to}"; this is still the ` +
      `person who was "${from}".`
    );
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

function heldNotice(current: string, retryAt: number, now: number): string {
  const minutes = Math.max(1, Math.ceil((retryAt - now) / 60_000));
  return (
    `"${current}" keeps changing their name. The bridge keeps showing "${current}" for now, ` +
    `and shows their new name when they write again in ${minutes} minute${minutes === 1 ? "" : "s"} or later.`
  );
}
