/**
 * A small HTTP client for a running sandbox's admin API (see admin-api.ts), used by the CLI
 * and the load bench.
 */
import type {
  GroupAdminInfo,
  NewUser,
  PartnerInfo,
  PartnerInput,
  PartnerUserInfo,
  SandboxInfo,
  UserInfo,
} from "./admin.js";
import type { InteropSettings } from "./store/index.js";

export class AdminApiError extends Error {
  override readonly name = "AdminApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class AdminClient {
  readonly #base: string;

  constructor(baseUrl: string) {
    this.#base = baseUrl.replace(/\/+$/, "");
  }

  info(): Promise<SandboxInfo> {
    return this.#call("GET", "/admin/info");
  }

  addUser(phone: string, name?: string): Promise<NewUser> {
    return this.#call("POST", "/admin/users", { phone, ...(name === undefined ? {} : { name }) });
  }

  updateSettings(phone: string, settings: Partial<InteropSettings>): Promise<UserInfo> {
    return this.#call("PATCH", `/admin/users/${encodeURIComponent(phone)}/settings`, settings);
  }

  issueToken(phone: string): Promise<NewUser> {
    return this.#call("POST", `/admin/users/${encodeURIComponent(phone)}/token`);
  }

  latestCode(phone: string): Promise<{ phone: string; code: string; expiresAt: number }> {
    return this.#call("GET", `/admin/codes/${encodeURIComponent(phone)}`);
  }

  /** Partner users (a bridge's logins) as the gatekeeper sees them, online or not. */
  partnerUsers(): Promise<PartnerUserInfo[]> {
    return this.#call("GET", "/admin/partner-users");
  }

  /** How many partner and native users are connected right now. */
  online(): Promise<{ partnerUsers: number; nativeUsers: number; replaced: number }> {
    return this.#call("GET", "/admin/online");
  }

  /** Live groups with their members (§19). */
  groups(): Promise<GroupAdminInfo[]> {
    return this.#call("GET", "/admin/groups");
  }

  group(jid: string): Promise<GroupAdminInfo> {
    return this.#call("GET", `/admin/groups/${encodeURIComponent(jid)}`);
  }

  addPartner(input: PartnerInput): Promise<PartnerInfo> {
    return this.#call("POST", "/admin/partners", input);
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new AdminApiError(
        0,
        "unreachable",
        `cannot reach the sandbox admin API at ${this.#base}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const text = await res.text();
    const json: unknown = text === "" ? undefined : JSON.parse(text);
    if (!res.ok) {
      const detail = (json ?? {}) as { error?: string; message?: string };
      throw new AdminApiError(
        res.status,
        detail.error ?? "error",
        detail.message ?? detail.error ?? `HTTP ${res.status}`,
      );
    }
    return json as T;
  }
}
