import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MatrixIntakeRepository } from "../../../src/db/repositories/matrix-intake.js";
import { DurableAppService } from "../../../src/matrix/durable-appservice.js";
import { loginMatrixClient, sendText, stopMatrixClient } from "../../harness/matrix-user.js";
import type { MatrixClient } from "../../harness/matrix-user.js";
import { createFixture, RecordingSink, textEvent } from "./fixture.js";
import type { Fixture } from "./fixture.js";

let fx: Fixture;
let intake: MatrixIntakeRepository;

beforeEach(async () => {
  fx = await createFixture();
  intake = new MatrixIntakeRepository(fx.db);
});

afterEach(async () => {
  await fx.close();
});

describe("DurableAppService", () => {
  it("has stored every event of a transaction when it answers 200", async () => {
    await fx.start(); // no sink: nothing is handled, so only the store can explain the rows
    const events = [
      textEvent("!a:localhost", "$a1", "one"),
      textEvent("!b:localhost", "$b1", "two"),
    ];
    const res = await fx.putTransaction("t1", { events });
    expect(res).toEqual({ status: 200, json: {} });
    expect(await intake.hasTransaction("t1")).toBe(true);
    for (const e of events) {
      const row = await intake.get(String(e.event_id));
      expect(row).toMatchObject({ state: "queued", roomId: e.room_id });
      expect(row?.event).toEqual(e);
    }
  });

  it("stores the echoes of the bridge's own events as done, for the dedupe, without queueing them", async () => {
    await fx.start(); // no sink: nothing is handled, so only the store can explain the rows
    const room = "!echo:localhost";
    const res = await fx.putTransaction("e1", {
      events: [
        textEvent(room, "$puppet", "from a contact", "@gk_bob:localhost"),
        textEvent(room, "$bot", "a notice", "@gatekeeperbot:localhost"),
        textEvent(room, "$alice", "from Alice"),
      ],
    });
    expect(res.status).toBe(200);
    for (const id of ["$puppet", "$bot"]) {
      expect(await intake.get(id)).toMatchObject({ state: "done", event: null, attempts: 0 });
    }
    expect(await intake.get("$alice")).toMatchObject({ state: "queued" });
    expect((await intake.nextQueued(room))?.eventId).toBe("$alice");
  });

  it("refuses a wrong hs_token and stores nothing", async () => {
    await fx.start();
    const res = await fx.putTransaction(
      "t1",
      { events: [textEvent("!a:localhost", "$x", "x")] },
      "nope",
    );
    expect(res.status).toBe(403);
    expect(res.json.errcode).toBe("M_FORBIDDEN");
    expect(await intake.get("$x")).toBeUndefined();
  });

  it("stores a retried transaction once, and new events under a reused txn id", async () => {
    const handle = await fx.start();
    const sink = new RecordingSink();
    handle.intake.setSink(sink);
    const room = "!dup:localhost";
    const first = { events: [textEvent(room, "$1", "first")] };
    expect((await fx.putTransaction("1", first)).status).toBe(200);
    // The homeserver's retry (its 200 got lost): the same txn id, the same events.
    expect((await fx.putTransaction("1", first)).status).toBe(200);
    // The same event in a new transaction: recognised by its event id.
    expect((await fx.putTransaction("2", first)).status).toBe(200);
    // Synapse starts its txn ids at 1 again after a restart: the same id with new events is
    // new work, not a duplicate.
    expect(
      (await fx.putTransaction("1", { events: [textEvent(room, "$2", "after restart")] })).status,
    ).toBe(200);
    expect(
      (await fx.putTransaction("2", { events: [textEvent(room, "$3", "marker")] })).status,
    ).toBe(200);
    await sink.until(() => sink.bodies().includes("marker"));
    expect(sink.bodies()).toEqual(["first", "after restart", "marker"]);
  });

  it("never fails a transaction for its ephemeral or malformed events", async () => {
    await fx.start();
    const res = await fx.putTransaction("t1", {
      events: [{ type: "m.room.message" }, textEvent("!a:localhost", "$ok", "fine")],
      ephemeral: [{ type: "m.typing", room_id: "!a:localhost", content: { user_ids: [] } }],
      "de.sorunome.msc2409.ephemeral": [{ type: "m.receipt", content: {} }],
    });
    expect(res.status).toBe(200);
    expect(await intake.get("$ok")).toMatchObject({ state: "queued" });
  });

  it("answers 503 once it stopped accepting, and stores nothing", async () => {
    const appservice = new DurableAppService({
      homeserverToken: fx.registration.hs_token,
      intake,
      log: { debug() {}, info() {}, warn() {}, error() {} },
    });
    await appservice.listen(0, "127.0.0.1", 10);
    try {
      await appservice.stopAccepting();
      const res = await fetch(
        `http://127.0.0.1:${appservice.port}/_matrix/app/v1/transactions/late`,
        {
          method: "PUT",
          headers: {
            "Content-Type": "application/json",
            Authorization: `Bearer ${fx.registration.hs_token}`,
          },
          body: JSON.stringify({ events: [textEvent("!a:localhost", "$late", "x")] }),
        },
      );
      expect(res.status).toBe(503);
      expect(await intake.get("$late")).toBeUndefined();
      expect(await intake.hasTransaction("late")).toBe(false);
    } finally {
      await appservice.close();
    }
  });
});

