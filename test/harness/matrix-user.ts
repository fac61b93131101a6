/**
 * A Matrix user in tests: a real matrix-js-sdk client (no crypto) against the test homeserver
 * or a real one, plus small waiting helpers. Everything goes through the client-server API.
 */
import {
  ClientEvent,
  createClient,
  KnownMembership,
  MsgType,
  RoomEvent,
  RoomMemberEvent,
  SyncState,
} from "matrix-js-sdk";
import type { MatrixClient, MatrixEvent, Room } from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";
import { logger as globalSdkLogger } from "matrix-js-sdk/lib/logger.js";

export type { MatrixClient, MatrixEvent, Room } from "matrix-js-sdk";

/** A logger that keeps the js-sdk's lines in memory (tests must not print noise). */
export class BufferedSdkLogger implements Logger {
  constructor(readonly lines: string[] = []) {}
  private add(level: string, msg: unknown[]): void {
    if (this.lines.length < 2_000) this.lines.push(`${level} ${msg.map(String).join(" ")}`);
  }
  trace = (...msg: unknown[]): void => this.add("trace", msg);
  debug = (...msg: unknown[]): void => this.add("debug", msg);
  info = (...msg: unknown[]): void => this.add("info", msg);
  warn = (...msg: unknown[]): void => this.add("warn", msg);
  error = (...msg: unknown[]): void => this.add("error", msg);
  getChild(): Logger {
    return this;
  }
}

let globalSilenced = false;
function silenceGlobalSdkLogger(): void {
  if (globalSilenced) return;
  globalSilenced = true;
  // The deprecated global logger is a loglevel logger that some js-sdk modules still use, and
  // its children copy its method factory when created: a no-op factory silences them all.
  const root = globalSdkLogger as unknown as { methodFactory: () => () => void; rebuild(): void };
  root.methodFactory = () => () => undefined;
  root.rebuild();
}

export interface MatrixUserCredentials {
  baseUrl: string;
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface StartOptions {
  initialSyncLimit?: number;
  /** Milliseconds to wait for the first sync. */
  timeoutMs?: number;
}

/** Create a client for a registered user and wait until its first sync is processed. */
export async function startMatrixClient(
  creds: MatrixUserCredentials,
  opts: StartOptions = {},
): Promise<MatrixClient> {
  silenceGlobalSdkLogger();
  const client = createClient({
    baseUrl: creds.baseUrl,
    userId: creds.userId,
    accessToken: creds.accessToken,
    deviceId: creds.deviceId,
    logger: new BufferedSdkLogger(),
    timelineSupport: true,
  });
  const prepared = waitFor<void>(
    opts.timeoutMs ?? 15_000,
    `first sync of ${creds.userId}`,
    (resolve, reject) => {
      const onSync = (
        state: SyncState,
        _prev: SyncState | null,
        data?: { error?: Error },
      ): void => {
        if (state === SyncState.Prepared) resolve();
        if (state === SyncState.Error) reject(data?.error ?? new Error("sync failed"));
      };
      client.on(ClientEvent.Sync, onSync);
      return () => client.off(ClientEvent.Sync, onSync);
    },
  );
  await client.startClient({
    initialSyncLimit: opts.initialSyncLimit ?? 20,
    lazyLoadMembers: false,
  });
  await prepared;
  return client;
}

/** Log in with a password (POST /login) and start a client for the new device. */
export async function loginMatrixClient(
  baseUrl: string,
  user: string,
  password: string,
  opts: StartOptions = {},
): Promise<MatrixClient> {
  silenceGlobalSdkLogger();
  const bare = createClient({ baseUrl, logger: new BufferedSdkLogger() });
  const res = await bare.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user },
    password,
  });
  bare.stopClient();
  return startMatrixClient(
    { baseUrl, userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id },
    opts,
  );
}

export function stopMatrixClient(client: MatrixClient): void {
  client.stopClient();
  client.removeAllListeners();
}

/** Run `setup` until it resolves, rejects, or the timeout passes; `setup` returns its cleanup. */
function waitFor<T>(
  timeoutMs: number,
  what: string,
  setup: (resolve: (v: T) => void, reject: (e: unknown) => void) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup: () => void = () => undefined;
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const done = (f: () => void): void => {
      clearTimeout(timer);
      cleanup();
      f();
    };
    cleanup = setup(
      (v) => done(() => resolve(v)),
      (e) => done(() => reject(e)),
    );
  });
}

