/** Accounts and logged-in connections for the tests, built through the target's fixtures. */
import { randomBytes, randomInt } from "node:crypto";
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from "@signalapp/libsignal-client";
import type { NativeAccount } from "./admin.js";
import type { Target } from "./target.js";
import { ClientPayload_Product, type PayloadFields, Wire, encodePayload, is } from "./wire.js";
import { type XmlNode, b64, el } from "./xml.js";

/** A fresh German mobile number (EEA), unique enough for a run against a shared gatekeeper. */
export function phone(): string {
  return `+49151${randomInt(10_000_000, 99_999_999)}`;
}

/** Opens a connection and runs the handshake with `payload`; the login result is not read yet. */
export async function connect(
  t: Target,
  payload: PayloadFields,
  opts: { clientKey?: Parameters<Wire["handshake"]>[0]["clientKey"] } = {},
): Promise<Wire> {
  const wire = await Wire.open(t.url);
  await wire.handshake({ serverKey: t.publicKey, payload: encodePayload(payload), ...opts });
  return wire;
}

/** Connects and returns the first stanza (`<success>` or `<failure>`). */
export async function loginResult(
  t: Target,
  payload: PayloadFields,
): Promise<{ wire: Wire; first: XmlNode }> {
  const wire = await connect(t, payload);
  const first = await wire.next();
  return { wire, first };
}

export interface Native extends NativeAccount {
  name: string;
}

/** A native user from the admin API; `optIn` enables interop for these partners. */
export async function newNative(
  t: Target,
  opts: { optIn?: string[] | "*"; name?: string } = {},
): Promise<Native> {
  if (!t.admin) throw new Error("no admin API");
  const name = opts.name ?? `Native ${randomBytes(2).toString("hex")}`;
  const user = await t.admin.addUser(phone(), name);
  if (opts.optIn !== undefined)
    await t.admin.updateSettings(user.phone, { enabled: true, partners: opts.optIn });
  return { ...user, name };
}

export function nativePayload(user: NativeAccount, extra: PayloadFields = {}): PayloadFields {
  return {
    product: ClientPayload_Product.NATIVE,
    accountId: user.accountId,
    token: user.token,
    ...extra,
  };
}

/** Logs a native user in and waits for `<success>` and the backlog marker `<ib>`. */
export async function loginNative(
  t: Target,
  user: NativeAccount,
  extra: PayloadFields = {},
): Promise<Wire> {
  const wire = await connect(t, nativePayload(user, extra));
  const first = await wire.next();
  if (first.tag !== "success") throw new Error(`native login failed: ${JSON.stringify(first)}`);
  await wire.next(is("ib"));
  return wire;
}

export interface PartnerAccount {
  accountId: string;
  token: string;
  phone: string;
  jid: string;
}

/** A partner account the suite's auth callback vouches for. */
export function newPartnerAccount(t: Target, number = phone()): PartnerAccount {
  if (!t.partner) throw new Error("no partner");
  const accountId = `acc_${randomBytes(5).toString("hex")}`;
  const token = `tok-${randomBytes(8).toString("hex")}`;
  t.partner.server.accounts.set(accountId, { token, phone: number });
  return { accountId, token, phone: number, jid: `${t.partner.id}.${accountId}@interop` };
}

export function partnerPayload(
  t: Target,
  acc: PartnerAccount,
  extra: PayloadFields = {},
): PayloadFields {
  return {
    product: ClientPayload_Product.INTEROP,
    partnerId: t.partner?.id ?? "",
    accountId: acc.accountId,
    token: acc.token,
    ...extra,
  };
}

/** Logs a partner account in; returns the connection and its `<success>`. */
export async function loginPartner(
  t: Target,
  acc: PartnerAccount,
  extra: PayloadFields = {},
): Promise<{ wire: Wire; success: XmlNode }> {
  const wire = await connect(t, partnerPayload(t, acc, extra));
  const success = await wire.next();
  if (success.tag !== "success")
    throw new Error(`partner login failed: ${JSON.stringify(success)}`);
  return { wire, success };
}

/** request → code (admin API) → verify (§6); leaves the connection enlisted with its `<ib>` taken. */
export async function enlist(t: Target, wire: Wire, acc: PartnerAccount): Promise<void> {
  const req = await wire.iq("enlist", "set", "<request/>");
  if (req.attrs.type !== "result") throw new Error(`enlist request failed: ${JSON.stringify(req)}`);
  const { code } = await (t.admin ?? fail("no admin API")).latestCode(acc.phone);
  const ok = await wire.iq("enlist", "set", el("verify", { code }));
  if (ok.attrs.type !== "result") throw new Error(`enlist verify failed: ${JSON.stringify(ok)}`);
  await wire.next(is("ib"));
}

