import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageStanza } from "../../../src/gatekeeper/stanza/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import {
  type PartnerAuthServer,
  enlistedPartnerUser,
  fakeCiphertext,
  messageId,
  sandboxWithPartner,
  startPartnerAuth,
} from "./helpers.js";
import { RawClient } from "./raw-client.js";

function message(to: string): MessageStanza {
  return {
    kind: "message",
    id: messageId(),
    to,
    type: "text",
    enc: { v: 2, type: "msg", ciphertext: fakeCiphertext() },
  };
}

describe("sandbox offline queue (docs/protocol.md §9)", () => {
  let auth: PartnerAuthServer;
  let sandbox: Sandbox;
  let partner: RawClient;
  let user: { accountId: string; token: string; jid: string };

  beforeAll(async () => {
    auth = await startPartnerAuth();
    sandbox = await sandboxWithPartner(auth);
    partner = await enlistedPartnerUser(sandbox, auth, "q-1", "+4915150000001");
    user = await sandbox.admin.addUser({ phone: "+4917050000001", name: "Offline Olga" });
    await sandbox.admin.updateSettings("+4917050000001", { enabled: true, partners: "*" });
  });
  afterAll(async () => {
    partner.close();
    await sandbox.close();
    await auth.close();
  });

  async function sendAll(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const m = message(user.jid);
      partner.send(m);
      const ack = await partner.nextOf("ack", (a) => a.id === m.id);
      expect(ack.error).toBeUndefined();
      ids.push(m.id);
    }
    return ids;
  }

  it("delivers the backlog in order with offline=1, then ib with the count", async () => {
    const ids = await sendAll(3);
    const { client } = await RawClient.native(sandbox, user);
    const got: MessageStanza[] = [];
    for (let i = 0; i < 3; i++) got.push(await client.nextOf("message"));
    expect(got.map((m) => m.id)).toEqual(ids);
    expect(got.every((m) => m.offline === true)).toBe(true);
    expect(await client.nextOf("ib")).toEqual({ kind: "ib", offlineCount: 3 });
    // Nothing but the three messages came between success and ib.
    const ibIndex = client.received.findIndex((s) => s.kind === "ib");
    expect(client.received.slice(0, ibIndex).map((s) => s.kind)).toEqual([
      "success",
      "message",
      "message",
      "message",
    ]);
    for (const id of ids)
      client.send({ kind: "ack", class: "message", id, to: "matrix.q-1@interop" });

    // Live messages after the backlog come without offline.
    const [live] = await sendAll(1);
    const liveMessage = await client.nextOf("message");
    expect(liveMessage.id).toBe(live);
    expect(liveMessage.offline).toBeUndefined();
    client.send({ kind: "ack", class: "message", id: live ?? "", to: "matrix.q-1@interop" });
    await client.ping();
    client.close();
    await client.closed;
  });

  it("redelivers a stanza that was delivered but not acked, on the next connection", async () => {
    const [id] = await sendAll(1);
    const first = await RawClient.native(sandbox, user);
    expect((await first.client.nextOf("message")).id).toBe(id);
    first.client.close();
    await first.client.closed;

    const second = await RawClient.native(sandbox, user);
    const again = await second.client.nextOf("message");
    expect(again).toMatchObject({ id, offline: true });
    expect(await second.client.nextOf("ib")).toEqual({ kind: "ib", offlineCount: 1 });
    second.client.send({ kind: "ack", class: "message", id: id ?? "", to: "matrix.q-1@interop" });
    await second.client.ping();
    second.client.close();
    await second.client.closed;

    const third = await RawClient.native(sandbox, user);
    expect(await third.client.nextOf("ib")).toEqual({ kind: "ib", offlineCount: 0 });
    third.client.close();
    await third.client.closed;
  });

  it("expires queued stanzas after the queue lifetime", async () => {
    let now = Date.now();
    const auth2 = await startPartnerAuth();
    const sb = await sandboxWithPartner(auth2, {
      clock: () => now,
      limits: { queueTtlMs: 60_000 },
    });
    try {
      const p = await enlistedPartnerUser(sb, auth2, "q-2", "+4915150000002");
      const u = await sb.admin.addUser({ phone: "+4917050000002", name: "Late" });
      await sb.admin.updateSettings("+4917050000002", { enabled: true, partners: "*" });
      const m = message(u.jid);
      p.send(m);
      await p.nextOf("ack", (a) => a.id === m.id);
      now += 61_000;
      const { client } = await RawClient.native(sb, u);
      expect(await client.nextOf("ib")).toEqual({ kind: "ib", offlineCount: 0 });
      expect(client.received.some((s) => s.kind === "message")).toBe(false);
      client.close();
    } finally {
      await sb.close();
      await auth2.close();
    }
  });
});
