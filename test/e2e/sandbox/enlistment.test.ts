import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildEnlistRemove,
  buildEnlistRequest,
  buildEnlistVerify,
  parseEnlistRequestResult,
  parseEnlistedResult,
} from "../../../src/gatekeeper/stanza/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import {
  PARTNER_ID,
  type PartnerAuthServer,
  enlistedPartnerUser,
  fakeCiphertext,
  messageId,
  optedInNativeUser,
  sandboxWithPartner,
  startPartnerAuth,
} from "./helpers.js";
import { RawClient } from "./raw-client.js";

describe("sandbox enlistment (docs/protocol.md §6)", () => {
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

  it("verifies the number with the one-time code, and the next login is enlisted", async () => {
    const phone = "+4915120000001";
    auth.users.set("enl-1", { token: "t1", phone });
    const { client, success } = await RawClient.interop(sandbox, PARTNER_ID, "enl-1", "t1");
    expect(success.enlisted).toBe(false);

    const requested = await client.iq("enlist", "set", buildEnlistRequest());
    expect(requested.type).toBe("result");
    expect(parseEnlistRequestResult(requested.children)).toEqual({ expires: 600, length: 6 });

    const { code } = await sandbox.admin.latestCode(phone);
    expect(code).toMatch(/^\d{6}$/);
    const wrong = code === "000000" ? "111111" : "000000";
    const refused = await client.iq("enlist", "set", buildEnlistVerify(wrong));
    expect(refused).toMatchObject({ type: "error", error: { code: 406 } });

    const verified = await client.iq("enlist", "set", buildEnlistVerify(code));
    expect(verified.type).toBe("result");
    expect(parseEnlistedResult(verified.children)).toBe("matrix.enl-1@interop");
    // Fully enabled on the same connection: the backlog marker follows.
    await client.nextOf("ib");
    client.close();
    await client.closed;

    const again = await RawClient.interop(sandbox, PARTNER_ID, "enl-1", "t1");
    expect(again.success.enlisted).toBe(true);
    again.client.close();
  });

  it("allows only enlist and ping before enlistment; everything else is 403", async () => {
    auth.users.set("enl-2", { token: "t2", phone: "+4915120000002" });
    const { client } = await RawClient.interop(sandbox, PARTNER_ID, "enl-2", "t2");
    await client.ping();
    const lookup = await client.iq("usync", "get", [
      {
        tag: "query",
        attrs: {},
        children: [{ tag: "contact", attrs: {}, children: [], text: "+4915199999999" }],
      },
    ]);
    expect(lookup).toMatchObject({ type: "error", error: { code: 403 } });
    const id = messageId();
    client.send({
      kind: "message",
      id,
      to: "123456789012345@lid.gk",
      type: "text",
      enc: { v: 2, type: "msg", ciphertext: fakeCiphertext() },
    });
    expect(await client.nextOf("ack", (a) => a.id === id)).toMatchObject({
      class: "message",
      error: 403,
    });
    client.close();
  });

  it("refuses a second request within a minute, and a number enlisted by another account", async () => {
    const phone = "+4915120000003";
    auth.users.set("enl-3", { token: "t3", phone });
    const { client } = await RawClient.interop(sandbox, PARTNER_ID, "enl-3", "t3");
    expect((await client.iq("enlist", "set", buildEnlistRequest())).type).toBe("result");
    expect(await client.iq("enlist", "set", buildEnlistRequest())).toMatchObject({
      type: "error",
      error: { code: 429 },
    });
    const { code } = await sandbox.admin.latestCode(phone);
    expect((await client.iq("enlist", "set", buildEnlistVerify(code))).type).toBe("result");

    // Another account of the partner claims the same number.
    auth.users.set("enl-3b", { token: "t3b", phone });
    const other = await RawClient.interop(sandbox, PARTNER_ID, "enl-3b", "t3b");
    expect(other.success.enlisted).toBe(false);
    expect(await other.client.iq("enlist", "set", buildEnlistRequest())).toMatchObject({
      type: "error",
      error: { code: 409 },
    });
    other.client.close();
    client.close();
  });

  it("answers 410 to a verify without a requested code, and 429 after five wrong codes", async () => {
    const phone = "+4915120000004";
    auth.users.set("enl-4", { token: "t4", phone });
    const { client } = await RawClient.interop(sandbox, PARTNER_ID, "enl-4", "t4");
    expect(await client.iq("enlist", "set", buildEnlistVerify("123456"))).toMatchObject({
      type: "error",
      error: { code: 410 },
    });
    await client.iq("enlist", "set", buildEnlistRequest());
    const { code } = await sandbox.admin.latestCode(phone);
    const wrong = code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) {
      expect(await client.iq("enlist", "set", buildEnlistVerify(wrong))).toMatchObject({
        error: { code: 406 },
      });
    }
    // The code is spent: even the right one is refused now.
    expect(await client.iq("enlist", "set", buildEnlistVerify(code))).toMatchObject({
      type: "error",
      error: { code: 429 },
    });
    client.close();
  });

  it("remove forgets the enlistment and queued stanzas and ends the stream with 401 removed", async () => {
    const partner = await enlistedPartnerUser(sandbox, auth, "enl-5", "+4915120000005");
    const { client: alice } = await optedInNativeUser(sandbox, "+4915120000105", "Alice");
    partner.close();
    await partner.closed;
    alice.send({
      kind: "message",
      id: messageId(),
      to: "matrix.enl-5@interop",
      type: "text",
      enc: { v: 2, type: "msg", ciphertext: fakeCiphertext() },
    });
    expect((await alice.nextOf("ack")).t).toBeTypeOf("number");
    expect((await sandbox.admin.queues()).some((q) => q.recipient === "matrix.enl-5@interop")).toBe(
      true,
    );

    const { client: back, success } = await RawClient.interop(
      sandbox,
      PARTNER_ID,
      "enl-5",
      "tok-enl-5",
    );
    expect(success.enlisted).toBe(true);
    await back.nextOf("message");
    await back.nextOf("ib");
    const removed = await back.iq("enlist", "set", buildEnlistRemove());
    expect(removed.type).toBe("result");
    expect(await back.nextOf("stream-error")).toMatchObject({ code: 401, text: "removed" });
    await back.closed;
    expect((await sandbox.admin.queues()).some((q) => q.recipient === "matrix.enl-5@interop")).toBe(
      false,
    );
    const after = await RawClient.interop(sandbox, PARTNER_ID, "enl-5", "tok-enl-5");
    expect(after.success.enlisted).toBe(false);
    after.client.close();
    alice.close();
  });
});
