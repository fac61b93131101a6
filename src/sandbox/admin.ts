/**
 * SandboxAdmin: the operator's side of the sandbox, for tests, the demo and
 * the CLI. The HTTP admin API (admin-api.ts) is a thin layer over this.
 */
import { isValidPartnerId, parseJid } from "../gatekeeper/stanza/index.js";
import type { SandboxContext } from "./context.js";
import { AdminError } from "./errors.js";
import type { Account, Group, InteropSettings, MemberRole, Partner } from "./store/index.js";

export interface NewUser {
  phone: string;
  jid: string;
  accountId: string;
  /** The native login token; shown only once. */
  token: string;
}

export interface UserInfo {
  phone: string;
  jid: string;
  accountId: string;
  name: string | null;
  interop: InteropSettings;
  online: boolean;
}

export interface PartnerUserInfo {
  jid: string;
  partnerId: string;
  accountId: string;
  /** The number the partner callback last returned. */
  phone: string | null;
  enlisted: boolean;
  online: boolean;
}

export interface QueuedStanzaInfo {
  seq: number;
  kind: string;
  id: string;
  type: string;
  sender: string;
  size: number;
  createdAt: number;
  /** The stored stanza exactly as it will be delivered (XML). */
  payload: string;
}

export interface RecipientQueue {
  recipient: string;
  stanzas: QueuedStanzaInfo[];
}

export interface PartnerInput {
  id: string;
  authUrl: string;
  secret: string;
  mediaOrigin?: string | null;
  /** A suspended partner's users cannot log in (failure 402). */
  suspended?: boolean;
}

export type PartnerInfo = Omit<Partner, "secret">;

/** A group as the operator sees it (§19): members in join order, with their role. */
export interface GroupAdminInfo {
  jid: string;
  subject: string;
  creator: string;
  /** Unix milliseconds. */
  createdAt: number;
  description: string | null;
  hasPicture: boolean;
  members: { jid: string; role: MemberRole }[];
}

export interface SandboxInfo {
  url: string;
  httpUrl: string;
  /** The static public key to pin, base64. */
  publicKey: string;
}

const E164_RE = /^\+\d{8,15}$/;

function checkPhone(phone: unknown): string {
  if (typeof phone !== "string" || !E164_RE.test(phone)) {
    throw new AdminError(400, "bad-phone", "phone must be an E.164 number such as +4915112345678");
  }
  return phone;
}

function checkUrl(value: unknown, what: string): string {
  try {
    const url = new URL(typeof value === "string" ? value : "");
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
    return url.toString();
  } catch {
    throw new AdminError(400, `bad-${what}`, `${what} must be an http(s) URL`);
  }
}

function partnerInfo(p: Partner): PartnerInfo {
  return { id: p.id, authUrl: p.authUrl, mediaOrigin: p.mediaOrigin, suspended: p.suspended };
}

export class SandboxAdmin {
  readonly #ctx: SandboxContext;
  readonly #info: () => SandboxInfo;

  constructor(ctx: SandboxContext, info: () => SandboxInfo) {
    this.#ctx = ctx;
    this.#info = info;
  }

  info(): SandboxInfo {
    return this.#info();
  }

  /** A native user; interop is off until their settings enable it (§12). */
  async addUser(input: { phone: string; name?: string }): Promise<NewUser> {
    const phone = checkPhone(input.phone);
    const name =
      typeof input.name === "string" && input.name.trim() !== "" ? input.name.trim() : phone;
    if (await this.#ctx.store.accounts.findNativeByPhone(phone)) {
      throw new AdminError(409, "phone-taken", `a native user with ${phone} exists already`);
    }
    const { account, token } = await this.#ctx.store.accounts.createNative(phone, name);
    this.#ctx.logger.info("native user added", { jid: account.jid });
    return { phone, jid: account.jid, accountId: account.accountId, token };
  }

