/**
 * The people of the load bench: native gatekeeper users (a GatekeeperClient each, as their
 * app would be, sharing one SQLite file) and Matrix users (plain HTTP, see matrix-http.ts),
 * each Matrix user logged in through the bridge's bot with a few chats started, exactly the
 * steps a person takes.
 */
import { join } from "node:path";
import type { Knex } from "knex";
import { migrate, openDatabase } from "../../src/db/index.js";
import { GatekeeperClient } from "../../src/gatekeeper/client/index.js";
import { describeContent } from "../../src/gatekeeper/content/index.js";
import { registerWithSharedSecret } from "../../test/harness/target.js";
import { MatrixHttpUser } from "./matrix-http.js";
import type { TimelineEvent } from "./matrix-http.js";
import { PARTNER_ID } from "./stack.js";
import type { Stack } from "./stack.js";

const WAIT_MS = 30_000;

export class NativeUser {
  constructor(
    readonly phone: string,
    readonly jid: string,
    readonly client: GatekeeperClient,
  ) {}
}

export class MatrixUser {
  /** The user's number and gatekeeper id once logged in. */
  phone = "";
  jid: string | undefined;
  private readonly rooms = new Map<string, TimelineEvent[]>();
  private readonly waiters = new Set<() => void>();
  readonly invites: string[] = [];
  /** Called for each message from a puppet (after the chats are set up). */
  onPuppetMessage: (e: TimelineEvent, receivedAt: number) => void = () => undefined;

  constructor(
    readonly http: MatrixHttpUser,
    private readonly isPuppet: (userId: string) => boolean,
  ) {
    http.onEvent = (e) => {
      if (this.isPuppet(e.sender) && String(e.content.body ?? "").startsWith("lb:")) {
        this.onPuppetMessage(e, Date.now());
        return;
      }
      let list = this.rooms.get(e.roomId);
      if (!list) this.rooms.set(e.roomId, (list = []));
      list.push(e);
      this.wake();
    };
    http.onInvite = (roomId) => {
      this.invites.push(roomId);
      this.wake();
    };
  }

  get userId(): string {
    return this.http.userId;
  }

  /** The first event in `roomId` after index `from` matching `match`. */
  async waitFor(
    roomId: string,
    from: number,
    match: (e: TimelineEvent) => boolean,
    what: string,
  ): Promise<TimelineEvent> {
    const find = (): TimelineEvent | undefined =>
      (this.rooms.get(roomId) ?? []).slice(from).find(match);
    return this.until(find, what);
  }

