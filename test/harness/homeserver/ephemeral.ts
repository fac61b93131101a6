/** Typing notifications, read receipts and presence: ephemeral data on the shared stream. */
import type { StreamClock } from "./stream.js";
import type { JsonObject } from "./types.js";

export class TypingStore {
  private typing = new Map<string, Map<string, NodeJS.Timeout>>();
  private changedAt = new Map<string, number>();

  constructor(
    private readonly clock: StreamClock,
    private readonly onChange: (roomId: string) => void,
  ) {}

  /** Returns whether the room's typing set changed. */
  set(roomId: string, userId: string, typing: boolean, timeoutMs: number): boolean {
    let room = this.typing.get(roomId);
    const existing = room?.get(userId);
    if (existing) clearTimeout(existing);
    if (typing) {
      if (!room) this.typing.set(roomId, (room = new Map()));
      const timer = setTimeout(() => this.set(roomId, userId, false, 0), timeoutMs);
      timer.unref();
      room.set(userId, timer);
      if (existing) return false; // still typing: only the timeout moved
    } else {
      if (!existing) return false;
      room!.delete(userId);
    }
    this.changedAt.set(roomId, this.clock.advance());
    this.onChange(roomId);
    return true;
  }

  usersTyping(roomId: string): string[] {
    return [...(this.typing.get(roomId)?.keys() ?? [])];
  }

  changedSince(roomId: string, pos: number): boolean {
    return (this.changedAt.get(roomId) ?? 0) > pos;
  }

  edu(roomId: string): JsonObject {
    return { type: "m.typing", content: { user_ids: this.usersTyping(roomId) } };
  }

  close(): void {
    for (const room of this.typing.values()) for (const t of room.values()) clearTimeout(t);
    this.typing.clear();
  }
}

export interface Receipt {
  roomId: string;
  userId: string;
  type: string;
  eventId: string;
  ts: number;
  threadId?: string;
  stream: number;
}

export class ReceiptStore {
  private latest = new Map<string, Receipt>();

  constructor(private readonly clock: StreamClock) {}

  add(r: Omit<Receipt, "stream" | "ts">): Receipt {
    const receipt: Receipt = { ...r, ts: Date.now(), stream: this.clock.advance() };
    this.latest.set(`${r.roomId}|${r.userId}|${r.type}|${r.threadId ?? ""}`, receipt);
    return receipt;
  }

  /** Latest receipts in a room changed after `pos` (all of them when pos is undefined). */
  since(roomId: string, pos: number | undefined): Receipt[] {
    const out: Receipt[] = [];
    for (const r of this.latest.values()) {
      if (r.roomId === roomId && (pos === undefined || r.stream > pos)) out.push(r);
    }
    return out;
  }

  latestFor(roomId: string, userId: string, type: string): Receipt | undefined {
    return this.latest.get(`${roomId}|${userId}|${type}|`);
  }
}

/** m.receipt EDU content: { eventId: { receiptType: { userId: { ts, thread_id? } } } }. */
export function receiptEdu(receipts: readonly Receipt[]): JsonObject {
  const content: Record<string, Record<string, Record<string, JsonObject>>> = {};
  for (const r of receipts) {
    const byType = (content[r.eventId] ??= {});
    const byUser = (byType[r.type] ??= {});
    byUser[r.userId] =
      r.threadId !== undefined ? { ts: r.ts, thread_id: r.threadId } : { ts: r.ts };
  }
  return { type: "m.receipt", content };
}

export interface PresenceRecord {
  presence: string;
  statusMsg?: string;
  lastActiveTs: number;
  stream: number;
}

export class PresenceStore {
  private records = new Map<string, PresenceRecord>();

  constructor(private readonly clock: StreamClock) {}

  set(userId: string, presence: string, statusMsg: string | undefined): PresenceRecord {
    const rec: PresenceRecord = {
      presence,
      lastActiveTs: Date.now(),
      stream: this.clock.advance(),
    };
    if (statusMsg !== undefined) rec.statusMsg = statusMsg;
    this.records.set(userId, rec);
    return rec;
  }

  get(userId: string): PresenceRecord | undefined {
    return this.records.get(userId);
  }

  changedSince(pos: number | undefined): Array<[string, PresenceRecord]> {
    return [...this.records].filter(([, r]) => pos === undefined || r.stream > pos);
  }
}

export function presenceContent(rec: PresenceRecord | undefined, now = Date.now()): JsonObject {
  if (!rec) return { presence: "offline" };
  const content: JsonObject = {
    presence: rec.presence,
    last_active_ago: Math.max(0, now - rec.lastActiveTs),
    currently_active: rec.presence === "online",
  };
  if (rec.statusMsg !== undefined) content.status_msg = rec.statusMsg;
  return content;
}
