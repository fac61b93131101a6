import { randomUUID } from "node:crypto";
import {
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  groupDecrypt,
  groupEncrypt,
  processSenderKeyDistributionMessage,
} from "@signalapp/libsignal-client";
import type { ProtocolAddress } from "@signalapp/libsignal-client";
import type { Knex } from "knex";
import { accountAddress, toProtocolAddress } from "./address.js";
import type { SignalAddress } from "./address.js";
import { copyBytes } from "./bytes.js";
import type { Bytes } from "./bytes.js";
import { SignalError, toSignalError } from "./errors.js";
import type { SignalErrorCode } from "./errors.js";
import * as state from "./group-state.js";
import type { SignalStores } from "./signal-stores.js";
import { StoreJournal } from "./store-journal.js";
import { inTransaction } from "./transactions.js";

/** What GroupCipher needs of its SignalAccount. */
export interface GroupCipherHost {
  readonly db: Knex;
  readonly owner: string;
  /** Our own sender address: the address our sender keys are stored under. */
  readonly localAddress: ProtocolAddress;
  readonly clock: () => number;
  /** Runs `fn` on the cached stores of peer `name`, under its lock (SignalAccount.onPeer). */
  onPeer<T>(
    name: string,
    trx: Knex.Transaction | undefined,
    fn: (stores: SignalStores) => Promise<T>,
  ): Promise<T>;
}

export interface MarkDistributedOptions {
  /**
   * The distribution id of the SenderKeyDistributionMessage the members were sent (see
   * distributionIdOf). If the group's key was rotated since, nothing is marked.
   */
  distributionId?: string;
}

const MAX_JID_LENGTH = 255; // the width of the group_jid and member_jid columns

/** The distribution id (a UUID) a serialized SenderKeyDistributionMessage carries. */
export function distributionIdOf(skdm: Uint8Array): string {
  try {
    return SenderKeyDistributionMessage.deserialize(copyBytes(skdm)).distributionId();
  } catch (err) {
    throw toSignalError(err, undefined, "invalid-message");
  }
}

/**
 * One account's Signal Sender Keys (GKI/1 §19.5): libsignal's group cipher on the account's
 * database, with the same per-peer locks, cache and transactions as its sessions. Our own
 * sender key of a group is kept under our own address, so every operation on it holds our
 * own peer lock; a member's key is kept under the member's JID (device 1) with that peer's
 * other records. Every method takes an optional caller transaction: with it, what the method
 * writes commits or rolls back with the caller's rows.
 */
export class GroupCipher {
  constructor(private readonly host: GroupCipherHost) {}

  // ---- our own sender key

  /**
   * Our current SenderKeyDistributionMessage for the group (serialized), to send pairwise
   * to each member who needs it; draws the group's distribution id and creates our sender
   * key first if there is none. It lets a member decrypt our messages from the next
   * groupEncrypt on, not earlier ones: take it before encrypting the message it rides with.
   */
  async groupDistribution(groupJid: string, trx?: Knex.Transaction): Promise<Bytes> {
    return this.own(groupJid, trx, async (stores, t) => {
      const id = await this.currentDistribution(t, groupJid);
      const store = stores.senderKey(groupJid);
      return (await SenderKeyDistributionMessage.create(this.local, id, store)).serialize();
    });
  }

  /** Encrypts the padded `Message` once for the group: the skmsg `<enc>` (§19.5). */
  async groupEncrypt(
    groupJid: string,
    paddedPlaintext: Uint8Array,
    trx?: Knex.Transaction,
  ): Promise<Bytes> {
    return this.own(groupJid, trx, async (stores, t) => {
      const id = await this.currentDistribution(t, groupJid);
      const store = stores.senderKey(groupJid);
      // A group we never distributed in (we are its only member so far): the key is made
      // now, and every member still needs its distribution.
      if (!(await store.getSenderKey(this.local, id))) {
        await SenderKeyDistributionMessage.create(this.local, id, store);
      }
      const message = await groupEncrypt(this.local, id, store, copyBytes(paddedPlaintext));
      return message.serialize();
    });
  }

