/** §4 Login: the payload, the partner callback, the login result and its failures. */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/gatekeeper/noise/index.js";
import {
  connect,
  loginPartner,
  loginResult,
  nativePayload,
  newNative,
  newPartnerAccount,
  partnerPayload,
  phone,
} from "./fixtures.js";
import { PartnerServer } from "./partner.js";
import { type Target, need, openTarget, randomPartnerId } from "./target.js";
import { ClientPayload_Product, Wire, is } from "./wire.js";
import { el, message } from "./xml.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget({ partnerAuthTimeoutMs: 1_000 });
});
afterAll(() => t.close());

async function expectFailure(
  wire: Wire,
  first: { tag: string; attrs: Record<string, string> },
  reason: string,
): Promise<void> {
  expect(first.tag).toBe("failure");
  expect(first.attrs.reason).toBe(reason);
  expect((await wire.closedWithin()).code).toBe(1000);
}

describe("§4.1 Login payload", () => {
  it("§4.1 a NATIVE login with the account id (the 15-digit lid) and the token issued at registration succeeds", async (ctx) => {
    need(ctx, "admin");
    const user = await newNative(t);
    expect(user.accountId).toMatch(/^\d{15}$/);
    expect(user.jid).toBe(`${user.accountId}@lid.gk`);
    const { wire, first } = await loginResult(t, nativePayload(user));
    expect(first.tag).toBe("success");
    expect(first.attrs.jid).toBe(user.jid);
    wire.close();
  });

  it("§4.1 the client's static key is not bound to the account: two logins with different static keys both succeed", async (ctx) => {
    need(ctx, "admin");
    const user = await newNative(t);
    const a = await connect(t, nativePayload(user), { clientKey: generateKeyPair() });
    expect((await a.next()).tag).toBe("success");
    a.close();
    await a.closed;
    const b = await connect(t, nativePayload(user), { clientKey: generateKeyPair() });
    expect((await b.next()).tag).toBe("success");
    b.close();
  });

  it("§4.1 an INTEROP login sends partner id, account id, token and client_ip to the partner callback", async (ctx) => {
    need(ctx, "partner");
    const acc = newPartnerAccount(t);
    const before = t.partner?.server.calls.length ?? 0;
    const { wire } = await loginPartner(t, acc, { clientIp: "203.0.113.9" });
    const call = t.partner?.server.calls
      .slice(before)
      .find((c) => (c.body as { account_id?: string }).account_id === acc.accountId);
    expect(call?.body).toMatchObject({
      partner_id: t.partner?.id,
      account_id: acc.accountId,
      token: acc.token,
      client_ip: "203.0.113.9",
    });
    wire.close();
  });
});

describe("§4.2 Partner authentication callback", () => {
  it("§4.2 the callback is a POST with Authorization: Bearer <partner secret>", async (ctx) => {
    need(ctx, "partner");
    const acc = newPartnerAccount(t);
    const before = t.partner?.server.calls.length ?? 0;
    const { wire } = await loginPartner(t, acc);
    const call = t.partner?.server.calls
      .slice(before)
      .find((c) => (c.body as { account_id?: string }).account_id === acc.accountId);
    expect(call?.authorization).toBe(`Bearer ${t.partner?.secret}`);
    wire.close();
  });

  it("§4.2 a callback answering {valid:false} is failure 401, then close 1000", async (ctx) => {
    need(ctx, "partner");
    const acc = newPartnerAccount(t);
    t.partner?.server.accounts.set(acc.accountId, { token: "other", phone: acc.phone });
    const { wire, first } = await loginResult(t, partnerPayload(t, acc));
    await expectFailure(wire, first, "401");
  });

  it("§4.2 a callback answering another status than 200 is failure 503", async (ctx) => {
    need(ctx, "partner");
    const acc = newPartnerAccount(t);
    t.partner?.server.accounts.set(acc.accountId, { status: 500, body: "{}" });
    const { wire, first } = await loginResult(t, partnerPayload(t, acc));
    await expectFailure(wire, first, "503");
  });

  it("§4.2 a callback answering a malformed body is failure 503", async (ctx) => {
    need(ctx, "partner");
    const acc = newPartnerAccount(t);
    t.partner?.server.accounts.set(acc.accountId, { status: 200, body: "not json" });
    const { wire, first } = await loginResult(t, partnerPayload(t, acc));
    await expectFailure(wire, first, "503");
  });

  it("§4.2 a callback that does not answer in time is failure 503", async (ctx) => {
    need(ctx, "partner");
    const acc = newPartnerAccount(t);
    t.partner?.server.accounts.set(acc.accountId, {
      delayMs: t.limits.partnerAuthTimeoutMs + 2_000,
    });
    const wire = await connect(t, partnerPayload(t, acc));
    const first = await wire.next(() => true, t.limits.partnerAuthTimeoutMs + 5_000);
    await expectFailure(wire, first, "503");
  }, 20_000);
});

