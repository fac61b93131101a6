import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, startSandbox } from "../../../src/sandbox/index.js";
import { RawClient } from "./raw-client.js";

describe("sandbox robustness (docs/protocol.md §3, §5.1)", () => {
  let sandbox: Sandbox;
  let user: { accountId: string; token: string };

  beforeAll(async () => {
    sandbox = await startSandbox({ limits: { badFramesPerMinute: 5 } });
    user = await sandbox.admin.addUser({ phone: "+4917060000001", name: "Robust" });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  async function connected(): Promise<RawClient> {
    const { client } = await RawClient.native(sandbox, user);
    await client.nextOf("ib");
    return client;
  }

  it("answers malformed XML, a DOCTYPE bomb and an unknown stanza with acks, and stays up", async () => {
    const client = await connected();
    client.sendRaw("<message id='1'");
    const first = await client.nextOf("ack");
    expect(first).toEqual({ kind: "ack", class: "frame", error: 487, seq: expect.any(Number) });
    // §5.1: seq is the index of the frame that carried the refused stanza, so the next ones follow.
    const seq = first.seq as number;
    client.sendRaw(
      '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><message id="2">&b;</message>',
    );
    expect(await client.nextOf("ack")).toEqual({
      kind: "ack",
      class: "frame",
      error: 487,
      seq: seq + 1,
    });
    client.sendRaw('<frobnicate id="abc"/>');
    expect(await client.nextOf("ack")).toEqual({
      kind: "ack",
      class: "frobnicate",
      id: "abc",
      error: 488,
      text: "unknown-stanza",
      seq: seq + 2,
    });
    client.sendRaw('<message id="m1" to="nobody"/>');
    expect(await client.nextOf("ack")).toMatchObject({ class: "message", id: "m1", error: 400 });
    await client.ping();
    client.close();
  });

  it("answers an iq with an unknown namespace with 400 unknown-namespace", async () => {
    const client = await connected();
    expect(await client.iq("nope", "get")).toMatchObject({
      type: "error",
      error: { code: 400, text: "unknown-namespace" },
    });
    client.close();
  });

  it("closes the stream with 487 after too many bad frames in a minute", async () => {
    const client = await connected();
    for (let i = 0; i < 5; i++) client.sendRaw("not xml at all");
    expect(await client.nextOf("stream-error")).toEqual({
      kind: "stream-error",
      code: 487,
      text: "too-many-bad-frames",
    });
    expect((await client.closed).code).toBe(1000);
    const next = await connected();
    await next.ping();
    next.close();
  });

  it("says 413 and closes with 4013 a connection that sends an oversize frame, and keeps serving others", async () => {
    // Our own side would refuse to seal such a frame; raise our cap to send it anyway.
    const { client } = await RawClient.native(
      sandbox,
      user,
      {},
      { maxFramePayload: 2 * 1024 * 1024 },
    );
    await client.nextOf("ib");
    client.sendRaw(`<iq id="big" type="get" xmlns="w:p"><ping/>${" ".repeat(1_048_576)}</iq>`);
    // §3.1: the stanza first, then the close.
    expect(await client.nextOf("stream-error")).toEqual({
      kind: "stream-error",
      code: 413,
      text: "frame-too-large",
    });
    expect((await client.closed).code).toBe(4013);
    const other = await connected();
    await other.ping();
    other.close();
  });
});

describe("sandbox keepalive", () => {
  it("closes a connection that stays silent for the idle limit", async () => {
    const sandbox = await startSandbox({ limits: { idleTimeoutMs: 300 } });
    try {
      const user = await sandbox.admin.addUser({ phone: "+4917060000002", name: "Quiet" });
      const { client } = await RawClient.native(sandbox, user);
      const closed = await client.closed;
      expect(closed.code).toBe(1000);
      expect(closed.reason).toBe("idle-timeout");
    } finally {
      await sandbox.close();
    }
  });
});
