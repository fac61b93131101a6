/**
 * The fixtures API the suite needs from a gatekeeper under test: the sandbox's HTTP admin
 * API (src/sandbox/admin-api.ts). Another gatekeeper offers the same routes to be tested
 * with the fixtures; without them the tests that need them are skipped.
 */
export interface NativeAccount {
  phone: string;
  jid: string;
  /** The native login's account id: the lid of the JID (§4.1). */
  accountId: string;
  token: string;
}

export interface PartnerRegistration {
  id: string;
  authUrl: string;
  secret: string;
  mediaOrigin?: string | null;
  suspended?: boolean;
}

export class AdminApi {
  readonly #base: string;

  constructor(baseUrl: string) {
    this.#base = baseUrl.replace(/\/+$/, "");
  }

  info(): Promise<{ url: string; httpUrl: string; publicKey: string }> {
    return this.#call("GET", "/admin/info");
  }

  addUser(phone: string, name?: string): Promise<NativeAccount> {
    return this.#call("POST", "/admin/users", { phone, ...(name === undefined ? {} : { name }) });
  }

  issueToken(phone: string): Promise<NativeAccount> {
    return this.#call("POST", `/admin/users/${encodeURIComponent(phone)}/token`);
  }

  updateSettings(
    phone: string,
    settings: { enabled?: boolean; partners?: string[] | "*"; inbox?: "separate" | "combined" },
  ): Promise<unknown> {
    return this.#call("PATCH", `/admin/users/${encodeURIComponent(phone)}/settings`, settings);
  }

  /** The enlistment code last sent to `phone` (§6). */
  latestCode(phone: string): Promise<{ code: string }> {
    return this.#call("GET", `/admin/codes/${encodeURIComponent(phone)}`);
  }

  addPartner(p: PartnerRegistration): Promise<unknown> {
    return this.#call("POST", "/admin/partners", p);
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.#base}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`admin ${method} ${path}: HTTP ${res.status} ${text}`);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }
}
