import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type MessageStanza,
  buildBlocklistChange,
  parseBlocklist,
  parseStanza,
} from "../../../src/gatekeeper/stanza/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import {
  type PartnerAuthServer,
  enlistedPartnerUser,
  fakeCiphertext,
  messageId,
  optedInNativeUser,
  sandboxWithPartner,
  startPartnerAuth,
} from "./helpers.js";
import type { RawClient } from "./raw-client.js";

function message(to: string, ciphertext = fakeCiphertext(), id = messageId()): MessageStanza {
  return { kind: "message", id, to, type: "text", enc: { v: 2, type: "pkmsg", ciphertext } };
}

describe("sandbox message routing (docs/protocol.md §8, §12, §13)", () => {
  let auth: PartnerAuthServer;
  let sandbox: Sandbox;
  let partner: RawClient;
  let alice: RawClient;
  let aliceJid: string;

  beforeAll(async () => {
    auth = await startPartnerAuth();
    sandbox = await sandboxWithPartner(auth, { limits: { newConversationsPerDay: 3 } });
    partner = await enlistedPartnerUser(sandbox, auth, "msg-1", "+4915140000001");
    const a = await optedInNativeUser(sandbox, "+4917040000001", "Alice");
    alice = a.client;
    aliceJid = a.user.jid;
  });
  afterAll(async () => {
    partner.close();
    alice.close();
    await sandbox.close();
    await auth.close();
  });

  it("nacks 404 to a user who did not opt in, exactly as to one who does not exist", async () => {
    const bob = await sandbox.admin.addUser({ phone: "+4917040000002", name: "Bob" });
    const toBob = message(bob.jid);
    partner.send(toBob);
    const nack = await partner.nextOf("ack", (a) => a.id === toBob.id);
    const toNobody = message("999999999999999@lid.gk");
    partner.send(toNobody);
    const nack2 = await partner.nextOf("ack", (a) => a.id === toNobody.id);
    const seq = expect.any(Number) as unknown;
    expect(nack).toEqual({ kind: "ack", class: "message", id: toBob.id, error: 404, seq });
    expect(nack2).toEqual({ kind: "ack", class: "message", id: toNobody.id, error: 404, seq });
    expect((await sandbox.admin.queues()).find((q) => q.recipient === bob.jid)).toBeUndefined();
  });

  it("stores, acks with t, and delivers only the ciphertext to an opted-in user", async () => {
    const ciphertext = fakeCiphertext(96);
    const sent = message(aliceJid, ciphertext);
    partner.send(sent);
    const ack = await partner.nextOf("ack", (a) => a.id === sent.id);
    expect(ack).toMatchObject({ class: "message", id: sent.id });
    expect(ack.error).toBeUndefined();
    expect(ack.t).toBeTypeOf("number");

    const got = await alice.nextOf("message", (m) => m.id === sent.id);
    expect(got).toEqual({
      kind: "message",
      id: sent.id,
      from: "matrix.msg-1@interop",
      t: ack.t,
      type: "text",
      enc: { v: 2, type: "pkmsg", ciphertext },
    });

    // Stored until acked, and what is stored is the relayed stanza: routing data and the ciphertext, nothing else.
    const queued =
      (await sandbox.admin.queues()).find((q) => q.recipient === aliceJid)?.stanzas ?? [];
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({
      kind: "message",
      id: sent.id,
      sender: "matrix.msg-1@interop",
    });
    const stored = queued[0]?.payload ?? "";
    expect(parseStanza(stored)).toEqual({ ...got });
    expect(stored).toBe(
      `<message id="${sent.id}" from="matrix.msg-1@interop" type="text" t="${ack.t}"><enc v="2" type="pkmsg">${Buffer.from(ciphertext).toString("base64")}</enc></message>`,
    );

    alice.send({ kind: "ack", class: "message", id: sent.id, to: "matrix.msg-1@interop" });
    await alice.ping();
    expect((await sandbox.admin.queues()).find((q) => q.recipient === aliceJid)).toBeUndefined();
  });

  it("acks a resent (id, retry) again with the same t and delivers it once", async () => {
    const sent = message(aliceJid);
    partner.send(sent);
    const first = await partner.nextOf("ack", (a) => a.id === sent.id);
    partner.send(sent);
    const second = await partner.nextOf("ack", (a) => a.id === sent.id);
    expect(second).toEqual(first);

    const barrier = message(aliceJid);
    partner.send(barrier);
    await partner.nextOf("ack", (a) => a.id === barrier.id);
    expect((await alice.nextOf("message")).id).toBe(sent.id);
    expect((await alice.nextOf("message")).id).toBe(barrier.id);

    // A retry (same id, retry="1") is a new delivery.
    partner.send({ ...sent, retry: 1 });
    await partner.nextOf("ack", (a) => a.id === sent.id);
    expect(await alice.nextOf("message")).toMatchObject({ id: sent.id, retry: 1 });
    for (const id of [sent.id, barrier.id])
      alice.send({ kind: "ack", class: "message", id, to: "matrix.msg-1@interop" });
  });

  it("routes receipts both ways and acks them to the sender", async () => {
    const sent = message(aliceJid);
    partner.send(sent);
    await alice.nextOf("message", (m) => m.id === sent.id);
    alice.send({ kind: "ack", class: "message", id: sent.id, to: "matrix.msg-1@interop" });
    alice.send({ kind: "receipt", id: sent.id, to: "matrix.msg-1@interop", ids: [] });
    expect(await alice.nextOf("ack", (a) => a.class === "receipt")).toMatchObject({
      class: "receipt",
      id: sent.id,
    });
    alice.send({ kind: "receipt", id: sent.id, to: "matrix.msg-1@interop", type: "read", ids: [] });
    expect(await partner.nextOf("receipt", (r) => r.type === undefined)).toMatchObject({
      id: sent.id,
      from: aliceJid,
    });
    expect(await partner.nextOf("receipt", (r) => r.type === "read")).toMatchObject({
      id: sent.id,
      from: aliceJid,
    });
    partner.send({ kind: "ack", class: "receipt", id: sent.id });
    partner.send({ kind: "ack", class: "receipt", id: sent.id, type: "read" });
  });

  it("passes chat states only to a connected peer with a conversation", async () => {
    const carol = await optedInNativeUser(sandbox, "+4917040000003", "Carol");
    partner.send({ kind: "chatstate", to: carol.user.jid, state: "composing" });
    partner.send({ kind: "chatstate", to: aliceJid, state: "composing", media: "audio" });
    expect(await alice.nextOf("chatstate")).toEqual({
      kind: "chatstate",
      from: "matrix.msg-1@interop",
      state: "composing",
      media: "audio",
    });
    await carol.client.ping();
    expect(carol.client.unclaimed.filter((s) => s.kind === "chatstate")).toEqual([]);
    carol.client.close();
  });

  it("answers presence subscriptions now and on change", async () => {
    partner.send({ kind: "presence", type: "subscribe", to: aliceJid });
    expect(await partner.nextOf("presence")).toMatchObject({ from: aliceJid, type: "unavailable" });
    alice.send({ kind: "presence", type: "available", name: "Alice A." });
    expect(await partner.nextOf("presence")).toEqual({
      kind: "presence",
      from: aliceJid,
      type: "available",
    });
  });

  it("acks but does not deliver messages to a user who blocked the sender", async () => {
    const blocked = await alice.iq(
      "blocklist",
      "set",
      buildBlocklistChange("block", "matrix.msg-1@interop"),
    );
    expect(blocked.type).toBe("result");
    expect(parseBlocklist((await alice.iq("blocklist", "get")).children)).toEqual([
      "matrix.msg-1@interop",
    ]);
    const hidden = message(aliceJid);
    partner.send(hidden);
    expect((await partner.nextOf("ack", (a) => a.id === hidden.id)).error).toBeUndefined();
    await alice.iq("blocklist", "set", buildBlocklistChange("unblock", "matrix.msg-1@interop"));
    const visible = message(aliceJid);
    partner.send(visible);
    await partner.nextOf("ack", (a) => a.id === visible.id);
    expect((await alice.nextOf("message")).id).toBe(visible.id);
    alice.send({ kind: "ack", class: "message", id: visible.id, to: "matrix.msg-1@interop" });
  });

  it("limits new conversations per day for partner users (429)", async () => {
    // Alice is conversation 1 of 3.
    const d = await optedInNativeUser(sandbox, "+4917040000004", "Dan");
    const e = await optedInNativeUser(sandbox, "+4917040000005", "Eve");
    const f = await optedInNativeUser(sandbox, "+4917040000006", "Fay");
    const results = [];
    for (const target of [d, e, f]) {
      const m = message(target.user.jid);
      partner.send(m);
      results.push(await partner.nextOf("ack", (a) => a.id === m.id));
    }
    expect(results.map((r) => r.error)).toEqual([undefined, undefined, 429]);
    expect(results[2]?.text).toBe("new-conversations");
    // An existing conversation is not limited.
    const again = message(aliceJid);
    partner.send(again);
    expect((await partner.nextOf("ack", (a) => a.id === again.id)).error).toBeUndefined();
    for (const c of [d, e, f]) c.client.close();
  });

  it("lets a native user who allows the partner message an enlisted partner user", async () => {
    const m = message("matrix.msg-1@interop");
    alice.send(m);
    expect((await alice.nextOf("ack", (a) => a.id === m.id)).error).toBeUndefined();
    expect(await partner.nextOf("message", (x) => x.id === m.id)).toMatchObject({ from: aliceJid });
  });
});

describe("sandbox message rate limit", () => {
  it("nacks messages over the per-account rate with 429", async () => {
    const auth = await startPartnerAuth();
    const sandbox = await sandboxWithPartner(auth, { limits: { messagesPerWindow: 3 } });
    try {
      const partner = await enlistedPartnerUser(sandbox, auth, "rate-1", "+4915140000009");
      const { user } = await optedInNativeUser(sandbox, "+4917040000009", "Gus");
      const errors = [];
      for (let i = 0; i < 4; i++) {
        const m = message(user.jid);
        partner.send(m);
        errors.push((await partner.nextOf("ack", (a) => a.id === m.id)).error);
      }
      expect(errors).toEqual([undefined, undefined, undefined, 429]);
    } finally {
      await sandbox.close();
      await auth.close();
    }
  });
});
