/**
 * The composition root: database, gatekeeper network connector, partner endpoints, Matrix
 * side and core, wired together; then every enlisted login is connected. stop() is the
 * graceful shutdown (SIGTERM, see cli.ts): intake stops (the homeserver retries later),
 * in-flight work finishes or stays persisted, connections close, the database last.
 */
import { BRIDGE_VERSION } from "./config/index.js";
import type { Config } from "./config/index.js";
import { BridgeCore } from "./core/bridge-core.js";
import type { CoreLogger, LogFields } from "./core/logger.js";
import { migrate, openDatabase } from "./db/index.js";
import { lockSqliteFile } from "./db/sqlite-lock.js";
import { LoginRepository } from "./db/repositories/index.js";
import { GatekeeperNetwork, startPartnerEndpoints } from "./connector/index.js";
import { startNetworkMedia } from "./connector/media-setup.js";
import { Logger, setBridgeVersion } from "./matrix/appservice-bridge.js";
import type { AppServiceRegistration } from "./matrix/appservice-bridge.js";
import { startMatrixSide } from "./matrix/appservice.js";
import { quietExpectedBotSdkAnswers } from "./matrix/bot-sdk-log.js";
import { ClusterWorker, IntakeNotices } from "./scale/cluster.js";
import { defaultWorkerId } from "./scale/worker-identity.js";

export interface StartBridgeOptions {
  /** Port for the homeserver's pushes (0 picks a free one). */
  port: number;
  /** Address to bind it to (default: appservice.bind_address). */
  host?: string;
}

export interface RunningBridge {
  /** Where the partner endpoints listen (the gatekeeper's auth callback goes here). */
  readonly partnerEndpointsUrl: string;
  /** The appservice listener's port. */
  readonly appservicePort: number;
  stop(): Promise<void>;
}

/** matrix-appservice-bridge's Logger behind the small interface the core and client use. */
export function loggerFor(module: string): CoreLogger {
  const log = new Logger(module);
  const withFields =
    (fn: (msg: string, ...data: unknown[]) => void) =>
    (message: string, fields?: LogFields): void =>
      fields === undefined ? fn.call(log, message) : fn.call(log, message, fields);
  return {
    debug: withFields(log.debug),
    info: withFields(log.info),
    warn: withFields(log.warn),
    error: withFields(log.error),
  };
}

