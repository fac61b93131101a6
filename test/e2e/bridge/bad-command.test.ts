/**
 * One bad command does not hold up its room (issue 7, item 4). Against Synapse a huge unknown
 * command was echoed whole in the bot's answer, which the homeserver refused (413
 * M_TOO_LARGE); the bridge retried that for two minutes while every later command waited.
 * Now answers quote a short excerpt and text is made well-formed before it is sent.
 *
 * The homeserver refuses an event over 64 KiB from the client as well, so the "huge" command
 * is the largest one it takes: echoed whole, the answer would be just over the limit.
 */
import { MsgType } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BridgeWorld } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";

/** How soon a command after a bad one must be answered. */
const PROMPT_MS = 5_000;

describe("a bad command in the management room", () => {
  let w: BridgeWorld;
  let alice: MatrixActor;
  let mgmt: string;

  beforeAll(async () => {
    w = await BridgeWorld.create("bad-command");
    await w.startBridge();
    alice = await w.matrixUser("alice");
    mgmt = await alice.openManagementRoom();
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  it("gets a short answer to the largest command there can be, and `help` right after", async () => {
    const size = await largestAcceptedBody(alice);
    expect(size).toBeGreaterThan(60_000);
    const huge = "x".repeat(size);

    const hugeEvent = await alice.say(mgmt, huge);
    const helpSent = Date.now();
    const helpEvent = await alice.say(mgmt, "help");

    const help = await alice.noticeAfter(mgmt, helpEvent, PROMPT_MS, (b) =>
      b.includes("here no prefix is needed"),
    );
    expect(Date.now() - helpSent).toBeLessThan(PROMPT_MS);
    expect(help.getContent().body).toContain("`ping`");

    const answer = await alice.noticeAfter(mgmt, hugeEvent, PROMPT_MS, (b) =>
      b.startsWith("I do not know the command"),
    );
    const body = String(answer.getContent().body);
    expect(body).toBe(
      `I do not know the command \`${"x".repeat(99)}…\`. Send \`help\` for the list.`,
    );
    // Nothing said the command "could not be bridged".
    expect(alice.noticesAfter(mgmt, hugeEvent).filter((b) => b.includes("could not"))).toEqual([]);
  });

  it("answers a command with a lone surrogate normally, with U+FFFD in its place", async () => {
    // matrix-js-sdk sends it as the JSON escape "\ud800"; a homeserver may refuse it outright
    // (Synapse 1.67 answers 500). Then nothing reached the bridge, and it answers as ever.
    const sent = await alice
      .send(mgmt, { msgtype: MsgType.Text, body: "\ud800" })
      .catch((err: unknown) => err);
    if (typeof sent !== "string") {
      expect(await alice.command(mgmt, "ping")).toBe(
        "Pong: the bridge is running, you are not logged in.",
      );
      return;
    }
    const eventId = sent;
    const answer = await alice.noticeAfter(mgmt, eventId, PROMPT_MS);
    expect(answer.getContent().body).toBe(
      "I do not know the command `\ufffd`. Send `help` for the list.",
    );
    expect(await alice.command(mgmt, "ping")).toBe(
      "Pong: the bridge is running, you are not logged in.",
    );
  });
});

/**
 * The longest text body the homeserver takes from `user`, found in a room of their own (the
 * bridge never sees it), less a few bytes for a room id of another length. Plain client-server
 * requests, so matrix-js-sdk keeps no failed local echoes around.
 */
async function largestAcceptedBody(user: MatrixActor): Promise<number> {
  const { room_id: roomId } = await user.client.createRoom({ preset: "private_chat" as never });
  const base = `${user.client.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message`;
  let txn = 0;
  const accepted = async (size: number): Promise<boolean> => {
    for (;;) {
      const res = await fetch(`${base}/probe-${Date.now()}-${txn++}`, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${user.client.getAccessToken()}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ msgtype: "m.text", body: "x".repeat(size) }),
      });
      if (res.ok) return true;
      const err = (await res.json().catch(() => ({}))) as { retry_after_ms?: number };
      if (res.status === 429) {
        await new Promise((r) => setTimeout(r, err.retry_after_ms ?? 1_000));
        continue;
      }
      if (res.status === 413) return false;
      throw new Error(`probe of ${size} bytes: HTTP ${res.status}`);
    }
  };
  let lo = 1_000; // accepted
  let hi = 65_536; // refused: the whole event must fit
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await accepted(mid)) lo = mid;
    else hi = mid;
  }
  return lo - 16;
}
