/**
 * Load and what became of it. Every message carries its direction, portal, sequence number
 * and send time in its text ("lb:in:3:17:1733390000123"); the receiving end checks that each
 * arrives once and in order per portal and direction, and how long it took.
 */
import { textMessage } from "../../src/gatekeeper/content/index.js";
import type { People } from "./people.js";

/** in: gatekeeper → Matrix; out: Matrix → gatekeeper. */
export type Direction = "in" | "out";

export interface Delivery {
  sent: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

export class Tracker {
  private readonly next = new Map<string, number>();
  private readonly seen = new Set<string>();
  /** What was sent ("in:3:17": direction, portal, sequence number). */
  private readonly sentIds = new Set<string>();
  readonly latencies: number[] = [];
  sent = 0;
  received = 0;
  duplicated = 0;
  outOfOrder = 0;
  lastReceivedAt = 0;
  private waiters = new Set<() => void>();

  /** A message arrived (its text, and when). Unknown texts (not the bench's) are ignored. */
  arrived(text: string, at: number): void {
    const m = /^lb:(in|out):(\d+):(\d+):(\d+)$/.exec(text);
    if (!m) return;
    const key = `${m[1]}:${m[2]}`;
    const seq = Number(m[3]);
    const id = `${key}:${seq}`;
    if (this.seen.has(id)) {
      this.duplicated += 1;
      return;
    }
    this.seen.add(id);
    const expected = this.next.get(key) ?? 0;
    if (seq !== expected) this.outOfOrder += 1;
    this.next.set(key, Math.max(expected, seq + 1));
    this.received += 1;
    this.latencies.push(at - Number(m[4]));
    this.lastReceivedAt = at;
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when everything sent has arrived, or after `idleMs` without anything new. */
  async settle(idleMs: number): Promise<void> {
    let last = this.received;
    let lastChange = Date.now();
    while (this.received < this.sent) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
      });
      if (this.received !== last) {
        last = this.received;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > idleMs) {
        return;
      }
    }
  }

  /** A message is about to be sent. */
  sending(direction: Direction, portal: number, seq: number): void {
    this.sent += 1;
    this.sentIds.add(`${direction}:${portal}:${seq}`);
  }

  /** What was sent and has not arrived (for a failure's report). */
  missing(): string[] {
    return [...this.sentIds].filter((id) => !this.seen.has(id));
  }

  delivery(): Delivery {
    return {
      sent: this.sent,
      received: this.received,
      lost: this.sent - this.received,
      duplicated: this.duplicated,
      outOfOrder: this.outOfOrder,
    };
  }
}

/** Per portal and direction: the next sequence number. */
export class Sender {
  private readonly seq = new Map<string, number>();
  /** Matrix sends of one room go one after another: the homeserver orders what it receives. */
  private readonly roomChains = new Map<string, Promise<void>>();
  /** Gatekeeper sends are ordered by the client itself (one peer at a time). */
  private inFlight = 0;
  private readonly slots: (() => void)[] = [];

  constructor(
    private readonly people: People,
    private readonly tracker: Tracker,
    /** Messages sent but not yet acknowledged by the homeserver or the gatekeeper, at most. */
    private readonly window: number,
  ) {}

  /** Sends one message in `direction` on portal `p`; resolves once it is handed over. */
  async send(direction: Direction, p: number): Promise<void> {
    const key = `${direction}:${p}`;
    const seq = this.seq.get(key) ?? 0;
    this.seq.set(key, seq + 1);
    const portal = this.people.portals[p]!;
    await this.slot();
    const text = `lb:${direction}:${p}:${seq}:${Date.now()}`;
    this.tracker.sending(direction, p, seq);
    try {
      if (direction === "in") {
        const to = portal.matrix.jid;
        if (to === undefined) throw new Error("the Matrix user's jid is unknown");
        await portal.native.client.sendMessage(to, textMessage(text));
      } else {
        const prev = this.roomChains.get(portal.roomId) ?? Promise.resolve();
        const mine = prev.then(() =>
          portal.matrix.http.sendText(portal.roomId, text).then(() => undefined),
        );
        this.roomChains.set(
          portal.roomId,
          mine.catch(() => undefined),
        );
        await mine;
      }
    } finally {
      this.release();
    }
  }

  private async slot(): Promise<void> {
    if (this.inFlight < this.window) {
      this.inFlight += 1;
      return;
    }
    await new Promise<void>((resolve) => this.slots.push(resolve));
    this.inFlight += 1;
  }

  private release(): void {
    this.inFlight -= 1;
    this.slots.shift()?.();
  }
}

/** The p-th percentile (0–100) of `values` (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