  private until<T>(find: () => T | undefined, what: string): Promise<T> {
    const now = find();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = find();
        if (v === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.userId}: no ${what} within ${WAIT_MS} ms`));
      }, WAIT_MS);
      this.waiters.add(check);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** A command to the bot in `roomId`; resolves with the bot's answer. */
  async command(roomId: string, botMxid: string, text: string): Promise<string> {
    const from = this.rooms.get(roomId)?.length ?? 0;
    await this.http.sendText(roomId, text);
    const answer = await this.waitFor(
      roomId,
      from,
      (e) => e.sender === botMxid && e.content.msgtype === "m.notice",
      `answer to "${text}"`,
    );
    return String(answer.content.body);
  }

  /** Waits for an invite to `roomId` and joins it. */
  async joinWhenInvited(roomId: string): Promise<void> {
    await this.until(
      () => (this.invites.includes(roomId) ? true : undefined),
      `invite to ${roomId}`,
    );
    await this.http.join(roomId);
  }
}

export interface People {
  /** Where every received bench message is reported (its text, and when); set per run. */
  arrived: (text: string, at: number) => void;
  natives: NativeUser[];
  matrixUsers: MatrixUser[];
  /** Portal i: Matrix user, native user and the room. */
  portals: { matrix: MatrixUser; native: NativeUser; roomId: string }[];
  close(): Promise<void>;
}

/**
 * A new Matrix user (shared-secret registration), its /sync running, logged in to the
 * gatekeeper as `phone` through the bot: a DM with the bot, `login`, the code the gatekeeper
 * "texted" (the sandbox's admin API), `verify`. Resolves with the user and its management room.
 */
export async function loggedInUser(
  stack: Stack,
  localpart: string,
  phone: string,
  isPuppet: (userId: string) => boolean = () => false,
): Promise<{ user: MatrixUser; mgmt: string }> {
  const reg = await registerWithSharedSecret(
    stack.homeserverUrl,
    stack.registrationSecret,
    localpart,
    "load-password",
  );
  const http = new MatrixHttpUser(stack.homeserverUrl, reg.userId, reg.accessToken);
  const user = new MatrixUser(http, isPuppet);
  await http.startSync();
  const mgmt = await http.createDm(stack.botMxid);
  await user.waitFor(
    mgmt,
    0,
    (e) => e.sender === stack.botMxid && String(e.content.body).includes("management room"),
    "the bot's greeting",
  );
  const asked = await user.command(mgmt, stack.botMxid, `login ${phone}`);
  if (!asked.includes("code")) throw new Error(`login ${phone} was answered: ${asked}`);
  const { code } = await stack.admin.latestCode(phone);
  const verified = await user.command(mgmt, stack.botMxid, `verify ${code}`);
  if (!verified.includes("logged in")) throw new Error(`verify was answered: ${verified}`);
  return { user, mgmt };
}

/** `portals` chats: ten per Matrix user, each with its own native user. */
export async function setUpPeople(
  stack: Stack,
  o: {
    dir: string;
    portals: number;
    perUser?: number;
    phoneBase: number;
    /** Natives and Matrix users set up at once (default 1: one after another). */
    concurrency?: number;
  },
): Promise<People> {
  const perUser = o.perUser ?? 10;
  const concurrency = Math.max(1, o.concurrency ?? 1);
  const db: Knex = await openDatabase({ type: "sqlite", filename: join(o.dir, "natives.sqlite") });
  await migrate(db);
  const natives: NativeUser[] = [];
  const people: People = {
    arrived: () => undefined,
    natives,
    matrixUsers: [],
    portals: [],
    close: async () => undefined,
  };
  await inParallel(o.portals, concurrency, async (i) => {
    const phone = `+49151${String(o.phoneBase + i).padStart(8, "0")}`;
    const user = await stack.admin.addUser(phone, `Native ${i}`);
    await stack.admin.updateSettings(phone, { enabled: true, partners: [PARTNER_ID] });
    const client = new GatekeeperClient({
      url: stack.sandboxInfo.url,
      serverStaticKey: Buffer.from(stack.sandboxInfo.publicKey, "base64"),
      db,
      account: { product: "native", accountId: user.accountId, token: user.token },
    });
    client.on("message", (m) => {
      const kind = describeContent(m.content);
      if (kind.kind === "text") people.arrived(kind.text, Date.now());
    });
    await client.start();
    natives[i] = new NativeUser(phone, user.jid, client);
  });

  const puppetPrefix = `@gk_`;
  const isPuppet = (id: string): boolean => id.startsWith(puppetPrefix);
  const matrixUsers: MatrixUser[] = [];
  const portalsOf: People["portals"][] = [];
  await inParallel(Math.ceil(o.portals / perUser), concurrency, async (u) => {
    const phone = `+49152${String(o.phoneBase + u).padStart(8, "0")}`;
    const { user, mgmt } = await loggedInUser(stack, `load${o.phoneBase}u${u}`, phone, isPuppet);
    user.onPuppetMessage = (e, at) => people.arrived(String(e.content.body), at);
    matrixUsers[u] = user;
    const portals: People["portals"] = (portalsOf[u] = []);
    user.phone = phone;
    user.jid = (await natives[u * perUser]!.client.lookup([phone]))[0]?.jid;
    if (user.jid === undefined) throw new Error(`${phone} is not found in the directory`);
    for (let k = 0; k < perUser && u * perUser + k < o.portals; k++) {
      const native = natives[u * perUser + k]!;
      const reply = await user.command(mgmt, stack.botMxid, `start ${native.phone}`);
      const link = /matrix\.to\/#\/(\S+)$/.exec(reply);
      if (!link) throw new Error(`start ${native.phone} was answered: ${reply}`);
      const roomId = decodeURIComponent(link[1]!);
      await user.joinWhenInvited(roomId);
      portals.push({ matrix: user, native, roomId });
    }
  });
  people.matrixUsers = matrixUsers;
  // Portal i is native i's (in the order of the natives, whatever order they were made in).
  people.portals = portalsOf.flat();
  people.close = async () => {
    for (const m of matrixUsers) await m.http.stopSync();
    for (const n of natives) await n.client.stop();
    await db.destroy();
  };
  return people;
}

/** Runs task(0 … n−1), at most `concurrency` at a time. */
async function inParallel(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}
