/**
 * Starts the Matrix side: matrix-appservice-bridge's Bridge (intents, registration, bot) with
 * the durable transaction endpoint in front, the intake worker behind it, the bot's profile,
 * and Prometheus metrics on their own listener when enabled.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { Knex } from "knex";
import type { Config } from "../config/types.js";
import type { LeaseKeeperStats } from "../scale/lease-keeper.js";
import type { MatrixEventSink } from "../core/matrix-events.js";
import { MatrixIntakeRepository } from "../db/repositories/matrix-intake.js";
import type { IntakeEvent, IntakeScope } from "../db/repositories/matrix-intake.js";
import { UserRepository } from "../db/repositories/users.js";
import { Bridge, Logger } from "./appservice-bridge.js";
import type { AppServiceRegistration } from "./appservice-bridge.js";
import { ensureBotProfile } from "./bot-profile.js";
import { DurableAppService } from "./durable-appservice.js";
import { HomeserverCatchUp } from "./homeserver-catch-up.js";
import { EphemeralIntake } from "./ephemeral-intake.js";
import { classifyEvent } from "./event-classifier.js";
import { markupToMatrix, matrixToMarkup, matrixToMarkupWithMentions } from "./formatting/index.js";
import { tellGaveUp } from "./gave-up-notice.js";
import { startIntakePruner } from "./intake-pruner.js";
import { errorMessage, IntakeWorker } from "./intake-worker.js";
import { AppserviceMatrixSide } from "./matrix-side.js";
import { MatrixMedia } from "./matrix-media.js";
import { MatrixMediaHttp } from "./media-http.js";

/** GKI/1 native users are `<lid>@lid.gk`: their puppets are named by the lid alone. */
export const GATEKEEPER_NATIVE_DOMAIN = "lid.gk";
export const NETWORK_NAME = "Gatekeeper";

export interface StartMatrixSideOptions {
  config: Config;
  registration: AppServiceRegistration;
  db: Knex;
  /** Defaults to config.appservice.port (0 picks a free port). */
  port?: number;
  /** Defaults to config.appservice.bindAddress. */
  host?: string;
  /** Intake retry policy (tests shorten it). */
  intake?: { maxAttempts?: number; backoff?: { initialMs?: number; maxMs?: number } };
  /**
   * Several processes (docs/architecture.md, "Several processes"). `listen` false: a worker
   * that takes no pushes from the homeserver (the intake does). `scope`: the queued events
   * this process takes (its logins' users', and those of users with no login). `notices`:
   * tells the other processes what was stored, and passes the ephemeral events on to them
   * (instead of handling them here: their users' logins may be held elsewhere).
   */
  cluster?: {
    listen: boolean;
    /** The worker's lease figures, for the metrics (absent: the intake alone). */
    stats?: () => ScaleStats;
    scope?: IntakeScope;
    notices?: { stored(roomIds: readonly string[]): void; ephemeral(events: Json[]): void };
  };
}

type Json = Record<string, unknown>;

/** A worker's lease figures, for the metrics. */
export type ScaleStats = LeaseKeeperStats;

export interface MatrixSideHandle {
  matrixSide: AppserviceMatrixSide;
  /** Wire the core: from then on queued events (also from before a restart) are handed over. */
  intake: {
    setSink(sink: MatrixEventSink, ephemeralSink?: MatrixEventSink): void;
    /** New events may be queued (in these rooms; all rooms if omitted): look. */
    wake(roomIds?: Iterable<string>): void;
    /** Ephemeral events another process passed on. */
    ephemeral(events: Json[]): void;
  };
  bridge: Bridge;
  /** The appservice listener's port. */
  port: number;
  /** The metrics listener's port, when metrics are enabled. */
  metricsPort: number | undefined;
  /**
   * Graceful stop: the homeserver is answered 503 (it retries after the restart), the
   * transactions being stored commit, each room's current event is finished, then the
   * listeners close.
   */
  stop(): Promise<void>;
}

const log = new Logger("MatrixAppservice");