  /**
   * Draws a new distribution id for the group (§19.5 rotation, when a member left or was
   * removed): the next group message uses a new sender key, which no member has yet. Our
   * earlier keys of the group are deleted; members keep theirs, so what is in flight still
   * decrypts. Returns the new distribution id.
   */
  async rotateGroupKey(groupJid: string, trx?: Knex.Transaction): Promise<string> {
    return this.own(groupJid, trx, async (stores, t) => {
      const id = randomUUID();
      await state.replaceDistribution(t, this.owner, groupJid, id, this.host.clock());
      // All of ours in the group, not just the last: idempotent when the operation runs again.
      await stores.records.deleteGroupSenderKeys(this.owner, groupJid);
      return id;
    });
  }

  /**
   * The members of `memberJids` who were not sent our current sender key of the group (all
   * of them before the first distribution and after a rotation), in the order given, without
   * duplicates and without ourselves: those who need a `<to>` in the next group message.
   */
  async membersNeedingDistribution(
    groupJid: string,
    memberJids: readonly string[],
    trx?: Knex.Transaction,
  ): Promise<string[]> {
    checkJid(groupJid, "group");
    const db = trx ?? this.host.db;
    const current = await this.guarded(() => state.readDistribution(db, this.owner, groupJid));
    const received = current
      ? await this.guarded(() =>
          state.recipientsOf(db, this.owner, groupJid, current.distributionId),
        )
      : new Set<string>();
    return this.others(memberJids).filter((m) => !received.has(m));
  }

  /**
   * Records that these members were sent our current sender key of the group (once the
   * gatekeeper acked the message carrying it). False if nothing was marked: no key drawn
   * yet, or a rotation since the distribution named in `options`.
   */
  async markDistributed(
    groupJid: string,
    memberJids: readonly string[],
    options: MarkDistributedOptions = {},
    trx?: Knex.Transaction,
  ): Promise<boolean> {
    const members = this.others(memberJids);
    return this.own(groupJid, trx, async (_stores, t) => {
      const current = await state.readDistribution(t, this.owner, groupJid);
      if (!current) return false;
      const { distributionId } = options;
      if (distributionId !== undefined && distributionId !== current.distributionId) return false;
      const id = current.distributionId;
      await state.addRecipients(t, this.owner, groupJid, id, members, this.host.clock());
      return true;
    });
  }

  // ---- members' sender keys

  /** Stores the sender key a member distributed for the group (their pairwise `<enc>`). */
  async processGroupDistribution(
    senderJid: string,
    groupJid: string,
    skdm: Uint8Array,
    trx?: Knex.Transaction,
  ): Promise<void> {
    const sender = this.member(senderJid, groupJid);
    await this.onMember(sender, trx, "invalid-message", async (stores, remote) => {
      const message = SenderKeyDistributionMessage.deserialize(copyBytes(skdm));
      const id = message.distributionId();
      const stored = await stores.records.senderKey(sender, id);
      if (stored && stored.groupJid !== groupJid) {
        // libsignal keys sender keys by (sender, distribution id) alone: one key, one group.
        throw new SignalError(
          "invalid-message",
          `${senderJid} distributed sender key ${id} for ${groupJid}, but it is theirs in ${stored.groupJid}`,
        );
      }
      await processSenderKeyDistributionMessage(remote, message, stores.senderKey(groupJid));
    });
  }

  /**
   * Decrypts a member's skmsg in the group: the padded `Message`. No key of that sender and
   * distribution id for this group: SignalError "no-sender-key"; a message that does not
   * decrypt or verify (or lies beyond the gap libsignal bridges): "invalid-message"; already
   * decrypted: "duplicate-message" (libsignal says the same of a message older than the
   * distribution we got, which delivery in order (§9) does not bring). A failed decrypt
   * writes nothing.
   */
  async groupDecrypt(
    senderJid: string,
    groupJid: string,
    skmsg: Uint8Array,
    trx?: Knex.Transaction,
  ): Promise<Bytes> {
    const sender = this.member(senderJid, groupJid);
    return this.onMember(sender, trx, "invalid-message", async (stores, remote) => {
      const ciphertext = copyBytes(skmsg);
      const id = SenderKeyMessage.deserialize(ciphertext).distributionId();
      const stored = await stores.records.senderKey(sender, id);
      if (!stored || stored.groupJid !== groupJid) {
        throw new SignalError(
          "no-sender-key",
          `no sender key ${id} of ${senderJid} in ${groupJid}: ask for a retry`,
        );
      }
      return groupDecrypt(remote, stores.senderKey(groupJid), ciphertext);
    });
  }

