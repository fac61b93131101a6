import type { Knex } from "knex";
import { num } from "./columns.js";
import { isForeignKeyViolation, RepositoryError } from "./errors.js";

/**
 * Reactions (table bridge_reactions): which Matrix reaction event stands for whose reaction
 * on which message of a portal. One row per (message, reactor), as the gatekeeper allows
 * one reaction per person per message.
 */
export interface Reaction {
  portalId: number;
  /** The message reacted to: its remote id and its author's remote id. */
  targetRemoteId: string;
  targetSender: string;
  /** Remote id of who reacted (the contact, or the login's own id). */
  reactor: string;
  emoji: string;
  mxEventId: string;
  /** For incoming reactions: the gatekeeper message that carried it. */
  remoteId: string | null;
  /** ms since the epoch. */
  timestamp: number;
}

interface ReactionRow {
  id?: number | string;
  portal_id: number;
  target_remote_id: string;
  target_sender: string;
  reactor: string;
  emoji: string;
  mx_event_id: string;
  remote_id: string | null;
  timestamp: number | string;
}

const TABLE = "bridge_reactions";
const ONE_PER_REACTOR = ["portal_id", "target_sender", "target_remote_id", "reactor"];

export class ReactionRepository {
  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {}

  /** The reactor's reaction on a message, if any. */
  async get(
    portalId: number,
    target: { remoteId: string; sender: string },
    reactor: string,
  ): Promise<Reaction | undefined> {
    const row = await this.db<ReactionRow>(TABLE)
      .where({
        portal_id: portalId,
        target_sender: target.sender,
        target_remote_id: target.remoteId,
        reactor,
      })
      .first();
    return row ? toReaction(row) : undefined;
  }

  async getByEvent(mxEventId: string): Promise<Reaction | undefined> {
    const row = await this.db<ReactionRow>(TABLE).where({ mx_event_id: mxEventId }).first();
    return row ? toReaction(row) : undefined;
  }

  /** Stores the reactor's reaction on the message, replacing the one they had there. */
  async put(r: Reaction): Promise<void> {
    const row: ReactionRow = {
      portal_id: r.portalId,
      target_remote_id: r.targetRemoteId,
      target_sender: r.targetSender,
      reactor: r.reactor,
      emoji: r.emoji,
      mx_event_id: r.mxEventId,
      remote_id: r.remoteId,
      timestamp: r.timestamp,
    };
    try {
      await this.db<ReactionRow>(TABLE)
        .insert(row)
        .onConflict(ONE_PER_REACTOR)
        .merge(["emoji", "mx_event_id", "remote_id", "timestamp"]);
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
      throw new RepositoryError("not-found", `no portal ${r.portalId}`, "portalId", { cause: err });
    }
  }

  /** Forgets the reaction that `mxEventId` stands for; false when there was none. */
  async removeByEvent(mxEventId: string): Promise<boolean> {
    const n = await this.db<ReactionRow>(TABLE).where({ mx_event_id: mxEventId }).delete();
    return n > 0;
  }
}

function toReaction(row: ReactionRow): Reaction {
  return {
    portalId: num(row.portal_id),
    targetRemoteId: row.target_remote_id,
    targetSender: row.target_sender,
    reactor: row.reactor,
    emoji: row.emoji,
    mxEventId: row.mx_event_id,
    remoteId: row.remote_id,
    timestamp: num(row.timestamp),
  };
}
