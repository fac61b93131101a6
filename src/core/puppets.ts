/**
 * One puppet (Matrix ghost user) per remote contact, shared by every login that talks to
 * them. The Matrix side owns the naming (localpart and display name templates); the core
 * remembers which contact has which puppet and which name it was last given, so a puppet
 * is registered once and renamed only when the contact's name changes.
 */
import type { PuppetRepository } from "../db/repositories/index.js";
import { KeyedLock } from "./keyed-lock.js";
import type { MatrixSide } from "./matrix-side.js";

export interface ContactInfo {
  /** The contact's opaque remote id. */
  id: string;
  /** Their push name, when the network told us. */
  name?: string;
  /** Their number, when a directory lookup told us. */
  phone?: string;
}

export class Puppets {
  private readonly lock = new KeyedLock();

  constructor(
    private readonly repo: PuppetRepository,
    private readonly matrix: MatrixSide,
  ) {}

  /** The contact's puppet MXID, registering it or updating its name when needed. */
  ensure(contact: ContactInfo): Promise<string> {
    return this.lock.run(contact.id, async () => {
      const known = await this.repo.get(contact.id);
      const name = contact.name?.trim() || undefined;
      const nameChanged = name !== undefined && name !== known?.displayName;
      if (known && !nameChanged) {
        if (contact.phone !== undefined && contact.phone !== known.phone)
          await this.repo.setProfile(contact.id, { phone: contact.phone });
        return known.mxid;
      }
      const mxid = await this.matrix.ensurePuppet(
        contact.id,
        name ?? known?.displayName ?? undefined,
      );
      await this.repo.ensure(contact.id, mxid, {
        ...(name === undefined ? {} : { displayName: name }),
        ...(contact.phone === undefined ? {} : { phone: contact.phone }),
      });
      return mxid;
    });
  }

  /** The puppet's MXID if the contact has one already. */
  async mxidOf(contactId: string): Promise<string | undefined> {
    return (await this.repo.get(contactId))?.mxid;
  }

  /** The contact's name as last seen (undefined when never told). */
  async nameOf(contactId: string): Promise<string | undefined> {
    return (await this.repo.get(contactId))?.displayName ?? undefined;
  }
}