  // ---- leaving

  /**
   * Forgets the group (we left or were removed): our sender key and its distribution state,
   * and every member's sender key of the group. Keys of the same members in other groups stay.
   */
  async forgetGroup(groupJid: string, trx?: Knex.Transaction): Promise<void> {
    checkJid(groupJid, "group");
    await this.mapped(undefined, "storage", () =>
      inTransaction(this.host.db, trx, async (t) => {
        const senders = await state.groupSenders(t, this.owner, groupJid);
        for (const name of new Set([this.owner, ...senders])) {
          await this.host.onPeer(name, t, (stores) =>
            stores.records.deleteGroupSenderKeys(name, groupJid),
          );
        }
        await state.deleteGroupState(t, this.owner, groupJid);
      }),
    );
  }

  // ---- internals

  private get owner(): string {
    return this.host.owner;
  }

  private get local(): ProtocolAddress {
    return this.host.localAddress;
  }

  /** The group's distribution id, drawn now if it has none. Under our own peer lock. */
  private async currentDistribution(t: Knex.Transaction, groupJid: string): Promise<string> {
    const current = await state.readDistribution(t, this.owner, groupJid);
    if (current) return current.distributionId;
    const id = randomUUID();
    await state.replaceDistribution(t, this.owner, groupJid, id, this.host.clock());
    return id;
  }

  /**
   * Runs `fn` on our own records and the group's rows, under our own peer lock, in one
   * transaction (a savepoint of the caller's).
   */
  private own<T>(
    groupJid: string,
    trx: Knex.Transaction | undefined,
    fn: (stores: SignalStores, t: Knex.Transaction) => Promise<T>,
  ): Promise<T> {
    checkJid(groupJid, "group");
    return this.withJournal("internal", (note) =>
      inTransaction(this.host.db, trx, (t) =>
        this.host.onPeer(this.owner, t, (stores) => {
          note(stores.journal);
          return fn(stores, t);
        }),
      ),
    );
  }

  /** Runs one libsignal operation on a member's records, atomically, errors mapped. */
  private onMember<T>(
    sender: SignalAddress,
    trx: Knex.Transaction | undefined,
    fallback: SignalErrorCode,
    fn: (stores: SignalStores, remote: ProtocolAddress) => Promise<T>,
  ): Promise<T> {
    const remote = toProtocolAddress(sender);
    return this.withJournal(fallback, (note) =>
      this.host.onPeer(sender.name, trx, (stores) => {
        note(stores.journal);
        return fn(stores, remote);
      }),
    );
  }

  /** Maps a failure to a SignalError, with what the stores of the attempt that counts saw. */
  private async withJournal<T>(
    fallback: SignalErrorCode,
    fn: (note: (journal: StoreJournal) => void) => Promise<T>,
  ): Promise<T> {
    let journal = new StoreJournal();
    return this.mapped(
      () => journal,
      fallback,
      () => fn((j) => (journal = j)),
    );
  }

  private async mapped<T>(
    journal: (() => StoreJournal) | undefined,
    fallback: SignalErrorCode,
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toSignalError(err, journal?.(), fallback);
    }
  }

  private guarded<T>(fn: () => Promise<T>): Promise<T> {
    return this.mapped(undefined, "storage", fn);
  }

  /** A member's sender address; never our own (our key is ours to write, not theirs). */
  private member(senderJid: string, groupJid: string): SignalAddress {
    checkJid(groupJid, "group");
    if (senderJid === this.owner) {
      throw new SignalError("invalid-address", `a group message of ${groupJid} from ourselves`);
    }
    return accountAddress(senderJid);
  }

  /** `jids` without duplicates and without ourselves, in their order. */
  private others(jids: readonly string[]): string[] {
    for (const jid of jids) checkJid(jid, "member");
    return [...new Set(jids)].filter((jid) => jid !== this.owner);
  }
}

function checkJid(jid: string, what: string): void {
  if (typeof jid !== "string" || jid.length === 0 || jid.length > MAX_JID_LENGTH) {
    throw new SignalError("invalid-address", `invalid ${what} JID "${String(jid)}"`);
  }
}
