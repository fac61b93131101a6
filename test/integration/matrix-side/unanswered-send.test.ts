/**
 * A send the homeserver stored but never answered, and whose txn id it then forgot (Synapse
 * keeps txn ids in memory: a restart between the two attempts forgets them). The retry must
 * find the first event instead of posting the message twice. A proxy in front of the test
 * homeserver plays that homeserver: it drops the answer to the first attempt and hides the
 * txn id of the next ones.
 */
import { once } from "node:events";
import { createServer, request } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { MatrixSideHandle } from "../../../src/matrix/appservice.js";
import { defaultPortalTopic } from "../../../src/matrix/room-content.js";
import { createFixture } from "./fixture.js";
import type { Fixture } from "./fixture.js";

const SEND = /^(\/_matrix\/client\/v3\/rooms\/[^/]+\/send\/m\.room\.message\/)([^/?]+)(.*)$/;

let fx: Fixture;
let proxy: Server;
let handle: MatrixSideHandle;

/** Forwards to the homeserver; the first send of each txn id is stored but not answered. */
async function forgetfulProxy(target: string): Promise<Server> {
  const seen = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let path = req.url ?? "/";
    const send = req.method === "PUT" ? SEND.exec(path) : null;
    let dropAnswer = false;
    if (send) {
      const txnId = send[2]!;
      if (seen.has(txnId)) path = `${send[1]}${txnId}.forgotten${send[3]}`;
      else dropAnswer = true;
      seen.add(txnId);
    }
    const upstream = request(`${target}${path}`, { method: req.method, headers: req.headers });
    upstream.on("response", (answer) => {
      if (dropAnswer) {
        answer.resume();
        answer.on("end", () => res.socket?.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.socket?.destroy());
    req.pipe(upstream);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

beforeEach(async () => {
  fx = await createFixture();
  proxy = await forgetfulProxy(fx.hs.url);
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  handle = await fx.start({
    config: { ...fx.config, homeserver: { ...fx.config.homeserver, url } },
  });
});

afterEach(async () => {
  await fx.close();
  proxy.close();
});

it("posts a message once when the first attempt was stored but not answered", async () => {
  const user = await fx.hs.registerUser("alice");
  const puppet = await handle.matrixSide.ensurePuppet("482910375561204@lid.gk", "Bob");
  const roomId = await handle.matrixSide.createPortalRoom({
    puppetMxid: puppet,
    userMxid: user.userId,
    name: "Bob",
    topic: defaultPortalTopic("Bob"),
    bridgeInfo: {
      protocolId: "gatekeeper",
      protocolName: "Gatekeeper",
      channelId: "c",
      channelName: "Bob",
    },
  });
  const content = { kind: "text", text: "only once" } as const;

  // The answer never comes (the connection breaks): the send looks for its event before
  // sending again (under a txn id the homeserver forgot), finds it, and posts nothing more.
  const eventId = await handle.matrixSide.sendMessage(roomId, puppet, content, "login/m1");

  const posted = fx.hs
    .timeline(roomId)
    .filter((e) => e.type === "m.room.message" && e.sender === puppet);
  expect(posted.map((e) => (e.content as { body?: string }).body)).toEqual(["only once"]);
  expect(posted[0]!.event_id).toBe(eventId);
});
