import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import { mediaMessage, textMessage } from "../../../src/gatekeeper/content/index.js";
import { decryptMedia, encryptMedia } from "../../../src/gatekeeper/media/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { NewUser, Sandbox } from "../../../src/sandbox/index.js";
import {
  FAST_RECONNECT,
  Recorder,
  TcpRelay,
  TestFiles,
  eventually,
  nativeClient,
  newPhone,
} from "./helpers.js";

const PARTNER_ID = "matrix";
const SECRET = "partner-secret-for-tests";

/**
 * The smallest partner there is: the §4.2 auth callback (one known user) and a media
 * origin serving blobs from unguessable URLs (§11.4).
 */
class TinyPartner {
  readonly users = new Map<string, { token: string; phone: string }>();
  readonly authCalls: Record<string, unknown>[] = [];
  /** While set, auth callbacks are answered only once it resolves. */
  authGate: Promise<void> | undefined;
  private readonly blobs = new Map<string, Uint8Array>();
  private server: Server | undefined;
  origin = "";

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  get authUrl(): string {
    return `${this.origin}/_gki/v1/auth`;
  }

  /** Hosts a blob; returns its URL. */
  host(blob: Uint8Array): string {
    const token = randomBytes(24).toString("base64url");
    this.blobs.set(token, blob);
    return `${this.origin}/_gki/v1/media/${token}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.origin);
    if (req.method === "GET" && url.pathname.startsWith("/_gki/v1/media/")) {
      const blob = this.blobs.get(url.pathname.slice("/_gki/v1/media/".length));
      if (!blob) return void res.writeHead(404).end();
      return void res.writeHead(200, { "content-type": "application/octet-stream" }).end(blob);
    }
    if (req.method !== "POST" || url.pathname !== "/_gki/v1/auth")
      return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${SECRET}`) return void res.writeHead(401).end();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
    this.authCalls.push(body);
    await this.authGate;
    const user = this.users.get(String(body.account_id));
    const valid = user !== undefined && user.token === body.token;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(valid ? { valid: true, phone: user.phone } : { valid: false }));
  }
}

