/**
 * Login (docs/protocol.md §4): the ClientPayload from Noise message 3 is
 * checked, a partner user is authenticated through its partner's callback, a
 * native user by account id and token. The result is either an account to
 * open a session for, or a `<failure reason>`.
 */
import { fromBinary, isFieldSet } from "@bufbuild/protobuf";
import { type ClientPayload, ClientPayloadSchema, ClientPayload_Product } from "../gen/gki_pb.js";
import {
  formatInteropJid,
  isValidAccountId,
  isValidPartnerId,
} from "../gatekeeper/stanza/index.js";
import type { SandboxContext } from "./context.js";
import { callPartnerAuth } from "./partner-auth.js";
import type { Account } from "./store/index.js";

export type LoginFailureReason = 401 | 402 | 403 | 405 | 503;

export type LoginResult =
  | { ok: true; account: Account; enlisted: boolean; payload: ClientPayload }
  | { ok: false; reason: LoginFailureReason; text: string };

/**
 * Country calling codes of the EEA (EU + Iceland, Liechtenstein, Norway) and
 * the EU's outermost regions with their own codes. ITU calling codes are
 * prefix-free, so a prefix match finds the one code a number has.
 */
const EEA_CALLING_CODES = [
  "30",
  "31",
  "32",
  "33",
  "34",
  "36",
  "39",
  "40",
  "43",
  "45",
  "46",
  "47",
  "48",
  "49",
  "351",
  "352",
  "353",
  "354",
  "356",
  "357",
  "358",
  "359",
  "370",
  "371",
  "372",
  "385",
  "386",
  "420",
  "421",
  "423",
  "262",
  "590",
  "594",
  "596",
];

export function isEeaNumber(phone: string): boolean {
  const digits = phone.startsWith("+") ? phone.slice(1) : phone;
  return EEA_CALLING_CODES.some((code) => digits.startsWith(code));
}

const fail = (reason: LoginFailureReason, text: string): LoginResult => ({
  ok: false,
  reason,
  text,
});

function decodePayload(bytes: Uint8Array): ClientPayload | null {
  try {
    return fromBinary(ClientPayloadSchema, bytes);
  } catch {
    return null;
  }
}

export async function login(
  ctx: SandboxContext,
  payloadBytes: Uint8Array,
  remoteIp: string,
): Promise<LoginResult> {
  const payload = decodePayload(payloadBytes);
  if (!payload) return fail(405, "bad-payload");
  if (payload.protocolVersion !== 1) return fail(405, "unsupported-protocol-version");
  if (!Number.isInteger(payload.device) || payload.device < 1 || payload.device > 127)
    return fail(405, "bad-device");
  // An unset flag means the client did not say it withholds read receipts.
  const sendReadReceipts = isFieldSet(payload, ClientPayloadSchema.field.sendReadReceipts)
    ? payload.sendReadReceipts
    : true;

  let result: LoginResult;
  if (payload.product === ClientPayload_Product.INTEROP)
    result = await interopLogin(ctx, payload, remoteIp);
  else if (payload.product === ClientPayload_Product.NATIVE)
    result = await nativeLogin(ctx, payload);
  else return fail(405, "unknown-product");
  if (!result.ok) return result;

  const pushName = payload.pushName === "" ? undefined : payload.pushName;
  // §19.1: the last login's word on groups is what counts.
  await ctx.store.accounts.recordLogin(
    result.account.jid,
    sendReadReceipts,
    pushName,
    payload.groups,
  );
  const account = (await ctx.store.accounts.get(result.account.jid)) ?? result.account;
  return { ...result, account };
}

async function nativeLogin(ctx: SandboxContext, payload: ClientPayload): Promise<LoginResult> {
  if (payload.accountId === "" || payload.token === "") return fail(401, "unknown-account");
  const account = await ctx.store.accounts.checkNativeToken(payload.accountId, payload.token);
  if (!account) return fail(401, "unknown-account");
  return { ok: true, account, enlisted: true, payload };
}

async function interopLogin(
  ctx: SandboxContext,
  payload: ClientPayload,
  remoteIp: string,
): Promise<LoginResult> {
  if (!isValidPartnerId(payload.partnerId)) return fail(402, "unknown-partner");
  const partner = await ctx.store.partners.get(payload.partnerId);
  if (!partner) return fail(402, "unknown-partner");
  if (partner.suspended) return fail(402, "partner-suspended");
  if (!isValidAccountId(payload.accountId)) return fail(405, "bad-account-id");

  const auth = await callPartnerAuth(
    partner.authUrl,
    partner.secret,
    {
      partner_id: partner.id,
      account_id: payload.accountId,
      token: payload.token,
      // The partner passes its user's address on; without one, the partner's own address is all we know.
      client_ip: payload.clientIp !== "" ? payload.clientIp : remoteIp,
    },
    ctx.limits.partnerAuthTimeoutMs,
  );
  if (auth.kind === "unavailable") {
    ctx.logger.warn("partner auth callback unavailable", {
      partner: partner.id,
      reason: auth.reason,
    });
    return fail(503, "partner-unavailable");
  }
  if (auth.kind === "invalid") return fail(401, "invalid-token");
  if (ctx.requireEea && !isEeaNumber(auth.phone)) return fail(403, "outside-eea");

  const jid = formatInteropJid(partner.id, payload.accountId);
  const account = await ctx.store.accounts.upsertInterop(
    jid,
    partner.id,
    payload.accountId,
    auth.phone,
  );
  const enlistment = await ctx.store.enlistments.byJid(jid);
  return {
    ok: true,
    account,
    enlisted: enlistment !== null && enlistment.phone === auth.phone,
    payload,
  };
}
