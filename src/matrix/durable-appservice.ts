/**
 * matrix-appservice's AppService with a durable transaction endpoint. The parent answers
 * 200 before its handlers run and remembers only the last txn id, in memory: a crash loses
 * the events. Here every event of a transaction and its txn id are written in one database
 * transaction first, and only then is the homeserver told 200; a failure answers 500 so the
 * homeserver retries the same txn id, and a txn id seen before is answered 200 unchanged.
 * Events are then taken from the queue by the IntakeWorker, not emitted.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Request, Response } from "express";
import type { IntakeEvent, MatrixIntakeRepository } from "../db/repositories/matrix-intake.js";
import { AppService, Logger } from "./appservice-bridge.js";
import { errorMessage } from "./intake-worker.js";
import type { IntakeLog } from "./intake-worker.js";

export interface DurableAppServiceOptions {
  homeserverToken: string;
  intake: Pick<MatrixIntakeRepository, "storeTransaction">;
  /** After a transaction was stored: the rooms that got events (wake the intake worker). */
  onStored?: (roomIds: string[]) => void;
  /**
   * Ephemeral events (typing, receipts, presence) of a stored transaction; best effort, they
   * are not stored and a failure here never fails the transaction.
   */
  onEphemeral?: (events: Record<string, unknown>[]) => void;
  httpMaxSizeBytes?: number;
  log?: IntakeLog;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isIntakeEvent(v: unknown): v is IntakeEvent {
  return isObject(v) && typeof v.event_id === "string" && typeof v.room_id === "string";
}

export class DurableAppService extends AppService {
  private readonly durable: DurableAppServiceOptions;
  private readonly durableLog: IntakeLog;
  private accepting = true;
  private inFlight = 0;
  private drained: (() => void)[] = [];

  constructor(opts: DurableAppServiceOptions) {
    super({
      homeserverToken: opts.homeserverToken,
      ...(opts.httpMaxSizeBytes !== undefined ? { httpMaxSizeBytes: opts.httpMaxSizeBytes } : {}),
    });
    this.durable = opts;
    this.durableLog = opts.log ?? new Logger("DurableAppService");
  }

  /** The port the listener is bound to (after listen; useful with port 0). */
  get port(): number {
    // matrix-appservice keeps its server private; listen() has set it.
    const server = (this as unknown as { server?: Server }).server;
    const address = server?.address();
    if (!address || typeof address === "string") throw new Error("not listening");
    return (address as AddressInfo).port;
  }

  /**
   * Stop taking transactions: from now on the homeserver gets 503 and retries later (from
   * the bridge's next start). Resolves when the transactions being stored are committed.
   */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.drained.push(resolve));
  }

  /** PUT /_matrix/app/v1/transactions/:txnId (bound by the parent's constructor). */
  async handleTransaction(req: Request, res: Response): Promise<void> {
    if (!this.hasValidToken(req)) {
      res.status(403).json({ errcode: "M_FORBIDDEN", error: "Bad token supplied" });
      return;
    }
    if (!this.accepting) {
      res.status(503).json({ errcode: "M_UNKNOWN", error: "The bridge is shutting down" });
      return;
    }
    const txnId = req.params.txnId;
    const body: unknown = req.body;
    if (!txnId) {
      res.status(400).json({ errcode: "M_MISSING_PARAM", error: "Missing transaction id" });
      return;
    }
    if (!isObject(body)) {
      res.status(400).json({ errcode: "M_NOT_JSON", error: "Body must be a JSON object" });
      return;
    }
    const events = Array.isArray(body.events) ? body.events : [];
    const valid = events.filter(isIntakeEvent);
    if (valid.length < events.length) {
      // Storing them cannot help: no worker could place them. Never fail the txn for them.
      this.durableLog.warn(
        `Transaction ${txnId}: ${events.length - valid.length} malformed events skipped`,
      );
    }
    this.inFlight += 1;
    let result: "stored" | "duplicate";
    try {
      result = await this.durable.intake.storeTransaction(txnId, valid);
    } catch (err) {
      this.durableLog.error(
        `Transaction ${txnId} not stored, homeserver will retry: ${errorMessage(err)}`,
      );
      res.status(500).json({ errcode: "M_UNKNOWN", error: "Could not store the transaction" });
      return;
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const resolve of this.drained.splice(0)) resolve();
    }
    res.status(200).json({});
    if (result === "duplicate") {
      this.durableLog.debug(`Transaction ${txnId} seen before; not stored again`);
      return;
    }
    this.afterStored(valid, body);
  }

  private afterStored(events: IntakeEvent[], body: Json): void {
    try {
      if (events.length > 0) this.durable.onStored?.([...new Set(events.map((e) => e.room_id))]);
      const ephemeral = body.ephemeral ?? body["de.sorunome.msc2409.ephemeral"];
      if (this.durable.onEphemeral && Array.isArray(ephemeral)) {
        this.durable.onEphemeral(ephemeral.filter(isObject));
      }
    } catch (err) {
      // The events are stored: the worker finds them at the latest on its next wake-up.
      this.durableLog.error(`After storing a transaction: ${errorMessage(err)}`);
    }
  }

  /** Spec: `Authorization: Bearer <hs_token>`; older homeservers send `?access_token=`. */
  private hasValidToken(req: Request): boolean {
    const header = req.headers.authorization;
    let token: unknown;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      token = m?.[1];
    } else {
      token = req.query.access_token;
    }
    return typeof token === "string" && sameSecret(token, this.durable.homeserverToken);
  }
}

/** Constant-time comparison (hashing first makes the lengths equal). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}

// matrix-appservice declares onTransaction private, so TypeScript does not let a subclass
// declare it; the parent's constructor registers `this.onTransaction.bind(this)` as the
// route handler, and at run time that lookup finds this prototype's method first.
Object.defineProperty(DurableAppService.prototype, "onTransaction", {
  value: function onTransaction(this: DurableAppService, req: Request, res: Response): void {
    this.handleTransaction(req, res).catch(() => {
      if (!res.headersSent) {
        res.status(500).json({ errcode: "M_UNKNOWN", error: "Internal error" });
      }
    });
  },
  writable: true,
  configurable: true,
});
