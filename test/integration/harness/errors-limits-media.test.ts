import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MatrixError } from "matrix-js-sdk";
import { startTestHomeserver } from "../../harness/homeserver/index.js";
import type { TestHomeserver } from "../../harness/homeserver/index.js";
import {
  loginMatrixClient,
  sendText,
  stopMatrixClient,
  waitForText,
} from "../../harness/matrix-user.js";
import type { MatrixClient } from "../../harness/matrix-user.js";

async function raw(
  hs: TestHomeserver,
  method: string,
  path: string,
  init: { token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  const res = await fetch(hs.url + path, { method, headers, body: init.body });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

describe("test homeserver errors, rate limits and media", () => {
  let hs: TestHomeserver;
  let alice: MatrixClient;
  let token: string;

  beforeAll(async () => {
    hs = await startTestHomeserver();
    await hs.registerUser("alice", "alice-password");
    alice = await loginMatrixClient(hs.url, "alice", "alice-password");
    token = alice.getAccessToken()!;
  });

  afterAll(async () => {
    stopMatrixClient(alice);
    await hs.close();
  });

  it("answers with the spec's standard error responses", async () => {
    expect(await raw(hs, "GET", "/_matrix/client/v3/account/whoami")).toMatchObject({
      status: 401,
      json: { errcode: "M_MISSING_TOKEN", error: expect.any(String) },
    });
    expect(
      await raw(hs, "GET", "/_matrix/client/v3/account/whoami", { token: "syt_bogus" }),
    ).toMatchObject({
      status: 401,
      json: { errcode: "M_UNKNOWN_TOKEN", soft_logout: false },
    });
    expect(await raw(hs, "GET", "/_matrix/client/v3/no/such/endpoint", { token })).toMatchObject({
      status: 404,
      json: { errcode: "M_UNRECOGNIZED" },
    });
    expect(await raw(hs, "DELETE", "/_matrix/client/v3/account/whoami", { token })).toMatchObject({
      status: 405,
      json: { errcode: "M_UNRECOGNIZED" },
    });
    expect(
      await raw(hs, "POST", "/_matrix/client/v3/createRoom", {
        token,
        body: "{not json",
        headers: { "Content-Type": "application/json" },
      }),
    ).toMatchObject({ status: 400, json: { errcode: "M_NOT_JSON" } });
    expect(
      await raw(hs, "POST", "/_matrix/client/v3/createRoom", { token, body: "[1,2]" }),
    ).toMatchObject({
      status: 400,
      json: { errcode: "M_BAD_JSON" },
    });
    expect(
      await raw(
        hs,
        "GET",
        `/_matrix/client/v3/rooms/${encodeURIComponent("!nope:localhost")}/state`,
        { token },
      ),
    ).toMatchObject({ status: 404, json: { errcode: "M_NOT_FOUND" } });
    const taken = await raw(hs, "POST", "/_matrix/client/v3/register", {
      body: JSON.stringify({ username: "alice", password: "x", auth: { type: "m.login.dummy" } }),
    });
    expect(taken).toMatchObject({ status: 400, json: { errcode: "M_USER_IN_USE" } });
    const invalid = await raw(hs, "POST", "/_matrix/client/v3/register", {
      body: JSON.stringify({
        username: "Not Valid!",
        password: "x",
        auth: { type: "m.login.dummy" },
      }),
    });
    expect(invalid).toMatchObject({ status: 400, json: { errcode: "M_INVALID_USERNAME" } });
    const uia = await raw(hs, "POST", "/_matrix/client/v3/register", {
      body: JSON.stringify({ username: "dora", password: "x" }),
    });
    expect(uia).toMatchObject({
      status: 401,
      json: { flows: [{ stages: ["m.login.dummy"] }], session: expect.any(String) },
    });
    const wrongPassword = (await loginMatrixClient(hs.url, "alice", "wrong").catch(
      (e: unknown) => e,
    )) as MatrixError;
    expect(wrongPassword).toMatchObject({ errcode: "M_FORBIDDEN", httpStatus: 403 });
  });

  it("injects M_LIMIT_EXCEEDED with retry_after_ms and Retry-After", async () => {
    const limit = hs.rateLimit({ path: "/account/whoami", count: 2, retryAfterMs: 1500 });
    for (let i = 0; i < 2; i++) {
      const res = await raw(hs, "GET", "/_matrix/client/v3/account/whoami", { token });
      expect(res).toMatchObject({
        status: 429,
        json: { errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 1500 },
      });
      expect(res.headers.get("retry-after")).toBe("2");
    }
    expect(limit.remaining).toBe(0);
    expect((await raw(hs, "GET", "/_matrix/client/v3/account/whoami", { token })).status).toBe(200);
  });

  it("matrix-js-sdk waits retry_after_ms and resends the rate-limited message", async () => {
    const { room_id: roomId } = await alice.createRoom({ name: "limits" });
    const limit = hs.rateLimit({
      path: /\/send\/m\.room\.message\//,
      userId: "@alice:localhost",
      count: 1,
      retryAfterMs: 1200,
      retryAfterHeader: false,
    });
    const eventId = await sendText(alice, roomId, "eventually");
    await waitForText(alice, roomId, "eventually");
    expect(limit.refusedAt).toHaveLength(1);
    const accepted = hs.requests.find(
      (r) =>
        r.method === "PUT" &&
        r.path.includes("/send/m.room.message/") &&
        r.status === 200 &&
        r.at >= limit.refusedAt[0]!,
    );
    expect(accepted).toBeDefined();
    expect(accepted!.at - limit.refusedAt[0]!).toBeGreaterThanOrEqual(1200);
    expect(hs.timeline(roomId).filter((e) => e.event_id === eventId)).toHaveLength(1);
  });

  it("round-trips media through upload and authenticated download", async () => {
    const bytes = Buffer.from("\x89PNG fake image bytes \x00\x01\x02", "binary");
    const { content_uri: mxc } = await alice.uploadContent(bytes, {
      type: "image/png",
      name: "pic.png",
    });
    expect(mxc).toMatch(/^mxc:\/\/localhost\/[A-Za-z0-9]+$/);
    const url = alice.mxcUrlToHttp(mxc, undefined, undefined, undefined, false, true, true)!;
    expect(url).toContain("/_matrix/client/v1/media/download/localhost/");

    const authed = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    expect(authed.status).toBe(200);
    expect(authed.headers.get("content-type")).toBe("image/png");
    expect(authed.headers.get("content-disposition")).toMatch(/^inline/);
    expect(Buffer.from(await authed.arrayBuffer())).toEqual(bytes);

    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ errcode: "M_MISSING_TOKEN" });

    const legacy = await fetch(
      `${hs.url}/_matrix/media/v3/download/localhost/${mxc.split("/").pop()}`,
    );
    expect(Buffer.from(await legacy.arrayBuffer())).toEqual(bytes);

    const missing = await raw(
      hs,
      "GET",
      "/_matrix/client/v1/media/download/localhost/doesnotexist",
      { token },
    );
    expect(missing).toMatchObject({ status: 404, json: { errcode: "M_NOT_FOUND" } });
    const config = await raw(hs, "GET", "/_matrix/client/v1/media/config", { token });
    expect(config.json["m.upload.size"]).toEqual(expect.any(Number));
  });

  it("had no internal server errors", () => {
    expect(hs.internalErrors).toEqual([]);
  });
});
