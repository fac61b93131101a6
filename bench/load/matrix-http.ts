/**
 * A Matrix user of the load bench: plain client-server API calls over fetch and one /sync
 * long-poll loop, so that hundreds of users cost the driver little (a matrix-js-sdk client
 * each would be the heaviest part of the bench). Only what the bench needs: send, join,
 * create a DM, and the timeline and invites as they come.
 */
import { randomBytes } from "node:crypto";

type Json = Record<string, unknown>;

export interface TimelineEvent {
  roomId: string;
  eventId: string;
  sender: string;
  type: string;
  content: Json;
}

export class MatrixHttpUser {
  private since: string | undefined;
  private syncing = false;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private txn = 0;
  private readonly prefix = randomBytes(4).toString("hex");
  /** Called for every timeline event of a joined room, in order, once. */
  onEvent: (e: TimelineEvent) => void = () => undefined;
  /** Called once per room this user is invited to. */
  onInvite: (roomId: string, inviter: string | undefined) => void = () => undefined;

  constructor(
    readonly baseUrl: string,
    readonly userId: string,
    private readonly accessToken: string,
  ) {}

  async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Json> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.accessToken}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
    const text = await res.text();
    const json = (text === "" ? {} : JSON.parse(text)) as Json;
    if (!res.ok) {
      throw new Error(`${method} ${path}: HTTP ${res.status} ${String(json.errcode ?? "")}`);
    }
    return json;
  }

  /** PUT /send as this user; resolves with the event id. */
  async send(roomId: string, content: Json, type = "m.room.message"): Promise<string> {
    const txn = `${this.prefix}-${++this.txn}`;
    const res = await this.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${encodeURIComponent(type)}/${txn}`,
      content,
    );
    return String(res.event_id);
  }

  sendText(roomId: string, body: string): Promise<string> {
    return this.send(roomId, { msgtype: "m.text", body });
  }

  async join(roomId: string): Promise<void> {
    await this.request("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
  }

  async createDm(invite: string): Promise<string> {
    const res = await this.request("POST", "/_matrix/client/v3/createRoom", {
      is_direct: true,
      invite: [invite],
      preset: "trusted_private_chat",
    });
    return String(res.room_id);
  }

  /** Starts the /sync loop (from now: the first sync only sets the position). */
  async startSync(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    await this.syncOnce(0, true);
    this.loop = (async () => {
      while (this.syncing) {
        try {
          await this.syncOnce(30_000, false);
        } catch (err) {
          if (!this.syncing) return;
          await new Promise((r) => setTimeout(r, 200));
          void err;
        }
      }
    })();
  }

  async stopSync(): Promise<void> {
    this.syncing = false;
    this.abort.abort();
    await this.loop;
    this.abort = new AbortController();
  }

  private async syncOnce(timeoutMs: number, initial: boolean): Promise<void> {
    const filter = JSON.stringify({
      presence: { types: [] },
      account_data: { types: [] },
      room: {
        state: { lazy_load_members: true, types: [] },
        ephemeral: { types: [] },
        account_data: { types: [] },
        timeline: { limit: initial ? 1 : 1000, types: ["m.room.message"] },
      },
    });
    const q = new URLSearchParams({ timeout: String(timeoutMs), filter });
    if (this.since) q.set("since", this.since);
    const res = await this.request(
      "GET",
      `/_matrix/client/v3/sync?${q.toString()}`,
      undefined,
      this.abort.signal,
    );
    this.since = String(res.next_batch);
    const rooms = (res.rooms ?? {}) as {
      join?: Record<string, { timeline?: { events?: Json[] } }>;
      invite?: Record<string, { invite_state?: { events?: Json[] } }>;
    };
    for (const [roomId, invite] of Object.entries(rooms.invite ?? {})) {
      const member = invite.invite_state?.events?.find(
        (e) => e.type === "m.room.member" && e.state_key === this.userId,
      );
      this.onInvite(roomId, typeof member?.sender === "string" ? member.sender : undefined);
    }
    if (initial) return;
    for (const [roomId, room] of Object.entries(rooms.join ?? {})) {
      for (const e of room.timeline?.events ?? []) {
        this.onEvent({
          roomId,
          eventId: String(e.event_id),
          sender: String(e.sender),
          type: String(e.type),
          content: (e.content ?? {}) as Json,
        });
      }
    }
  }
}
