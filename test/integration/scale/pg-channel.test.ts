/**
 * Wake-ups between processes over LISTEN/NOTIFY on a real PostgreSQL (issue 12): every listener
 * on a channel gets what is sent through the pool; a notify in a transaction arrives at commit
 * and never after rollback; payloads stay under PostgreSQL's limit; a listener whose backend is
 * killed listens again and says so (onReconnect), and a stopped one stays stopped.
 *
 * Like every PostgreSQL test here: an unreachable server fails the run unless SKIP_POSTGRES=1.
 * Each test uses its own channel names, so parallel test files cannot interfere.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LogFields } from "../../../src/core/logger.js";
import type { CoreLogger } from "../../../src/core/logger.js";
import { MAX_PAYLOAD_BYTES, notify, payloadsOf, PgChannel } from "../../../src/scale/pg-channel.js";
import type { PgChannelOptions } from "../../../src/scale/pg-channel.js";
import { EPHEMERAL_CHANNEL, IntakeNotices } from "../../../src/scale/cluster.js";
import { silentLogger } from "../../../src/core/logger.js";
import { openTestDatabase, postgresUrl } from "../db/databases.js";
import type { TestDatabase } from "../db/databases.js";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const suffix = () => randomBytes(5).toString("hex");

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await pause(5);
  }
}

interface Listener {
  channel: PgChannel;
  name: string;
  messages: { channel: string; payload: string }[];
  reconnects: number;
  logs: { level: string; message: string; fields?: LogFields }[];
}

describe.skipIf(process.env.SKIP_POSTGRES === "1")("PgChannel on PostgreSQL", () => {
  let t: TestDatabase;
  const open: PgChannel[] = [];

  beforeAll(async () => {
    t = await openTestDatabase("postgres");
  });

  afterEach(async () => {
    for (const c of open.splice(0)) await c.stop();
  });

  afterAll(async () => {
    await t?.close();
  });

  function listener(channels: string[], extra: Partial<PgChannelOptions> = {}): Listener {
    const name = suffix();
    const messages: Listener["messages"] = [];
    const logs: Listener["logs"] = [];
    const log =
      (level: string) =>
      (message: string, fields?: LogFields): void => {
        logs.push({ level, message, ...(fields ? { fields } : {}) });
      };
    const logger: CoreLogger = {
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
    };
    const l: Listener = {
      name,
      messages,
      logs,
      reconnects: 0,
      channel: new PgChannel({
        url: postgresUrl(),
        channels,
        name,
        logger,
        backoff: { initialMs: 50, maxMs: 200 },
        onMessage: (channel, payload) => messages.push({ channel, payload }),
        onReconnect: () => l.reconnects++,
        ...extra,
      }),
    };
    open.push(l.channel);
    return l;
  }

  /** Backend pids of a listener's connection (by its application_name). */
  async function backends(l: Listener): Promise<number[]> {
    const r = (await t.db.raw(
      "select pid from pg_stat_activity where application_name = ? order by pid",
      [`gkb-listen-${l.name}`],
    )) as { rows: { pid: number }[] };
    return r.rows.map((row) => row.pid);
  }

  async function terminate(l: Listener): Promise<void> {
    const r = (await t.db.raw(
      "select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = ?",
      [`gkb-listen-${l.name}`],
    )) as { rows: { ok: boolean }[] };
    expect(r.rows).toEqual([{ ok: true }]);
  }

  it("delivers a notify sent through the pool to every listener on the channel", async () => {
    const ch = `t_fanout_${suffix()}`;
    const other = `t_other_${suffix()}`;
    const a = listener([ch]);
    const b = listener([ch, other]);
    await Promise.all([a.channel.start(), b.channel.start()]);
    expect(a.channel.listening).toBe(true);

    await notify(t.db, ch, '{"rooms":["!a:x"]}');
    await notify(t.db, other, "only b");
    await until(() => a.messages.length === 1 && b.messages.length === 2, 5_000, "delivery");
    await pause(50);
    expect(a.messages).toEqual([{ channel: ch, payload: '{"rooms":["!a:x"]}' }]);
    expect(b.messages).toEqual([
      { channel: ch, payload: '{"rooms":["!a:x"]}' },
      { channel: other, payload: "only b" },
    ]);
    expect(a.reconnects + b.reconnects).toBe(0);
  });

  it("delivers a notify in a transaction at its commit, and never after a rollback", async () => {
    const ch = `t_trx_${suffix()}`;
    const l = listener([ch]);
    await l.channel.start();

    const trx = await t.db.transaction();
    await notify(trx, ch, "committed");
    await pause(200);
    expect(l.messages).toEqual([]);
    await trx.commit();
    await until(() => l.messages.length === 1, 5_000, "the committed notify");

    const rolledBack = await t.db.transaction();
    await notify(rolledBack, ch, "rolled back");
    await rolledBack.rollback();
    // Notifications arrive in commit order: once a later one is here, the rolled-back one
    // would have been too.
    await notify(t.db, ch, "marker");
    await until(() => l.messages.length >= 2, 5_000, "the marker");
    await pause(50);
    expect(l.messages.map((m) => m.payload)).toEqual(["committed", "marker"]);
  });

  it("sends a payload of exactly MAX_PAYLOAD_BYTES, and refuses a larger one", async () => {
    const ch = `t_size_${suffix()}`;
    const l = listener([ch]);
    await l.channel.start();
    const full = "x".repeat(MAX_PAYLOAD_BYTES);
    await notify(t.db, ch, full);
    await until(() => l.messages.length === 1, 5_000, "the full-size payload");
    expect(l.messages[0]!.payload).toBe(full);

    await expect(notify(t.db, ch, "x".repeat(MAX_PAYLOAD_BYTES + 1))).rejects.toThrow(RangeError);
    // Counted in UTF-8 bytes, not characters: 4,000 "é" are 8,000 bytes.
    await expect(notify(t.db, ch, "é".repeat(4_000))).rejects.toThrow(/8000 bytes/);
    await expect(notify(t.db, "Bad-Name", "x")).rejects.toThrow(/channel name/);
    await pause(100);
    expect(l.messages).toHaveLength(1);
  });

  it("splits many items into payloads that fit and add up to the input", async () => {
    const items = Array.from({ length: 2_000 }, (_, i) => ({
      room: `!room${i}:example.org`,
      ts: 1_700_000_000_000 + i,
      note: i % 7 === 0 ? "ünïcödé ✓" : null,
    }));
    const payloads = payloadsOf(items);
    expect(payloads.length).toBeGreaterThan(5);
    for (const p of payloads)
      expect(Buffer.byteLength(p, "utf8")).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect(payloads.flatMap((p) => JSON.parse(p) as unknown[])).toEqual(items);
    // Packed, not one item each: every payload but the last is nearly full.
    for (const p of payloads.slice(0, -1))
      expect(Buffer.byteLength(p)).toBeGreaterThan(MAX_PAYLOAD_BYTES - 100);
    expect(payloadsOf([])).toEqual([]);

    expect(() => payloadsOf([{ ok: 1 }, "y".repeat(MAX_PAYLOAD_BYTES)])).toThrow(RangeError);
    // At the edge: a string item is its text, two quotes and the array's brackets.
    const fits = "z".repeat(MAX_PAYLOAD_BYTES - 4);
    expect(payloadsOf([1, fits, 2])).toEqual(["[1]", `["${fits}"]`, "[2]"]);
    expect(() => payloadsOf([fits + "z"])).toThrow(RangeError);

    // The payloads go through PostgreSQL as they are.
    const ch = `t_split_${suffix()}`;
    const l = listener([ch]);
    await l.channel.start();
    for (const p of payloads) await notify(t.db, ch, p);
    await until(() => l.messages.length === payloads.length, 5_000, "all payloads");
    expect(l.messages.flatMap((m) => JSON.parse(m.payload) as unknown[])).toEqual(items);
  });

  it("listens again after its backend is killed, and says so", async () => {
    const ch = `t_reconnect_${suffix()}`;
    const l = listener([ch, `t_second_${suffix()}`]);
    await l.channel.start();
    const [before] = await backends(l);
    expect(before).toBeTypeOf("number");

    await terminate(l);
    await until(() => l.reconnects === 1, 5_000, "onReconnect");
    expect(l.channel.listening).toBe(true);
    const after = await backends(l);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);

    await notify(t.db, ch, "after the loss");
    await until(() => l.messages.length === 1, 5_000, "a notify after reconnecting");
    expect(l.messages).toEqual([{ channel: ch, payload: "after the loss" }]);

    const warns = l.logs.filter((e) => e.level === "warn");
    expect(warns.length).toBeGreaterThanOrEqual(1);
    expect(String(warns[0]!.fields?.error)).toMatch(/terminat/i);
    // Payloads are never logged.
    expect(JSON.stringify(l.logs)).not.toContain("after the loss");

    // And again: a second loss is handled like the first.
    await terminate(l);
    await until(() => l.reconnects === 2, 5_000, "the second onReconnect");
    await notify(t.db, ch, "twice");
    await until(() => l.messages.length === 2, 5_000, "a notify after the second loss");
  });

  it("keeps listening when the handler throws, and logs no payload", async () => {
    const ch = `t_throw_${suffix()}`;
    const got: string[] = [];
    const l = listener([ch], {
      onMessage: (_channel, payload) => {
        got.push(payload);
        if (payload === "secret-bad") throw new Error("handler broke");
      },
    });
    await l.channel.start();
    await notify(t.db, ch, "secret-bad");
    await notify(t.db, ch, "fine");
    await until(() => got.length === 2, 5_000, "both notifications");
    expect(l.channel.listening).toBe(true);
    expect(
      l.logs.some((e) => e.level === "warn" && /handler broke/.test(String(e.fields?.error))),
    ).toBe(true);
    expect(JSON.stringify(l.logs)).not.toContain("secret-bad");
  });

  it("does not reconnect once stopped after its backend was killed", async () => {
    const l = listener([`t_stop_${suffix()}`]);
    await l.channel.start();
    await terminate(l);
    await until(() => !l.channel.listening, 5_000, "noticing the loss");
    await l.channel.stop();
    await pause(400); // several backoff periods
    expect(l.reconnects).toBe(0);
    expect(l.channel.listening).toBe(false);
    expect(await backends(l)).toEqual([]);
  });

  it("stops promptly in the middle of a long reconnect wait", async () => {
    const l = listener([`t_wait_${suffix()}`], { backoff: { initialMs: 10_000, maxMs: 10_000 } });
    await l.channel.start();
    await terminate(l);
    await until(() => !l.channel.listening, 5_000, "noticing the loss");
    const began = Date.now();
    await l.channel.stop();
    expect(Date.now() - began).toBeLessThan(500);
    expect(l.reconnects).toBe(0);
  });

  it("stops cleanly while listening, and closes its connection", async () => {
    const l = listener([`t_close_${suffix()}`]);
    await l.channel.start();
    expect(await backends(l)).toHaveLength(1);
    await l.channel.stop();
    expect(l.channel.listening).toBe(false);
    // The backend goes away once the server has seen the client's Terminate message.
    const end = Date.now() + 2_000;
    while ((await backends(l)).length > 0 && Date.now() < end) await pause(20);
    expect(await backends(l)).toEqual([]);
    expect(l.logs.filter((e) => e.level === "warn")).toEqual([]);
  });

  it("rejects start() when the first connect fails", async () => {
    const l = listener(["t_refused"], { url: "postgres://postgres@127.0.0.1:1/test" });
    await expect(l.channel.start()).rejects.toThrow();
    expect(l.channel.listening).toBe(false);
  });

  it("refuses channel names that are not lower-case identifiers", () => {
    for (const bad of ["Upper", "1abc", "with-dash", "", "x".repeat(64), 'q"uote']) {
      expect(() => listener([bad])).toThrow(/channel name/);
    }
    expect(() => listener([])).toThrow(/at least one channel/);
  });
  it("passes on the ephemeral events of a push but one too big for a notification", async () => {
    const l = listener([EPHEMERAL_CHANNEL]);
    await l.channel.start();
    const notices = new IntakeNotices(t.db, silentLogger);
    const marker = suffix();
    const typing = { type: "m.typing", room_id: `!${marker}:x`, content: { user_ids: [] } };
    const huge = { type: "m.receipt", room_id: `!${marker}:x`, content: { x: "r".repeat(9000) } };
    notices.ephemeral([huge, typing]);
    await until(() => l.messages.some((m) => m.payload.includes(marker)), 5_000, "the typing");
    const mine = l.messages.filter((m) => m.payload.includes(marker));
    expect(mine.map((m) => JSON.parse(m.payload) as unknown)).toEqual([[typing]]);
  });
});
