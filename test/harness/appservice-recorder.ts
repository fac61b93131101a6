/**
 * An application service endpoint for tests: matrix-appservice's AppService (the HTTP server
 * matrix-appservice-bridge uses) behind a thin recorder that logs every transaction attempt as
 * it arrived on the wire and can answer the next ones with an error, like an AS that is down.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { NextFunction, Request, Response } from "express";
import { AppService } from "../../src/matrix/appservice-bridge.js";

export interface RecordedTransaction {
  txnId: string;
  /** The HTTP status the recorder or the AppService answered. */
  status: number;
  authorization: string | undefined;
  queryAccessToken: string | undefined;
  events: Array<Record<string, unknown>>;
  /** `ephemeral` (spec v1.13) and the MSC2409 name Synapse and matrix-appservice use. */
  ephemeral: Array<Record<string, unknown>> | undefined;
  msc2409Ephemeral: Array<Record<string, unknown>> | undefined;
  body: string;
}

export interface RecordingAppService {
  url: string;
  appService: AppService;
  /** Every transaction request, including refused attempts, in arrival order. */
  transactions: RecordedTransaction[];
  /** Events the AppService emitted ("event"), in order. */
  events: Array<Record<string, unknown>>;
  /** Ephemeral events the AppService emitted ("ephemeral"), in order. */
  ephemeral: Array<Record<string, unknown>>;
  /** Answer the next `n` transactions with HTTP 500 before the AppService sees them. */
  failNext(n: number): void;
  /** Resolve once an emitted event satisfies `predicate`. */
  waitForEvent(
    predicate: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  waitForEphemeral(
    predicate: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

export async function startRecordingAppService(hsToken: string): Promise<RecordingAppService> {
  const appService = new AppService({ homeserverToken: hsToken });
  const transactions: RecordedTransaction[] = [];
  const events: Json[] = [];
  const ephemeral: Json[] = [];
  const listeners = new Set<() => void>();
  let failures = 0;
  appService.on("event", (e) => {
    events.push(e);
    for (const l of [...listeners]) l();
  });
  appService.on("ephemeral", (e) => {
    ephemeral.push(e);
    for (const l of [...listeners]) l();
  });

  const outer = express();
  outer.put(
    "/_matrix/app/v1/transactions/:txnId",
    express.raw({ type: () => true, limit: "10mb" }),
    (req: Request, res: Response, next: NextFunction) => {
      const raw = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
      const body = (raw ? JSON.parse(raw) : {}) as Json;
      const rec: RecordedTransaction = {
        txnId: req.params.txnId!,
        status: 0,
        authorization: req.headers.authorization,
        queryAccessToken:
          typeof req.query.access_token === "string" ? req.query.access_token : undefined,
        events: (body.events as Json[] | undefined) ?? [],
        ephemeral: body.ephemeral as Json[] | undefined,
        msc2409Ephemeral: body["de.sorunome.msc2409.ephemeral"] as Json[] | undefined,
        body: raw,
      };
      transactions.push(rec);
      res.on("finish", () => (rec.status = res.statusCode));
      if (failures > 0) {
        failures -= 1;
        res.status(500).json({ errcode: "M_UNKNOWN", error: "simulated failure" });
        return;
      }
      // Hand the parsed body on to the AppService's own JSON handling.
      req.body = body;
      (req as Request & { _body?: boolean })._body = true;
      next();
    },
  );
  outer.use(appService.expressApp);

  const server: Server = createServer(outer);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  const waitIn = (
    list: Json[],
    predicate: (e: Json) => boolean,
    timeoutMs: number,
  ): Promise<Json> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = list.find(predicate);
        if (!found) return false;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for an application service event`),
        );
      }, timeoutMs);
      if (!check()) listeners.add(check);
    });

  return {
    url: `http://127.0.0.1:${port}`,
    appService,
    transactions,
    events,
    ephemeral,
    failNext(n) {
      failures += n;
    },
    waitForEvent: (p, t = 10_000) => waitIn(events, p, t),
    waitForEphemeral: (p, t = 10_000) => waitIn(ephemeral, p, t),
    async close() {
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
