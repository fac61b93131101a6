/** §3 Transport: intro bytes, framing, the Noise handshake, close codes. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair, HandshakeState } from "../../src/gatekeeper/noise/index.js";
import { loginNative, newNative } from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import {
  INTRO,
  MAX_FRAME_PAYLOAD,
  MAX_WS_MESSAGE,
  TAG_LENGTH,
  Wire,
  encodePayload,
  frame,
  is,
} from "./wire.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget({ handshakeTimeoutMs: 1_000 });
});
afterAll(() => t.close());

const PING = '<iq id="p1" type="get" xmlns="w:p" to="gk"><ping/></iq>';

/** A native user logged in: a connection past the handshake that stays open. */
async function open(): Promise<Wire> {
  return loginNative(t, await newNative(t));
}

/** Client side of Noise messages 1 and 2, leaving message 3 to the test. */
async function halfHandshake(): Promise<{ wire: Wire; hs: HandshakeState }> {
  const wire = await Wire.open(t.url);
  const hs = new HandshakeState({
    pattern: "XX",
    initiator: true,
    prologue: INTRO,
    staticPrivateKey: generateKeyPair().privateKey,
  });
  wire.sendRaw(Buffer.concat([INTRO, frame(hs.writeMessage())]));
  hs.readMessage((await wire.nextRaw()).subarray(3));
  return { wire, hs };
}

describe("§3.1 Connection", () => {
  it("§3.1 a first message with the intro bytes 47 4B 01 01 and message 1 is answered with one binary frame", async () => {
    const wire = await Wire.open(t.url);
    const hs = new HandshakeState({
      pattern: "XX",
      initiator: true,
      prologue: INTRO,
      staticPrivateKey: generateKeyPair().privateKey,
    });
    wire.sendRaw(Buffer.concat([INTRO, frame(hs.writeMessage())]));
    const m2 = await wire.nextRaw();
    expect(m2.readUIntBE(0, 3)).toBe(m2.length - 3);
    wire.close();
  });

  it("§3.1 a first message with other intro bytes closes with 4000", async () => {
    const wire = await Wire.open(t.url);
    wire.sendRaw(
      Buffer.concat([Buffer.from([0x47, 0x4b, 0x01, 0x02]), frame(Buffer.alloc(32, 7))]),
    );
    expect((await wire.closedWithin()).code).toBe(4000);
  });

  it("§3.1 a first message shorter than the intro closes with 4000", async () => {
    const wire = await Wire.open(t.url);
    wire.sendRaw(Buffer.from([0x47, 0x4b]));
    expect((await wire.closedWithin()).code).toBe(4000);
  });

  it("§3.1 a text WebSocket message as the very first message closes with 4000", async () => {
    const wire = await Wire.open(t.url);
    wire.sendRaw("GK\u0001\u0001", { binary: false });
    expect((await wire.closedWithin()).code).toBe(4000);
  });

  it("§3.1 a text WebSocket message after the handshake closes with 4002", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    wire.sendRaw(PING, { binary: false });
    expect((await wire.closedWithin()).code).toBe(4002);
  });

  it("§3.1 a frame length that does not match the bytes that follow closes with 4002", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const { sealed } = wire.seal(PING);
    wire.sendRaw(frame(sealed, sealed.length + 5));
    expect((await wire.closedWithin()).code).toBe(4002);
  });

  it("§3.1 a length mismatch in handshake message 1 closes with 4002", async () => {
    const wire = await Wire.open(t.url);
    wire.sendRaw(Buffer.concat([INTRO, frame(Buffer.alloc(32, 1), 40)]));
    expect((await wire.closedWithin()).code).toBe(4002);
  });

  it("§3.1 a message shorter than the frame header closes with 4002", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    wire.sendRaw(Buffer.from([0, 0]));
    expect((await wire.closedWithin()).code).toBe(4002);
  });

  it("§3.1 two frames in one WebSocket message are a length mismatch (4002)", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const a = wire.seal(PING).sealed;
    const b = wire.seal(PING.replace("p1", "p2")).sealed;
    wire.sendRaw(Buffer.concat([frame(a), frame(b)]));
    expect((await wire.closedWithin()).code).toBe(4002);
  });

  it("§3.1 a frame split across two WebSocket messages is a length mismatch (4002)", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const whole = frame(wire.seal(PING).sealed);
    wire.sendRaw(whole.subarray(0, 10));
    wire.sendRaw(whole.subarray(10));
    expect((await wire.closedWithin()).code).toBe(4002);
  });

  it("§3.1 one message fragmented by the WebSocket layer into continuation frames is one frame", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const whole = frame(wire.seal(PING).sealed);
    wire.sendRaw(whole.subarray(0, 10), { fin: false });
    wire.sendRaw(whole.subarray(10), { fin: true });
    expect((await wire.next(is("iq", { id: "p1" }))).attrs.type).toBe("result");
    wire.close();
  });

  it("§3.1 a frame payload of exactly 1 MiB is accepted", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const head = '<iq id="big" type="get" xmlns="w:p" to="gk"><ping/><pad>';
    const tail = "</pad></iq>";
    const fill = MAX_FRAME_PAYLOAD - TAG_LENGTH - head.length - tail.length;
    const { sealed } = wire.seal(head + "A".repeat(fill) + tail);
    expect(sealed.length).toBe(MAX_FRAME_PAYLOAD);
    wire.sendRaw(frame(sealed));
    expect((await wire.next(is("iq", { id: "big" }), 15_000)).attrs.type).toBe("result");
    wire.close();
  });

  it('§3.1 a frame payload over 1 MiB after the handshake is answered with <stream:error code="413" text="frame-too-large"/> and closes with 4013', async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const { sealed } = wire.seal(Buffer.alloc(MAX_FRAME_PAYLOAD - TAG_LENGTH + 1, 0x41));
    wire.sendRaw(frame(sealed));
    const closed = await wire.closedWithin(10_000);
    expect(closed.code).toBe(4013);
    const error = wire.received.find((s) => s.tag === "stream:error");
    expect(error?.attrs).toMatchObject({ code: "413", text: "frame-too-large" });
  });

  it("§3.1 a frame payload over 1 MiB during the handshake closes with 4013", async () => {
    const wire = await Wire.open(t.url);
    wire.sendRaw(Buffer.concat([INTRO, frame(Buffer.alloc(MAX_FRAME_PAYLOAD + 1, 1))]));
    expect((await wire.closedWithin(10_000)).code).toBe(4013);
  });
});

