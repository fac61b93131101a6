/**
 * The homeserver -> application service transaction queue (spec "Pushing events"). Events are
 * linearised; one transaction is in flight at a time; a failed transaction is retried with the
 * same txnId and the same body, with exponential backoff, and the next one waits for it.
 */
import type { AppService } from "./appservices.js";
import type { JsonObject } from "./types.js";

export interface PusherOptions {
  initialBackoffMs: number;
  maxBackoffMs: number;
  requestTimeoutMs: number;
  maxPerTransaction: number;
  /** Also send the hs_token as `?access_token=` (pre-v1.4 application services). */
  legacyQueryAuth: boolean;
}

export interface DeliveryStatus {
  /** Transactions the AS acknowledged. */
  delivered: number;
  /** Events and EDUs not yet acknowledged (queued or in flight). */
  pending: number;
  inFlightTxnId?: string;
  /** Failed attempts of the transaction in flight. */
  failedAttempts: number;
}

interface Transaction {
  txnId: string;
  body: JsonObject;
  size: number;
  failedAttempts: number;
}

export class AppServiceTransactionQueue {
  private events: JsonObject[] = [];
  private ephemeral: JsonObject[] = [];
  private inFlight: Transaction | undefined;
  private nextTxnId = 1;
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private abort: AbortController | undefined;
  private closed = false;
  private forcedFailures = 0;
  private reachable = true;
  private delivered = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly as: AppService,
    private readonly opts: PusherOptions,
  ) {
    this.backoffMs = opts.initialBackoffMs;
  }

  pushEvent(event: JsonObject): void {
    if (this.as.url === null || this.closed) return;
    this.events.push(event);
    this.kick();
  }

  pushEphemeral(edu: JsonObject): void {
    if (this.as.url === null || this.closed || !this.as.receiveEphemeral) return;
    this.ephemeral.push(edu);
    this.kick();
  }

  /** Make the next `n` delivery attempts fail as if the AS could not be reached. */
  failNext(n: number): void {
    this.forcedFailures += n;
  }

  setReachable(reachable: boolean): void {
    this.reachable = reachable;
    if (reachable && this.inFlight && this.timer) {
      // Come back promptly instead of finishing a long backoff.
      clearTimeout(this.timer);
      this.timer = undefined;
      this.backoffMs = this.opts.initialBackoffMs;
      void this.attempt();
    }
  }

  status(): DeliveryStatus {
    const pending =
      this.events.length + this.ephemeral.length + (this.inFlight ? this.inFlight.size : 0);
    const s: DeliveryStatus = { delivered: this.delivered, pending, failedAttempts: 0 };
    if (this.inFlight) {
      s.inFlightTxnId = this.inFlight.txnId;
      s.failedAttempts = this.inFlight.failedAttempts;
    }
    return s;
  }

  /** Resolve when nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private isIdle(): boolean {
    return !this.inFlight && this.events.length === 0 && this.ephemeral.length === 0;
  }

  private kick(): void {
    if (this.inFlight || this.closed) return;
    if (this.events.length === 0 && this.ephemeral.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    const events = this.events.splice(0, this.opts.maxPerTransaction);
    const ephemeral = this.ephemeral.splice(0, this.opts.maxPerTransaction);
    const body: JsonObject = { events };
    if (ephemeral.length > 0) {
      // Stable name since v1.13; matrix-appservice 3 reads the MSC2409 name, as Synapse sends it.
      body.ephemeral = ephemeral;
      body["de.sorunome.msc2409.ephemeral"] = ephemeral;
    }
    this.inFlight = {
      txnId: String(this.nextTxnId++),
      body,
      size: events.length + ephemeral.length,
      failedAttempts: 0,
    };
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    const txn = this.inFlight;
    if (!txn || this.closed) return;
    let ok = false;
    if (this.forcedFailures > 0) {
      this.forcedFailures -= 1;
    } else if (this.reachable) {
      ok = await this.send(txn);
    }
    if (this.closed || this.inFlight !== txn) return;
    if (ok) {
      this.inFlight = undefined;
      this.delivered += 1;
      this.backoffMs = this.opts.initialBackoffMs;
      this.kick();
      return;
    }
    txn.failedAttempts += 1;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, wait);
  }

  private async send(txn: Transaction): Promise<boolean> {
    const base = this.as.url!.replace(/\/+$/, "");
    let url = `${base}/_matrix/app/v1/transactions/${encodeURIComponent(txn.txnId)}`;
    if (this.opts.legacyQueryAuth) url += `?access_token=${encodeURIComponent(this.as.hsToken)}`;
    this.abort = new AbortController();
    const timeout = setTimeout(() => this.abort?.abort(), this.opts.requestTimeoutMs);
    try {
      const res = await fetch(url, {
        method: "PUT",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${this.as.hsToken}`,
        },
        body: JSON.stringify(txn.body),
        signal: this.abort.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300;
    } catch {
      return false;
    } finally {
      clearTimeout(timeout);
    }
  }
}
