import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../../src/gatekeeper/noise/index.js";
import { ClientPayload_Product } from "../../../src/gen/gki_pb.js";
import { type Sandbox, startSandbox } from "../../../src/sandbox/index.js";
import {
  PARTNER_ID,
  PARTNER_SECRET,
  type PartnerAuthServer,
  sandboxWithPartner,
  startPartnerAuth,
} from "./helpers.js";
import { RawClient } from "./raw-client.js";

async function loginOutcome(sandbox: Sandbox, payload: Parameters<typeof RawClient.connect>[1]) {
  const client = await RawClient.connect(sandbox, payload);
  const first = await client.next((s) => s.kind === "success" || s.kind === "failure");
  return { client, first };
}

describe("sandbox login (docs/protocol.md §4)", () => {
  let auth: PartnerAuthServer;
  let sandbox: Sandbox;

  beforeAll(async () => {
    auth = await startPartnerAuth();
    sandbox = await sandboxWithPartner(auth);
  });
  afterAll(async () => {
    await sandbox.close();
    await auth.close();
  });

  it("logs a native user in with its account id and token", async () => {
    const user = await sandbox.admin.addUser({ phone: "+4915100000001", name: "Alice" });
    expect(user.jid).toMatch(/^\d{15}@lid\.gk$/);
    const { client, success } = await RawClient.native(sandbox, user);
    expect(success).toMatchObject({ kind: "success", jid: user.jid, enlisted: true });
    expect(Math.abs(success.t - Date.now() / 1000)).toBeLessThan(60);
    await client.ping();
    client.close();
  });

  it("refuses a wrong native token with failure 401 and closes", async () => {
    const user = await sandbox.admin.addUser({ phone: "+4915100000002", name: "Bob" });
    const { client, first } = await loginOutcome(sandbox, {
      product: ClientPayload_Product.NATIVE,
      accountId: user.accountId,
      token: "not-the-token",
    });
    expect(first).toMatchObject({ kind: "failure", reason: 401 });
    expect((await client.closed).code).toBe(1000);
  });

  it("refuses a bad payload with 405", async () => {
    const client = await RawClient.connect(
      sandbox,
      {},
      { rawPayload: Uint8Array.of(0xff, 0xff, 0xff) },
    );
    expect(await client.next()).toMatchObject({ kind: "failure", reason: 405 });
    const old = await loginOutcome(sandbox, {
      product: ClientPayload_Product.NATIVE,
      accountId: "x",
      token: "y",
      protocolVersion: 2,
    });
    expect(old.first).toMatchObject({ kind: "failure", reason: 405 });
  });

  it("fails the handshake for a client pinning another key, and keeps serving others", async () => {
    await expect(
      RawClient.connect(sandbox, {}, { pinnedKey: generateKeyPair().publicKey }),
    ).rejects.toMatchObject({
      code: "server-key-mismatch",
    });
    const user = await sandbox.admin.addUser({ phone: "+4915100000003", name: "Carol" });
    const { client } = await RawClient.native(sandbox, user);
    await client.ping();
    client.close();
  });

  it("authenticates a partner user through the partner callback", async () => {
    auth.users.set("a1b2c3", { token: "good-token", phone: "+4915112345678" });
    const { client, first } = await loginOutcome(sandbox, {
      product: ClientPayload_Product.INTEROP,
      partnerId: PARTNER_ID,
      accountId: "a1b2c3",
      token: "good-token",
      clientIp: "198.51.100.9",
    });
    expect(first).toMatchObject({ kind: "success", jid: "matrix.a1b2c3@interop", enlisted: false });
    const call = auth.calls.at(-1);
    expect(call?.authorization).toBe(`Bearer ${PARTNER_SECRET}`);
    expect(call?.body).toEqual({
      partner_id: "matrix",
      account_id: "a1b2c3",
      token: "good-token",
      client_ip: "198.51.100.9",
    });
    client.close();
  });

  it("answers 401 when the partner says the token is invalid", async () => {
    auth.users.set("u-invalid", { token: "right", phone: "+4915112345679" });
    const { first } = await loginOutcome(sandbox, {
      product: ClientPayload_Product.INTEROP,
      partnerId: PARTNER_ID,
      accountId: "u-invalid",
      token: "wrong",
    });
    expect(first).toMatchObject({ kind: "failure", reason: 401 });
  });

  it("answers 402 for an unknown partner", async () => {
    const { first } = await loginOutcome(sandbox, {
      product: ClientPayload_Product.INTEROP,
      partnerId: "nobody",
      accountId: "abc",
      token: "t",
    });
    expect(first).toMatchObject({ kind: "failure", reason: 402 });
  });

  it("answers 402 for a suspended partner", async () => {
    const other = await startPartnerAuth();
    other.users.set("abc", { token: "t", phone: "+4915112340000" });
    await sandbox.admin.addPartner({
      id: "suspended",
      authUrl: other.url,
      secret: PARTNER_SECRET,
      suspended: true,
    });
    const { first } = await loginOutcome(sandbox, {
      product: ClientPayload_Product.INTEROP,
      partnerId: "suspended",
      accountId: "abc",
      token: "t",
    });
    expect(first).toMatchObject({ kind: "failure", reason: 402 });
    expect(other.calls).toHaveLength(0);
    await other.close();
  });

  it("answers 403 for a number outside the EEA", async () => {
    auth.users.set("u-us", { token: "t", phone: "+12025550123" });
    const { first } = await loginOutcome(sandbox, {
      product: ClientPayload_Product.INTEROP,
      partnerId: PARTNER_ID,
      accountId: "u-us",
      token: "t",
    });
    expect(first).toMatchObject({ kind: "failure", reason: 403 });
  });

  it("answers 503 when the partner callback is down", async () => {
    const down = await startPartnerAuth();
    await sandbox.admin.addPartner({
      id: "downpartner",
      authUrl: down.url,
      secret: PARTNER_SECRET,
    });
    await down.close();
    const { first } = await loginOutcome(sandbox, {
      product: ClientPayload_Product.INTEROP,
      partnerId: "downpartner",
      accountId: "abc",
      token: "t",
    });
    expect(first).toMatchObject({ kind: "failure", reason: 503 });
  });

  it("replaces an older connection of the same account with stream:error 409", async () => {
    const user = await sandbox.admin.addUser({ phone: "+4915100000004", name: "Dave" });
    const before = (await sandbox.admin.online()).replaced;
    const { client: first } = await RawClient.native(sandbox, user);
    const { client: second } = await RawClient.native(sandbox, user);
    expect(await first.nextOf("stream-error")).toMatchObject({ code: 409, text: "replaced" });
    expect((await first.closed).code).toBe(1000);
    await second.ping();
    // Counted for the admin (the chaos test's "every login connected once").
    expect((await sandbox.admin.online()).replaced).toBe(before + 1);
    second.close();
  });
});

describe("sandbox partner callback timeout", () => {
  it("treats a partner that does not answer in time as unavailable (503)", async () => {
    // A partner that accepts the request and never answers.
    const { default: express } = await import("express");
    const app = express();
    app.post("/_gki/v1/auth", () => undefined);
    const { listen, urlOf, closeServer } = await import("./helpers.js");
    const server = await listen(app);
    const sandbox = await startSandbox({
      partners: [{ id: "slow", authUrl: `${urlOf(server)}/_gki/v1/auth`, secret: "x" }],
      limits: { partnerAuthTimeoutMs: 200 },
    });
    try {
      const { first } = await loginOutcome(sandbox, {
        product: ClientPayload_Product.INTEROP,
        partnerId: "slow",
        accountId: "abc",
        token: "t",
      });
      expect(first).toMatchObject({ kind: "failure", reason: 503 });
    } finally {
      await sandbox.close();
      await closeServer(server);
    }
  });
});