describe("the application-service API as homeservers call it", () => {
  const base = (): string => `http://127.0.0.1:${fx.port}`;
  const token = (): string => fx.registration.hs_token;

  it("takes transactions on the legacy path with ?access_token= (Synapse's default)", async () => {
    await fx.start();
    const res = await fetch(`${base()}/transactions/7?access_token=${token()}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: [textEvent("!a:localhost", "$legacy", "hello")] }),
      redirect: "manual",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(await intake.get("$legacy")).toMatchObject({ state: "queued" });
  });

  it("answers user and alias queries on both path styles, never with a redirect", async () => {
    await fx.start();
    const puppet = encodeURIComponent("@gk_100000000000009:localhost");
    for (const path of [`/users/${puppet}`, `/_matrix/app/v1/users/${puppet}`]) {
      const res = await fetch(`${base()}${path}?access_token=${token()}`, { redirect: "manual" });
      expect(res.status, path).not.toBe(308);
      expect([200, 404], path).toContain(res.status);
    }
    for (const path of [`/rooms/${encodeURIComponent("#x:localhost")}`, "/users/@a:localhost"]) {
      const wrong = await fetch(`${base()}${path}?access_token=wrong-${token()}`, {
        redirect: "manual",
      });
      expect(wrong.status, path).toBe(403);
    }
  });

  it("never echoes a token in a response", async () => {
    await fx.start();
    for (const [method, path] of [
      ["PUT", "/transactions/1"],
      ["GET", "/users/@a:localhost"],
      ["GET", "/no/such/path"],
      ["POST", "/_matrix/app/v1/ping"],
    ] as const) {
      const res = await fetch(`${base()}${path}?access_token=${token()}x`, {
        method,
        headers: { "Content-Type": "application/json" },
        ...(method === "GET" ? {} : { body: "{}" }),
        redirect: "manual",
      });
      const all = JSON.stringify([...res.headers]) + (await res.text());
      expect(all, path).not.toContain(token());
    }
  });

  it("answers POST /_matrix/app/v1/ping with the hs_token, and refuses it without", async () => {
    await fx.start();
    const ping = (auth: string): Promise<Response> =>
      fetch(`${base()}/_matrix/app/v1/ping`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${auth}` },
        body: JSON.stringify({ transaction_id: "mautrix-go_1683636478256400935_123" }),
      });
    const ok = await ping(token());
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({});
    expect((await ping("wrong")).status).toBe(403);
  });

  it("answers a body that is not JSON with 400 M_NOT_JSON and prints no stack trace", async () => {
    await fx.start();
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      for (const path of ["/_matrix/app/v1/transactions/9", "/transactions/9"]) {
        const res = await fetch(`${base()}${path}`, {
          method: "PUT",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${token()}` },
          body: '{"events": [',
        });
        expect(res.status, path).toBe(400);
        expect(await res.json(), path).toMatchObject({ errcode: "M_NOT_JSON" });
      }
    } finally {
      process.stderr.write = write;
    }
    expect(written.join("")).not.toMatch(/SyntaxError|\s+at /);
  });

  it("answers an unknown path with 404 M_UNRECOGNIZED", async () => {
    await fx.start();
    const res = await fetch(`${base()}/_matrix/app/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ errcode: "M_UNRECOGNIZED" });
  });
});

