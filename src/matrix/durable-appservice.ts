/**
 * matrix-appservice's AppService with a durable transaction endpoint. The parent answers
 * 200 before its handlers run and remembers only the last txn id, in memory: a crash loses
 * the events. Here every event of a transaction is written in one database transaction
 * first, and only then is the homeserver told 200; a failure answers 500 so the homeserver
 * retries. Events are deduplicated by event id, never by txn id alone: homeservers reuse
 * txn ids (Synapse starts again at 1 after a restart). Events are then taken from the queue
 * by the IntakeWorker, not emitted.
 *
 * The HTTP surface is the whole application-service API as homeservers really call it: the
 * spec's `/_matrix/app/v1/...` paths and the legacy unprefixed ones (`/transactions/{txnId}`,
 * `/users/{userId}`, `/rooms/{alias}`) that Synapse uses unless the registration's url ends
 * in `/_matrix/app/v1`, served directly (the parent answers those with a 308 that homeservers
 * do not follow, and whose Location copied the hs_token); `POST /_matrix/app/v1/ping`; and
 * JSON errors (a body that is not JSON gets 400 M_NOT_JSON, never a stack trace).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { Application, NextFunction, Request, Response } from "express";
import type {
  IntakeEvent,
  MatrixIntakeRepository,
  StoredTransaction,
} from "../db/repositories/matrix-intake.js";
import { AppService, Logger } from "./appservice-bridge.js";
import { errorMessage } from "./intake-worker.js";
import type { IntakeLog } from "./intake-worker.js";

export interface DurableAppServiceOptions {
  homeserverToken: string;
  intake: Pick<MatrixIntakeRepository, "storeTransaction" | "hasTransaction">;
  /**
   * Reads back events the homeserver lost (homeserver-catch-up.ts); run before a transaction
   * whose id was seen before is stored, as that means the homeserver restarted (or lost our
   * answer).
   */
  catchUp?: { run(): Promise<string[]>; readonly due: boolean };
  /** After a transaction was stored: the rooms that got events (wake the intake worker). */
  onStored?: (roomIds: string[]) => void;
  /**
   * Ephemeral events (typing, receipts, presence) of a stored transaction; best effort, they
   * are not stored and a failure here never fails the transaction.
   */
  onEphemeral?: (events: Record<string, unknown>[]) => void;
  httpMaxSizeBytes?: number;
  log?: IntakeLog;
  /**
   * Senders whose events need no handling: the bridge's own users (bot and puppets), whose
   * events come back as echoes of what the bridge posted. Stored as done, never queued.
   */
  isOwnSender?: (userId: string) => boolean;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isIntakeEvent(v: unknown): v is IntakeEvent {
  return isObject(v) && typeof v.event_id === "string" && typeof v.room_id === "string";
}

/** Unprefixed paths older homeservers push to; served as their `/_matrix/app/v1` twins. */
const LEGACY_PATH = /^\/(?:transactions|users|rooms)\//;
const V1 = "/_matrix/app/v1";
/** How long a transaction waits for the catch-up before it is stored anyway. */
const CATCH_UP_WAIT_MS = 15_000;
/** After a catch-up, events it read back come from the homeserver too for this long. */
const CAUGHT_UP_ECHO_MS = 5 * 60_000;

export class DurableAppService extends AppService {
  private readonly durable: DurableAppServiceOptions;
  private readonly durableLog: IntakeLog;
  /** The parent's app, where its routes and those added through expressApp live. */
  private readonly routes: Application;
  private accepting = true;
  /** The previous transaction's id (in this process). */
  private lastTxnId: string | undefined;
  /** When the last catch-up ran: events it queued come again in the next transactions. */
  private caughtUpAt = 0;
  private inFlight = 0;
  private drained: (() => void)[] = [];

  constructor(opts: DurableAppServiceOptions) {
    super({
      homeserverToken: opts.homeserverToken,
      ...(opts.httpMaxSizeBytes !== undefined ? { httpMaxSizeBytes: opts.httpMaxSizeBytes } : {}),
    });
    this.durable = opts;
    this.durableLog = opts.log ?? new Logger("DurableAppService");
    this.routes = this.app;
    this.routes.post(`${V1}/ping`, (req, res) => this.handlePing(req, res));
    // The listener serves `front`: legacy paths rewritten, then the routes, then JSON errors.
    const front = express();
    front.disable("x-powered-by");
    front.use((req, res, next) => {
      // Once stopping, no connection is kept alive: a homeserver retrying on a kept-alive
      // connection would otherwise hold the listener open, and the stop with it.
      if (!this.accepting) res.setHeader("Connection", "close");
      if (LEGACY_PATH.test(req.path)) req.url = V1 + req.url;
      next();
    });
    front.use(this.routes);
    front.use((_req, res) => {
      res.status(404).json({ errcode: "M_UNRECOGNIZED", error: "Unrecognized request" });
    });
    front.use(this.onHttpError.bind(this));
    (this as unknown as { app: Application }).app = front;
  }