export async function startMatrixSide(opts: StartMatrixSideOptions): Promise<MatrixSideHandle> {
  const { config, registration, db } = opts;
  const homeserverToken = registration.getHomeserverToken();
  if (!homeserverToken) throw new Error("the registration has no hs_token");

  const bridge = new Bridge({
    homeserverUrl: config.homeserver.url,
    domain: config.homeserver.domain,
    registration,
    networkName: NETWORK_NAME,
    // Events reach the core through the durable queue, not through the Bridge's emitter.
    controller: {
      onEvent: () => undefined,
      onLog: (text, isError) => (isError ? log.error(text) : log.debug(text)),
    },
    disableStores: true,
    // Puppet localparts are escaped by puppet-identity.ts already.
    escapeUserIds: false,
  });
  await bridge.initialise();

  const intakeRepo = new MatrixIntakeRepository(db);
  const botMxid = bridge.botUserId;
  const isBridgeUser = (userId: string): boolean =>
    userId === botMxid || registration.isUserMatch(userId, false);

  const catchUp = new HomeserverCatchUp({
    intake: intakeRepo,
    // Called only once transactions arrive, after matrixSide exists.
    latestEvents: async (roomId, limit) =>
      (await matrixSide.latestEvents(roomId, limit)).filter(
        (e): e is IntakeEvent => typeof e.event_id === "string",
      ),
    log,
  });
  const matrixSide = new AppserviceMatrixSide({
    bridge,
    domain: config.homeserver.domain,
    usernameTemplate: config.bridge.usernameTemplate,
    displaynameTemplate: config.bridge.displaynameTemplate,
    spaceName: config.bridge.spaceName,
    networkName: NETWORK_NAME,
    successStatuses: config.bridge.messageStatusEvents,
    nativeContactDomain: GATEKEEPER_NATIVE_DOMAIN,
    users: new UserRepository(db),
    toMatrix: markupToMatrix,
    media: mediaFor(config, registration),
    onHomeserverAway: () => catchUp.suspectRestart(),
  });

  const worker = new IntakeWorker({
    queue: intakeRepo,
    classify: (event) =>
      classifyEvent(event, {
        botMxid,
        isBridgeUser,
        toMarkup: matrixToMarkup,
        toMarkupWithMentions: matrixToMarkupWithMentions,
      }),
    onGaveUp: (action, event, gaveUp) =>
      tellGaveUp(matrixSide, NETWORK_NAME, action, event, gaveUp),
    ...(opts.intake?.maxAttempts !== undefined ? { maxAttempts: opts.intake.maxAttempts } : {}),
    ...(opts.intake?.backoff ? { backoff: opts.intake.backoff } : {}),
    ...(opts.cluster?.scope ? { scope: opts.cluster.scope } : {}),
  });

  const ephemeral = new EphemeralIntake({ isBridgeUser, log });
  const notices = opts.cluster?.notices;
  const appservice = new DurableAppService({
    homeserverToken,
    intake: intakeRepo,
    catchUp,
    onStored: (roomIds) => {
      worker.wake(roomIds);
      notices?.stored(roomIds);
    },
    // The classifier ignores them anyway ("sent by the bridge"): not worth a worker's turn.
    isOwnSender: isBridgeUser,
    onEphemeral: (events) => (notices ? notices.ephemeral(events) : ephemeral.handle(events)),
  });
  const listening = opts.cluster?.listen ?? true;
  if (listening) {
    await bridge.listen(
      opts.port ?? config.appservice.port,
      opts.host ?? config.appservice.bindAddress,
      undefined,
      appservice,
    );
  }

  await setBotProfile(bridge, config);
  const pruner = startIntakePruner(intakeRepo);
  let metricsServer: Server | undefined;
  try {
    metricsServer = config.metrics.enabled
      ? await startMetrics(bridge, config, opts.db, opts.cluster?.stats)
      : undefined;
  } catch (err) {
    pruner.stop();
    await bridge.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    matrixSide,
    intake: {
      setSink: (sink, ephemeralSink) => {
        worker.setSink(sink);
        ephemeral.setSink(ephemeralSink ?? sink);
      },
      wake: (roomIds) => worker.wake(roomIds),
      ephemeral: (events) => ephemeral.handle(events),
    },
    bridge,
    port: listening ? appservice.port : 0,
    metricsPort: metricsServer ? (metricsServer.address() as AddressInfo).port : undefined,
    stop() {
      stopping ??= (async () => {
        pruner.stop();
        if (listening) await appservice.stopAccepting();
        await worker.stop();
        await ephemeral.stop();
        await bridge.close();
        if (metricsServer) {
          const closed = once(metricsServer, "close");
          metricsServer.close();
          await closed;
        }
      })();
      return stopping;
    },
  };
}