describe("metrics", () => {
  it("serves Prometheus metrics on their own listener when enabled", async () => {
    const config = { ...fx.config, metrics: { enabled: true, port: 0, bindAddress: "127.0.0.1" } };
    const handle = await fx.start({ config });
    expect(handle.metricsPort).toBeDefined();
    expect(handle.metricsPort).not.toBe(handle.port);
    const res = await fetch(`http://127.0.0.1:${handle.metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("app_version");
    const onAppservice = await fetch(`http://127.0.0.1:${handle.port}/metrics`);
    expect(onAppservice.status).toBe(404);
  });
});

describe("DurableAppService with the homeserver's retries", () => {
  let alice: MatrixClient | undefined;

  afterEach(() => {
    if (alice) stopMatrixClient(alice);
    alice = undefined;
  });

  it("answers 500 on a database failure; the retried txn id is processed exactly once", async () => {
    const { sink, roomId, client } = await aliceInPortal();
    alice = client;
    await fx.hs.waitForAppServiceIdle();

    // Fault injection in the database itself: storing a transaction fails while armed.
    await fx.db.raw("CREATE TABLE test_fail (n INTEGER)");
    await fx.db.raw(
      "CREATE TRIGGER test_fail_txn BEFORE INSERT ON as_transactions " +
        "WHEN EXISTS (SELECT 1 FROM test_fail) BEGIN SELECT RAISE(ABORT, 'injected'); END",
    );
    await fx.db.raw("INSERT INTO test_fail VALUES (1)");

    const direct = await fx.putTransaction("probe", { events: [textEvent(roomId, "$probe", "p")] });
    expect(direct).toEqual({
      status: 500,
      json: expect.objectContaining({ errcode: "M_UNKNOWN" }),
    });

    const eventId = await sendText(alice, roomId, "survives");
    await waitUntil(() => fx.hs.appServiceDelivery(fx.registration.id).failedAttempts >= 2);
    const txnId = fx.hs.appServiceDelivery(fx.registration.id).inFlightTxnId;
    expect(txnId).toBeDefined();
    expect(await intake.get(eventId)).toBeUndefined();

    await fx.db.raw("DELETE FROM test_fail");
    await fx.hs.waitForAppServiceIdle();
    expect(await intake.hasTransaction(txnId!)).toBe(true);
    await sendText(alice, roomId, "marker");
    await sink.until(() => sink.bodies().includes("marker"));
    expect(sink.messages.filter((m) => m.eventId === eventId)).toHaveLength(1);
    expect(sink.bodies()).toEqual(["survives", "marker"]);
  });
});

describe("after a homeserver restart", () => {
  let alice: MatrixClient | undefined;

  afterEach(() => {
    if (alice) stopMatrixClient(alice);
    alice = undefined;
  });

  it("reads back the events the homeserver never pushed, in order, before the new ones", async () => {
    const { sink, roomId, client } = await aliceInPortal();
    alice = client;
    await sendText(alice, roomId, "before");
    await sink.until(() => sink.bodies().includes("before"));
    // A transaction id the bridge has seen, as the homeserver's first after a restart will be.
    expect((await fx.putTransaction("1", { events: [] })).status).toBe(200);

    // The homeserver "loses" what it queued: nothing more reaches the bridge for now.
    fx.hs.setAppServiceReachable(fx.registration.id, false);
    await sendText(alice, roomId, "lost 1");
    await sendText(alice, roomId, "lost 2");
    // Restarted, it starts its ids at 1 again, with a newer event.
    const after = await sendText(alice, roomId, "after");
    const event = fx.hs.timeline(roomId).find((e) => e.event_id === after)!;
    expect((await fx.putTransaction("1", { events: [event] })).status).toBe(200);

    await sink.until(() => sink.bodies().includes("after"));
    expect(sink.bodies()).toEqual(["before", "lost 1", "lost 2", "after"]);
    // The homeserver's own retries later change nothing: event ids recognise them.
    fx.hs.setAppServiceReachable(fx.registration.id, true);
    await fx.hs.waitForAppServiceIdle();
    await sendText(alice, roomId, "marker");
    await sink.until(() => sink.bodies().includes("marker"));
    expect(sink.bodies()).toEqual(["before", "lost 1", "lost 2", "after", "marker"]);
  });
});

/** The Matrix side started with a recording sink, and Alice joined to a portal. */
async function aliceInPortal(): Promise<{
  sink: RecordingSink;
  roomId: string;
  client: MatrixClient;
}> {
  const handle = await fx.start();
  const sink = new RecordingSink();
  handle.intake.setSink(sink);
  const user = await fx.hs.registerUser("alice");
  const client = await loginMatrixClient(fx.hs.url, "alice", user.password);
  const puppet = await handle.matrixSide.ensurePuppet("100000000000001@lid.gk", "Bob");
  const roomId = await handle.matrixSide.createPortalRoom({
    puppetMxid: puppet,
    userMxid: user.userId,
    topic: "t",
    bridgeInfo: {
      protocolId: "gatekeeper",
      protocolName: "Gatekeeper",
      channelId: "c",
      channelName: "Bob",
    },
  });
  await client.joinRoom(roomId);
  return { sink, roomId, client };
}

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
