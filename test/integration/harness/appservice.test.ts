import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHomeserver } from "../../harness/homeserver/index.js";
import type { AppServiceRegistrationLike, TestHomeserver } from "../../harness/homeserver/index.js";
import { startRecordingAppService } from "../../harness/appservice-recorder.js";
import type { RecordingAppService } from "../../harness/appservice-recorder.js";
import { loginMatrixClient, sendText, stopMatrixClient } from "../../harness/matrix-user.js";
import type { MatrixClient } from "../../harness/matrix-user.js";

const token = (): string => randomBytes(16).toString("hex");

/** Plain client-server calls, as an application service makes them. */
async function call(
  hs: TestHomeserver,
  method: string,
  path: string,
  accessToken: string | undefined,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  const res = await fetch(hs.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("application service API of the test homeserver", () => {
  let hs: TestHomeserver;
  let as: RecordingAppService;
  let reg: AppServiceRegistrationLike;
  let alice: MatrixClient;
  let roomId: string;

  beforeAll(async () => {
    reg = {
      id: "gatekeeper",
      url: null,
      as_token: token(),
      hs_token: token(),
      sender_localpart: "gatekeeperbot",
      namespaces: {
        users: [{ exclusive: true, regex: "@gk_.*:localhost" }],
        aliases: [{ exclusive: true, regex: "#gk_.*:localhost" }],
        rooms: [],
      },
      rate_limited: false,
      "de.sorunome.msc2409.push_ephemeral": true,
    };
    as = await startRecordingAppService(reg.hs_token);
    hs = await startTestHomeserver({ registrations: [{ ...reg, url: as.url }] });
    await hs.registerUser("alice", "alice-pw");
    alice = await loginMatrixClient(hs.url, "alice", "alice-pw");
  });

  afterAll(async () => {
    stopMatrixClient(alice);
    await hs.close();
    await as.close();
  });

  it("registers namespace users with m.login.application_service, honouring inhibit_login", async () => {
    const res = await call(hs, "POST", "/_matrix/client/v3/register", reg.as_token, {
      type: "m.login.application_service",
      username: "gk_carol",
      inhibit_login: true,
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ user_id: "@gk_carol:localhost" });
    expect(res.json.access_token).toBeUndefined();

    const again = await call(hs, "POST", "/_matrix/client/v3/register", reg.as_token, {
      type: "m.login.application_service",
      username: "gk_carol",
    });
    expect(again).toMatchObject({ status: 400, json: { errcode: "M_USER_IN_USE" } });

    const outside = await call(hs, "POST", "/_matrix/client/v3/register", reg.as_token, {
      type: "m.login.application_service",
      username: "mallory",
    });
    expect(outside).toMatchObject({ status: 400, json: { errcode: "M_EXCLUSIVE" } });

    const noToken = await call(hs, "POST", "/_matrix/client/v3/register", undefined, {
      type: "m.login.application_service",
      username: "gk_dave",
    });
    expect(noToken).toMatchObject({ status: 401, json: { errcode: "M_MISSING_TOKEN" } });

    const badToken = await call(hs, "POST", "/_matrix/client/v3/register", "nope", {
      type: "m.login.application_service",
      username: "gk_dave",
    });
    expect(badToken).toMatchObject({ status: 401, json: { errcode: "M_UNKNOWN_TOKEN" } });
  });

  it("refuses a normal registration inside an exclusive namespace with M_EXCLUSIVE", async () => {
    const res = await call(hs, "POST", "/_matrix/client/v3/register", undefined, {
      username: "gk_eve",
      password: "pw",
      auth: { type: "m.login.dummy" },
    });
    expect(res).toMatchObject({ status: 400, json: { errcode: "M_EXCLUSIVE" } });
    await expect(hs.registerUser("gk_eve")).rejects.toMatchObject({ errcode: "M_EXCLUSIVE" });
  });

  it("lets the AS masquerade as its users and no one else", async () => {
    const asBot = await call(hs, "GET", "/_matrix/client/v3/account/whoami", reg.as_token);
    expect(asBot).toMatchObject({ status: 200, json: { user_id: "@gatekeeperbot:localhost" } });

    const asCarol = await call(
      hs,
      "GET",
      `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent("@gk_carol:localhost")}`,
      reg.as_token,
    );
    expect(asCarol).toMatchObject({ status: 200, json: { user_id: "@gk_carol:localhost" } });

    const asAlice = await call(
      hs,
      "GET",
      `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent("@alice:localhost")}`,
      reg.as_token,
    );
    expect(asAlice).toMatchObject({ status: 403, json: { errcode: "M_FORBIDDEN" } });

    const unregistered = await call(
      hs,
      "GET",
      `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent("@gk_nobody:localhost")}`,
      reg.as_token,
    );
    expect(unregistered).toMatchObject({ status: 403, json: { errcode: "M_FORBIDDEN" } });
  });

  it("pushes events of rooms with its users to the AS, authorized with hs_token", async () => {
    const created = await alice.createRoom({ is_direct: true, invite: ["@gk_carol:localhost"] });
    roomId = created.room_id;
    const invite = await as.waitForEvent(
      (e) =>
        e.type === "m.room.member" && e.state_key === "@gk_carol:localhost" && e.room_id === roomId,
    );
    expect(invite).toMatchObject({
      sender: "@alice:localhost",
      content: { membership: "invite", is_direct: true },
      event_id: expect.stringMatching(/^\$/),
    });
    const join = await call(
      hs,
      "POST",
      `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?user_id=${encodeURIComponent("@gk_carol:localhost")}`,
      reg.as_token,
      {},
    );
    expect(join).toMatchObject({ status: 200, json: { room_id: roomId } });
    await sendText(alice, roomId, "to the bridge");
    const msg = await as.waitForEvent((e) => e.type === "m.room.message" && e.room_id === roomId);
    expect(msg).toMatchObject({ sender: "@alice:localhost", content: { body: "to the bridge" } });
    // The client's transaction id is the client's business, not the AS's.
    expect((msg.unsigned as Record<string, unknown> | undefined)?.transaction_id).toBeUndefined();
    for (const t of as.transactions) {
      expect(t.authorization).toBe(`Bearer ${reg.hs_token}`);
      expect(t.queryAccessToken).toBeUndefined();
    }
  });

  it("retries a failed transaction with the same txnId and body, and keeps order", async () => {
    const before = as.transactions.length;
    as.failNext(3);
    await sendText(alice, roomId, "one");
    await sendText(alice, roomId, "two");
    await sendText(alice, roomId, "three");
    await as.waitForEvent(
      (e) => (e.content as Record<string, unknown> | undefined)?.body === "three",
    );
    const attempts = as.transactions.slice(before);
    const failed = attempts.filter((t) => t.status === 500);
    expect(failed).toHaveLength(3);
    // Every refused attempt was the same transaction, re-sent unchanged.
    expect(new Set(failed.map((t) => t.txnId)).size).toBe(1);
    const succeeded = attempts.filter((t) => t.status === 200);
    expect(succeeded[0]!.txnId).toBe(failed[0]!.txnId);
    expect(succeeded[0]!.body).toBe(failed[0]!.body);
    // Nothing overtook the failing transaction, and the AS saw the messages in order.
    const ids = succeeded.map((t) => Number(t.txnId));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const bodies = as.events
      .filter((e) => e.type === "m.room.message" && e.room_id === roomId)
      .map((e) => (e.content as Record<string, unknown>).body);
    expect(bodies.slice(-3)).toEqual(["one", "two", "three"]);
  });

  it("keeps events queued while the AS is unreachable and delivers them afterwards", async () => {
    hs.setAppServiceReachable("gatekeeper", false);
    await sendText(alice, roomId, "while down");
    expect(hs.appServiceDelivery("gatekeeper").pending).toBeGreaterThan(0);
    hs.setAppServiceReachable("gatekeeper", true);
    await as.waitForEvent(
      (e) => (e.content as Record<string, unknown> | undefined)?.body === "while down",
    );
    await hs.waitForAppServiceIdle("gatekeeper");
    expect(hs.appServiceDelivery("gatekeeper").pending).toBe(0);
  });

  it("retries after simulated outages without the AS seeing the failed attempts", async () => {
    const refusedBefore = as.transactions.filter((t) => t.status !== 200).length;
    hs.failAppServicePushes(2, "gatekeeper");
    await sendText(alice, roomId, "after two failures");
    await as.waitForEvent(
      (e) => (e.content as Record<string, unknown> | undefined)?.body === "after two failures",
    );
    expect(as.transactions.filter((t) => t.status !== 200).length).toBe(refusedBefore);
    await hs.waitForAppServiceIdle("gatekeeper");
    expect(hs.appServiceDelivery("gatekeeper")).toMatchObject({ pending: 0, failedAttempts: 0 });
  });

  it("lets the AS set origin_server_ts with ?ts= (timestamp massaging)", async () => {
    const ts = Date.UTC(2020, 0, 2, 3, 4, 5);
    const res = await call(
      hs,
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/ts-1?user_id=${encodeURIComponent("@gk_carol:localhost")}&ts=${ts}`,
      reg.as_token,
      { msgtype: "m.text", body: "from the past" },
    );
    expect(res.status).toBe(200);
    const ev = await waitForClientEvent(alice, roomId, res.json.event_id as string);
    expect(ev.getTs()).toBe(ts);
    const bad = await call(
      hs,
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/ts-2?user_id=${encodeURIComponent("@gk_carol:localhost")}&ts=soon`,
      reg.as_token,
      { msgtype: "m.text", body: "x" },
    );
    expect(bad).toMatchObject({ status: 400, json: { errcode: "M_INVALID_PARAM" } });
  });

  it("sends typing and read receipts as ephemeral events when the registration asks", async () => {
    await alice.sendTyping(roomId, true, 5_000);
    const typing = await as.waitForEphemeral(
      (e) =>
        e.type === "m.typing" &&
        e.room_id === roomId &&
        ((e.content as { user_ids: string[] }).user_ids ?? []).includes("@alice:localhost"),
    );
    expect(typing.content).toEqual({ user_ids: ["@alice:localhost"] });

    const carolMsg = await call(
      hs,
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1?user_id=${encodeURIComponent("@gk_carol:localhost")}`,
      reg.as_token,
      { msgtype: "m.text", body: "from the gatekeeper" },
    );
    expect(carolMsg.status).toBe(200);
    const eventId = carolMsg.json.event_id as string;
    await alice.sendReadReceipt((await waitForClientEvent(alice, roomId, eventId))!);
    const receipt = await as.waitForEphemeral(
      (e) =>
        e.type === "m.receipt" &&
        e.room_id === roomId &&
        eventId in (e.content as Record<string, unknown>),
    );
    expect(receipt.content).toMatchObject({
      [eventId]: { "m.read": { "@alice:localhost": { ts: expect.any(Number) } } },
    });
    const withEphemeral = as.transactions.find((t) => t.msc2409Ephemeral !== undefined);
    expect(withEphemeral?.ephemeral).toEqual(withEphemeral?.msc2409Ephemeral);
  });

  it("reserves its alias namespace and is asked about unknown aliases in it", async () => {
    const { room_id: aliceRoom } = await alice.createRoom({ name: "alias test" });
    const squat = await call(
      hs,
      "PUT",
      `/_matrix/client/v3/directory/room/${encodeURIComponent("#gk_squat:localhost")}`,
      alice.getAccessToken()!,
      { room_id: aliceRoom },
    );
    expect(squat).toMatchObject({ status: 400, json: { errcode: "M_EXCLUSIVE" } });
    const outside = await call(
      hs,
      "PUT",
      `/_matrix/client/v3/directory/room/${encodeURIComponent("#elsewhere:localhost")}`,
      reg.as_token,
      { room_id: aliceRoom },
    );
    expect(outside).toMatchObject({ status: 400, json: { errcode: "M_EXCLUSIVE" } });

    // The AS creates the room when the homeserver queries an unknown alias in its namespace.
    as.appService.onAliasQuery = (alias: string) => {
      const create = async (): Promise<void> => {
        const res = await call(hs, "POST", "/_matrix/client/v3/createRoom", reg.as_token, {
          preset: "public_chat",
          room_alias_name: alias.slice(1).split(":")[0],
        });
        expect(res.status).toBe(200);
      };
      return create();
    };
    const joined = await alice.joinRoom("#gk_lobby:localhost");
    expect(joined.roomId).toMatch(/^!/);
    expect(await alice.getRoomIdForAlias("#gk_lobby:localhost")).toMatchObject({
      room_id: joined.roomId,
    });
    const missing = await call(
      hs,
      "GET",
      `/_matrix/client/v3/directory/room/${encodeURIComponent("#nobody:localhost")}`,
      alice.getAccessToken()!,
    );
    expect(missing).toMatchObject({ status: 404, json: { errcode: "M_NOT_FOUND" } });
  });

  it("pings the AS on its behalf (POST /_matrix/client/v1/appservice/{id}/ping)", async () => {
    // matrix-appservice 3 has no /ping route: the homeserver reports the AS's 404 as M_BAD_STATUS.
    const bad = await call(
      hs,
      "POST",
      "/_matrix/client/v1/appservice/gatekeeper/ping",
      reg.as_token,
      {
        transaction_id: "t-1",
      },
    );
    expect(bad).toMatchObject({ status: 502, json: { errcode: "M_BAD_STATUS", status: 404 } });
    let seen: unknown;
    as.appService.expressApp.post("/_matrix/app/v1/ping", (req, res) => {
      seen = { auth: req.headers.authorization, body: req.body as unknown };
      res.json({});
    });
    const ok = await call(
      hs,
      "POST",
      "/_matrix/client/v1/appservice/gatekeeper/ping",
      reg.as_token,
      {
        transaction_id: "t-2",
      },
    );
    expect(ok).toMatchObject({ status: 200, json: { duration_ms: expect.any(Number) } });
    expect(seen).toEqual({ auth: `Bearer ${reg.hs_token}`, body: { transaction_id: "t-2" } });
    const wrong = await call(
      hs,
      "POST",
      "/_matrix/client/v1/appservice/other/ping",
      reg.as_token,
      {},
    );
    expect(wrong).toMatchObject({ status: 403, json: { errcode: "M_FORBIDDEN" } });
  });
});

async function waitForClientEvent(client: MatrixClient, roomId: string, eventId: string) {
  const { waitForRoomEvent } = await import("../../harness/matrix-user.js");
  return waitForRoomEvent(client, (e) => e.getRoomId() === roomId && e.getId() === eventId);
}