export async function startBridge(
  config: Config,
  registration: AppServiceRegistration,
  options: StartBridgeOptions,
): Promise<RunningBridge> {
  const log = loggerFor("Bridge");
  // matrix-appservice-bridge looks for the version (bridge_app_version) through npm's
  // environment or require.main, neither of which there is in `node dist/cli.js`.
  setBridgeVersion(BRIDGE_VERSION);
  quietExpectedBotSdkAnswers();
  const cleanup: (() => Promise<void>)[] = [];
  const undo = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) {
      await step().catch((err: unknown) =>
        log.warn("clean-up step failed", { error: String(err) }),
      );
    }
  };
  try {
    const database = config.database;
    const lock =
      database.type === "sqlite" && database.filename !== ":memory:"
        ? await lockSqliteFile(database.filename)
        : undefined;
    if (lock) cleanup.push(() => lock.release());
    const db = await openDatabase(config.database, {
      logger: { warn: (m) => log.warn(m), error: (m) => log.error(m) },
    });
    cleanup.push(() => db.destroy());
    await migrate(db);

    const logins = new LoginRepository(db);
    const media = await startNetworkMedia({
      db,
      directory: config.bridge.media.directory,
      expirySeconds: config.bridge.media.hostedExpirySeconds,
      publicBaseUrl: () => config.gatekeeper.publicBaseUrl,
      logger: loggerFor("Media"),
    });
    cleanup.push(async () => media.stop());
    const endpoints = await startPartnerEndpoints({
      partnerId: config.gatekeeper.partnerId,
      partnerSecret: config.gatekeeper.partnerSecret,
      verify: async (accountId, token) => {
        const login = await logins.verifyToken(accountId, token);
        return login && { phone: login.phone };
      },
      port: config.gatekeeper.listen.port,
      bindAddress: config.gatekeeper.listen.bindAddress,
      logger: loggerFor("PartnerEndpoints"),
      media: media.hosted,
    });
    cleanup.push(() => endpoints.close());

    // Several processes on PostgreSQL (docs/architecture.md, "Several processes"): leases
    // decide which logins this one acts for; SQLite is one process (the lock above).
    const role = config.scale.role;
    const notices =
      database.type === "postgres" ? new IntakeNotices(db, loggerFor("Intake")) : undefined;
    const cluster =
      database.type === "postgres" && role !== "intake"
        ? new ClusterWorker({
            db,
            databaseUrl: database.url,
            workerId: config.scale.workerId ?? defaultWorkerId(),
            role,
            leaseMs: config.scale.leaseSeconds * 1000,
            renewMs: config.scale.renewSeconds * 1000,
            logger: loggerFor("Scale"),
            onIntake: (roomIds) => matrix.intake.wake(roomIds),
            onEphemeral: (events) => matrix.intake.ephemeral(events),
          })
        : undefined;

    if (notices && database.type === "postgres" && !cluster) {
      // The intake alone: its row cache hears the workers' writes.
      await notices.listen(database.url);
      cleanup.push(() => notices.stop());
    }

    // The intake alone holds no logins: no gatekeeper connections, no core.
    const network =
      role === "intake"
        ? undefined
        : new GatekeeperNetwork({
            url: config.gatekeeper.url,
            serverStaticKey: config.gatekeeper.staticKey,
            partnerId: config.gatekeeper.partnerId,
            db,
            userAgent: config.gatekeeper.userAgent,
            logger: loggerFor("Gatekeeper"),
            media: { hosted: media.hosted, tempDir: media.tempDir },
            editWindowSeconds: config.bridge.editWindowSeconds,
            holdOnIdentityChange: config.bridge.identityChange === "hold",
          });
    if (network) cleanup.push(() => network.stop());

    const matrix = await startMatrixSide({
      config,
      registration,
      db,
      port: options.port,
      host: options.host ?? config.appservice.bindAddress,
      ...(notices
        ? {
            cluster: {
              listen: role !== "worker",
              ...(cluster
                ? { scope: { workerId: cluster.workerId }, stats: () => cluster.stats() }
                : {}),
              notices,
            },
          }
        : {}),
    });
    cleanup.push(() => matrix.stop());

    const core =
      network &&
      new BridgeCore({
        config,
        db,
        network,
        matrix: matrix.matrixSide,
        logger: loggerFor,
        ...(cluster ? { ownership: cluster } : {}),
      });
    if (core) {
      cleanup.push(() => core.stop());
      // Logins first: the network expects them, so a command the intake hands over (say,
      // `start`) waits for its login's connection; the connections go on in the background.
      await core.start();
      matrix.intake.setSink(core, cluster?.ownedUsersOnly(core));
    }
    if (core && cluster) {
      cleanup.push(() => cluster.stop());
      await cluster.start({
        take: (loginIds) => core.takeLogins(loginIds),
        give: (loginId) => core.giveLogin(loginId),
        resume: () => {
          matrix.intake.wake();
          void core
            .resumeSends()
            .catch((err: unknown) => log.warn("could not resume sends", { error: String(err) }));
        },
      });
    }
    log.info("bridge started", {
      role,
      ...(cluster ? { worker: cluster.workerId } : {}),
      ...(role !== "worker" ? { appservicePort: matrix.port } : {}),
      partnerEndpoints: endpoints.url,
    });

    let stopping: Promise<void> | undefined;
    return {
      partnerEndpointsUrl: endpoints.url,
      appservicePort: matrix.port,
      stop: () =>
        (stopping ??= (async () => {
          log.info("stopping");
          // Order: Matrix intake first (nothing new comes in), the core's workers, the
          // leases (each login closed, then given up: the others take them at once), the
          // gatekeeper connections, the partner endpoints, then the database.
          await matrix.stop();
          await core?.stop();
          await cluster?.stop();
          await notices?.stop();
          await network?.stop();
          await endpoints.close();
          media.stop();
          await db.destroy();
          await lock?.release();
          cleanup.length = 0;
          log.info("stopped");
        })()),
    };
  } catch (err) {
    await undo();
    throw err;
  }
}
