import type { Knex } from "knex";
import { num } from "./columns.js";
import type { OwnMessage } from "./read-receipts.js";

/**
 * Read receipts in group portals (tables bridge_group_read_markers, bridge_group_member_reads;
 * migration 011): which messages of others each login's receipts already covered, and how
 * far each member has read ours. Positions are row ids, as in read-receipts.ts: of
 * bridge_message_map for the messages of others, of bridge_outbox for ours.
 */
export interface GroupUnread {
  /** Remote ids per sender, each oldest first; senders in the order of their first message. */
  bySender: Map<string, string[]>;
  /** How many messages, all senders together. */
  count: number;
  /** Position of the newest of them (for markLoginRead). */
  upTo: number;
}

const LOGIN_MARKERS = "bridge_group_read_markers";
const MEMBER_READS = "bridge_group_member_reads";
const MAP = "bridge_message_map";
const OUTBOX = "bridge_outbox";
const LOGINS = "bridge_logins";

export class GroupReadReceiptRepository {
  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {}

  /**
   * The messages in the group portal that the login's receipts did not cover yet, up to and
   * including the message of `eventId`; for an event the bridge did not map (a notice, say),
   * those sent until `until` (ms). Only messages of members who are not logins of this
   * bridge: theirs are Matrix users' own, and their readers show it in Matrix. At most
   * `limit`, oldest first; undefined when there are none.
   */
  async unread(
    portalId: number,
    loginId: string,
    eventId: string,
    until: number,
    limit: number,
  ): Promise<GroupUnread | undefined> {
    const after = (await this.loginReadPosition(portalId, loginId)) ?? 0;
    const target = (await this.db(MAP)
      .where({ portal_id: portalId, mx_event_id: eventId })
      .first("id")) as { id: number | string } | undefined;
    let query = this.db(MAP)
      .where({ portal_id: portalId })
      .andWhere("id", ">", after)
      // "" is the sender of a message mapped for a login without a JID (never a member's).
      .andWhere("remote_sender", "<>", "")
      .whereNotIn(
        "remote_sender",
        // NOT IN with a NULL in the list matches nothing: the logins not enlisted are left out.
        this.db(LOGINS).whereNotNull("jid").select("jid"),
      );
    query = target
      ? query.andWhere("id", "<=", num(target.id))
      : query.andWhere("timestamp", "<=", until);
    const rows = (await query
      .orderBy("id", "asc")
      .limit(limit)
      .select("id", "remote_id", "remote_sender")) as {
      id: number | string;
      remote_id: string;
      remote_sender: string;
    }[];
    const last = rows[rows.length - 1];
    if (!last) return undefined;
    const bySender = new Map<string, string[]>();
    for (const r of rows) {
      const ids = bySender.get(r.remote_sender) ?? [];
      ids.push(r.remote_id);
      bySender.set(r.remote_sender, ids);
    }
    return { bySender, count: rows.length, upTo: num(last.id) };
  }

  /** How far the login's receipts went in the portal (a bridge_message_map id), if anywhere. */
  async loginReadPosition(portalId: number, loginId: string): Promise<number | null> {
    const row = (await this.db(LOGIN_MARKERS)
      .where({ portal_id: portalId, login_id: loginId })
      .first("read_up_to")) as { read_up_to: number | string } | undefined;
    return row ? num(row.read_up_to) : null;
  }

  /**
   * Records that the login's receipts covered the portal's messages up to `position`; false
   * (nothing changed) when they went as far already. Callers serialise per (portal, login).
   */
  async markLoginRead(
    portalId: number,
    loginId: string,
    position: number,
    now = Date.now(),
  ): Promise<boolean> {
    const known = await this.loginReadPosition(portalId, loginId);
    if (known !== null && known >= position) return false;
    await this.db(LOGIN_MARKERS)
      .insert({ portal_id: portalId, login_id: loginId, read_up_to: position, updated_at: now })
      .onConflict(["portal_id", "login_id"])
      .merge({ read_up_to: position, updated_at: now });
    return true;
  }

  /** The login's messages in the portal with these remote ids, oldest first. */
  async ownMessages(
    portalId: number,
    loginId: string,
    remoteIds: readonly string[],
  ): Promise<OwnMessage[]> {
    if (remoteIds.length === 0) return [];
    const rows = (await this.db(OUTBOX)
      .where({ portal_id: portalId, login_id: loginId })
      .whereIn("remote_id", [...remoteIds])
      .orderBy("id", "asc")
      .select("id", "event_id", "remote_id")) as {
      id: number | string;
      event_id: string;
      remote_id: string;
    }[];
    return rows.map((r) => ({ position: num(r.id), eventId: r.event_id, remoteId: r.remote_id }));
  }

  /** How far the member has read our messages in the portal (a bridge_outbox id), if at all. */
  async memberReadPosition(portalId: number, memberJid: string): Promise<number | null> {
    const row = (await this.db(MEMBER_READS)
      .where({ portal_id: portalId, member_jid: memberJid })
      .first("read_up_to")) as { read_up_to: number | string } | undefined;
    return row ? num(row.read_up_to) : null;
  }

  /**
   * Records that the member read our messages up to `position`; false (nothing changed) when
   * an earlier receipt went as far already. Callers serialise per (portal, member).
   */
  async markMemberRead(
    portalId: number,
    memberJid: string,
    position: number,
    now = Date.now(),
  ): Promise<boolean> {
    const known = await this.memberReadPosition(portalId, memberJid);
    if (known !== null && known >= position) return false;
    await this.db(MEMBER_READS)
      .insert({ portal_id: portalId, member_jid: memberJid, read_up_to: position, updated_at: now })
      .onConflict(["portal_id", "member_jid"])
      .merge({ read_up_to: position, updated_at: now });
    return true;
  }
}
