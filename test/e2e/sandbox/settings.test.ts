import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildInteropSettings,
  buildLookupQuery,
  parseInteropSettings,
  parseLookupResult,
} from "../../../src/gatekeeper/stanza/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import {
  PARTNER_ID,
  type PartnerAuthServer,
  enlistedPartnerUser,
  fakeCiphertext,
  messageId,
  sandboxWithPartner,
  startPartnerAuth,
} from "./helpers.js";
import { RawClient } from "./raw-client.js";

describe("sandbox consent settings and read-receipt reciprocity (docs/protocol.md §12.2, §13)", () => {
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

  it("lets a native client opt in with the interop iq, which the directory then honours", async () => {
    const partner = await enlistedPartnerUser(sandbox, auth, "set-1", "+4915180000001");
    const user = await sandbox.admin.addUser({ phone: "+4917110000001", name: "Nina" });
    const { client } = await RawClient.native(sandbox, user);
    await client.nextOf("ib");

    const lookup = async () =>
      parseLookupResult(
        (await partner.iq("usync", "get", buildLookupQuery([user.phone]))).children,
      );
    expect(await lookup()).toEqual([{ contact: user.phone }]);

    const set = await client.iq(
      "interop",
      "set",
      buildInteropSettings({ enabled: true, partners: [PARTNER_ID], inbox: "separate" }),
    );
    expect(set.type).toBe("result");
    expect(parseInteropSettings((await client.iq("interop", "get")).children)).toEqual({
      enabled: true,
      partners: [PARTNER_ID],
      inbox: "separate",
    });
    expect(await lookup()).toEqual([{ contact: user.phone, jid: user.jid, name: "Nina" }]);

    // Partner users have no interop settings of their own.
    expect(await partner.iq("interop", "get")).toMatchObject({
      type: "error",
      error: { code: 403 },
    });
    partner.close();
    client.close();
  });

  it("drops read receipts to a user who does not send them, but passes delivery receipts", async () => {
    const phone = "+4915180000002";
    auth.users.set("set-2", { token: "tok-set-2", phone });
    // Enlist first, then log in again saying we do not send read receipts.
    (await enlistedPartnerUser(sandbox, auth, "set-2", phone)).close();
    const { client: partner } = await RawClient.interop(sandbox, PARTNER_ID, "set-2", "tok-set-2", {
      sendReadReceipts: false,
    });
    await partner.nextOf("ib");
    const user = await sandbox.admin.addUser({ phone: "+4917110000002", name: "Olaf" });
    await sandbox.admin.updateSettings(user.phone, { enabled: true, partners: "*" });
    const { client } = await RawClient.native(sandbox, user);
    await client.nextOf("ib");

    const id = messageId();
    partner.send({
      kind: "message",
      id,
      to: user.jid,
      type: "text",
      enc: { v: 2, type: "msg", ciphertext: fakeCiphertext() },
    });
    await client.nextOf("message", (m) => m.id === id);
    client.send({ kind: "receipt", id, to: "matrix.set-2@interop", type: "read", ids: [] });
    client.send({ kind: "receipt", id, to: "matrix.set-2@interop", ids: [] });
    // Both are acked to the sender.
    expect(
      (await client.nextOf("ack", (a) => a.class === "receipt" && a.type === "read")).error,
    ).toBeUndefined();
    expect(
      (await client.nextOf("ack", (a) => a.class === "receipt" && a.type === undefined)).error,
    ).toBeUndefined();
    // Only the delivery receipt arrives.
    expect(await partner.nextOf("receipt")).toMatchObject({ id, from: user.jid });
    await partner.ping();
    expect(partner.received.filter((s) => s.kind === "receipt")).toHaveLength(1);
    partner.close();
    client.close();
  });
});
