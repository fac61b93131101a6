/**
 * The partner side the suite plays (§4.2, §11.4): the authentication callback the gatekeeper
 * calls for INTEROP logins, and a media host serving blobs under the partner's media origin.
 */
import { randomBytes } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export const AUTH_PATH = "/_gki/v1/auth";
export const MEDIA_PATH = "/_gki/v1/media/";

/** How the callback answers for one account. */
export type AuthAnswer =
  { token: string; phone: string } | { status: number; body: string } | { delayMs: number };

export interface AuthCall {
  authorization: string | undefined;
  body: unknown;
}

export class PartnerServer {
  readonly accounts = new Map<string, AuthAnswer>();
  readonly calls: AuthCall[] = [];
  readonly #blobs = new Map<string, Buffer>();
  readonly #server: Server;
  readonly #secret: string;

  private constructor(server: Server, secret: string) {
    this.#server = server;
    this.#secret = secret;
  }

  static async start(secret: string, port = 0, host = "127.0.0.1"): Promise<PartnerServer> {
    const holder: { self?: PartnerServer } = {};
    const server = createServer((req, res) => void holder.self?.handle(req, res));
    const self = new PartnerServer(server, secret);
    holder.self = self;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    return self;
  }

  /** http://host:port, the partner's media origin. */
  get origin(): string {
    const a = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${a.port}`;
  }

  get authUrl(): string {
    return `${this.origin}${AUTH_PATH}`;
  }

  /** Serves `blob` at an unguessable URL under the media origin; returns the URL. */
  host(blob: Uint8Array): string {
    const token = randomBytes(18).toString("base64url");
    this.#blobs.set(token, Buffer.from(blob));
    return `${this.origin}${MEDIA_PATH}${token}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "";
    if (req.method === "GET" && url.startsWith(MEDIA_PATH)) {
      const blob = this.#blobs.get(url.slice(MEDIA_PATH.length));
      if (!blob) return void res.writeHead(404).end();
      return void res.writeHead(200, { "content-type": "application/octet-stream" }).end(blob);
    }
    if (req.method !== "POST" || url !== AUTH_PATH) return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      body = null;
    }
    this.calls.push({ authorization: req.headers.authorization, body });
    if (req.headers.authorization !== `Bearer ${this.#secret}`) {
      return void res
        .writeHead(401, { "content-type": "application/json" })
        .end('{"error":"bad secret"}');
    }
    const { account_id: accountId, token } = (body ?? {}) as {
      account_id?: string;
      token?: string;
    };
    const answer = this.accounts.get(accountId ?? "");
    const json = (status: number, text: string): void =>
      void res.writeHead(status, { "content-type": "application/json" }).end(text);
    if (answer === undefined) return json(200, '{"valid":false}');
    if ("delayMs" in answer) {
      await new Promise((r) => setTimeout(r, answer.delayMs));
      return json(200, '{"valid":false}');
    }
    if ("status" in answer) return json(answer.status, answer.body);
    if (answer.token !== token) return json(200, '{"valid":false}');
    return json(200, JSON.stringify({ valid: true, phone: answer.phone }));
  }
}
