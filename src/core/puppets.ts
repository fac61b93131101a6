/**
 * One puppet (Matrix ghost user) per remote contact, shared by every login that talks to
 * them. The Matrix side owns the naming (localpart and display name templates); the core
 * remembers which contact has which puppet and which name it was last given, so a puppet
 * is registered once and renamed only when the contact's name changes.
 *
 * Names are the contact's to choose and change at will, so they are cleaned before they are
 * stored or shown (src/util/display-name.ts), and renames are rate-limited: a contact that
 * renames itself in a loop would otherwise rename its puppet in every room at every message.
 */
import type { Puppet, PuppetRepository } from "../db/repositories/index.js";
import { cleanDisplayName } from "../util/display-name.js";
import { KeyedLock } from "./keyed-lock.js";
import { errorText, silentLogger } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import { failureKindOf } from "./request-error.js";

export interface ContactInfo {
  /** The contact's opaque remote id. */
  id: string;
  /** Their push name, when the network told us. */
  name?: string;
  /** Their number, when a directory lookup told us. */
  phone?: string;
}

/** What `update` did to the contact's puppet. */
export interface PuppetUpdate {
  mxid: string;
  /** The contact had a name and now has another (both cleaned): the rooms should be told. */
  renamed?: { from: string; to: string };
  /**
   * A rename refused by the rate limit: the puppet keeps `current`. `firstInWindow` for the
   * first refusal until renames are allowed again (at `retryAt`), so the rooms are told once.
   */
  renameHeld?: { current: string; firstInWindow: boolean; retryAt: number };
}

export interface PuppetsOptions {
  /** Renames allowed per contact within `windowMs` (default 3 an hour). */
  renameLimit?: { max: number; windowMs: number };
  logger?: CoreLogger;
  now?: () => number;
}

const DEFAULT_RENAME_LIMIT = { max: 3, windowMs: 60 * 60_000 };

/** Contacts' rows kept in memory (a row is a few hundred bytes). */
const ROW_CACHE_SIZE = 10_000;

export class Puppets {
  private readonly lock = new KeyedLock();
  private readonly rows = new Map<string, Puppet>();
  private readonly renames: RenameLimiter;
  private readonly log: CoreLogger;

  constructor(
    private readonly repo: PuppetRepository,
    private readonly matrix: MatrixSide,
    options: PuppetsOptions = {},
  ) {
    const now = options.now ?? Date.now;
    this.renames = new RenameLimiter(options.renameLimit ?? DEFAULT_RENAME_LIMIT, now);
    this.log = options.logger ?? silentLogger;
  }

  /** The contact's puppet MXID, registering it or updating its name when needed. */
  async ensure(contact: ContactInfo): Promise<string> {
    return (await this.update(contact)).mxid;
  }

  /**
   * Registers the contact's puppet or updates its name and number; says whether the contact
   * was renamed (or a rename was held back), for the caller to tell the rooms.
   */
  update(contact: ContactInfo): Promise<PuppetUpdate> {
    return this.lock.run(contact.id, () => this.updateLocked(contact));
  }

  private async updateLocked(contact: ContactInfo): Promise<PuppetUpdate> {
    {
      const known = await this.row(contact.id);
      const name = cleanDisplayName(contact.name);
      // Rows from before names were cleaned are compared (and shown) cleaned.
      const current = cleanDisplayName(known?.displayName);
      const phone = contact.phone !== undefined && contact.phone !== known?.phone;
      if (known && (name === undefined || name === current)) {
        if (current !== (known.displayName ?? undefined)) {
          // A stored name that was not clean: the puppet gets the clean one, silently.
          await this.matrix.ensurePuppet(contact.id, current);
          await this.setProfile(contact.id, { displayName: current ?? null });
        }
        if (phone) await this.setProfile(contact.id, { phone: contact.phone });
        return { mxid: known.mxid };
      }
      const isRename = known !== undefined && current !== undefined && name !== undefined;
      if (isRename) {
        const held = this.renames.check(contact.id);
        if (held) {
          if (phone) await this.setProfile(contact.id, { phone: contact.phone });
          this.log.info("contact rename held back by the rate limit", { contact: contact.id });
          return { mxid: known.mxid, renameHeld: { current, ...held } };
        }
      }
      const { mxid, applied } = await this.rename(contact.id, name, current);
      await this.storeRow(contact.id, mxid, {
        // A name the homeserver refused is not stored: the puppet keeps the one it has.
        ...(name === undefined || !applied ? {} : { displayName: name }),
        ...(contact.phone === undefined ? {} : { phone: contact.phone }),
      });
      if (!isRename || !applied) return { mxid };
      this.renames.record(contact.id);
      return { mxid, renamed: { from: current, to: name } };
    }
  }

