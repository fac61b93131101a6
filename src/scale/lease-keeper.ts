/**
 * A worker's side of login ownership (docs/architecture.md, "Several processes"). Every
 * `renewMs` it beats its heart, renews the leases it holds, and moves toward its share of the
 * logins: ceil(active logins / live workers). Below it, it claims logins nobody holds (a
 * dead worker's, once their leases expired); above it, it gives up a few per round, so that a
 * worker joining takes logins over a few rounds, not in one storm of reconnects.
 *
 * Fencing: a lease counts as held only until `leaseMs - marginMs` after the round that
 * renewed it started, on this process's monotonic clock. A process that was paused past that
 * (SIGSTOP, a long GC, a frozen VM) finds on waking that it holds nothing, before it could
 * act on a login someone else took meanwhile; its next round tells it which leases it lost.
 * Writes that must not happen after a takeover also check the epoch in their transaction
 * (LeaseStore.fence).
 */
import { performance } from "node:perf_hooks";
import type { CoreLogger } from "../core/logger.js";
import { errorText } from "../core/logger.js";
import type { HeldLease, LeaseStore, WorkerInstance } from "./lease-store.js";

export interface LeaseKeeperOptions {
  store: LeaseStore;
  workerId: string;
  role: string;
  /** How long a lease (and a heartbeat) lasts unless renewed (default 20 s). */
  leaseMs?: number;
  /** How often a round runs (default 5 s). */
  renewMs?: number;
  /** A lease counts as lost this long before it expires (default 2 s). */
  marginMs?: number;
  /** Leases given up per round when over the share (default 5). */
  releasePerRound?: number;
  /**
   * This process behind the worker id (scale/worker-identity.ts): at start it takes the
   * leases the id still holds (a dead predecessor's, at new epochs), and it stops acting at
   * once if another process takes the id over. Without it, the id is trusted as unique.
   */
  instance?: WorkerInstance;
  /**
   * The worker now owns these logins: start them. They count as held (lease() answers
   * them) once this resolved, so it should only set things going (the round waits for it,
   * and the leases' renewal with it).
   */
  acquired(leases: readonly HeldLease[]): Promise<void>;
  /** The worker no longer owns the login (lost, or given up): stop acting on it at once. */
  lost(loginId: string, why: "expired" | "released" | "stopping"): Promise<void>;
  logger: CoreLogger;
  /** Monotonic ms (tests). */
  clock?: () => number;
}

export interface LeaseKeeperStats {
  owned: number;
  renewals: number;
  acquired: number;
  /** Leases taken from a holder whose lease ran out (it died or froze), not released. */
  takeovers: number;
  lost: number;
  released: number;
}