describe("§4.3 Login result", () => {
  it("§4.3 <success> carries the server time t (Unix seconds), the jid and enlisted", async (ctx) => {
    need(ctx, "partner");
    const acc = newPartnerAccount(t);
    const { wire, success } = await loginPartner(t, acc);
    expect(Math.abs(Number(success.attrs.t) - Date.now() / 1000)).toBeLessThan(60);
    expect(success.attrs.jid).toBe(acc.jid);
    expect(success.attrs.enlisted).toBe("false");
    wire.close();
  });

  it('§4.3 a native login says enlisted="true"', async (ctx) => {
    need(ctx, "admin");
    const { wire, first } = await loginResult(t, nativePayload(await newNative(t)));
    expect(first.attrs.enlisted).toBe("true");
    wire.close();
  });

  it("§4.3 enlisted=false allows ping: w:p is answered", async (ctx) => {
    need(ctx, "partner");
    const { wire } = await loginPartner(t, newPartnerAccount(t));
    await wire.ping();
    wire.close();
  });

  it("§4.3 enlisted=false: a message is answered with negative ack 403", async (ctx) => {
    need(ctx, "partner");
    const { wire } = await loginPartner(t, newPartnerAccount(t));
    const m = message("482910375561204@lid.gk");
    wire.send(m.xml);
    expect((await wire.next(is("ack", { class: "message", id: m.id }))).attrs.error).toBe("403");
    wire.close();
  });

  it("§4.3 enlisted=false: an iq other than enlist and w:p is answered with iq error 403", async (ctx) => {
    need(ctx, "partner");
    const { wire } = await loginPartner(t, newPartnerAccount(t));
    const r = await wire.iq("encrypt", "get", "<count/>");
    expect(r.attrs.type).toBe("error");
    expect(r.children.find((c) => c.tag === "error")?.attrs.code).toBe("403");
    wire.close();
  });

  it("§4.3 a NATIVE login with an unknown account id is failure 401, then close 1000", async () => {
    const { wire, first } = await loginResult(t, {
      product: ClientPayload_Product.NATIVE,
      accountId: "999999999999999",
      token: "nope",
    });
    await expectFailure(wire, first, "401");
  });

  it("§4.3 a NATIVE login with a wrong token is failure 401", async (ctx) => {
    need(ctx, "admin");
    const user = await newNative(t);
    const { wire, first } = await loginResult(
      t,
      nativePayload({ ...user, token: `${user.token}x` }),
    );
    await expectFailure(wire, first, "401");
  });

  it("§4.3 a NATIVE token is replaced when the gatekeeper issues a new one: the old one is 401", async (ctx) => {
    need(ctx, "admin");
    const user = await newNative(t);
    const fresh = await t.admin?.issueToken(user.phone);
    const old = await loginResult(t, nativePayload(user));
    await expectFailure(old.wire, old.first, "401");
    const ok = await loginResult(t, nativePayload({ ...user, token: fresh?.token ?? "" }));
    expect(ok.first.tag).toBe("success");
    ok.wire.close();
  });

  it("§4.3 an unknown partner id is failure 402", async () => {
    const { wire, first } = await loginResult(t, {
      product: ClientPayload_Product.INTEROP,
      partnerId: randomPartnerId(),
      accountId: "someone",
      token: "x",
    });
    await expectFailure(wire, first, "402");
  });

  it("§4.3 a suspended partner's user is failure 402", async (ctx) => {
    need(ctx, "ownPartner");
    const secret = randomBytes(8).toString("hex");
    const server = await PartnerServer.start(secret);
    const id = randomPartnerId();
    try {
      await t.admin?.addPartner({ id, authUrl: server.authUrl, secret, suspended: true });
      server.accounts.set("u1", { token: "tk", phone: phone() });
      const { wire, first } = await loginResult(t, {
        product: ClientPayload_Product.INTEROP,
        partnerId: id,
        accountId: "u1",
        token: "tk",
      });
      await expectFailure(wire, first, "402");
    } finally {
      await server.close();
    }
  });

  it("§4.3 a partner user whose number is outside the EEA is failure 403", async (ctx) => {
    need(ctx, "partner");
    const acc = newPartnerAccount(t, "+12025550123");
    const { wire, first } = await loginResult(t, partnerPayload(t, acc));
    await expectFailure(wire, first, "403");
  });

  it("§4.3 an unsupported protocol_version is failure 405", async (ctx) => {
    need(ctx, "admin");
    const { wire, first } = await loginResult(
      t,
      nativePayload(await newNative(t), { protocolVersion: 2 }),
    );
    await expectFailure(wire, first, "405");
  });

  it("§4.3 a payload that is not a ClientPayload is failure 405", async () => {
    const wire = await Wire.open(t.url);
    await wire.handshake({
      serverKey: t.publicKey,
      payload: Buffer.from([0xff, 0xff, 0xff, 0x07]),
    });
    await expectFailure(wire, await wire.next(), "405");
  });

  it("§4.3 a device outside 1..127 is failure 405", async (ctx) => {
    need(ctx, "admin");
    const { wire, first } = await loginResult(t, nativePayload(await newNative(t), { device: 0 }));
    await expectFailure(wire, first, "405");
  });

  it("§4.3 the first frame after the handshake is the login result", async (ctx) => {
    need(ctx, "admin");
    const user = await newNative(t);
    const wire = await connect(t, nativePayload(user));
    await new Promise((r) => setTimeout(r, 100));
    wire.send(el("iq", { id: "early", type: "get", xmlns: "w:p", to: "gk" }, "<ping/>"));
    await wire.next(is("iq", { id: "early" }));
    expect(wire.received[0]?.tag).toBe("success");
    wire.close();
  });
});
