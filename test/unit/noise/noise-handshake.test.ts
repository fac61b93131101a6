import { describe, expect, it } from "vitest";
import {
  CipherState,
  HandshakeState,
  NoiseError,
  generateKeyPair,
  publicKeyFromPrivate,
  type HandshakeOptions,
} from "../../../src/gatekeeper/noise/index.js";

const prologue = Buffer.from([0x47, 0x4b, 0x01, 0x01]);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof NoiseError) return err.code;
    throw err;
  }
  return undefined;
}

function xxPair(overrides: Partial<HandshakeOptions> = {}) {
  const clientKey = generateKeyPair();
  const serverKey = generateKeyPair();
  const initiator = new HandshakeState({
    pattern: "XX",
    initiator: true,
    prologue,
    staticPrivateKey: clientKey.privateKey,
  });
  const responder = new HandshakeState({
    pattern: "XX",
    initiator: false,
    prologue,
    staticPrivateKey: serverKey.privateKey,
    ...overrides,
  });
  return { clientKey, serverKey, initiator, responder };
}

describe("X25519 keys", () => {
  it("derives the generated public key from the private key", () => {
    const pair = generateKeyPair();
    expect(pair.privateKey).toHaveLength(32);
    expect(pair.publicKey).toHaveLength(32);
    expect(publicKeyFromPrivate(pair.privateKey)).toEqual(pair.publicKey);
    expect(generateKeyPair().privateKey).not.toEqual(pair.privateKey);
  });

  it("rejects keys that are not 32 bytes", () => {
    expect(codeOf(() => publicKeyFromPrivate(new Uint8Array(31)))).toBe("bad-key");
  });
});

describe("HandshakeState", () => {
  it("completes XX with random keys and gives both sides matching transport ciphers", () => {
    const { clientKey, serverKey, initiator, responder } = xxPair();
    expect(initiator.isMyTurn).toBe(true);
    responder.readMessage(initiator.writeMessage());
    initiator.readMessage(responder.writeMessage());
    const login = Buffer.from("login payload");
    expect(responder.readMessage(initiator.writeMessage(login))).toEqual(login);

    expect(initiator.isComplete && responder.isComplete).toBe(true);
    expect(initiator.handshakeHash).toEqual(responder.handshakeHash);
    expect(initiator.remoteStatic).toEqual(serverKey.publicKey);
    expect(responder.remoteStatic).toEqual(clientKey.publicKey);

    const [iSend, iRecv] = initiator.split();
    const [rRecv, rSend] = responder.split();
    expect(rRecv.decrypt(iSend.encrypt(Buffer.from("to server")))).toEqual(
      Buffer.from("to server"),
    );
    expect(iRecv.decrypt(rSend.encrypt(Buffer.from("to client")))).toEqual(
      Buffer.from("to client"),
    );
  });

  it("completes IK when the initiator knows the responder's key", () => {
    const clientKey = generateKeyPair();
    const serverKey = generateKeyPair();
    const initiator = new HandshakeState({
      pattern: "IK",
      initiator: true,
      staticPrivateKey: clientKey.privateKey,
      remoteStaticKey: serverKey.publicKey,
    });
    const responder = new HandshakeState({
      pattern: "IK",
      initiator: false,
      staticPrivateKey: serverKey.privateKey,
    });
    expect(responder.readMessage(initiator.writeMessage(Buffer.from("early")))).toEqual(
      Buffer.from("early"),
    );
    initiator.readMessage(responder.writeMessage());
    expect(initiator.isComplete && responder.isComplete).toBe(true);
    expect(responder.remoteStatic).toEqual(clientKey.publicKey);
    expect(initiator.handshakeHash).toEqual(responder.handshakeHash);
  });

  it("IK to the wrong responder key fails to decrypt", () => {
    const serverKey = generateKeyPair();
    const initiator = new HandshakeState({
      pattern: "IK",
      initiator: true,
      staticPrivateKey: generateKeyPair().privateKey,
      remoteStaticKey: generateKeyPair().publicKey,
    });
    const responder = new HandshakeState({
      pattern: "IK",
      initiator: false,
      staticPrivateKey: serverKey.privateKey,
    });
    expect(codeOf(() => responder.readMessage(initiator.writeMessage()))).toBe("decrypt-failed");
  });

  it("a tampered handshake message fails with decrypt-failed and ends the handshake", () => {
    const { initiator, responder } = xxPair();
    responder.readMessage(initiator.writeMessage());
    const msg2 = responder.writeMessage();
    msg2[40] = (msg2[40] ?? 0) ^ 0x01; // inside the encrypted static key
    expect(codeOf(() => initiator.readMessage(msg2))).toBe("decrypt-failed");
    expect(codeOf(() => initiator.writeMessage())).toBe("invalid-state");
  });

  it("a different prologue makes the handshake fail", () => {
    const { initiator, responder } = xxPair({ prologue: Buffer.from([0x47, 0x4b, 0x01, 0x02]) });
    responder.readMessage(initiator.writeMessage());
    expect(codeOf(() => initiator.readMessage(responder.writeMessage()))).toBe("decrypt-failed");
  });

  it("a truncated handshake message fails with bad-message-length", () => {
    const { initiator, responder } = xxPair();
    expect(codeOf(() => responder.readMessage(initiator.writeMessage().subarray(0, 31)))).toBe(
      "bad-message-length",
    );
    const fresh = xxPair();
    fresh.responder.readMessage(fresh.initiator.writeMessage());
    const msg2 = fresh.responder.writeMessage();
    // e (32) + encrypted s (48) present, payload tag cut short.
    expect(codeOf(() => fresh.initiator.readMessage(msg2.subarray(0, 32 + 48 + 10)))).toBe(
      "bad-message-length",
    );
  });

  it("refuses out-of-turn calls and split before completion", () => {
    const { initiator, responder } = xxPair();
    expect(codeOf(() => responder.writeMessage())).toBe("invalid-state");
    expect(codeOf(() => initiator.split())).toBe("invalid-state");
    const msg1 = initiator.writeMessage();
    expect(codeOf(() => initiator.writeMessage())).toBe("invalid-state");
    responder.readMessage(msg1);
    initiator.readMessage(responder.writeMessage());
    responder.readMessage(initiator.writeMessage());
    expect(codeOf(() => initiator.writeMessage())).toBe("invalid-state");
  });

  it("rejects a low-order remote ephemeral key", () => {
    const { responder } = xxPair();
    // The all-zero point gives an all-zero DH output, which must not be used as key material.
    responder.readMessage(Buffer.alloc(32));
    expect(codeOf(() => responder.writeMessage())).toBe("bad-key");
  });

  it("needs the responder key for IK", () => {
    expect(
      codeOf(
        () =>
          new HandshakeState({
            pattern: "IK",
            initiator: true,
            staticPrivateKey: generateKeyPair().privateKey,
          }),
      ),
    ).toBe("invalid-state");
  });
});

