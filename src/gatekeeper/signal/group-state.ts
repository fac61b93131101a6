import type { Knex } from "knex";
import { numberFromDb } from "./bytes.js";

/**
 * Our side of each group's Sender Keys (§19.5), on the database: the distribution id we
 * encrypt with now, and the members who were sent that sender key. Plain rows of the owner,
 * outside libsignal's stores; GroupCipher writes them under the owner's peer lock.
 */

const DISTRIBUTIONS = "signal_group_distributions";
const RECIPIENTS = "signal_group_recipients";
/** Rows per insert: 5 parameters each, far below SQLite's and PostgreSQL's limits. */
const RECIPIENTS_PER_INSERT = 200;

export interface OwnDistribution {
  distributionId: string;
  createdAt: number;
}

export async function readDistribution(
  db: Knex,
  owner: string,
  groupJid: string,
): Promise<OwnDistribution | null> {
  const row = (await db(DISTRIBUTIONS)
    .where({ owner, group_jid: groupJid })
    .first("distribution_id", "created_at")) as
    { distribution_id: string; created_at: unknown } | undefined;
  return row
    ? { distributionId: row.distribution_id, createdAt: numberFromDb(row.created_at) }
    : null;
}

/** Sets the group's distribution id, replacing the current one and who received it. */
export async function replaceDistribution(
  db: Knex,
  owner: string,
  groupJid: string,
  distributionId: string,
  now: number,
): Promise<void> {
  await db(DISTRIBUTIONS)
    .insert({ owner, group_jid: groupJid, distribution_id: distributionId, created_at: now })
    .onConflict(["owner", "group_jid"])
    .merge(["distribution_id", "created_at"]);
  await db(RECIPIENTS).where({ owner, group_jid: groupJid }).delete();
}

/** The members (of the group's rows) who were sent the sender key `distributionId`. */
export async function recipientsOf(
  db: Knex,
  owner: string,
  groupJid: string,
  distributionId: string,
): Promise<Set<string>> {
  const rows = (await db(RECIPIENTS)
    .where({ owner, group_jid: groupJid, distribution_id: distributionId })
    .select("member_jid")) as { member_jid: string }[];
  return new Set(rows.map((r) => r.member_jid));
}

export async function addRecipients(
  db: Knex,
  owner: string,
  groupJid: string,
  distributionId: string,
  memberJids: readonly string[],
  now: number,
): Promise<void> {
  const rows = memberJids.map((member) => ({
    owner,
    group_jid: groupJid,
    member_jid: member,
    distribution_id: distributionId,
    distributed_at: now,
  }));
  for (let i = 0; i < rows.length; i += RECIPIENTS_PER_INSERT) {
    await db(RECIPIENTS)
      .insert(rows.slice(i, i + RECIPIENTS_PER_INSERT))
      .onConflict(["owner", "group_jid", "member_jid"])
      .merge(["distribution_id", "distributed_at"]);
  }
}

/** Drops our distribution state of the group (the sender keys go separately). */
export async function deleteGroupState(db: Knex, owner: string, groupJid: string): Promise<void> {
  await db(RECIPIENTS).where({ owner, group_jid: groupJid }).delete();
  await db(DISTRIBUTIONS).where({ owner, group_jid: groupJid }).delete();
}

/** The senders (peer names, ours included) of whom we hold a sender key for the group. */
export async function groupSenders(db: Knex, owner: string, groupJid: string): Promise<string[]> {
  const rows = (await db("signal_sender_keys")
    .where({ owner, group_jid: groupJid })
    .distinct("name")
    .orderBy("name")) as { name: string }[];
  return rows.map((r) => r.name);
}
