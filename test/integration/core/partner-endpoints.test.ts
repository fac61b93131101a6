import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPartnerEndpoints, AUTH_PATH } from "../../../src/connector/index.js";
import type { PartnerEndpoints } from "../../../src/connector/index.js";

const SECRET = "the-partner-secret-0123";

describe("partner endpoints (docs/protocol.md §4.2)", () => {
  let endpoints: PartnerEndpoints;
  const users = new Map([["acct-1", { token: "tok-1", phone: "+4915100000001" }]]);

  beforeAll(async () => {
    endpoints = await startPartnerEndpoints({
      partnerId: "matrix",
      partnerSecret: SECRET,
      verify: async (accountId, token) => {
        const user = users.get(accountId);
        return user && user.token === token ? { phone: user.phone } : null;
      },
      port: 0,
      bindAddress: "127.0.0.1",
    });
  });
  afterAll(async () => {
    await endpoints.close();
  });

  async function auth(body: unknown, secret = SECRET): Promise<{ status: number; json: unknown }> {
    const res = await fetch(endpoints.url + AUTH_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  }

  it("confirms a known account and token with its phone number", async () => {
    const r = await auth({
      partner_id: "matrix",
      account_id: "acct-1",
      token: "tok-1",
      client_ip: "198.51.100.7",
    });
    expect(r).toEqual({ status: 200, json: { valid: true, phone: "+4915100000001" } });
  });

  it("answers valid:false for a wrong token, an unknown account or another partner", async () => {
    for (const body of [
      { partner_id: "matrix", account_id: "acct-1", token: "nope" },
      { partner_id: "matrix", account_id: "acct-2", token: "tok-1" },
      { partner_id: "other", account_id: "acct-1", token: "tok-1" },
    ]) {
      expect(await auth(body)).toEqual({ status: 200, json: { valid: false } });
    }
  });

  it("refuses callers without the partner secret", async () => {
    const r = await auth({ partner_id: "matrix", account_id: "acct-1", token: "tok-1" }, "guess");
    expect(r.status).toBe(401);
    const none = await fetch(endpoints.url + AUTH_PATH, { method: "POST", body: "{}" });
    expect(none.status).toBe(401);
  });

  it("answers a malformed body with 400", async () => {
    expect((await auth("{not json")).status).toBe(400);
    expect((await auth({ partner_id: "matrix", account_id: 5, token: "x" })).status).toBe(400);
  });

  it("serves a health check", async () => {
    const res = await fetch(`${endpoints.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});
