/**
 * A native gatekeeper user in the bridge e2e tests: a real GatekeeperClient (product
 * "native") on its own SQLite file, as the gatekeeper's own app would be. Records what it
 * receives and lets a test wait for it without polling.
 */
import { join } from "node:path";
import type { Knex } from "knex";
import { migrate, openDatabase } from "../../../src/db/index.js";
import { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import type { MessageEvent } from "../../../src/gatekeeper/client/index.js";
import { describeContent, textMessage } from "../../../src/gatekeeper/content/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";

export interface NativeUserOptions {
  phone: string;
  name: string;
  /** Opt in to interop with these partners (default: the bridge's); false: no opt-in at all. */
  optIn: string[] | false;
  dir: string;
  /** Take part in groups (docs/protocol.md §19.1); default false. */
  groups?: boolean;
}

/** The text of a message, or a description of what it was when it is not text. */
export function textOf(m: MessageEvent): string {
  const kind = describeContent(m.content);
  return kind.kind === "text" ? kind.text : `<${kind.kind}>`;
}

export class NativeActor {
  readonly received: MessageEvent[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly phone: string,
    readonly name: string,
    readonly jid: string,
    readonly client: GatekeeperClient,
    private readonly db: Knex,
  ) {
    client.on("message", (m) => {
      this.received.push(m);
      for (const wake of [...this.waiters]) wake();
    });
  }

  static async create(sandbox: Sandbox, o: NativeUserOptions): Promise<NativeActor> {
    const user = await sandbox.admin.addUser({ phone: o.phone, name: o.name });
    if (o.optIn !== false) {
      await sandbox.admin.updateSettings(o.phone, { enabled: true, partners: o.optIn });
    }
    const db = await openDatabase({
      type: "sqlite",
      filename: join(o.dir, `native-${o.phone.slice(1)}.sqlite`),
    });
    await migrate(db);
    const client = new GatekeeperClient({
      url: sandbox.url,
      serverStaticKey: sandbox.publicKey,
      db,
      account: {
        product: "native",
        accountId: user.accountId,
        token: user.token,
        pushName: o.name,
      },
      reconnect: { initialMs: 20, maxMs: 200 },
      ...(o.groups ? { groups: true } : {}),
    });
    const actor = new NativeActor(o.phone, o.name, user.jid, client, db);
    await client.start();
    return actor;
  }

  /** Texts received so far, in order. */
  texts(): string[] {
    return this.received.map(textOf);
  }

  /** Sends a text message; resolves with the gatekeeper's ack. */
  async send(toJid: string, text: string): Promise<void> {
    await this.client.sendMessage(toJid, textMessage(text));
  }

  /** The jid behind a phone number, as this user's directory lookup sees it. */
  async lookup(phone: string): Promise<string | undefined> {
    const [entry] = await this.client.lookup([phone]);
    return entry?.jid;
  }

  /** Resolves with the first received message (already here or still to come) matching `match`. */
  waitFor(match: (m: MessageEvent) => boolean, what: string, timeoutMs = 15_000) {
    return this.until(() => this.received.find(match), what, timeoutMs);
  }

  /** Resolves with the first received text message equal to `text`. */
  waitForText(text: string, timeoutMs = 15_000): Promise<MessageEvent> {
    return this.waitFor((m) => textOf(m) === text, `"${text}"`, timeoutMs);
  }

  /** Re-checks `read` on every received message until it gives a value. */
  private until<T>(read: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const now = read();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const v = read();
        if (v === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `${this.name} did not receive ${what} within ${timeoutMs} ms; got: ` +
              JSON.stringify(this.texts()),
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** The distribution ids of `sender`'s sender keys for group `group` this user holds. */
  async heldSenderKeys(sender: string, group: string): Promise<string[]> {
    const rows = (await this.db("signal_sender_keys")
      .where({ owner: this.jid, name: sender, group_jid: group })
      .select("distribution_id")) as { distribution_id: string }[];
    return rows.map((r) => r.distribution_id);
  }

  async close(): Promise<void> {
    await this.client.stop();
    await this.db.destroy();
  }
}