  /** Where matrix-appservice-bridge adds its routes (in front of the 404 answer). */
  override get expressApp(): Application {
    return this.routes;
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
    let result: StoredTransaction;
    try {
      const catchUp = this.durable.catchUp;
      const follows = this.followsLastTxn(txnId);
      if (
        catchUp &&
        (catchUp.due || (!follows && (await this.durable.intake.hasTransaction(txnId))))
      ) {
        await this.catchUpFirst(catchUp);
      }
      result = await this.durable.intake.storeTransaction(txnId, valid, Date.now(), (e) =>
        this.isEcho(e),
      );
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
    this.logStored(txnId, result);
    // Ephemeral events are states (typing, read up to, presence): handing a retried one
    // over again is harmless, dropping one after a reused txn id would not be.
    const stored = new Set(result.stored);
    this.afterStored(
      valid.filter((e) => stored.has(e.event_id) && !this.isEcho(e)),
      body,
    );
  }

  private isEcho(event: IntakeEvent): boolean {
    return typeof event.sender === "string" && this.durable.isOwnSender?.(event.sender) === true;
  }

  /**
   * Whether `txnId` is the one after the previous transaction's (ids count up by one while a
   * homeserver runs). A known id that does not follow on means the homeserver started over
   * (or repeats one): then it may have lost events.
   */
  private followsLastTxn(txnId: string): boolean {
    const last = this.lastTxnId;
    this.lastTxnId = txnId;
    return (
      last !== undefined &&
      /^\d+$/.test(txnId) &&
      /^\d+$/.test(last) &&
      BigInt(txnId) === BigInt(last) + 1n
    );
  }

  /** Runs the catch-up, waiting for it a while (the homeserver waits for our answer). */
  private async catchUpFirst(catchUp: { run(): Promise<string[]> }): Promise<void> {
    this.caughtUpAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, CATCH_UP_WAIT_MS)));
    const run = catchUp.run().then(
      (rooms) => {
        if (rooms.length > 0) this.durable.onStored?.(rooms);
      },
      (err: unknown) =>
        this.durableLog.warn(`Catch-up after a restart failed: ${errorMessage(err)}`),
    );
    await Promise.race([run, late]);
    clearTimeout(timer);
  }

  private logStored(txnId: string, r: StoredTransaction): void {
    if (r.alreadyStored.length === 0) {
      if (r.txnSeen && r.stored.length > 0) {
        this.durableLog.info(
          `Transaction id ${txnId} reused with new events (the homeserver restarted?); stored as new`,
        );
      }
      return;
    }
    if (r.txnSeen && r.stored.length === 0) {
      this.durableLog.debug(`Transaction ${txnId} is a retry; its events are stored already`);
      return;
    }
    const skipped =
      `Transaction ${txnId}: ${r.alreadyStored.length} events were stored before and are ` +
      `skipped: ${r.alreadyStored.join(", ")}`;
    if (Date.now() - this.caughtUpAt < CAUGHT_UP_ECHO_MS) this.durableLog.debug(skipped);
    else this.durableLog.warn(skipped);
  }

  /** POST /_matrix/app/v1/ping: the homeserver checks that it reaches us with the right token. */
  private handlePing(req: Request, res: Response): void {
    if (!this.hasValidToken(req)) {
      res.status(403).json({ errcode: "M_FORBIDDEN", error: "Bad token supplied" });
      return;
    }
    res.status(200).json({});
  }

  /** Errors from the routes and the body parser, as Matrix errors; never a stack trace. */
  private onHttpError(err: unknown, _req: Request, res: Response, next: NextFunction): void {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = isObject(err) ? err : {};
    if (e.type === "entity.parse.failed") {
      res.status(400).json({ errcode: "M_NOT_JSON", error: "Content not JSON." });
      return;
    }
    if (e.type === "entity.too.large") {
      res.status(413).json({ errcode: "M_TOO_LARGE", error: "Request body too large" });
      return;
    }
    const status =
      typeof e.status === "number" && e.status >= 400 && e.status < 600 ? e.status : 500;
    if (status >= 500) this.durableLog.error(`Request failed: ${errorMessage(err)}`);
    res
      .status(status)
      .json({ errcode: status >= 500 ? "M_UNKNOWN" : "M_BAD_JSON", error: "Bad request" });
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