export type EventPredicate = (event: MatrixEvent, room: Room | undefined) => boolean;

/** Came back from the homeserver through /sync (not a local echo still being sent). */
const fromServer = (e: MatrixEvent): boolean => e.status === null;

/**
 * Resolve with the first live-timeline event from the homeserver matching `predicate`, including
 * events the client already has (so a caller never loses a race with the sync loop). The
 * user's own messages count once their remote echo arrived through /sync.
 */
export function waitForRoomEvent(
  client: MatrixClient,
  predicate: EventPredicate,
  timeoutMs = 10_000,
): Promise<MatrixEvent> {
  for (const room of client.getRooms()) {
    const found = room
      .getLiveTimeline()
      .getEvents()
      .find((e) => fromServer(e) && predicate(e, room));
    if (found) return Promise.resolve(found);
  }
  return waitFor<MatrixEvent>(timeoutMs, "a matching room event", (resolve) => {
    const onTimeline = (
      event: MatrixEvent,
      room: Room | undefined,
      toStartOfTimeline: boolean | undefined,
    ): void => {
      if (!toStartOfTimeline && fromServer(event) && predicate(event, room)) resolve(event);
    };
    const onEcho = (event: MatrixEvent, room: Room): void => {
      if (fromServer(event) && predicate(event, room)) resolve(event);
    };
    client.on(RoomEvent.Timeline, onTimeline);
    client.on(RoomEvent.LocalEchoUpdated, onEcho);
    return () => {
      client.off(RoomEvent.Timeline, onTimeline);
      client.off(RoomEvent.LocalEchoUpdated, onEcho);
    };
  });
}

/** Resolve with the id of a room this user is invited to (optionally one matching `predicate`). */
export function waitForInvite(
  client: MatrixClient,
  predicate: (room: Room) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<string> {
  const existing = client
    .getRooms()
    .find((r) => r.getMyMembership() === KnownMembership.Invite && predicate(r));
  if (existing) return Promise.resolve(existing.roomId);
  return waitFor<string>(timeoutMs, "an invite", (resolve) => {
    const onMembership = (room: Room, membership: string): void => {
      if (membership === KnownMembership.Invite && predicate(room)) resolve(room.roomId);
    };
    client.on(RoomEvent.MyMembership, onMembership);
    return () => client.off(RoomEvent.MyMembership, onMembership);
  });
}

/** Resolve once the client's view of `userId` in `roomId` has the given membership. */
export function waitForMembership(
  client: MatrixClient,
  roomId: string,
  userId: string,
  membership: string,
  timeoutMs = 10_000,
): Promise<void> {
  const current = client.getRoom(roomId)?.getMember(userId)?.membership;
  if (current === membership) return Promise.resolve();
  return waitFor<void>(timeoutMs, `${userId} to be ${membership} in ${roomId}`, (resolve) => {
    const onMember = (
      _e: MatrixEvent,
      member: { roomId: string; userId: string; membership?: string },
    ): void => {
      if (member.roomId === roomId && member.userId === userId && member.membership === membership)
        resolve();
    };
    client.on(RoomMemberEvent.Membership, onMember);
    return () => client.off(RoomMemberEvent.Membership, onMember);
  });
}

/** Join and wait until the client's own sync shows the room as joined. */
export async function joinRoom(
  client: MatrixClient,
  roomIdOrAlias: string,
  timeoutMs = 10_000,
): Promise<string> {
  const room = await client.joinRoom(roomIdOrAlias);
  if (room.getMyMembership() !== KnownMembership.Join) {
    await waitForMembership(
      client,
      room.roomId,
      client.getSafeUserId(),
      KnownMembership.Join,
      timeoutMs,
    );
  }
  return room.roomId;
}

export async function sendText(
  client: MatrixClient,
  roomId: string,
  body: string,
): Promise<string> {
  const res = await client.sendMessage(roomId, { msgtype: MsgType.Text, body });
  return res.event_id;
}

/** Wait for an m.room.message with this body from `sender` (any sender when omitted). */
export function waitForText(
  client: MatrixClient,
  roomId: string,
  body: string,
  sender?: string,
  timeoutMs = 10_000,
): Promise<MatrixEvent> {
  return waitForRoomEvent(
    client,
    (e) =>
      e.getRoomId() === roomId &&
      e.getType() === "m.room.message" &&
      e.getContent().body === body &&
      (sender === undefined || e.getSender() === sender),
    timeoutMs,
  );
}
