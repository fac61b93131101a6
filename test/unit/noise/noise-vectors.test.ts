// Cacophony vectors for Noise_XX / Noise_IK _25519_AESGCM_SHA256: every byte must match.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  HandshakeState,
  publicKeyFromPrivate,
  type CipherState,
  type HandshakePatternName,
} from "../../../src/gatekeeper/noise/index.js";

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_static?: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const PROTOCOLS: Record<string, HandshakePatternName> = {
  Noise_XX_25519_AESGCM_SHA256: "XX",
  Noise_IK_25519_AESGCM_SHA256: "IK",
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const defaultPath = resolve(repoRoot, "..", "shared/test-vectors/noise-25519-aesgcm-sha256.json");
// The shared checkout sits beside the repo; NOISE_VECTORS points elsewhere when it does not.
const vectorPath =
  !existsSync(defaultPath) && process.env.NOISE_VECTORS ? process.env.NOISE_VECTORS : defaultPath;

// Loading never throws at collection time, so a missing file fails the test below instead of skipping.
let vectors: Vector[] = [];
let loadError: unknown;
try {
  vectors = (JSON.parse(readFileSync(vectorPath, "utf8")) as { vectors: Vector[] }).vectors;
} catch (err) {
  loadError = err;
}

const hex = (s: string): Buffer => Buffer.from(s, "hex");
const opt = (s: string | undefined): Buffer | undefined => (s === undefined ? undefined : hex(s));

function runVector(v: Vector, pattern: HandshakePatternName): void {
  const initiator = new HandshakeState({
    pattern,
    initiator: true,
    prologue: hex(v.init_prologue),
    staticPrivateKey: opt(v.init_static),
    ephemeralPrivateKey: hex(v.init_ephemeral),
    remoteStaticKey: opt(v.init_remote_static),
  });
  const responder = new HandshakeState({
    pattern,
    initiator: false,
    prologue: hex(v.resp_prologue),
    staticPrivateKey: opt(v.resp_static),
    ephemeralPrivateKey: hex(v.resp_ephemeral),
  });

  let initCiphers: [CipherState, CipherState] | undefined;
  let respCiphers: [CipherState, CipherState] | undefined;
  v.messages.forEach((m, i) => {
    const fromInitiator = i % 2 === 0;
    let ciphertext: Buffer;
    let received: Buffer;
    if (initCiphers === undefined || respCiphers === undefined) {
      const [writer, reader] = fromInitiator ? [initiator, responder] : [responder, initiator];
      ciphertext = writer.writeMessage(hex(m.payload));
      received = reader.readMessage(ciphertext);
      if (initiator.isComplete) {
        expect(responder.isComplete).toBe(true);
        expect(initiator.handshakeHash.toString("hex")).toBe(v.handshake_hash);
        expect(responder.handshakeHash.toString("hex")).toBe(v.handshake_hash);
        initCiphers = initiator.split();
        respCiphers = responder.split();
      }
    } else if (fromInitiator) {
      ciphertext = initCiphers[0].encrypt(hex(m.payload));
      received = respCiphers[0].decrypt(ciphertext);
    } else {
      ciphertext = respCiphers[1].encrypt(hex(m.payload));
      received = initCiphers[1].decrypt(ciphertext);
    }
    expect(ciphertext.toString("hex"), `message ${i} ciphertext`).toBe(m.ciphertext);
    expect(received.toString("hex"), `message ${i} payload`).toBe(m.payload);
  });
  expect(initCiphers, "handshake completed within the vector's messages").toBeDefined();

  // Both sides learned the other's static key.
  if (v.resp_static !== undefined) {
    expect(initiator.remoteStatic).toEqual(publicKeyFromPrivate(hex(v.resp_static)));
  }
  if (v.init_static !== undefined) {
    expect(responder.remoteStatic).toEqual(publicKeyFromPrivate(hex(v.init_static)));
  }
}

describe("cacophony test vectors", () => {
  it("the vector file is present and covers both protocols", () => {
    expect(loadError, `cannot read ${vectorPath}`).toBeUndefined();
    for (const name of Object.keys(PROTOCOLS)) {
      expect(vectors.filter((v) => v.protocol_name === name).length, name).toBeGreaterThan(0);
    }
  });

  for (const [name, pattern] of Object.entries(PROTOCOLS)) {
    it(`${name}: reproduces the handshake hash and every ciphertext`, () => {
      const mine = vectors.filter((v) => v.protocol_name === name);
      expect(mine.length).toBeGreaterThan(0);
      for (const v of mine) runVector(v, pattern);
    });
  }

  it("the IK pre-shared responder key is the responder's public key", () => {
    const ik = vectors.filter((v) => v.protocol_name === "Noise_IK_25519_AESGCM_SHA256");
    expect(ik.length).toBeGreaterThan(0);
    for (const v of ik) {
      expect(publicKeyFromPrivate(hex(v.resp_static ?? "")).toString("hex")).toBe(
        v.init_remote_static,
      );
    }
  });
});