export class LeaseKeeper {
  private readonly held = new Map<string, number>();
  /** Logins that work runs for now (use()), with how many pieces of it. */
  private readonly inUse = new Map<string, number>();
  /** Monotonic time until which the held leases count. */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;
  private frozen = false;
  private readonly counts = { renewals: 0, acquired: 0, takeovers: 0, lost: 0, released: 0 };
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly marginMs: number;
  private readonly clock: () => number;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.leaseMs = o.leaseMs ?? 20_000;
    this.renewMs = o.renewMs ?? 5_000;
    this.marginMs = o.marginMs ?? 2_000;
    this.clock = o.clock ?? (() => performance.now());
    if (this.renewMs * 2 > this.leaseMs - this.marginMs) {
      throw new Error("scale: a lease must outlast two renewal rounds and the margin");
    }
  }

  /**
   * The held leases were renewed (or taken) in a round that started at `started`: they count
   * until lease − margin after it. Should no round renew them by then (the database away, the
   * process stalled), they are given up at that moment, not at the next round: a timer fires
   * before the I/O that waited behind a stall is handled.
   */
  private renewedAt(started: number): void {
    this.validUntil = started + this.leaseMs - this.marginMs;
    this.armExpiry();
  }

  private armExpiry(): void {
    if (this.expiry) clearTimeout(this.expiry);
    // A millisecond more: a timer may fire a fraction early by the monotonic clock.
    const wait = Math.max(0, this.validUntil - this.clock()) + 1;
    this.expiry = setTimeout(() => void this.expired(), wait);
    this.expiry.unref();
  }

  private async expired(): Promise<void> {
    if (this.stopped || this.frozen) return;
    if (this.clock() < this.validUntil) {
      this.armExpiry(); // renewed meanwhile, or a fraction early: look again when it is due
      return;
    }
    for (const loginId of [...this.held.keys()]) {
      await this.lose(loginId, "a login's lease ran out before it was renewed");
    }
  }

  /** The login is no longer this worker's (its lease ran out or went to another): let go. */
  private async lose(loginId: string, warning?: string): Promise<void> {
    this.held.delete(loginId);
    this.counts.lost += 1;
    if (warning) this.o.logger.warn(warning, { login: loginId });
    await this.safely("stopping a lost login", () => this.o.lost(loginId, "expired"));
  }

  /** Runs the first round now, then one every renewMs. */
  async start(): Promise<void> {
    const me = this.o.instance;
    if (me) {
      const started = this.clock();
      const kept = await this.o.store.register(this.o.workerId, this.o.role, this.leaseMs, me);
      this.renewedAt(started);
      if (kept.length > 0) await this.safely("starting logins", () => this.o.acquired(kept));
      for (const lease of kept) {
        this.held.set(lease.loginId, lease.epoch);
        this.counts.acquired += 1;
      }
      if (kept.length > 0) {
        this.o.logger.info("logins kept from this worker's last run", { count: kept.length });
      }
    }
    await this.runRound();
    this.schedule();
  }

  /**
   * Takes the login now if nobody holds it (a login this worker has just made): answers
   * whether it holds it. Does not call `acquired`: the caller is starting it already.
   */
  async adopt(loginId: string): Promise<boolean> {
    if (this.lease(loginId)) return true;
    if (this.stopped || this.frozen) return false;
    const started = this.clock();
    const lease = await this.o.store.claimOne(this.o.workerId, loginId, this.leaseMs);
    if (!lease) return false;
    this.held.set(loginId, lease.epoch);
    this.counts.acquired += 1;
    // Held with the others, valid as long as they are (the next round renews them all); the
    // only one held: valid from now.
    if (this.held.size === 1) this.renewedAt(started);
    return true;
  }

  /**
   * Keeps the login here while work for it runs: rebalancing passes it by until the returned
   * function was called (an expiry does not: a lease that ran out is gone whatever runs).
   * Undefined when the login is not held here.
   */
  use(loginId: string): (() => void) | undefined {
    if (!this.lease(loginId)) return undefined;
    this.inUse.set(loginId, (this.inUse.get(loginId) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.inUse.get(loginId) ?? 1) - 1;
      if (left > 0) this.inUse.set(loginId, left);
      else this.inUse.delete(loginId);
    };
  }

  /** The login's lease if this worker holds it now (never after it may have expired). */
  lease(loginId: string): HeldLease | undefined {
    const epoch = this.held.get(loginId);
    if (epoch === undefined || this.clock() >= this.validUntil) return undefined;
    return { loginId, epoch };
  }

  owned(): string[] {
    return this.clock() < this.validUntil ? [...this.held.keys()] : [];
  }

  stats(): LeaseKeeperStats {
    return { owned: this.held.size, ...this.counts };
  }

  /** One round now (tests, and a worker that wants to know at once). */
  runRound(): Promise<void> {
    this.round ??= this.doRound().finally(() => (this.round = undefined));
    return this.round;
  }

  /** Gives every lease up (after stopping each login), so others take them at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.expiry) clearTimeout(this.expiry);
    await this.round;
    for (const [loginId, epoch] of [...this.held]) {
      this.held.delete(loginId);
      await this.safely("stopping a login", () => this.o.lost(loginId, "stopping"));
      await this.safely("releasing a lease", () =>
        this.o.store.release(this.o.workerId, { loginId, epoch }),
      );
    }
    await this.safely("retiring", () => this.o.store.retire(this.o.workerId));
  }

  /**
   * No more rounds, nothing released: what a process that died or froze leaves behind (for
   * tests; `thaw` is the frozen process waking up).
   */
  async freeze(): Promise<void> {
    this.frozen = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.expiry) clearTimeout(this.expiry);
    await this.round;
  }

  thaw(): void {
    this.frozen = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.frozen) return;
    // A little jitter, so that workers started together do not claim in step.
    const delay = this.renewMs * (0.9 + Math.random() * 0.2);
    this.timer = setTimeout(() => {
      void this.runRound().finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  private async doRound(): Promise<void> {
    if (this.stopped) return;
    const started = this.clock();
    const { store, workerId } = this.o;
    try {
      if (!(await store.heartbeat(workerId, this.o.role, this.leaseMs, this.o.instance))) {
        await this.displaced();
        return;
      }
      const mine = [...this.held].map(([loginId, epoch]) => ({ loginId, epoch }));
      const renewed = new Set(await store.renew(workerId, mine, this.leaseMs));
      this.counts.renewals += renewed.size;
      this.renewedAt(started);
      for (const { loginId } of mine) {
        if (!renewed.has(loginId)) await this.lose(loginId, "lost a login's lease");
      }
      await this.balance(started);
    } catch (err) {
      // The database is away: what is held counts until validUntil, no longer.
      this.o.logger.warn("lease round failed", { error: errorText(err) });
    }
  }

  /** Claims or gives up logins toward this worker's share. */
  private async balance(started: number): Promise<void> {
    const { store, workerId } = this.o;
    const workers = Math.max(1, await store.liveWorkers());
    const share = Math.ceil((await store.activeLogins()) / workers);
    if (this.held.size < share) {
      const claimed = await store.claim(workerId, share - this.held.size, this.leaseMs);
      // Claimed in this round: valid as long as those renewed at its start.
      this.renewedAt(started);
      // Held (lease() answers them) once started: work for one that finds it held finds its
      // connection expected.
      if (claimed.length > 0) await this.safely("starting logins", () => this.o.acquired(claimed));
      for (const lease of claimed) {
        this.held.set(lease.loginId, lease.epoch);
        this.counts.acquired += 1;
        if (lease.takenOver) this.counts.takeovers += 1;
      }
      if (claimed.length > 0) {
        this.o.logger.info("logins taken", { count: claimed.length, owned: this.held.size });
      }
      return;
    }
    const surplus = Math.min(this.held.size - share, this.o.releasePerRound ?? 5);
    // Not a login whose user is logging in: their `verify` is coming to this process.
    const enlisting =
      surplus > 0 ? new Set(await store.enlisting([...this.held.keys()])) : new Set<string>();
    // Nor one that work runs for (a command): checked as each is given up, since work may
    // start while an earlier one is being given up.
    let given = 0;
    for (const loginId of [...this.held.keys()]) {
      if (given >= surplus) break;
      const epoch = this.held.get(loginId);
      if (epoch === undefined || enlisting.has(loginId) || this.inUse.has(loginId)) continue;
      given += 1;
      this.held.delete(loginId);
      this.counts.released += 1;
      await this.safely("stopping a login", () => this.o.lost(loginId, "released"));
      await store.release(workerId, { loginId, epoch });
    }
  }

  /** Another process took this worker id over: act for nothing, at once, and stop. */
  private async displaced(): Promise<void> {
    this.o.logger.error(
      "another process took this worker id over: this one stops acting for its logins " +
        "(give every process its own scale.worker_id)",
      { worker: this.o.workerId },
    );
    this.stopped = true;
    this.validUntil = 0;
    for (const loginId of [...this.held.keys()]) await this.lose(loginId);
  }

  private async safely(what: string, task: () => Promise<void>): Promise<void> {
    try {
      await task();
    } catch (err) {
      this.o.logger.warn(`${what} failed`, { error: errorText(err) });
    }
  }
}