  /**
   * The puppet registered and named `name`. A name the homeserver refuses for good (it should
   * not happen to a cleaned name, but a homeserver may have stricter rules) must not stop the
   * contact's messages: the puppet then keeps `previous` (or the neutral name), `applied` false.
   */
  private async rename(
    contactId: string,
    name: string | undefined,
    previous: string | undefined,
  ): Promise<{ mxid: string; applied: boolean }> {
    try {
      return { mxid: await this.matrix.ensurePuppet(contactId, name ?? previous), applied: true };
    } catch (err) {
      if (failureKindOf(err) !== "permanent" || name === undefined || name === previous) throw err;
      this.log.warn("the homeserver refused a contact's name; keeping the previous one", {
        contact: contactId,
        error: errorText(err),
      });
      return { mxid: await this.matrix.ensurePuppet(contactId, previous), applied: false };
    }
  }

  /**
   * The contact's row: from memory after the first read (every message asks for it; it
   * changes only through this class, which forgets what it writes).
   */
  private async row(contactId: string): Promise<Puppet | undefined> {
    const cached = this.rows.get(contactId);
    if (cached) {
      // Most recently used last: the first key is the one to evict.
      this.rows.delete(contactId);
      this.rows.set(contactId, cached);
      return cached;
    }
    const row = await this.repo.get(contactId);
    if (row) {
      if (this.rows.size >= ROW_CACHE_SIZE) this.rows.delete(this.rows.keys().next().value!);
      this.rows.set(contactId, row);
    }
    return row;
  }

  private async setProfile(
    contactId: string,
    profile: Parameters<PuppetRepository["setProfile"]>[1],
  ): Promise<void> {
    this.rows.delete(contactId);
    await this.repo.setProfile(contactId, profile);
  }

  private async storeRow(
    contactId: string,
    mxid: string,
    profile: Parameters<PuppetRepository["ensure"]>[2],
  ): Promise<void> {
    this.rows.delete(contactId);
    await this.repo.ensure(contactId, mxid, profile);
  }

  /** The puppet's MXID if the contact has one already. */
  async mxidOf(contactId: string): Promise<string | undefined> {
    return (await this.row(contactId))?.mxid;
  }

  /** The contact's name as last seen, cleaned (undefined when never told). */
  async nameOf(contactId: string): Promise<string | undefined> {
    return cleanDisplayName((await this.row(contactId))?.displayName);
  }

  /** The contact's number, when a directory lookup told us. */
  async phoneOf(contactId: string): Promise<string | undefined> {
    return (await this.row(contactId))?.phone ?? undefined;
  }

  /** The cleaned names of these contacts (those without a name are left out). */
  async namesOf(contactIds: readonly string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (const puppet of await this.repo.listByJids(contactIds)) {
      const name = cleanDisplayName(puppet.displayName);
      if (name !== undefined) names.set(puppet.jid, name);
    }
    return names;
  }
}

/**
 * At most `max` renames per contact in any `windowMs`. Kept in memory: a restart forgets
 * the window (a contact gets `max` more renames), which is the cost of one more table for
 * a limit that only needs to hold off a loop.
 */
class RenameLimiter {
  private readonly recent = new Map<string, number[]>();
  /** Contact → when renames are allowed again, once the rooms were told they are held. */
  private readonly told = new Map<string, number>();

  constructor(
    private readonly limit: { max: number; windowMs: number },
    private readonly now: () => number,
  ) {}

  /** Undefined when a rename is allowed now; else when it will be, and whether to tell. */
  check(contactId: string): { firstInWindow: boolean; retryAt: number } | undefined {
    const now = this.now();
    const times = this.live(contactId, now);
    if (times.length < this.limit.max) return undefined;
    const retryAt = times[0]! + this.limit.windowMs;
    const firstInWindow = (this.told.get(contactId) ?? 0) <= now;
    if (firstInWindow) this.told.set(contactId, retryAt);
    return { firstInWindow, retryAt };
  }

  record(contactId: string): void {
    const now = this.now();
    this.live(contactId, now).push(now);
    if (this.recent.size > 1000) this.prune(now);
  }

  /** The contact's renames still in the window (the stored array, expired ones dropped). */
  private live(contactId: string, now: number): number[] {
    const since = now - this.limit.windowMs;
    const times = (this.recent.get(contactId) ?? []).filter((t) => t > since);
    this.recent.set(contactId, times);
    return times;
  }

  /** Forgets contacts whose renames all left the window (bounds memory). */
  private prune(now: number): void {
    const since = now - this.limit.windowMs;
    for (const [contactId, times] of this.recent) {
      if (times.every((t) => t <= since)) this.recent.delete(contactId);
    }
    for (const [contactId, until] of this.told) if (until <= now) this.told.delete(contactId);
  }
}