/**
 * Several processes: this worker's logins and leases (bridge_scale_*). Counters are brought
 * up to the keeper's totals at each scrape.
 */
function scaleMetrics(
  metrics: ReturnType<Bridge["getPrometheusMetrics"]>,
  stats: () => ScaleStats,
): void {
  const owned = metrics.addGauge({
    name: "scale_logins_owned",
    help: "Logins this worker holds the lease of",
    labels: [],
  });
  const counters = {
    renewals: ["scale_lease_renewals_total", "Lease renewals by this worker"],
    acquired: [
      "scale_logins_acquired_total",
      "Logins this worker took (new, handed over or taken over)",
    ],
    takeovers: ["scale_takeovers_total", "Logins taken over from a worker whose lease ran out"],
    lost: ["scale_logins_lost_total", "Leases this worker lost (ran out before renewal)"],
    released: ["scale_logins_released_total", "Logins this worker handed over (rebalancing)"],
  } as const;
  const made = Object.entries(counters).map(([key, [name, help]]) => ({
    key: key as keyof typeof counters,
    counter: metrics.addCounter({ name, help, labels: [] }),
    seen: 0,
  }));
  metrics.addCollector(() => {
    const now = stats();
    owned.set(now.owned);
    for (const m of made) {
      const total = now[m.key];
      if (total > m.seen) m.counter.inc(total - m.seen);
      m.seen = total;
    }
  });
}

/** Streaming media through the homeserver's content repository, with the as_token. */
function mediaFor(config: Config, registration: AppServiceRegistration): MatrixMedia | undefined {
  const asToken = registration.getAppServiceToken();
  if (!asToken) return undefined;
  const http = new MatrixMediaHttp({ homeserverUrl: config.homeserver.url, asToken });
  return new MatrixMedia(http, markupToMatrix);
}

async function setBotProfile(bridge: Bridge, config: Config): Promise<void> {
  try {
    await ensureBotProfile(bridge.getIntent(), config.appservice.bot);
  } catch (err) {
    // Cosmetic: the bridge works without it, and the next start tries again.
    log.warn(`Could not set the bot's profile: ${errorMessage(err)}`);
  }
}

async function startMetrics(
  bridge: Bridge,
  config: Config,
  db: Knex,
  scale?: () => ScaleStats,
): Promise<Server> {
  const metrics = bridge.getPrometheusMetrics(false);
  if (scale) scaleMetrics(metrics, scale);
  // What the bridge asks of its database (bridge_db_queries_total: the library adds "bridge_"):
  // statements per message is what sizing depends on.
  const queries = metrics.addCounter({
    name: "db_queries_total",
    help: "Database statements the bridge has run",
    labels: [],
  });
  db.on("query", () => queries.inc());
  const app = express();
  // PrometheusMetrics can only mount /metrics through something with addAppServicePath; its
  // registry is private. This gives it our own listener instead of the appservice's.
  const mount = {
    addAppServicePath: (route: { path: string; handler: express.RequestHandler }) => {
      app.get(route.path, route.handler);
    },
  };
  metrics.addAppServicePath(mount as unknown as Bridge);
  const server = createServer(app);
  server.listen(config.metrics.port, config.metrics.bindAddress);
  await once(server, "listening");
  return server;
}
