/**
 * An in-process Matrix homeserver for tests: the client-server and application-service APIs a
 * bridge and matrix-js-sdk use, following the spec's paths, JSON shapes, auth and errors.
 * State lives in memory; one instance per test file is cheap.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import type { DeliveryStatus } from "./appservice-pusher.js";
import { Homeserver } from "./homeserver.js";
import { roomInspector } from "./inspect.js";
import type { RoomInspector } from "./inspect.js";
import type { RateLimitHandle, RateLimitRule } from "./rate-limit.js";
import { assertUsernameAvailable } from "./registration.js";
import { Router } from "./router.js";
import type { RequestLogEntry } from "./router.js";
import { registerAppServiceRoutes } from "./routes/appservice-routes.js";
import { registerEphemeralRoutes } from "./routes/ephemeral-routes.js";
import { registerEventRoutes } from "./routes/event-routes.js";
import { registerMediaRoutes } from "./routes/media-routes.js";
import { registerRoomRoutes } from "./routes/room-routes.js";
import { registerSessionRoutes } from "./routes/session-routes.js";
import { registerSynapseAdminRoutes } from "./routes/synapse-admin-routes.js";
import { registerSyncRoutes } from "./routes/sync-routes.js";
import { registerUserDataRoutes } from "./routes/user-data-routes.js";
import type { AppServiceRegistrationLike, RegisteredUser } from "./types.js";

export type {
  AppServiceRegistrationLike,
  NamespaceEntry,
  RegisteredUser,
  JsonObject,
} from "./types.js";
export type { RateLimitHandle, RateLimitRule } from "./rate-limit.js";
export type { DeliveryStatus } from "./appservice-pusher.js";
export type { RoomInspector } from "./inspect.js";
export type { RequestLogEntry } from "./router.js";
export { MatrixHttpError } from "./errors.js";

export interface TestHomeserverOptions {
  serverName?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  registrations?: AppServiceRegistrationLike[];
  /** Backoff between retries of a failed AS transaction (default 50 ms doubling to 2 s). */
  appServiceRetry?: { initialMs?: number; maxMs?: number };
  /** Also send hs_token as `?access_token=` to application services (pre-v1.4 style). */
  legacyAppServiceAuth?: boolean;
  maxUploadBytes?: number;
  /**
   * Enable Synapse's shared-secret registration (/_synapse/admin/v1/register) with this
   * secret; not a spec endpoint, off by default. Used to test test/harness/target.ts.
   */
  registrationSharedSecret?: string;
}

export interface TestHomeserver extends RoomInspector {
  /** Base URL for clients, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly serverName: string;
  /** Create an account (as an admin would) and log a device in. */
  registerUser(
    localpart: string,
    password?: string,
  ): Promise<RegisteredUser & { password: string }>;
  addAppService(registration: AppServiceRegistrationLike): void;
  /** Refuse matching requests with 429 M_LIMIT_EXCEEDED. */
  rateLimit(rule: RateLimitRule): RateLimitHandle;
  /** The next `n` transaction attempts to the AS (default: every AS) fail as if it were down. */
  failAppServicePushes(n: number, appServiceId?: string): void;
  /** Take an AS off the network (its transactions queue and retry) or bring it back. */
  setAppServiceReachable(appServiceId: string, reachable: boolean): void;
  appServiceDelivery(appServiceId: string): DeliveryStatus;
  /** Resolve once every queued transaction (of one AS, or all) has been acknowledged. */
  waitForAppServiceIdle(appServiceId?: string, timeoutMs?: number): Promise<void>;
  /** Unexpected exceptions inside request handlers (500s); a test may assert it stays empty. */
  readonly internalErrors: readonly unknown[];
  /** Requests handled so far (method, path, status, errcode, user), oldest first. */
  readonly requests: readonly RequestLogEntry[];
  close(): Promise<void>;
}

export async function startTestHomeserver(
  opts: TestHomeserverOptions = {},
): Promise<TestHomeserver> {
  const serverName = opts.serverName ?? "localhost";
  const hs = new Homeserver({
    serverName,
    maxUploadBytes: opts.maxUploadBytes ?? 50 * 1024 * 1024,
    pusher: {
      initialBackoffMs: opts.appServiceRetry?.initialMs ?? 50,
      maxBackoffMs: opts.appServiceRetry?.maxMs ?? 2_000,
      requestTimeoutMs: 10_000,
      maxPerTransaction: 100,
      legacyQueryAuth: opts.legacyAppServiceAuth === true,
    },
  });
  for (const reg of opts.registrations ?? []) hs.addAppService(reg);

  const router = new Router(hs);
  registerSessionRoutes(router);
  registerUserDataRoutes(router);
  registerRoomRoutes(router);
  registerEventRoutes(router);
  registerSyncRoutes(router);
  registerEphemeralRoutes(router);
  registerMediaRoutes(router);
  registerAppServiceRoutes(router);
  if (opts.registrationSharedSecret !== undefined) {
    registerSynapseAdminRoutes(router, opts.registrationSharedSecret);
  }
  router.finish();

  const server = createServer(router.app);
  server.listen(opts.port ?? 0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  const queues = (asId?: string) => (asId === undefined ? hs.allQueues() : [hs.queue(asId)]);

  return {
    url: `http://127.0.0.1:${port}`,
    serverName,
    ...roomInspector(hs),
    async registerUser(localpart, password = randomBytes(12).toString("base64url")) {
      assertUsernameAvailable(hs, localpart);
      const user = hs.users.create(localpart, { password });
      const t = hs.users.issueToken(user.userId);
      return { userId: user.userId, accessToken: t.accessToken, deviceId: t.deviceId, password };
    },
    addAppService: (reg) => void hs.addAppService(reg),
    rateLimit: (rule) => hs.rateLimiter.add(rule),
    failAppServicePushes(n, asId) {
      for (const q of queues(asId)) q.failNext(n);
    },
    setAppServiceReachable: (asId, reachable) => hs.queue(asId).setReachable(reachable),
    appServiceDelivery: (asId) => hs.queue(asId).status(),
    async waitForAppServiceIdle(asId, timeoutMs = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("application service queue did not drain in time")),
          timeoutMs,
        );
      });
      try {
        await Promise.race([Promise.all(queues(asId).map((q) => q.whenIdle())), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    internalErrors: router.internalErrors,
    requests: router.requestLog,
    async close() {
      hs.close();
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
