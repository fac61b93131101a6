/**
 * The floor every relay is compared with: one text message through the crypto and codec
 * layers alone, both ends in one process, Signal state persisted in a real database.
 *   encodeContent -> Signal encrypt -> encodeStanza -> Noise seal
 *   -> Noise open -> parseStanza -> Signal decrypt -> decodeContent
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Knex } from "knex";
import { openDatabase, migrate, type DatabaseConfig } from "../src/db/index.js";
import { createAccount, type SignalAccount } from "../src/gatekeeper/signal/index.js";
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

const ALICE = "111111111111111@lid.gk";
const BOB = "matrix.bench@interop";

async function pair(db: Knex): Promise<{ alice: SignalAccount; bob: SignalAccount }> {
  const alice = await createAccount(db, ALICE, 1);
  const bob = await createAccount(db, BOB, 1);
  const upload = await bob.generateUpload(1);
  await alice.processBundle(
    { name: BOB, deviceId: 1 },
    {
      registrationId: upload.registrationId,
      deviceId: 1,
      identityKey: upload.identityKey,
      preKey: upload.preKeys[0],
      signedPreKey: upload.signedPreKey,
      kyberPreKey: upload.kyberPreKey,
    },
  );
  return { alice, bob };
}

export async function runPipeline(
  label: string,
  config: DatabaseConfig,
  messages: number,
): Promise<PipelineResult> {
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const { alice, bob } = await pair(db);
    const key = randomBytes(32);
    const seal = new CipherState(key);
    const open = new CipherState(key);
    const stages = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
    const text = "Hello from the benchmark: a message of ordinary length, 🙂 included.";
    const toBob = { name: BOB, deviceId: 1 };
    const fromAlice = { name: ALICE, deviceId: 1 };

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
      const enc = await alice.encrypt(toBob, plaintext);
      tick("signalEncrypt");
      const stanza: Stanza = {
        kind: "message",
        id: newMessageId(),
        to: BOB,
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
      if (parsed.kind !== "message") throw new Error("benchmark: expected a message stanza");
      const decrypted = await bob.decrypt(fromAlice, parsed.enc.type, parsed.enc.ciphertext);
      tick("signalDecrypt");
      const content = decodeContent(decrypted);
      tick("decodeContent");
      if (!content.conversation?.endsWith(`#${i}`))
        throw new Error("benchmark: round trip mismatch");
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
  } finally {
    await db.destroy();
  }
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
