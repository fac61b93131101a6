import { describe, expect, it } from "vitest";
import type { Bridge } from "../../../src/matrix/appservice-bridge.js";
import { AppserviceMatrixSide } from "../../../src/matrix/matrix-side.js";

/** The side on a fake bridge whose bot records the requests it makes. */
function sideWith(successStatuses: boolean): { side: AppserviceMatrixSide; requests: string[] } {
  const requests: string[] = [];
  const intent = {
    matrixClient: {
      doRequest: async (method: string, path: string, _qs: unknown, body: unknown) => {
        requests.push(
          `${method} ${path.split("/send/")[1]?.split("/")[0]} ${JSON.stringify(body)}`,
        );
        return { event_id: `$e${requests.length}` };
      },
    },
  };
  const bridge = { botUserId: "@bot:example.org", getIntent: () => intent } as unknown as Bridge;
  const side = new AppserviceMatrixSide({
    bridge,
    domain: "example.org",
    usernameTemplate: "gk_{{id}}",
    displaynameTemplate: "{{name}}",
    spaceName: "Chats",
    networkName: "Gatekeeper",
    successStatuses,
    users: { get: async () => undefined, setSpaceRoom: async () => undefined },
    toMatrix: () => ({ body: "" }) as never,
    membershipQueue: {} as never,
  });
  return { side, requests };
}

describe("bridge.message_status_events", () => {
  it("off: a message that went through gets no send status; a failed one does", async () => {
    const { side, requests } = sideWith(false);
    await side.sendStatus("!r:example.org", "$m", { status: "sent" });
    await side.sendStatus("!r:example.org", "$m", { status: "delivered", to: ["@b:example.org"] });
    expect(requests).toEqual([]);
    await side.sendStatus("!r:example.org", "$m", { status: "retrying", reason: "later" });
    await side.sendStatus("!r:example.org", "$m", { status: "failed", reason: "gone" });
    expect(requests.map((r) => r.split(" ")[1])).toEqual([
      "com.beeper.message_send_status",
      "com.beeper.message_send_status",
    ]);
    expect(requests[1]).toContain('"status":"FAIL_PERMANENT"');
  });

  it("on: every status is sent", async () => {
    const { side, requests } = sideWith(true);
    await side.sendStatus("!r:example.org", "$m", { status: "sent" });
    await side.sendStatus("!r:example.org", "$m", { status: "delivered", to: ["@b:example.org"] });
    expect(requests).toHaveLength(2);
    expect(requests[0]).toContain('"status":"SUCCESS"');
  });
});
