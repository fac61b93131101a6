import { timingSafeEqual } from "node:crypto";
import type { SignalAccount } from "../signal/index.js";
import { buildCountRequest, buildPreKeyUpload, parseCountResult } from "../stanza/index.js";
import type { AccountRepository } from "./account-repository.js";
import type { Connection } from "./connection.js";
import { GatekeeperError } from "./errors.js";
import type { ClientLogger } from "./logger.js";
import { SerialQueue } from "./serial.js";

/** One-time prekeys per upload (docs §7.2: "SHOULD upload 50 at a time"). */
export const PREKEY_BATCH = 50;
/** Below this many one-time prekeys on the server we refill (the gatekeeper notifies below 10). */
export const PREKEY_LOW_WATER = 10;

/**
 * Keeps the gatekeeper supplied with our Signal keys (docs §7): a complete upload the first
 * time and after an identity reset, a refill of one-time prekeys when the server runs low.
 */
export class KeyManager {
  private readonly queue = new SerialQueue();

  constructor(
    private readonly accounts: AccountRepository,
    private readonly logger: ClientLogger,
  ) {}

  /** After a login with enlisted="true" (or a successful verify). */
  ensureUploaded(conn: Connection, signal: SignalAccount): Promise<void> {
    return this.serial(async () => {
      const uploaded = await this.accounts.uploadedIdentityKey();
      if (uploaded && sameBytes(uploaded, signal.identityKey)) {
        const count = await this.count(conn);
        if (count >= PREKEY_LOW_WATER) return;
        // Zero left may also mean the gatekeeper lost our keys (e.g. enlistment removed): upload everything.
        if (count > 0) {
          await this.upload(conn, signal, false);
          return;
        }
      }
      await this.upload(conn, signal, true);
    });
  }

  /** On `<notification type="encrypt">` with the server's count. */
  refill(conn: Connection, signal: SignalAccount, serverCount: number): Promise<void> {
    return this.serial(async () => {
      if (serverCount >= PREKEY_LOW_WATER) return;
      const uploaded = await this.accounts.uploadedIdentityKey();
      const complete = !(uploaded && sameBytes(uploaded, signal.identityKey));
      await this.upload(conn, signal, complete);
    });
  }

  /** Forget what was uploaded, so the next ensureUploaded sends everything. */
  async forget(): Promise<void> {
    await this.accounts.setUploadedIdentityKey(null);
  }

  private async count(conn: Connection): Promise<number> {
    try {
      const result = await conn.iq({
        type: "get",
        xmlns: "encrypt",
        to: "gk",
        children: buildCountRequest(),
      });
      return parseCountResult(result.children);
    } catch (err) {
      // A gatekeeper that has no keys for us may answer "not found".
      if (err instanceof GatekeeperError && err.code === "not-found") return 0;
      throw err;
    }
  }

  private async upload(conn: Connection, signal: SignalAccount, complete: boolean): Promise<void> {
    const keys = await signal.generateUpload(PREKEY_BATCH);
    const children = buildPreKeyUpload(
      complete
        ? {
            registrationId: keys.registrationId,
            identityKey: keys.identityKey,
            deviceId: signal.deviceId,
            preKeys: keys.preKeys,
            signedPreKey: keys.signedPreKey,
            kyberPreKey: keys.kyberPreKey,
          }
        : { preKeys: keys.preKeys },
    );
    await conn.iq({ type: "set", xmlns: "encrypt", to: "gk", children });
    if (complete) await this.accounts.setUploadedIdentityKey(keys.identityKey);
    this.logger.debug(complete ? "uploaded all Signal keys" : "uploaded one-time prekeys", {
      prekeys: keys.preKeys.length,
    });
  }

  private serial(task: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push(async () => {
        try {
          await task();
          resolve();
        } catch (err) {
          reject(err);
        }
      }, reject);
    });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
