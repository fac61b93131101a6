/**
 * The user's presence, Matrix → remote. The homeserver pushes m.presence to the bridge
 * (Synapse with presence enabled does; receive_ephemeral is set in the registration):
 * "online" is available, "unavailable" (idle) and "offline" are unavailable. A homeserver
 * with presence turned off sends none; for a user never heard of that way, activity in a
 * portal (a message, typing, a read receipt) counts as available until `idleMs` pass
 * without any. Only changes are sent; the network repeats the last one after a reconnect.
 */
import type { Repositories } from "../db/repositories/index.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import { isEnlisted } from "./logins.js";
import type { RemoteNetwork } from "./network.js";

export const ACTIVITY_IDLE_MS = 5 * 60_000;

type Presence = "available" | "unavailable";

export interface PresenceRelayOptions {
  repos: Repositories;
  network: RemoteNetwork;
  logger: CoreLogger;
  mayUse(mxid: string): boolean;
  idleMs?: number;
}

export class PresenceRelay {
  /** Users whose homeserver reports their presence: activity is not used for them. */
  private readonly reported = new Set<string>();
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();
  /** Last presence sent, per login. */
  private readonly sent = new Map<string, Presence>();
  private stopped = false;

  constructor(private readonly o: PresenceRelayOptions) {}

  async onMatrixPresence(mxid: string, presence: "online" | "unavailable" | "offline") {
    this.reported.add(mxid);
    this.clearIdle(mxid);
    await this.set(mxid, presence === "online" ? "available" : "unavailable");
  }

  /** The user did something in a portal. */
  activity(mxid: string): void {
    if (this.stopped || this.reported.has(mxid)) return;
    this.clearIdle(mxid);
    const timer = setTimeout(() => {
      this.idleTimers.delete(mxid);
      void this.quietly(mxid, "unavailable");
    }, this.o.idleMs ?? ACTIVITY_IDLE_MS);
    timer.unref();
    this.idleTimers.set(mxid, timer);
    void this.quietly(mxid, "available");
  }

  stop(): void {
    this.stopped = true;
    for (const mxid of [...this.idleTimers.keys()]) this.clearIdle(mxid);
  }

  private clearIdle(mxid: string): void {
    const timer = this.idleTimers.get(mxid);
    if (timer) clearTimeout(timer);
    this.idleTimers.delete(mxid);
  }

  private async quietly(mxid: string, presence: Presence): Promise<void> {
    try {
      await this.set(mxid, presence);
    } catch (err) {
      this.o.logger.debug("could not send presence", { error: errorText(err) });
    }
  }

  private async set(mxid: string, presence: Presence): Promise<void> {
    const setPresence = this.o.network.setPresence?.bind(this.o.network);
    if (!setPresence || this.stopped || !this.o.mayUse(mxid)) return;
    const login = await this.o.repos.logins.getByMxid(mxid);
    if (!login || !isEnlisted(login) || this.sent.get(login.id) === presence) return;
    await setPresence(login.id, presence);
    this.sent.set(login.id, presence);
  }
}
