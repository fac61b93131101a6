/**
 * The Matrix side against the test homeserver: config, registration, a SQLite database in a
 * temp folder, and a recording MatrixEventSink (the core's place; the core helper wires the
 * real one).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { parseConfig, registrationFor } from "../../../src/config/index.js";
import type { Config, RegistrationDocument } from "../../../src/config/index.js";
import type { IncomingMatrixMessage, MatrixEventSink } from "../../../src/core/matrix-events.js";
import { migrate, openDatabase } from "../../../src/db/index.js";
import type { IntakeEvent } from "../../../src/db/repositories/matrix-intake.js";
import { startMatrixSide } from "../../../src/matrix/appservice.js";
import type { MatrixSideHandle, StartMatrixSideOptions } from "../../../src/matrix/appservice.js";
import { AppServiceRegistration, Logger } from "../../../src/matrix/appservice-bridge.js";
import { startTestHomeserver } from "../../harness/homeserver/index.js";
import type { TestHomeserver } from "../../harness/homeserver/index.js";

// Tests must not print: route matrix-appservice-bridge's and bot-sdk's logs nowhere.
Logger.configure({ console: "off" });

export const STATIC_KEY = Buffer.alloc(32, 7).toString("base64");

/** A port that was free a moment ago: the registration needs the URL before we listen. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Fixture {
  hs: TestHomeserver;
  config: Config;
  registration: RegistrationDocument;
  db: Knex;
  port: number;
  start(options?: Partial<StartMatrixSideOptions>): Promise<MatrixSideHandle>;
  /** PUT a transaction to the appservice as the homeserver would. */
  putTransaction(
    txnId: string,
    body: Record<string, unknown>,
    token?: string,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function createFixture(): Promise<Fixture> {
  const hs = await startTestHomeserver({ appServiceRetry: { initialMs: 20, maxMs: 200 } });
  const port = await freePort();
  const config = parseConfig(
    {
      homeserver: { url: hs.url, domain: hs.serverName },
      appservice: { port, bind_address: "127.0.0.1" },
      gatekeeper: {
        url: "ws://127.0.0.1:9/gki/1/chat",
        static_key: STATIC_KEY,
        partner_id: "matrix",
        public_base_url: "http://127.0.0.1:9",
        partner_secret: "s".repeat(32),
      },
    },
    "test",
    {},
  );
  const registration = registrationFor(config, {
    url: `http://127.0.0.1:${port}`,
    asToken: randomBytes(16).toString("hex"),
    hsToken: randomBytes(16).toString("hex"),
  });
  hs.addAppService(registration);
  const dir = await mkdtemp(join(tmpdir(), "gkb-matrix-side-"));
  const db = await openDatabase({ type: "sqlite", filename: join(dir, "bridge.sqlite") });
  await migrate(db);
  const handles: MatrixSideHandle[] = [];

  return {
    hs,
    config,
    registration,
    db,
    port,
    async start(options = {}) {
      const handle = await startMatrixSide({
        config,
        registration: AppServiceRegistration.fromObject(registration),
        db,
        intake: { maxAttempts: 3, backoff: { initialMs: 20, maxMs: 100 } },
        ...options,
      });
      handles.push(handle);
      return handle;
    },
    async putTransaction(txnId, body, token = registration.hs_token) {
      const res = await fetch(
        `http://127.0.0.1:${port}/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}`,
        {
          method: "PUT",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        },
      );
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    async close() {
      for (const h of handles) await h.stop();
      await hs.close();
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Records what the core would get; can be told to fail or to hold events. */
export class RecordingSink implements MatrixEventSink {
  readonly messages: IncomingMatrixMessage[] = [];
  readonly invites: { roomId: string; inviter: string; isDirect: boolean }[] = [];
  readonly memberships: { roomId: string; userMxid: string; membership: string }[] = [];
  /** Calls of onRoomMessage, including failed ones. */
  attempts = 0;
  /** Reject the next `n` onRoomMessage calls. */
  failNext = 0;
  /** Reject every onRoomMessage call. */
  failAlways = false;
  private waiters: (() => void)[] = [];

  async onRoomMessage(message: IncomingMatrixMessage): Promise<void> {
    this.attempts += 1;
    if (this.failAlways || this.failNext > 0) {
      if (this.failNext > 0) this.failNext -= 1;
      throw new Error("sink refused");
    }
    this.messages.push(message);
    this.notify();
  }

  async onBotInvited(roomId: string, inviter: string, isDirect: boolean): Promise<void> {
    this.invites.push({ roomId, inviter, isDirect });
    this.notify();
  }

  async onMembership(roomId: string, userMxid: string, membership: string): Promise<void> {
    this.memberships.push({ roomId, userMxid, membership });
    this.notify();
  }

  /** Resolves once `check` holds (checked after every recorded call). */
  until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("sink: condition not met in time")),
        timeoutMs,
      );
      const waiter = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      };
      this.waiters.push(waiter);
    });
  }

  bodies(): string[] {
    return this.messages.map((m) => m.body);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** An m.room.message as the homeserver pushes it. */
export function textEvent(
  roomId: string,
  eventId: string,
  body: string,
  sender = "@alice:localhost",
): IntakeEvent {
  return {
    type: "m.room.message",
    event_id: eventId,
    room_id: roomId,
    sender,
    origin_server_ts: Date.now(),
    content: { msgtype: "m.text", body },
  };
}
