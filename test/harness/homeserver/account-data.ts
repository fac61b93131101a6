/** Per-user account data, global and per room, on the shared stream. */
import type { StreamClock } from "./stream.js";
import type { JsonObject } from "./types.js";

interface Entry {
  content: JsonObject;
  stream: number;
}

export class AccountDataStore {
  private global = new Map<string, Map<string, Entry>>();
  private rooms = new Map<string, Map<string, Map<string, Entry>>>();

  constructor(private readonly clock: StreamClock) {}

  setGlobal(userId: string, type: string, content: JsonObject): void {
    let m = this.global.get(userId);
    if (!m) this.global.set(userId, (m = new Map()));
    m.set(type, { content, stream: this.clock.advance() });
  }

  getGlobal(userId: string, type: string): JsonObject | undefined {
    return this.global.get(userId)?.get(type)?.content;
  }

  setRoom(userId: string, roomId: string, type: string, content: JsonObject): void {
    let byRoom = this.rooms.get(userId);
    if (!byRoom) this.rooms.set(userId, (byRoom = new Map()));
    let m = byRoom.get(roomId);
    if (!m) byRoom.set(roomId, (m = new Map()));
    m.set(type, { content, stream: this.clock.advance() });
  }

  getRoom(userId: string, roomId: string, type: string): JsonObject | undefined {
    return this.rooms.get(userId)?.get(roomId)?.get(type)?.content;
  }

  /** Account data events changed after `pos` (all when pos is undefined). */
  globalSince(userId: string, pos: number | undefined): JsonObject[] {
    return since(this.global.get(userId), pos);
  }

  roomSince(userId: string, roomId: string, pos: number | undefined): JsonObject[] {
    return since(this.rooms.get(userId)?.get(roomId), pos);
  }
}

function since(m: Map<string, Entry> | undefined, pos: number | undefined): JsonObject[] {
  const out: JsonObject[] = [];
  for (const [type, e] of m ?? []) {
    if (pos === undefined || e.stream > pos) out.push({ type, content: e.content });
  }
  return out;
}
