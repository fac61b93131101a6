/**
 * The partner authentication callback (docs/protocol.md §4.2): the sandbox
 * asks the partner whether a user's token is valid and learns the number.
 */
export interface PartnerAuthRequest {
  partner_id: string;
  account_id: string;
  token: string;
  client_ip: string;
}

export type PartnerAuthResult =
  | { kind: "valid"; phone: string }
  | { kind: "invalid" }
  /** Timeout, refused connection, non-200 status or a malformed body. */
  | { kind: "unavailable"; reason: string };

const E164_RE = /^\+\d{8,15}$/;

export async function callPartnerAuth(
  authUrl: string,
  secret: string,
  body: PartnerAuthRequest,
  timeoutMs: number,
): Promise<PartnerAuthResult> {
  let response: Response;
  try {
    response = await fetch(authUrl, {
      method: "POST",
      headers: {
        authorization: `Bearer ${secret}`,
        "content-type": "application/json",
        accept: "application/json",
      },
      body: JSON.stringify(body),
      redirect: "error",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    return { kind: "unavailable", reason: name === "TimeoutError" ? "timeout" : "unreachable" };
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    return { kind: "unavailable", reason: `status ${response.status}` };
  }
  let json: unknown;
  try {
    json = await response.json();
  } catch {
    return { kind: "unavailable", reason: "malformed body" };
  }
  if (typeof json !== "object" || json === null || !("valid" in json)) {
    return { kind: "unavailable", reason: "malformed body" };
  }
  if (json.valid === false) return { kind: "invalid" };
  if (
    json.valid === true &&
    "phone" in json &&
    typeof json.phone === "string" &&
    E164_RE.test(json.phone)
  ) {
    return { kind: "valid", phone: json.phone };
  }
  return { kind: "unavailable", reason: "malformed body" };
}
