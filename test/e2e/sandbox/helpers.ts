/** Shared fixtures for the sandbox tests: a partner auth server, key material, enlisted users. */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from "@signalapp/libsignal-client";
import express from "express";
import {
  type XmlNode,
  buildEnlistRequest,
  buildEnlistVerify,
  buildPreKeyUpload,
} from "../../../src/gatekeeper/stanza/index.js";
import { type Sandbox, startSandbox, type SandboxOptions } from "../../../src/sandbox/index.js";
import { type PayloadFields, RawClient } from "./raw-client.js";

export const PARTNER_ID = "matrix";
export const PARTNER_SECRET = "s3cret-partner";

export interface PartnerAuthServer {
  url: string;
  /** accountId → the token it must present and the phone the partner reports. */
  users: Map<string, { token: string; phone: string }>;
  calls: { authorization: string | undefined; body: unknown }[];
  close(): Promise<void>;
}

/** A tiny partner: answers the gatekeeper's auth callback (docs/protocol.md §4.2). */
export async function startPartnerAuth(secret = PARTNER_SECRET): Promise<PartnerAuthServer> {
  const users = new Map<string, { token: string; phone: string }>();
  const calls: PartnerAuthServer["calls"] = [];
  const app = express();
  app.use(express.json());
  app.post("/_gki/v1/auth", (req, res) => {
    calls.push({ authorization: req.headers.authorization, body: req.body });
    if (req.headers.authorization !== `Bearer ${secret}`) {
      res.status(401).json({ error: "bad secret" });
      return;
    }
    const body = req.body as { account_id?: string; token?: string };
    const user = users.get(body.account_id ?? "");
    if (user && user.token === body.token) res.json({ valid: true, phone: user.phone });
    else res.json({ valid: false });
  });
  const server = await listen(app);
  return {
    url: `${urlOf(server)}/_gki/v1/auth`,
    users,
    calls,
    close: () => closeServer(server),
  };
}

export async function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => resolve(server));
  });
}

export function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** A sandbox with one partner whose auth callback is `auth`. */
export async function sandboxWithPartner(
  auth: PartnerAuthServer,
  opts: SandboxOptions = {},
): Promise<Sandbox> {
  return startSandbox({
    partners: [{ id: PARTNER_ID, authUrl: auth.url, secret: PARTNER_SECRET }],
    ...opts,
  });
}

/** Signal key material and the upload iq children for it (docs/protocol.md §7.1). */
export class TestKeys {
  readonly identity = IdentityKeyPair.generate();
  readonly registrationId = 1 + Math.floor(Math.random() * 16380);
  #nextPreKeyId = 1;

  /** The id the next generated one-time prekey gets. */
  get nextPreKeyId(): number {
    return this.#nextPreKeyId;
  }

  upload(opts: { preKeys?: number; full?: boolean; badSignature?: boolean } = {}): XmlNode[] {
    const preKeys = Array.from({ length: opts.preKeys ?? 20 }, () => ({
      id: this.#nextPreKeyId++,
      publicKey: PrivateKey.generate().getPublicKey().serialize(),
    }));
    if (opts.full === false) return buildPreKeyUpload({ preKeys });
    const signed = PrivateKey.generate().getPublicKey().serialize();
    const kyber = KEMKeyPair.generate().getPublicKey().serialize();
    const signature = this.identity.privateKey.sign(signed);
    if (opts.badSignature) signature[5] = (signature[5] ?? 0) ^ 0xff;
    return buildPreKeyUpload({
      registrationId: this.registrationId,
      identityKey: this.identity.publicKey.serialize(),
      deviceId: 1,
      preKeys,
      signedPreKey: { id: 1, publicKey: signed, signature },
      kyberPreKey: { id: 1, publicKey: kyber, signature: this.identity.privateKey.sign(kyber) },
    });
  }
}

/** Random bytes standing in for a Signal ciphertext: the sandbox must relay them untouched. */
export function fakeCiphertext(length = 64): Uint8Array {
  return new Uint8Array(randomBytes(length));
}

let idCounter = 0;
/** A GKI/1 message id: 3EB0 and 16 upper-case hex digits. */
export function messageId(): string {
  idCounter++;
  return `3EB0${randomBytes(6).toString("hex").toUpperCase()}${idCounter.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Logs a partner user in, runs request → code from the admin API → verify; returns the enlisted client. */
export async function enlistedPartnerUser(
  sandbox: Sandbox,
  auth: PartnerAuthServer,
  accountId: string,
  phone: string,
  extra: PayloadFields = {},
): Promise<RawClient> {
  const token = `tok-${accountId}`;
  auth.users.set(accountId, { token, phone });
  const { client, success } = await RawClient.interop(sandbox, PARTNER_ID, accountId, token, extra);
  if (success.enlisted) return client;
  const requested = await client.iq("enlist", "set", buildEnlistRequest());
  if (requested.type !== "result")
    throw new Error(`enlist request failed: ${JSON.stringify(requested)}`);
  const { code } = await sandbox.admin.latestCode(phone);
  const verified = await client.iq("enlist", "set", buildEnlistVerify(code));
  if (verified.type !== "result")
    throw new Error(`enlist verify failed: ${JSON.stringify(verified)}`);
  // Collect the (empty) backlog marker that follows enlistment.
  await client.nextOf("ib");
  return client;
}

/** A native user who opted in to `partners`, logged in. */
export async function optedInNativeUser(
  sandbox: Sandbox,
  phone: string,
  name: string,
  partners: string[] | "*" = [PARTNER_ID],
  extra: PayloadFields = {},
) {
  const user = await sandbox.admin.addUser({ phone, name });
  await sandbox.admin.updateSettings(phone, { enabled: true, partners });
  const { client } = await RawClient.native(sandbox, user, extra);
  await client.nextOf("ib");
  return { user, client };
}