  async listUsers(): Promise<UserInfo[]> {
    return (await this.#ctx.store.accounts.listNative()).map((a) => this.#userInfo(a));
  }

  async getUser(phone: string): Promise<UserInfo> {
    return this.#userInfo(await this.#native(phone));
  }

  /**
   * How many accounts are connected right now, partner users (a bridge's logins) and
   * native users apart: cheap enough to poll while thousands connect. `replaced`: sessions
   * closed so far because their account connected again (one connection per client, §1).
   */
  online(): { partnerUsers: number; nativeUsers: number; replaced: number } {
    let partnerUsers = 0;
    for (const session of this.#ctx.sessions.all()) {
      if (parseJid(session.jid)?.kind === "interop") partnerUsers++;
    }
    const { size, replaced } = this.#ctx.sessions;
    return { partnerUsers, nativeUsers: size - partnerUsers, replaced };
  }

  async listPartnerUsers(): Promise<PartnerUserInfo[]> {
    const out: PartnerUserInfo[] = [];
    for (const a of await this.#ctx.store.accounts.listInterop()) {
      const enlistment = await this.#ctx.store.enlistments.byJid(a.jid);
      out.push({
        jid: a.jid,
        partnerId: a.partnerId ?? "",
        accountId: a.accountId,
        phone: a.phone,
        enlisted: enlistment !== null && enlistment.phone === a.phone,
        online: this.#ctx.sessions.get(a.jid) !== undefined,
      });
    }
    return out;
  }

  /** Opt-in settings of a native user (§12.2). */
  async updateSettings(phone: string, settings: Partial<InteropSettings>): Promise<UserInfo> {
    const account = await this.#native(phone);
    const update: Partial<InteropSettings> = {};
    if (settings.enabled !== undefined) {
      if (typeof settings.enabled !== "boolean")
        throw new AdminError(400, "bad-enabled", "enabled must be a boolean");
      update.enabled = settings.enabled;
    }
    if (settings.partners !== undefined) {
      const partners = settings.partners;
      if (
        partners !== "*" &&
        !(
          Array.isArray(partners) &&
          partners.every((p) => typeof p === "string" && isValidPartnerId(p))
        )
      ) {
        throw new AdminError(400, "bad-partners", 'partners must be "*" or a list of partner ids');
      }
      update.partners = partners;
    }
    if (settings.inbox !== undefined) {
      if (settings.inbox !== "separate" && settings.inbox !== "combined") {
        throw new AdminError(400, "bad-inbox", 'inbox must be "separate" or "combined"');
      }
      update.inbox = settings.inbox;
    }
    const updated = await this.#ctx.store.accounts.updateSettings(account.jid, update);
    return this.#userInfo(updated ?? account);
  }

  /**
   * A fresh login token for a native user (the old one stops working). The
   * chat CLI uses it, since tokens are stored only as hashes.
   */
  async issueToken(
    phone: string,
  ): Promise<{ phone: string; jid: string; accountId: string; token: string }> {
    const account = await this.#native(phone);
    const token = await this.#ctx.store.accounts.resetNativeToken(account.jid);
    return { phone: account.phone ?? phone, jid: account.jid, accountId: account.accountId, token };
  }

  /**
   * Deletes the user's keys and disconnects its client with
   * `<stream:error code="401" text="device-removed"/>`. The client then
   * re-registers with a new identity (a fresh upload), and the user's
   * contacts get `<notification type="identity">`.
   */
  async rotateIdentity(phone: string): Promise<void> {
    const account = await this.#native(phone);
    await this.#ctx.store.keys.revoke(account.jid);
    this.#ctx.mediaTokens.revokeFor(account.jid);
    this.#ctx.sessions.get(account.jid)?.streamError(401, "device-removed");
    this.#ctx.logger.info("identity rotated", { jid: account.jid });
  }

  /** The most recent one-time enlistment code sent to `phone` (the sandbox's SMS inbox). */
  async latestCode(phone: string): Promise<{ phone: string; code: string; expiresAt: number }> {
    const code = await this.#ctx.store.enlistments.latestCodeForPhone(checkPhone(phone));
    if (!code) throw new AdminError(404, "no-code", `no code was requested for ${phone}`);
    return { phone: code.phone, code: code.code, expiresAt: code.expiresAt };
  }

  async queues(): Promise<RecipientQueue[]> {
    const byRecipient = new Map<string, QueuedStanzaInfo[]>();
    for (const q of await this.#ctx.store.queue.all(this.#ctx.now())) {
      let list = byRecipient.get(q.recipient);
      if (!list) byRecipient.set(q.recipient, (list = []));
      list.push({
        seq: q.seq,
        kind: q.kind,
        id: q.stanzaId,
        type: q.type,
        sender: q.sender,
        size: q.size,
        createdAt: q.createdAt,
        payload: q.payload.toString("utf8"),
      });
    }
    return [...byRecipient].map(([recipient, stanzas]) => ({ recipient, stanzas }));
  }

  async addPartner(input: PartnerInput): Promise<PartnerInfo> {
    if (typeof input.id !== "string" || !isValidPartnerId(input.id)) {
      throw new AdminError(400, "bad-partner-id", "partner id must match ^[a-z0-9-]{1,32}$");
    }
    if (typeof input.secret !== "string" || input.secret.length === 0) {
      throw new AdminError(400, "bad-secret", "secret must be a non-empty string");
    }
    const mediaOrigin =
      input.mediaOrigin === undefined || input.mediaOrigin === null || input.mediaOrigin === ""
        ? null
        : new URL(checkUrl(input.mediaOrigin, "media-origin")).origin;
    const partner = await this.#ctx.store.partners.upsert({
      id: input.id,
      authUrl: checkUrl(input.authUrl, "auth-url"),
      secret: input.secret,
      mediaOrigin,
      suspended: input.suspended === true,
    });
    this.#ctx.logger.info("partner registered", { partner: partner.id });
    return partnerInfo(partner);
  }

  async listPartners(): Promise<PartnerInfo[]> {
    return (await this.#ctx.store.partners.list()).map(partnerInfo);
  }

  async listGroups(): Promise<GroupAdminInfo[]> {
    const out: GroupAdminInfo[] = [];
    for (const g of await this.#ctx.store.groups.list()) out.push(await this.#groupInfo(g));
    return out;
  }

  async getGroup(jid: string): Promise<GroupAdminInfo> {
    const group = await this.#ctx.store.groups.get(jid);
    if (!group) throw new AdminError(404, "no-such-group", `no group ${jid}`);
    return this.#groupInfo(group);
  }

  async #groupInfo(g: Group): Promise<GroupAdminInfo> {
    const members = await this.#ctx.store.groups.members(g.jid);
    return {
      jid: g.jid,
      subject: g.subject,
      creator: g.creator,
      createdAt: g.createdAt,
      description: g.description,
      hasPicture: g.pictureId !== null,
      members: members.map((m) => ({ jid: m.jid, role: m.role })),
    };
  }

  async #native(phone: string): Promise<Account> {
    const account = await this.#ctx.store.accounts.findNativeByPhone(checkPhone(phone));
    if (!account) throw new AdminError(404, "no-such-user", `no native user with ${phone}`);
    return account;
  }

  #userInfo(a: Account): UserInfo {
    return {
      phone: a.phone ?? "",
      jid: a.jid,
      accountId: a.accountId,
      name: a.name,
      interop: a.interop,
      online: this.#ctx.sessions.get(a.jid) !== undefined,
    };
  }
}
