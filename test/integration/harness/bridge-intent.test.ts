/**
 * The test homeserver against the real bridge stack: matrix-appservice-bridge's Bridge (its
 * AppService HTTP server, bot-sdk Intents) on one side, a matrix-js-sdk user on the other.
 */
import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppServiceRegistration, Bridge } from "../../../src/matrix/appservice-bridge.js";
import type { Intent, WeakEvent } from "../../../src/matrix/appservice-bridge.js";
import { startTestHomeserver } from "../../harness/homeserver/index.js";
import type { AppServiceRegistrationLike, TestHomeserver } from "../../harness/homeserver/index.js";
import {
  joinRoom,
  loginMatrixClient,
  sendText,
  stopMatrixClient,
  waitForInvite,
  waitForRoomEvent,
  waitForText,
} from "../../harness/matrix-user.js";
import type { MatrixClient } from "../../harness/matrix-user.js";

async function freePort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, "close");
  return port;
}

type Json = Record<string, unknown>;

describe("matrix-appservice-bridge against the test homeserver", () => {
  let hs: TestHomeserver;
  let bridge: Bridge;
  let alice: MatrixClient;
  const events: WeakEvent[] = [];
  const ephemeral: Json[] = [];
  const ALICE = "@alice:localhost";

  beforeAll(async () => {
    hs = await startTestHomeserver();
    const port = await freePort();
    const reg = new AppServiceRegistration(`http://127.0.0.1:${port}`);
    reg.setId("gatekeeper");
    reg.setHomeserverToken(AppServiceRegistration.generateToken());
    reg.setAppServiceToken(AppServiceRegistration.generateToken());
    reg.setSenderLocalpart("gatekeeperbot");
    reg.addRegexPattern("users", "@gk_.*:localhost", true);
    reg.pushEphemeral = true;
    hs.addAppService(reg.getOutput() as unknown as AppServiceRegistrationLike);
    bridge = new Bridge({
      homeserverUrl: hs.url,
      domain: "localhost",
      registration: reg,
      disableStores: true,
      controller: {
        onEvent: (request) => void events.push(request.getData()),
        onEphemeralEvent: (request) => void ephemeral.push(request.getData() as unknown as Json),
        onUserQuery: () => ({ name: "Newbie (Gatekeeper)" }),
      },
    });
    await bridge.run(port, undefined, "127.0.0.1");
    await hs.registerUser("alice", "alice-password");
    alice = await loginMatrixClient(hs.url, "alice", "alice-password");
  });

  afterAll(async () => {
    stopMatrixClient(alice);
    await bridge.close();
    await hs.close();
  });

  const waitFor = async <T>(list: T[], pred: (x: T) => boolean, ms = 10_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const found = list.find(pred);
      if (found) return found;
      if (Date.now() > end) throw new Error("timed out waiting for the bridge to receive it");
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it("a puppet registers, names itself, opens a DM and talks to a Matrix user", async () => {
    const puppet: Intent = bridge.getIntent("@gk_4915100:localhost");
    await puppet.setDisplayName("Bob (Gatekeeper)");
    const { room_id: roomId } = await puppet.createRoom({
      createAsClient: true,
      options: {
        is_direct: true,
        preset: "trusted_private_chat",
        invite: [ALICE],
        initial_state: [
          {
            type: "m.bridge",
            state_key: "gatekeeper://bob",
            content: { bridgebot: bridge.botUserId },
          },
        ],
      },
    });
    const invited = await waitForInvite(alice, (r) => r.roomId === roomId);
    await joinRoom(alice, invited);
    await puppet.sendText(roomId, "hello from the gatekeeper");
    const msg = await waitForText(
      alice,
      roomId,
      "hello from the gatekeeper",
      "@gk_4915100:localhost",
    );
    expect(alice.getRoom(roomId)!.getMember("@gk_4915100:localhost")!.name).toBe(
      "Bob (Gatekeeper)",
    );
    expect(msg.getSender()).toBe("@gk_4915100:localhost");

    await sendText(alice, roomId, "hello from matrix");
    const got = await waitFor(
      events,
      (e) => e.type === "m.room.message" && e.room_id === roomId && e.sender === ALICE,
    );
    expect(got.content).toMatchObject({ msgtype: "m.text", body: "hello from matrix" });

    const mxc = await puppet.uploadContent(Buffer.from("picture"), {
      type: "image/png",
      name: "p.png",
    });
    await puppet.sendMessage(roomId, { msgtype: "m.image", body: "p.png", url: mxc });
    const image = await waitForRoomEvent(
      alice,
      (e) => e.getRoomId() === roomId && e.getContent().msgtype === "m.image",
    );
    expect(image.getContent().url).toBe(mxc);
    const members = await puppet.matrixClient.getJoinedRoomMembers(roomId);
    expect(members.sort()).toEqual([ALICE, "@gk_4915100:localhost"].sort());

    await alice.sendTyping(roomId, true, 5_000);
    const typing = await waitFor(ephemeral, (e) => e.type === "m.typing" && e.room_id === roomId);
    expect(typing.content).toEqual({ user_ids: [ALICE] });
  });

  it("the homeserver asks the bridge about an unknown puppet before inviting it", async () => {
    const { room_id: roomId } = await alice.createRoom({
      is_direct: true,
      invite: ["@gk_newbie:localhost"],
    });
    const invite = await waitFor(
      events,
      (e) =>
        e.type === "m.room.member" &&
        e.state_key === "@gk_newbie:localhost" &&
        e.room_id === roomId,
    );
    expect(invite.content).toMatchObject({
      membership: "invite",
      is_direct: true,
      displayname: "Newbie (Gatekeeper)",
    });
    await bridge.getIntent("@gk_newbie:localhost").join(roomId);
    await waitForRoomEvent(
      alice,
      (e) =>
        e.getRoomId() === roomId &&
        e.getType() === "m.room.member" &&
        e.getStateKey() === "@gk_newbie:localhost" &&
        e.getContent().membership === "join",
    );
    expect(hs.internalErrors).toEqual([]);
  });
});