describe("GatekeeperClient as a partner (interop) user", () => {
  let partner: TinyPartner;
  let sandbox: Sandbox;
  let files: TestFiles;
  let nina: NewUser;
  const clients: GatekeeperClient[] = [];
  const partnerPhone = "+4917012345678";

  async function partnerClient(token: string | (() => Promise<string>)): Promise<GatekeeperClient> {
    const c = new GatekeeperClient({
      url: sandbox.url,
      serverStaticKey: sandbox.publicKey,
      db: await files.db(),
      account: {
        product: "interop",
        partnerId: PARTNER_ID,
        accountId: "a1b2c3",
        token,
        clientIp: "198.51.100.7",
      },
      reconnect: FAST_RECONNECT,
    });
    clients.push(c);
    return c;
  }

  beforeEach(async () => {
    partner = new TinyPartner();
    await partner.start();
    partner.users.set("a1b2c3", { token: "tok-1", phone: partnerPhone });
    sandbox = await startSandbox({
      port: 0,
      partners: [
        { id: PARTNER_ID, authUrl: partner.authUrl, secret: SECRET, mediaOrigin: partner.origin },
      ],
    });
    files = new TestFiles();
    nina = await sandbox.admin.addUser({ phone: newPhone(), name: "Nina" });
    await sandbox.admin.updateSettings(nina.phone, { enabled: true, partners: [PARTNER_ID] });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.stop();
    await sandbox.close();
    await partner.stop();
    await files.close();
  });

  it("enlists with a one-time code, finds a native user and chats with her, media through the proxy", async () => {
    const p = await partnerClient(async () => "tok-1");
    await p.start();
    expect(p.jid).toBe(`${PARTNER_ID}.a1b2c3@interop`);
    expect(p.enlisted).toBe(false);
    expect(partner.authCalls[0]).toMatchObject({
      partner_id: PARTNER_ID,
      account_id: "a1b2c3",
      client_ip: "198.51.100.7",
    });
    await expect(p.lookup([nina.phone])).rejects.toMatchObject({ code: "forbidden", gkiCode: 403 });

    expect(await p.requestCode()).toEqual({ expiresIn: 600, length: 6 });
    const { code } = await sandbox.admin.latestCode(partnerPhone);
    await expect(p.verifyCode(code === "000000" ? "111111" : "000000")).rejects.toMatchObject({
      code: "not-acceptable",
    });
    expect(await p.verifyCode(code)).toEqual({ jid: p.jid });
    expect(p.enlisted).toBe(true);

    const [found] = await p.lookup([nina.phone]);
    expect(found).toMatchObject({ phone: nina.phone, jid: nina.jid });

    const n = nativeClient(sandbox, nina, await files.db());
    clients.push(n);
    await n.start();
    const atNina = new Recorder(n, "message");
    const atPartner = new Recorder(p, "message");
    await p.sendMessage(nina.jid, textMessage("hello from matrix"));
    const [m1] = await atNina.waitFor(1);
    expect(m1).toMatchObject({ from: p.jid });
    expect(m1!.content.conversation).toBe("hello from matrix");
    await n.sendMessage(p.jid!, textMessage("hi matrix user"));
    const [m2] = await atPartner.waitFor(1);
    expect(m2!.content.conversation).toBe("hi matrix user");

    // Partner users host their own media; Nina's client fetches it through the gatekeeper's proxy.
    const photo = randomBytes(40_000);
    const enc = encryptMedia(photo, "image");
    const url = partner.host(enc.blob);
    const ref = { url, ...enc, mimetype: "image/png" };
    await p.sendMessage(nina.jid, mediaMessage("image", ref));
    const image = (await atNina.waitFor(2))[1]!.content.imageMessage!;
    expect(image.url).toBe(url);
    const blob = await n.downloadMedia(image.url!, { fileEncSha256: image.fileEncSha256! });
    const plain = decryptMedia(blob, {
      mediaKey: image.mediaKey!,
      mediaType: "image",
      fileSha256: image.fileSha256!,
    });
    expect(Buffer.from(plain).equals(photo)).toBe(true);
  });

  it("is logged out after removing its enlistment", async () => {
    const p = await partnerClient("tok-1");
    await p.start();
    await p.requestCode();
    await p.verifyCode((await sandbox.admin.latestCode(partnerPhone)).code);
    const states = new Recorder(p, "connectionState");
    await p.removeEnlistment();
    await eventually(() => p.state === "logged-out");
    expect(states.items.at(-1)).toMatchObject({
      state: "logged-out",
      error: { code: "unauthorized" },
    });
    expect(p.enlisted).toBe(false);
  });

  it("rejects a token the partner calls invalid with 'unauthorized' and does not retry", async () => {
    const p = await partnerClient("wrong-token");
    await expect(p.start()).rejects.toMatchObject({
      name: "GatekeeperError",
      code: "unauthorized",
      gkiCode: 401,
    });
    expect(p.state).toBe("logged-out");
    const calls = partner.authCalls.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(partner.authCalls.length).toBe(calls);
  });

  it("leaves no session behind for a client that went away while its login was checked", async () => {
    const relay = await TcpRelay.forSandbox(sandbox);
    try {
      let answer!: () => void;
      partner.authGate = new Promise<void>((r) => (answer = r));
      const c = new GatekeeperClient({
        url: relay.url,
        serverStaticKey: sandbox.publicKey,
        db: await files.db(),
        account: { product: "interop", partnerId: PARTNER_ID, accountId: "a1b2c3", token: "tok-1" },
        reconnect: FAST_RECONNECT,
      });
      clients.push(c);
      const starting = c.start().catch(() => undefined);
      await eventually(() => partner.authCalls.length === 1);
      // The process dies (kill -9) while the gatekeeper asks the partner about its token.
      relay.refusing = true;
      relay.cut();
      await new Promise((r) => setTimeout(r, 100));
      answer();
      await new Promise((r) => setTimeout(r, 200));
      // Not online: a session registered for the dead connection would be, until the
      // account's next connection replaced it.
      expect(sandbox.admin.online()).toMatchObject({ partnerUsers: 0, replaced: 0 });
      await c.stop();
      await starting;

      partner.authGate = undefined;
      const again = await partnerClient(async () => "tok-1");
      await again.start();
      expect(sandbox.admin.online()).toMatchObject({ partnerUsers: 1, replaced: 0 });
    } finally {
      await relay.close();
    }
  });

  it("rejects an unknown partner id with 'partner-unknown'", async () => {
    const c = new GatekeeperClient({
      url: sandbox.url,
      serverStaticKey: sandbox.publicKey,
      db: await files.db(),
      account: { product: "interop", partnerId: "nobody", accountId: "x1", token: "t" },
    });
    clients.push(c);
    await expect(c.start()).rejects.toMatchObject({ code: "partner-unknown", gkiCode: 402 });
    expect(c.state).toBe("failed");
  });
});
