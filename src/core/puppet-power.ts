/**
 * Puppets hold a member's power level in their portals, the bot 100 (docs/security.md: a
 * contact's "@room" must not carry a moderator's weight). A new portal's puppet lowers itself
 * right after creating the room; portals made by an earlier version, or whose lowering
 * failed, are lowered once after a start, in the background and paced, so that neither the
 * start nor the homeserver feels it.
 */
import type { Repositories } from "../db/repositories/index.js";
import { Sleeper } from "./backoff.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { Puppets } from "./puppets.js";
import { failureKindOf } from "./request-error.js";

export interface PuppetPowerOptions {
  repos: Repositories;
  matrix: MatrixSide;
  puppets: Pick<Puppets, "mxidOf">;
  logger: CoreLogger;
  /** Pause between two portals of the background pass (default 200 ms: 5 rooms a second). */
  paceMs?: number;
}

const BATCH = 50;

/**
 * Lowers the puppet of one portal and remembers it. A refusal for good (the puppet left the
 * room: the user logged out) also counts as done; anything else is tried again next start.
 * Returns whether the portal is done.
 */
export async function lowerPuppet(
  o: Pick<PuppetPowerOptions, "repos" | "matrix" | "logger">,
  portalId: number,
  roomId: string,
  puppetMxid: string,
): Promise<boolean> {
  if (!o.matrix.lowerPuppet) return false;
  try {
    await o.matrix.lowerPuppet(roomId, puppetMxid);
  } catch (err) {
    if (failureKindOf(err) !== "permanent") {
      // The chat works either way; m.mentions already keeps a contact's "@room" quiet.
      o.logger.warn("could not lower a puppet's power level; tried again at the next start", {
        portal: portalId,
        error: errorText(err),
      });
      return false;
    }
  }
  await o.repos.portals.setPuppetPowerLowered(portalId);
  return true;
}

export class PuppetPowerUpkeep {
  private readonly sleeper = new Sleeper();
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(private readonly o: PuppetPowerOptions) {}

  /** Starts the background pass (once); it ends by itself. */
  start(): void {
    this.running ??= this.run().catch((err: unknown) =>
      this.o.logger.warn("lowering puppets in older portals stopped", { error: errorText(err) }),
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.sleeper.wakeAll();
    await this.running;
  }

  private async run(): Promise<void> {
    if (!this.o.matrix.lowerPuppet) return;
    let afterId = 0;
    let lowered = 0;
    let left = 0;
    for (;;) {
      const batch = await this.o.repos.portals.listPuppetPowerUnchecked(afterId, BATCH);
      if (batch.length === 0) break;
      for (const portal of batch) {
        if (this.stopping) return;
        afterId = portal.id;
        const puppet = await this.o.puppets.mxidOf(portal.contactJid);
        const done =
          puppet !== undefined &&
          portal.roomId !== null &&
          (await lowerPuppet(this.o, portal.id, portal.roomId, puppet));
        if (done) lowered += 1;
        else left += 1;
        await this.sleeper.sleep(this.o.paceMs ?? 200);
      }
    }
    if (lowered + left > 0) {
      this.o.logger.info("puppets in older portals lowered to a member's power level", {
        portals: lowered,
        left,
      });
    }
  }
}
