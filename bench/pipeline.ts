/**
 * The floor every relay is compared with: one text message through the crypto and codec
 * layers alone, both ends in one process, Signal state persisted in a real database (or,
 * for the floor row, in libsignal-style in-memory stores: see floor.ts).
 *   encodeContent -> Signal encrypt -> encodeStanza -> Noise seal
 *   -> Noise open -> parseStanza -> Signal decrypt -> decodeContent
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Knex } from "knex";
import { openDatabase, migrate, type DatabaseConfig } from "../src/db/index.js";
import {
  createAccount,
  type RemoteBundle,
  type SignalAddress,
  type SignalMessageType,
} from "../src/gatekeeper/signal/index.js";
import {
  decodeContent,
  encodeContent,
  newMessageId,
  textMessage,
} from "../src/gatekeeper/content/index.js";
import { encodeStanza, parseStanza, type Stanza } from "../src/gatekeeper/stanza/index.js";
import { CipherState } from "../src/gatekeeper/noise/index.js";
import { randomBytes } from "node:crypto";

export const STAGES = [
  "encodeContent",
  "signalEncrypt",
  "encodeStanza",
  "noiseSeal",
  "noiseOpen",
  "parseStanza",
  "signalDecrypt",
  "decodeContent",
] as const;
export type Stage = (typeof STAGES)[number];

export interface PipelineResult {
  database: string;
  messages: number;
  totalMs: number;
  perMessageUs: number;
  messagesPerSecond: number;
  stagesUs: Record<Stage, number>;
}

export const ALICE: SignalAddress = { name: "111111111111111@lid.gk", deviceId: 1 };
export const BOB: SignalAddress = { name: "matrix.bench@interop", deviceId: 1 };

/**
 * The Signal work of one row: Alice encrypts to Bob, Bob decrypts from Alice. The rows
 * differ only here; the codec and Noise stages around it are the same code.
 */
export interface SignalEnds {
  encrypt(plaintext: Uint8Array): Promise<{ type: SignalMessageType; ciphertext: Uint8Array }>;
  decrypt(type: SignalMessageType, ciphertext: Uint8Array): Promise<Uint8Array>;
}

/** What a row needs of an account: SignalAccount's calls, on whichever stores. */
export interface SignalDevice {
  processBundle(address: SignalAddress, bundle: RemoteBundle): Promise<void>;
  encrypt(
    address: SignalAddress,
    plaintext: Uint8Array,
  ): Promise<{ type: SignalMessageType; ciphertext: Uint8Array }>;
  decrypt(
    address: SignalAddress,
    type: SignalMessageType,
    ciphertext: Uint8Array,
  ): Promise<Uint8Array>;
}

/** Alice builds a session from Bob's bundle (PQXDH) as the bridge does. */
export async function pairEnds(
  alice: SignalDevice,
  bob: SignalDevice,
  bundle: RemoteBundle,
): Promise<SignalEnds> {
  await alice.processBundle(BOB, bundle);
  return {
    encrypt: (plaintext) => alice.encrypt(BOB, plaintext),
    decrypt: (type, ciphertext) => bob.decrypt(ALICE, type, ciphertext),
  };
}

async function storeBackedEnds(db: Knex): Promise<SignalEnds> {
  const alice = await createAccount(db, ALICE.name, ALICE.deviceId);
  const bob = await createAccount(db, BOB.name, BOB.deviceId);
  const upload = await bob.generateUpload(1);
  return pairEnds(alice, bob, {
    registrationId: upload.registrationId,
    deviceId: BOB.deviceId,
    identityKey: upload.identityKey,
    preKey: upload.preKeys[0],
    signedPreKey: upload.signedPreKey,
    kyberPreKey: upload.kyberPreKey,
  });
}

/** The pipeline with Signal state in the database of `config` (migrated first). */
export async function runPipeline(
  label: string,
  config: DatabaseConfig,
  messages: number,
): Promise<PipelineResult> {
  const db = await openDatabase(config);
  try {
    await migrate(db);
    return await measure(label, await storeBackedEnds(db), messages);
  } finally {
    await db.destroy();
  }
}

/** Runs `messages` messages through every stage, timing each stage separately. */
export async function measure(
  label: string,
  signal: SignalEnds,
  messages: number,
): Promise<PipelineResult> {
  if (!Number.isInteger(messages) || messages < 1) {
    throw new RangeError(`message count must be a positive integer, not ${messages}`);
  }
  const key = randomBytes(32);
  const seal = new CipherState(key);
  const open = new CipherState(key);
  const stages = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const text = "Hello from the benchmark: a message of ordinary length, 🙂 included.";

  const started = performance.now();
  for (let i = 0; i < messages; i++) {
    let t = performance.now();
    const tick = (stage: Stage): void => {
      const now = performance.now();
      stages[stage] += now - t;
      t = now;
    };
    const plaintext = encodeContent(textMessage(`${text} #${i}`));
    tick("encodeContent");
    const enc = await signal.encrypt(plaintext);
    tick("signalEncrypt");
    const stanza: Stanza = {
      kind: "message",
      id: newMessageId(),
      to: BOB.name,
      type: "text",
      enc: { v: 2, type: enc.type, ciphertext: enc.ciphertext },
    };
    const wire = encodeStanza(stanza);
    tick("encodeStanza");
    const frame = seal.encryptWithAd(new Uint8Array(0), wire);
    tick("noiseSeal");
    const received = open.decryptWithAd(new Uint8Array(0), frame);
    tick("noiseOpen");
    const parsed = parseStanza(received);
    tick("parseStanza");
    if (parsed.kind !== "message" || parsed.enc === undefined)
      throw new Error("benchmark: expected a one-to-one message stanza");
    const decrypted = await signal.decrypt(parsed.enc.type, parsed.enc.ciphertext);
    tick("signalDecrypt");
    const content = decodeContent(decrypted);
    tick("decodeContent");
    if (!content.conversation?.endsWith(`#${i}`)) throw new Error("benchmark: round trip mismatch");
  }
  const totalMs = performance.now() - started;
  const stagesUs = Object.fromEntries(
    STAGES.map((s) => [s, round((stages[s] * 1000) / messages)]),
  ) as Record<Stage, number>;
  return {
    database: label,
    messages,
    totalMs: round(totalMs),
    perMessageUs: round((totalMs * 1000) / messages),
    messagesPerSecond: round((messages * 1000) / totalMs),
    stagesUs,
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function sqliteTempConfig(): { config: DatabaseConfig; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "gkb-bench-"));
  return {
    config: { type: "sqlite", filename: join(dir, "bench.sqlite") },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
