/**
 * Events a homeserver lost on its way to the bridge, read back from the rooms' history.
 *
 * Synapse (1.67, and later releases alike) moves its appservice stream position forward as
 * soon as events are queued for an application service in memory, and writes them as a
 * transaction only when it sends them: when it stops at that moment, those events are never
 * pushed. The bridge suspects a restart when its own requests found the homeserver away, and
 * sees one in the transaction ids (Synapse starts them at 1 again, or sends again one the
 * bridge answered before it went away). Before it stores the next transaction then, it reads the latest events of every room it got events from in the last
 * minutes, newest first down to the first one it has, and queues the ones it never got, in
 * their order, ahead of the transaction's. Event ids make anything read twice harmless.
 */
import type { IntakeEvent, MatrixIntakeRepository } from "../db/repositories/matrix-intake.js";
import { errorMessage } from "./intake-worker.js";
import type { IntakeLog } from "./intake-worker.js";

export interface CatchUpOptions {
  intake: Pick<MatrixIntakeRepository, "recentRooms" | "knownEventIds" | "storeTransaction">;
  /** The room's latest events, newest first (GET /messages?dir=b as the bot). */
  latestEvents(roomId: string, limit: number): Promise<IntakeEvent[]>;
  log: IntakeLog;
  /** Rooms with events in this window are read, and events this old at most (default 10 min). */
  windowMs?: number;
  /** Events read per room (default 100). */
  limit?: number;
  now?: () => number;
}

export class HomeserverCatchUp {
  private running: Promise<string[]> | undefined;
  private suspected = false;

  constructor(private readonly o: CatchUpOptions) {}

  /** A request found the homeserver away (no answer, 502/503/504): it may be restarting. */
  suspectRestart(): void {
    this.suspected = true;
  }

  /** Whether a catch-up is due before the next transaction, whatever its id. */
  get due(): boolean {
    return this.suspected;
  }

  /** Reads back what the homeserver may have lost; resolves with the rooms that got events. */
  run(): Promise<string[]> {
    this.suspected = false;
    this.running ??= this.catchUp().finally(() => (this.running = undefined));
    return this.running;
  }

  private async catchUp(): Promise<string[]> {
    const now = (this.o.now ?? Date.now)();
    const since = now - (this.o.windowMs ?? 10 * 60_000);
    let recovered = 0;
    const rooms: string[] = [];
    for (const roomId of await this.o.intake.recentRooms(since)) {
      try {
        const n = await this.catchUpRoom(roomId, since, now);
        recovered += n;
        if (n > 0) rooms.push(roomId);
      } catch (err) {
        this.o.log.warn(`Could not read back the history of ${roomId}: ${errorMessage(err)}`);
      }
    }
    if (recovered > 0) {
      this.o.log.info(
        `Read back ${recovered} events from the rooms' history after the homeserver restarted ` +
          `(queued in order; copies the homeserver pushes later are recognised)`,
      );
    }
    return rooms;
  }

  private async catchUpRoom(roomId: string, since: number, now: number): Promise<number> {
    const latest = await this.o.latestEvents(roomId, this.o.limit ?? 100);
    const known = await this.o.intake.knownEventIds(latest.map((e) => e.event_id));
    const missed: IntakeEvent[] = [];
    for (const event of latest) {
      const ts = typeof event.origin_server_ts === "number" ? event.origin_server_ts : now;
      if (known.has(event.event_id) || ts < since) break;
      missed.push({ ...event, room_id: roomId });
    }
    if (missed.length === 0) return 0;
    const stored = await this.o.intake.storeTransaction(
      `catch-up:${now}:${roomId}`,
      missed.reverse(),
    );
    return stored.stored.length;
  }
}
