/**
 * The homeserver's state and the one path every room event takes: authorize, append, hand to
 * application services. HTTP routes are thin layers over this.
 */
import { AccountDataStore } from "./account-data.js";
import { AppServiceTransactionQueue } from "./appservice-pusher.js";
import type { PusherOptions } from "./appservice-pusher.js";
import { AppServiceRegistry } from "./appservices.js";
import type { AppService } from "./appservices.js";
import { authorizeEvent } from "./auth-rules.js";
import { PresenceStore, ReceiptStore, TypingStore } from "./ephemeral.js";
import { MatrixHttpError } from "./errors.js";
import { formatEvent } from "./event-format.js";
import { newEventId } from "./ids.js";
import { MediaStore } from "./media.js";
import { RateLimiter } from "./rate-limit.js";
import { Room, stateContent } from "./room.js";
import { StreamClock } from "./stream.js";
import type { AppServiceRegistrationLike, JsonObject, RoomEvent, StoredEvent } from "./types.js";
import { UserStore } from "./users.js";

export interface HomeserverOptions {
  serverName: string;
  pusher: PusherOptions;
  maxUploadBytes: number;
}

export interface EventDraft {
  type: string;
  sender: string;
  content: JsonObject;
  state_key?: string;
  redacts?: string;
}

/** Synapse's limit on a whole event (spec: 65536 bytes). */
const MAX_EVENT_BYTES = 65_536;

export class Homeserver {
  readonly serverName: string;
  readonly clock = new StreamClock();
  readonly users: UserStore;
  readonly rooms = new Map<string, Room>();
  /** Room directory: alias -> room id, and who created each alias. */
  readonly aliases = new Map<string, { roomId: string; creator: string }>();
  readonly appServices: AppServiceRegistry;
  /** Rooms published in the room directory. */
  readonly publishedRooms = new Set<string>();
  readonly accountData: AccountDataStore;
  readonly typing: TypingStore;
  readonly receipts: ReceiptStore;
  readonly presence: PresenceStore;
  readonly media: MediaStore;
  readonly rateLimiter = new RateLimiter();
  /** Idempotent requests (send, redact): scope + path -> event id. */
  readonly txnResults = new Map<string, string>();
  private readonly queues = new Map<string, AppServiceTransactionQueue>();
  /** user id -> rooms where the user has had any membership event. */
  private readonly memberIndex = new Map<string, Set<string>>();

  constructor(private readonly opts: HomeserverOptions) {
    this.serverName = opts.serverName;
    this.users = new UserStore(opts.serverName);
    this.appServices = new AppServiceRegistry(opts.serverName);
    this.accountData = new AccountDataStore(this.clock);
    this.typing = new TypingStore(this.clock, (roomId) => this.pushTyping(roomId));
    this.receipts = new ReceiptStore(this.clock);
    this.presence = new PresenceStore(this.clock);
    this.media = new MediaStore(opts.serverName, opts.maxUploadBytes);
  }

  addAppService(registration: AppServiceRegistrationLike): AppService {
    const as = this.appServices.add(registration);
    this.queues.set(as.id, new AppServiceTransactionQueue(as, this.opts.pusher));
    // The sender user exists from the start, as on Synapse (registering it gives M_USER_IN_USE),
    // without a profile: Synapse answers GET /profile for it with 404 until one is set.
    if (!this.users.exists(as.senderUserId)) {
      const sender = this.users.create(registration.sender_localpart, { appServiceId: as.id });
      delete sender.displayname;
    }
    return as;
  }

  queue(asId: string): AppServiceTransactionQueue {
    const q = this.queues.get(asId);
    if (!q) throw new MatrixHttpError(404, "M_NOT_FOUND", `No application service ${asId}`);
    return q;
  }

  allQueues(): AppServiceTransactionQueue[] {
    return [...this.queues.values()];
  }

  room(roomId: string): Room {
    const room = this.rooms.get(roomId);
    if (!room) throw new MatrixHttpError(404, "M_NOT_FOUND", "Unknown room");
    return room;
  }

  /** Aliases that point at a room: directory entries and the canonical alias. */
  aliasesOf(room: Room): string[] {
    const out: string[] = [];
    for (const [alias, entry] of this.aliases) if (entry.roomId === room.roomId) out.push(alias);
    const canonical = stateContent(room.state, "m.room.canonical_alias")?.alias;
    if (typeof canonical === "string" && !out.includes(canonical)) out.push(canonical);
    return out;
  }