/** A new partner account, logged in and enlisted. */
export async function enlistedPartner(
  t: Target,
  extra: PayloadFields = {},
  number = phone(),
): Promise<{ acc: PartnerAccount; wire: Wire }> {
  const acc = newPartnerAccount(t, number);
  const { wire, success } = await loginPartner(t, acc, extra);
  if (success.attrs.enlisted === "true") await wire.next(is("ib"));
  else await enlist(t, wire, acc);
  return { acc, wire };
}

/** Logs an enlisted partner account in again and waits for `<ib>`. */
export async function reloginPartner(
  t: Target,
  acc: PartnerAccount,
  extra: PayloadFields = {},
): Promise<Wire> {
  const { wire } = await loginPartner(t, acc, extra);
  await wire.next(is("ib"));
  return wire;
}

/** An enlisted partner user and a native user who allows the partner, both connected. */
export async function pair(
  t: Target,
): Promise<{ native: Native; nw: Wire; acc: PartnerAccount; pw: Wire }> {
  const native = await newNative(t, { optIn: [t.partner?.id ?? ""] });
  const nw = await loginNative(t, native);
  const { acc, wire: pw } = await enlistedPartner(t);
  return { native, nw, acc, pw };
}

function fail(message: string): never {
  throw new Error(message);
}

/** Signal key material and the upload XML for it (§7.1), written by hand. */
export class Keys {
  identity = IdentityKeyPair.generate();
  readonly registrationId = randomInt(1, 16_380);
  #next = 1;
  signedId = 1;

  newIdentity(): void {
    this.identity = IdentityKeyPair.generate();
  }

  /** `n` one-time prekeys with continuing ids, as `<list>`. */
  list(n: number): string {
    const keys = Array.from({ length: n }, () =>
      el("key", { id: this.#next++ }, b64(PrivateKey.generate().getPublicKey().serialize())),
    );
    return el("list", {}, keys);
  }

  skey(opts: { id?: number; badSignature?: boolean } = {}): string {
    const pub = PrivateKey.generate().getPublicKey().serialize();
    const sig = this.identity.privateKey.sign(pub);
    if (opts.badSignature) sig[3] = (sig[3] ?? 0) ^ 0xff;
    return el("skey", { id: opts.id ?? this.signedId, signature: b64(sig) }, b64(pub));
  }

  kkey(opts: { id?: number; badSignature?: boolean } = {}): string {
    const pub = KEMKeyPair.generate().getPublicKey().serialize();
    const sig = this.identity.privateKey.sign(pub);
    if (opts.badSignature) sig[3] = (sig[3] ?? 0) ^ 0xff;
    return el("kkey", { id: opts.id ?? this.signedId, signature: b64(sig) }, b64(pub));
  }

  registration(): string {
    const r = Buffer.alloc(4);
    r.writeUInt32BE(this.registrationId);
    return el("registration", {}, b64(r));
  }

  identityEl(): string {
    return el("identity", {}, b64(this.identity.publicKey.serialize()));
  }

  /** A full first upload: registration, identity, device, list, skey, kkey. */
  full(prekeys = 20, parts: { omit?: string; badSkey?: boolean; badKkey?: boolean } = {}): string {
    const all: [string, string][] = [
      ["registration", this.registration()],
      ["identity", this.identityEl()],
      ["device", el("device", { id: 1 })],
      ["list", prekeys > 0 ? this.list(prekeys) : ""],
      ["skey", this.skey({ badSignature: parts.badSkey })],
      ["kkey", this.kkey({ badSignature: parts.badKkey })],
    ];
    return all
      .filter(([name]) => name !== parts.omit)
      .map(([, xml]) => xml)
      .join("");
  }
}

/** Uploads a full key set and returns the keys (fails the test if refused). */
export async function withKeys(wire: Wire, prekeys = 20): Promise<Keys> {
  const keys = new Keys();
  const r = await wire.iq("encrypt", "set", keys.full(prekeys));
  if (r.attrs.type !== "result") throw new Error(`key upload refused: ${JSON.stringify(r)}`);
  return keys;
}

export async function prekeyCount(wire: Wire): Promise<number> {
  const r = await wire.iq("encrypt", "get", "<count/>");
  const count = r.children.find((c) => c.tag === "count");
  return Number(count?.attrs.value ?? NaN);
}
