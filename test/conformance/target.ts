/**
 * Which gatekeeper the suite tests. By default each test file starts an in-process sandbox
 * (the reference gatekeeper) with small limits so that timing and rate tests run fast. With
 * GKI_URL and GKI_KEY it tests that endpoint instead, with the spec's real limits; fixtures
 * then come from GKI_ADMIN (admin API) and the partner callback the suite serves on
 * GKI_AUTH_PORT. What is not available is skipped with the reason, never passed.
 *
 *   GKI_URL             ws[s]://…/gki/1/chat
 *   GKI_KEY             the gatekeeper's static public key, base64 (32 bytes)
 *   GKI_ADMIN           base URL of the admin API (users, tokens, settings, codes, partners)
 *   GKI_PARTNER_ID      a partner the operator registered with auth URL
 *   GKI_PARTNER_SECRET    http://<this host>:GKI_AUTH_PORT/_gki/v1/auth and this secret
 *   GKI_AUTH_PORT       where the suite serves that callback (and the partner's media)
 * Without GKI_PARTNER_ID but with GKI_ADMIN and GKI_AUTH_PORT the suite registers a partner
 * of its own through the admin API, with http://127.0.0.1:GKI_AUTH_PORT as auth URL and
 * media origin (so the gatekeeper must run on this host).
 */
import { randomBytes } from "node:crypto";
import type { TestContext } from "vitest";
import { startSandbox } from "../../src/sandbox/index.js";
import { AdminApi } from "./admin.js";
import { PartnerServer } from "./partner.js";

/** The limits the suite relies on, with the spec's values (§15 and the sections it sums up). */
export interface Limits {
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  partnerAuthTimeoutMs: number;
  messagesPerWindow: number;
  messageWindowMs: number;
  newConversationsPerDay: number;
  lookupContactsPerQuery: number;
  lookupContactsPerHour: number;
  bundleUsersPerFetch: number;
  prekeysPerUpload: number;
  lowPrekeyThreshold: number;
  mediaMaxBytes: number;
  enlistCodeTtlSeconds: number;
  enlistCodeLength: number;
  enlistMaxAttempts: number;
  enlistRequestIntervalMs: number;
  groupMembersMax: number;
  groupsCreatedPerDay: number;
}

export const SPEC_LIMITS: Readonly<Limits> = Object.freeze({
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  partnerAuthTimeoutMs: 5_000,
  messagesPerWindow: 50,
  messageWindowMs: 10_000,
  newConversationsPerDay: 20,
  lookupContactsPerQuery: 20,
  lookupContactsPerHour: 60,
  bundleUsersPerFetch: 20,
  prekeysPerUpload: 812,
  lowPrekeyThreshold: 10,
  mediaMaxBytes: 100 * 1024 * 1024,
  enlistCodeTtlSeconds: 600,
  enlistCodeLength: 6,
  enlistMaxAttempts: 5,
  enlistRequestIntervalMs: 60_000,
  groupMembersMax: 1024,
  groupsCreatedPerDay: 10,
});

/** Limits a test file may shrink on the in-process sandbox (not the spec's fixed numbers). */
export type Tunable = Partial<
  Pick<
    Limits,
    | "handshakeTimeoutMs"
    | "idleTimeoutMs"
    | "partnerAuthTimeoutMs"
    | "messagesPerWindow"
    | "newConversationsPerDay"
    | "lookupContactsPerHour"
    | "mediaMaxBytes"
    | "enlistCodeTtlSeconds"
    | "enlistRequestIntervalMs"
    | "groupMembersMax"
    | "groupsCreatedPerDay"
  >
>;

export interface Partner {
  id: string;
  secret: string;
  server: PartnerServer;
  /** The suite registered this partner itself: its media origin is the suite's server. */
  ours: boolean;
}

export interface Target {
  url: string;
  publicKey: Uint8Array;
  external: boolean;
  limits: Limits;
  admin: AdminApi | null;
  partner: Partner | null;
  close(): Promise<void>;
}

const env = process.env;