  /** Authorize and append one event; every room event passes here. */
  persist(
    room: Room,
    draft: EventDraft,
    opts: { ts?: number; txn?: StoredEvent["txn"] } = {},
  ): StoredEvent {
    const event: RoomEvent = {
      event_id: newEventId(),
      room_id: room.roomId,
      type: draft.type,
      sender: draft.sender,
      content: draft.content,
      origin_server_ts: opts.ts ?? Date.now(),
    };
    if (draft.state_key !== undefined) event.state_key = draft.state_key;
    if (draft.redacts !== undefined) event.redacts = draft.redacts;
    authorizeEvent(event, room.state);
    if (Buffer.byteLength(JSON.stringify(event)) > MAX_EVENT_BYTES) {
      throw new MatrixHttpError(413, "M_TOO_LARGE", "event too large");
    }
    const se: StoredEvent = { event, stream: 0, stateBefore: room.state };
    if (opts.txn) se.txn = opts.txn;
    // Append before advancing the clock so a woken long-poll sees the event.
    room.append(se);
    if (draft.type === "m.room.member" && draft.state_key !== undefined) {
      let set = this.memberIndex.get(draft.state_key);
      if (!set) this.memberIndex.set(draft.state_key, (set = new Set()));
      set.add(room.roomId);
    }
    se.stream = this.clock.advance();
    if (draft.type === "m.room.redaction" && draft.redacts !== undefined) {
      const target = room.get(draft.redacts);
      if (target && !target.redactedBy) target.redactedBy = se;
    }
    this.fanOut(room, se);
    return se;
  }

  private fanOut(room: Room, se: StoredEvent): void {
    const aliases = this.aliasesOf(room);
    for (const as of this.appServices.all()) {
      if (as.isInterestedInEvent(se, room, aliases)) this.queue(as.id).pushEvent(formatEvent(se));
    }
  }

  private pushTyping(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    this.pushRoomEdu(room, { ...this.typing.edu(roomId), room_id: roomId });
  }

  /** An EDU tied to a room goes to the application services interested in that room. */
  pushRoomEdu(room: Room, edu: JsonObject, onlyFor?: (as: AppService) => boolean): void {
    const aliases = this.aliasesOf(room);
    for (const as of this.appServices.all()) {
      if (onlyFor && !onlyFor(as)) continue;
      if (as.isInterestedInRoom(room, aliases)) this.queue(as.id).pushEphemeral(edu);
    }
  }

  /** Presence goes to application services covering the user or sharing a room with them. */
  pushPresence(userId: string, edu: JsonObject): void {
    for (const as of this.appServices.all()) {
      const shares = [...this.rooms.values()].some(
        (r) =>
          r.membership(userId) === "join" &&
          r.members("join").some((u) => as.isInterestedInUser(u)),
      );
      if (as.isInterestedInUser(userId) || shares) this.queue(as.id).pushEphemeral(edu);
    }
  }

  /** Rooms where the user has any membership, for sync. */
  roomsOf(userId: string): Room[] {
    return [...(this.memberIndex.get(userId) ?? [])].map((id) => this.rooms.get(id)!);
  }

  /** Ask application services whose namespace covers a missing user to create it (spec "Querying"). */
  async queryAppServicesForUser(userId: string): Promise<void> {
    for (const as of this.appServices.all()) {
      if (this.users.exists(userId)) return;
      if (!as.url || as.senderUserId === userId || !as.isInterestedInUser(userId)) continue;
      await this.queryAppService(as, `/_matrix/app/v1/users/${encodeURIComponent(userId)}`);
    }
  }

  async queryAppServicesForAlias(alias: string): Promise<void> {
    for (const as of this.appServices.all()) {
      if (this.aliases.has(alias)) return;
      if (!as.url || !as.isInterestedInAlias(alias)) continue;
      await this.queryAppService(as, `/_matrix/app/v1/rooms/${encodeURIComponent(alias)}`);
    }
  }

  private async queryAppService(as: AppService, path: string): Promise<boolean> {
    try {
      const res = await fetch(as.url!.replace(/\/+$/, "") + path, {
        headers: { Authorization: `Bearer ${as.hsToken}` },
        signal: AbortSignal.timeout(this.opts.pusher.requestTimeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok;
    } catch {
      return false;
    }
  }

  closed = false;

  close(): void {
    this.closed = true;
    for (const q of this.queues.values()) q.close();
    this.typing.close();
    this.clock.wakeAll();
  }
}