describe("§3.2 Noise handshake", () => {
  it("§3.2 message 2 is e (32) ‖ enc(s) (48) ‖ enc(empty payload) (16) and carries the gatekeeper's static key", async (ctx) => {
    need(ctx, "admin");
    const user = await newNative(t);
    const wire = await Wire.open(t.url);
    // handshake() itself refuses a static key other than the pinned one.
    await wire.handshake({
      serverKey: t.publicKey,
      payload: encodePayload({ product: 2, accountId: user.accountId, token: user.token }),
    });
    expect(wire.message2?.length).toBe(3 + 96);
    expect((await wire.next()).tag).toBe("success");
    wire.close();
  });

  it("§3.2 after Split() both directions count nonces from 0: every gatekeeper frame decrypts in order", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await wire.ping();
    await wire.ping();
    expect(wire.bad).toEqual([]);
    expect(wire.received.map((s) => s.tag)).toEqual(["success", "ib", "iq", "iq"]);
    wire.close();
  });

  it("§3.2 handshake message 1 of the wrong size (not 32 bytes) closes with 4001", async () => {
    const wire = await Wire.open(t.url);
    wire.sendRaw(Buffer.concat([INTRO, frame(Buffer.alloc(31, 9))]));
    expect((await wire.closedWithin()).code).toBe(4001);
  });

  it("§3.2 a handshake message 3 that fails to decrypt closes with 4001", async () => {
    const { wire, hs } = await halfHandshake();
    const m3 = hs.writeMessage(encodePayload({ product: 2 }));
    m3[10] = (m3[10] ?? 0) ^ 0xff;
    wire.sendRaw(frame(m3));
    expect((await wire.closedWithin()).code).toBe(4001);
  });

  it("§3.2 a frame that fails to decrypt after the handshake closes with 4001", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    wire.sendRaw(frame(Buffer.alloc(40, 0x5a)));
    expect((await wire.closedWithin()).code).toBe(4001);
  });

  it("§3.2 a replayed frame (an old nonce) fails to decrypt and closes with 4001", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const { sealed } = wire.seal(PING);
    wire.sendRaw(frame(sealed));
    await wire.next(is("iq", { id: "p1" }));
    wire.sendRaw(frame(sealed));
    expect((await wire.closedWithin()).code).toBe(4001);
  });

  it("§3.2 a connection that sends nothing is closed with 4008 after the handshake timeout", async () => {
    const wire = await Wire.open(t.url);
    expect((await wire.closedWithin(t.limits.handshakeTimeoutMs + 5_000)).code).toBe(4008);
  }, 20_000);

  it("§3.2 the handshake timeout runs from the connection opening: message 1 alone ends in 4008", async () => {
    const { wire } = await halfHandshake();
    expect((await wire.closedWithin(t.limits.handshakeTimeoutMs + 5_000)).code).toBe(4008);
  }, 20_000);
});

describe("§3.3 WebSocket close codes", () => {
  it("§3.3 a WebSocket message over 2 MiB after the handshake is refused with 1009, without a stanza", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const before = wire.received.length;
    wire.sendRaw(Buffer.alloc(MAX_WS_MESSAGE + 1, 0x41));
    expect((await wire.closedWithin(10_000)).code).toBe(1009);
    expect(wire.received.length).toBe(before);
  });

  it("§3.3 a first WebSocket message over 2 MiB is refused with 1009", async () => {
    const wire = await Wire.open(t.url);
    wire.sendRaw(Buffer.concat([INTRO, Buffer.alloc(MAX_WS_MESSAGE - 3, 0x41)]));
    expect((await wire.closedWithin(10_000)).code).toBe(1009);
  });
});
