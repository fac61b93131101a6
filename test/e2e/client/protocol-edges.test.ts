import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import type { GatekeeperClientOptions } from "../../../src/gatekeeper/client/index.js";
import type {
  AckStanza,
  IqStanza,
  ReceiptStanza,
  Stanza,
} from "../../../src/gatekeeper/stanza/index.js";
import { FakeGatekeeper } from "./fake-gatekeeper.js";
import { FAST_RECONNECT, Recorder, TestFiles, eventually } from "./helpers.js";

const PEER = "222222222222222@lid.gk";
const isAck = (cls: string, id?: string) => (s: Stanza) =>
  s.kind === "ack" && s.class === cls && (id === undefined || s.id === id);

describe("GatekeeperClient at the protocol's edges (scripted gatekeeper)", () => {
  let gk: FakeGatekeeper;
  let files: TestFiles;
  let client: GatekeeperClient;

  async function startClient(
    extra: Partial<GatekeeperClientOptions> = {},
  ): Promise<GatekeeperClient> {
    client = new GatekeeperClient({
      url: gk.url,
      serverStaticKey: gk.staticKey.publicKey,
      db: await files.db(),
      account: { product: "native", accountId: "acc1", token: "t" },
      reconnect: FAST_RECONNECT,
      ...extra,
    });
    await client.start();
    return client;
  }

  beforeEach(async () => {
    gk = new FakeGatekeeper();
    await gk.listening();
    files = new TestFiles();
  });

  afterEach(async () => {
    await client?.stop();
    await gk.close();
    await files.close();
  });

  it("answers an unparsable frame with ack 487 and an unknown stanza with 488, and keeps going", async () => {
    await startClient();
    const session = await gk.session(1);
    session.sendRaw("<message id='x' <<not xml");
    const frameAck = (await session.next(isAck("frame"))) as AckStanza;
    expect(frameAck.error).toBe(487);
    expect(frameAck.id).toBeUndefined();

    session.sendRaw('<teleport id="t1" to="mars"/>');
    const unknownAck = (await session.next(isAck("teleport"))) as AckStanza;
    expect(unknownAck).toMatchObject({ id: "t1", error: 488 });

    const typing = new Recorder(client, "chatstate");
    session.send({ kind: "chatstate", from: PEER, state: "composing" });
    await typing.waitFor(1);
    expect(client.state).toBe("connected");
    expect(gk.sessions).toHaveLength(1);
  });

  it("acks a receipt only after its handler finished, and not at all when the handler throws", async () => {
    await startClient();
    const session = await gk.session(1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    client.on("receipt", async (r) => {
      if (r.ids[0] === "3EB0000000000000000A") await gate;
      if (r.ids[0] === "3EB0000000000000000B") throw new Error("cannot store");
    });
    const receipt = (id: string): ReceiptStanza => ({
      kind: "receipt",
      id,
      from: PEER,
      t: 1,
      type: "read",
      ids: [],
    });

    session.send(receipt("3EB0000000000000000A"));
    await new Promise((r) => setTimeout(r, 150));
    expect(session.received.some(isAck("receipt", "3EB0000000000000000A"))).toBe(false);
    release();
    const ack = (await session.next(isAck("receipt", "3EB0000000000000000A"))) as AckStanza;
    expect(ack).toMatchObject({ to: PEER, type: "read" });

    const errors = new Recorder(client, "error");
    session.send(receipt("3EB0000000000000000B"));
    await errors.waitFor(1);
    session.send(receipt("3EB0000000000000000C")); // handled after B: B's ack would have come first
    await session.next(isAck("receipt", "3EB0000000000000000C"));
    expect(session.received.some(isAck("receipt", "3EB0000000000000000B"))).toBe(false);
  });

  it("counts a receipt's ids once when its list repeats the first, and acks it naming sender and type (§5.1, §13)", async () => {
    await startClient();
    const session = await gk.session(1);
    const receipts = new Recorder(client, "receipt");
    session.send({
      kind: "receipt",
      id: "3EB0000000000000001A",
      from: PEER,
      t: 1,
      type: "read",
      ids: ["3EB0000000000000001A", "3EB0000000000000001B", "3EB0000000000000001B"],
    });
    const [got] = await receipts.waitFor(1);
    expect(got?.ids).toEqual(["3EB0000000000000001A", "3EB0000000000000001B"]);
    const ack = (await session.next(isAck("receipt", "3EB0000000000000001A"))) as AckStanza;
    expect(ack).toMatchObject({ to: PEER, type: "read" });
  });

  it("acks an undecryptable message, asks for a retry and reports it", async () => {
    await startClient();
    const session = await gk.session(1);
    const undecryptable = new Recorder(client, "undecryptable");
    const id = "3EB0AAAAAAAAAAAAAAAA";
    session.send({
      kind: "message",
      id,
      from: PEER,
      t: 1,
      type: "text",
      enc: { v: 2, type: "msg", ciphertext: new Uint8Array(64).fill(7) },
    });
    const [event] = await undecryptable.waitFor(1);
    expect(event).toMatchObject({ from: PEER, id, retryRequested: true });
    const retry = (await session.next(
      (s) => s.kind === "receipt" && s.type === "retry",
    )) as ReceiptStanza;
    expect(retry).toMatchObject({ id, to: PEER, retry: { count: 1, id } });
    expect(retry.registrationId).toBeGreaterThan(0);
    const ack = (await session.next(isAck("message", id))) as AckStanza;
    expect(ack.error).toBeUndefined();
  });

  it("asks for no more retries once they are spent, and says so in the report", async () => {
    await startClient();
    const session = await gk.session(1);
    const undecryptable = new Recorder(client, "undecryptable");
    const id = "3EB0AAAAAAAAAAAAAAAB";
    session.send({
      kind: "message",
      id,
      from: PEER,
      t: 1,
      type: "text",
      retry: 5,
      enc: { v: 2, type: "msg", ciphertext: new Uint8Array(64).fill(7) },
    });
    const [event] = await undecryptable.waitFor(1);
    expect(event).toMatchObject({ from: PEER, id, retryRequested: false });
    await session.next(isAck("message", id));
    expect(session.received.some((s) => s.kind === "receipt" && s.type === "retry")).toBe(false);
  });

  it("refills one-time prekeys when the gatekeeper says it runs low, then acks the notification", async () => {
    await startClient();
    const session = await gk.session(1);
    session.send({
      kind: "notification",
      id: "n1",
      type: "encrypt",
      from: "gk",
      t: 1,
      children: [{ tag: "count", attrs: { value: "3" }, children: [] }],
    });
    await session.next(isAck("notification", "n1"));
    const uploads = session.received.filter(
      (s): s is IqStanza => s.kind === "iq" && s.xmlns === "encrypt" && s.type === "set",
    );
    const refill = uploads.at(-1)!;
    const list = refill.children.find((c) => c.tag === "list");
    expect(list?.children).toHaveLength(50);
    expect(refill.children.some((c) => c.tag === "identity")).toBe(false);
    const ackIndex = session.received.findIndex(isAck("notification", "n1"));
    expect(session.received.indexOf(refill)).toBeLessThan(ackIndex);
  });

  it("pings when idle and reconnects when a ping goes unanswered", async () => {
    await startClient({ keepaliveIntervalMs: 100, keepaliveTimeoutMs: 150 });
    const first = await gk.session(1);
    await first.next((s) => s.kind === "iq" && s.xmlns === "w:p");
    first.options.answerPings = false;
    const second = await gk.session(2);
    expect(first.closed || first.connection.closed).toBe(true);
    await eventually(() => client.state === "connected");
    await second.next((s) => s.kind === "iq" && s.xmlns === "w:p"); // and keeps pinging
  });

  it("reconnects at once on stream error 515", async () => {
    await startClient({ reconnect: { initialMs: 60_000, maxMs: 60_000 } });
    const first = await gk.session(1);
    first.send({ kind: "stream-error", code: 515 });
    first.connection.close();
    await gk.session(2, 3_000); // far less than the 30..60 s a backoff wait would take
    await eventually(() => client.state === "connected");
  });

  it("does not reconnect after 409 replaced or 401", async () => {
    await startClient();
    const first = await gk.session(1);
    first.send({ kind: "stream-error", code: 409, text: "replaced" });
    first.connection.close();
    await eventually(() => client.state === "replaced");
    await client.stop();

    await startClient();
    const third = await gk.session(2);
    third.send({ kind: "stream-error", code: 401, text: "removed" });
    third.connection.close();
    await eventually(() => client.state === "logged-out");
    await new Promise((r) => setTimeout(r, 200));
    expect(gk.sessions).toHaveLength(2);
  });
});
