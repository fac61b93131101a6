import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, startSandbox } from "../../../src/sandbox/index.js";

async function call(sandbox: Sandbox, method: string, path: string, body?: unknown) {
  const res = await fetch(`${sandbox.httpUrl}/admin${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

describe("sandbox admin API over HTTP", () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it("describes the sandbox", async () => {
    expect(await call(sandbox, "GET", "/info")).toEqual({
      status: 200,
      json: { url: sandbox.url, httpUrl: sandbox.httpUrl, publicKey: sandbox.publicKeyBase64 },
    });
    expect(sandbox.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/gki\/1\/chat$/);
  });

  it("creates native users with interop off, and changes their settings", async () => {
    const created = await call(sandbox, "POST", "/users", {
      phone: "+4917100000001",
      name: "Alice",
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      phone: "+4917100000001",
      jid: expect.stringMatching(/^\d{15}@lid\.gk$/),
    });
    const listed = await call(sandbox, "GET", "/users");
    expect(listed.json).toEqual([
      expect.objectContaining({
        phone: "+4917100000001",
        name: "Alice",
        interop: { enabled: false, partners: [], inbox: "separate" },
      }),
    ]);
    const patched = await call(sandbox, "PATCH", "/users/+4917100000001/settings", {
      enabled: true,
      partners: "matrix,other",
      inbox: "combined",
    });
    expect(patched.json).toMatchObject({
      interop: { enabled: true, partners: ["matrix", "other"], inbox: "combined" },
    });
    expect(
      (await call(sandbox, "POST", "/users", { phone: "+4917100000001", name: "Again" })).status,
    ).toBe(409);
    expect((await call(sandbox, "POST", "/users", { phone: "12345", name: "Bad" })).status).toBe(
      400,
    );
    expect(
      (await call(sandbox, "PATCH", "/users/+4917100000099/settings", { enabled: true })).status,
    ).toBe(404);
  });

  it("registers partners without echoing the secret", async () => {
    const added = await call(sandbox, "POST", "/partners", {
      id: "matrix",
      authUrl: "http://127.0.0.1:1/_gki/v1/auth",
      secret: "s",
      mediaOrigin: "http://127.0.0.1:2/some/path",
    });
    expect(added).toEqual({
      status: 201,
      json: {
        id: "matrix",
        authUrl: "http://127.0.0.1:1/_gki/v1/auth",
        mediaOrigin: "http://127.0.0.1:2",
        suspended: false,
      },
    });
    expect(
      (await call(sandbox, "POST", "/partners", { id: "Bad Id", authUrl: "http://x", secret: "s" }))
        .status,
    ).toBe(400);
  });

  it("answers 404 for a code never requested, and lists empty queues", async () => {
    expect((await call(sandbox, "GET", "/codes/+4917100000001")).status).toBe(404);
    expect(await call(sandbox, "GET", "/queues")).toEqual({ status: 200, json: [] });
  });
});
