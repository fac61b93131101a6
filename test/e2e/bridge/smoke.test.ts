/**
 * The product end to end, once: a Matrix user (matrix-js-sdk) DMs the bot, logs in with the
 * code the sandbox "texted" them, starts a chat with a native gatekeeper user, and both
 * exchange formatted text. Runs against the in-process homeserver, or a real one when
 * E2E_HOMESERVER_URL is set (see test/harness/README.md).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge } from "../../../src/bridge.js";
import type { RunningBridge } from "../../../src/bridge.js";
import { parseConfig } from "../../../src/config/index.js";
import { migrate, openDatabase } from "../../../src/db/index.js";
import { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import type { MessageEvent } from "../../../src/gatekeeper/client/index.js";
import { describeContent, textMessage } from "../../../src/gatekeeper/content/index.js";
import { AUTH_PATH } from "../../../src/gatekeeper/network/index.js";
import { AppServiceRegistration, Logger } from "../../../src/matrix/appservice-bridge.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import {
  sendText,
  startMatrixClient,
  stopMatrixClient,
  waitForInvite,
  waitForMembership,
  waitForRoomEvent,
} from "../../harness/matrix-user.js";
import type { MatrixClient, MatrixEvent } from "../../harness/matrix-user.js";
import { startE2eTarget } from "../../harness/target.js";
import type { E2eTarget } from "../../harness/target.js";

Logger.configure({ console: "off" });

const PARTNER_ID = "matrix";
const SECRET = "smoke-test-partner-secret";
const BOT_LOCALPART = "gatekeeperbot";

describe("bridge smoke test: login, start, text both ways", () => {
  let dir: string;
  let target: E2eTarget;
  let sandbox: Sandbox;
  let bridge: RunningBridge;
  let alice: MatrixClient;
  let bob: GatekeeperClient;
  let bobDb: Awaited<ReturnType<typeof openDatabase>>;
  const bobInbox: MessageEvent[] = [];
  const bobPhone = "+4915199990001";
  const alicePhone = "+4915199990002";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "gkb-smoke-"));
    target = await startE2eTarget();
    const { registration, listen } = await target.appService({
      id: "gatekeeper",
      senderLocalpart: BOT_LOCALPART,
      userPrefix: "gk_",
    });
    sandbox = await startSandbox();
    const config = parseConfig(
      {
        homeserver: { url: target.url, domain: target.serverName },
        appservice: {
          port: listen.port,
          bind_address: listen.host,
          bot: { localpart: BOT_LOCALPART },
        },
        gatekeeper: {
          url: sandbox.url,
          static_key: sandbox.publicKeyBase64,
          partner_id: PARTNER_ID,
          partner_secret: SECRET,
          public_base_url: "http://127.0.0.1",
        },
        database: { type: "sqlite", filename: join(dir, "bridge.sqlite") },
        bridge: { permissions: { [target.serverName]: "user" } },
      },
      "smoke config",
      {},
    );
    // Any free port for the partner endpoints (the schema insists on a real port number).
    config.gatekeeper.listen = { port: 0, bindAddress: "127.0.0.1" };
    bridge = await startBridge(config, AppServiceRegistration.fromObject(registration), listen);
    // The gatekeeper learns where our auth callback is once the bridge listens.
    await sandbox.admin.addPartner({
      id: PARTNER_ID,
      authUrl: bridge.partnerEndpointsUrl + AUTH_PATH,
      secret: SECRET,
    });

    const user = await target.registerUser("alice");
    alice = await startMatrixClient({ baseUrl: target.url, ...user });

    const native = await sandbox.admin.addUser({ phone: bobPhone, name: "Bob" });
    await sandbox.admin.updateSettings(bobPhone, { enabled: true, partners: [PARTNER_ID] });
    bobDb = await openDatabase({ type: "sqlite", filename: join(dir, "bob.sqlite") });
    await migrate(bobDb);
    bob = new GatekeeperClient({
      url: sandbox.url,
      serverStaticKey: sandbox.publicKey,
      db: bobDb,
      account: { product: "native", accountId: native.accountId, token: native.token },
    });
    bob.on("message", (m) => {
      bobInbox.push(m);
    });
    await bob.start();
  }, 60_000);

  afterAll(async () => {
    if (alice) stopMatrixClient(alice);
    await bob?.stop();
    await bridge?.stop();
    await sandbox?.close();
    await target?.close();
    await bobDb?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const botReply = (roomId: string, contains: string): Promise<MatrixEvent> =>
    waitForRoomEvent(
      alice,
      (e) =>
        e.getRoomId() === roomId &&
        e.getContent().msgtype === "m.notice" &&
        String(e.getContent().body).includes(contains),
      15_000,
    );

  it("logs in through the bot, starts a chat and relays text both ways", async () => {
    const botMxid = `@${BOT_LOCALPART}:${target.serverName}`;
    const { room_id: dm } = await alice.createRoom({
      is_direct: true,
      invite: [botMxid],
      preset: "trusted_private_chat" as never,
    });
    await waitForMembership(alice, dm, botMxid, "join", 15_000);
    await botReply(dm, "management room");

    await sendText(alice, dm, `login ${alicePhone}`);
    await botReply(dm, "6-digit code");
    const { code } = await sandbox.admin.latestCode(alicePhone);
    await sendText(alice, dm, `verify ${code}`);
    await botReply(dm, `logged in to Gatekeeper as ${alicePhone}`);

    await sendText(alice, dm, `start ${bobPhone}`);
    const started = await botReply(dm, "Started a chat with Bob");
    const link = /matrix\.to\/#\/(\S+)$/.exec(String(started.getContent().body));
    const portal = decodeURIComponent(link![1]!);
    await waitForInvite(alice, (room) => room.roomId === portal, 15_000);
    await alice.joinRoom(portal);
    // (The harness's joinRoom can miss the membership change of an invite turned join.)
    await waitForRoomEvent(
      alice,
      (e) =>
        e.getRoomId() === portal &&
        e.getType() === "m.room.member" &&
        e.getStateKey() === alice.getSafeUserId() &&
        e.getContent().membership === "join",
      15_000,
    );

    await alice.sendMessage(portal, {
      msgtype: "m.text",
      body: "hello world",
      format: "org.matrix.custom.html",
      formatted_body: "hello <strong>world</strong>",
    } as never);
    const deadline = Date.now() + 15_000;
    while (bobInbox.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const [received] = bobInbox;
    expect(received && describeContent(received.content)).toEqual({
      kind: "text",
      text: "hello *world*",
    });

    await bob.sendMessage(received!.from, textMessage("hi _Alice_"));
    const reply = await waitForRoomEvent(
      alice,
      (e) =>
        e.getRoomId() === portal &&
        e.getType() === "m.room.message" &&
        e.getContent().body === "hi _Alice_",
      15_000,
    );
    expect(reply.getSender()).toMatch(/^@gk_/);
    expect(reply.getContent().formatted_body).toBe("hi <em>Alice</em>");
  }, 60_000);
});