/** What the target offers, known before any test runs (for skips at collection time too). */
export const caps = (() => {
  const external = Boolean(env.GKI_URL);
  const admin = !external || Boolean(env.GKI_ADMIN);
  const operatorPartner = Boolean(
    env.GKI_PARTNER_ID && env.GKI_PARTNER_SECRET && env.GKI_AUTH_PORT,
  );
  const ownPartner = !external || (!operatorPartner && Boolean(env.GKI_ADMIN && env.GKI_AUTH_PORT));
  return {
    external,
    /** Native users, tokens, settings and enlistment codes from an admin API. */
    admin,
    /** A partner whose auth callback the suite serves. */
    partner: operatorPartner || ownPartner,
    /** Partners the suite registers itself (suspended partners, its own media origin). */
    ownPartner,
    /** Limits shrunk for speed (in-process only). */
    tunable: !external,
  };
})();

export type Capability = Exclude<keyof typeof caps, "external">;

const REASONS: Record<Capability, string> = {
  admin: "needs the admin API for fixtures (GKI_ADMIN)",
  partner:
    "needs a partner whose auth callback the suite serves (GKI_PARTNER_ID/SECRET + GKI_AUTH_PORT, or GKI_ADMIN + GKI_AUTH_PORT)",
  ownPartner:
    "needs to register partners through the admin API (GKI_ADMIN + GKI_AUTH_PORT, no GKI_PARTNER_ID)",
  tunable: "needs limits shrunk for the test (in-process sandbox only)",
};

/** Skips the running test, with the reason, unless the target offers all of `needs`. */
export function need(ctx: TestContext, ...needs: Capability[]): void {
  const missing = needs.filter((n) => !caps[n]);
  if (missing.length > 0) ctx.skip(missing.map((m) => REASONS[m]).join("; "));
}

export function randomPartnerId(): string {
  return `conf-${randomBytes(4).toString("hex")}`;
}

/** Opens the target for one test file; `tunable` shrinks limits on the in-process sandbox. */
export async function openTarget(tunable: Tunable = {}): Promise<Target> {
  if (caps.external) return openExternal();
  const secret = randomBytes(12).toString("hex");
  const partnerId = randomPartnerId();
  const server = await PartnerServer.start(secret);
  const limits: Limits = { ...SPEC_LIMITS, ...tunable };
  const sandbox = await startSandbox({
    partners: [{ id: partnerId, authUrl: server.authUrl, secret, mediaOrigin: server.origin }],
    limits: tunable,
  });
  return {
    url: sandbox.url,
    publicKey: sandbox.publicKey,
    external: false,
    limits,
    admin: new AdminApi(sandbox.httpUrl),
    partner: { id: partnerId, secret, server, ours: true },
    close: async () => {
      await sandbox.close();
      await server.close();
    },
  };
}

async function openExternal(): Promise<Target> {
  const url = env.GKI_URL ?? "";
  const publicKey = Buffer.from(env.GKI_KEY ?? "", "base64");
  if (publicKey.length !== 32)
    throw new Error("GKI_KEY must be the gatekeeper's 32-byte static key in base64");
  const admin = env.GKI_ADMIN ? new AdminApi(env.GKI_ADMIN) : null;
  const port = Number(env.GKI_AUTH_PORT ?? "0");
  let partner: Partner | null = null;
  if (caps.partner) {
    const ours = !env.GKI_PARTNER_ID;
    const secret = ours ? randomBytes(12).toString("hex") : (env.GKI_PARTNER_SECRET ?? "");
    const server = await PartnerServer.start(secret, port, ours ? "127.0.0.1" : "0.0.0.0");
    const id = ours ? randomPartnerId() : (env.GKI_PARTNER_ID ?? "");
    if (ours && admin) {
      await admin.addPartner({ id, authUrl: server.authUrl, secret, mediaOrigin: server.origin });
    }
    partner = { id, secret, server, ours };
  }
  return {
    url,
    publicKey,
    external: true,
    limits: { ...SPEC_LIMITS },
    admin,
    partner,
    close: async () => {
      await partner?.server.close();
    },
  };
}