describe("CipherState", () => {
  it("uses a new nonce per message, so the same plaintext seals differently", () => {
    const key = generateKeyPair().privateKey;
    const sender = new CipherState(key);
    const receiver = new CipherState(key);
    const a = sender.encrypt(Buffer.from("same"));
    const b = sender.encrypt(Buffer.from("same"));
    expect(a).not.toEqual(b);
    expect(receiver.decrypt(a)).toEqual(Buffer.from("same"));
    expect(receiver.decrypt(b)).toEqual(Buffer.from("same"));
  });

  it("out-of-order or replayed frames fail without advancing the nonce", () => {
    const key = generateKeyPair().privateKey;
    const sender = new CipherState(key);
    const receiver = new CipherState(key);
    const first = sender.encrypt(Buffer.from("1"));
    const second = sender.encrypt(Buffer.from("2"));
    expect(codeOf(() => receiver.decrypt(second))).toBe("decrypt-failed");
    expect(receiver.nonce).toBe(0n);
    expect(receiver.decrypt(first)).toEqual(Buffer.from("1"));
    expect(codeOf(() => receiver.decrypt(first))).toBe("decrypt-failed");
    expect(receiver.decrypt(second)).toEqual(Buffer.from("2"));
  });

  it("signals nonce-exhausted once the last usable nonce is spent", () => {
    const key = generateKeyPair().privateKey;
    const sender = new CipherState(key);
    const receiver = new CipherState(key);
    sender.setNonce((1n << 64n) - 2n);
    receiver.setNonce((1n << 64n) - 2n);
    expect(receiver.decrypt(sender.encrypt(Buffer.from("last")))).toEqual(Buffer.from("last"));
    expect(codeOf(() => sender.encrypt(Buffer.from("one more")))).toBe("nonce-exhausted");
    expect(codeOf(() => receiver.decrypt(Buffer.alloc(32)))).toBe("nonce-exhausted");
  });

  it("rekey changes the key identically on both sides", () => {
    const key = generateKeyPair().privateKey;
    const sender = new CipherState(key);
    const receiver = new CipherState(key);
    sender.rekey();
    const sealed = sender.encrypt(Buffer.from("after rekey"));
    expect(codeOf(() => new CipherState(key).decrypt(sealed))).toBe("decrypt-failed");
    receiver.rekey();
    expect(receiver.decrypt(sealed)).toEqual(Buffer.from("after rekey"));
  });
});
