import { describe, expect, it } from "vitest";
import type { MatrixEventSink } from "../../../src/core/matrix-events.js";
import { EphemeralIntake } from "../../../src/matrix/ephemeral-intake.js";

const ROOM = "!portal:hs";
const ALICE = "@alice:hs";
const BOB = "@bob:hs";
const PUPPET = "@gk_123:hs";

/** A sink that writes down what reached the core, in order. */
class Recorder implements MatrixEventSink {
  readonly calls: string[] = [];
  private waiters: (() => void)[] = [];
  failNext = false;
  slowNext = 0;

  async onRoomMessage(): Promise<void> {}
  async onBotInvited(): Promise<void> {}
  async onMembership(): Promise<void> {}
  async onReadReceipt(roomId: string, user: string, eventId: string, ts: number) {
    await this.record(`receipt ${roomId} ${user} ${eventId} ${ts}`);
  }
  async onTyping(roomId: string, user: string, typing: boolean) {
    await this.record(`typing ${roomId} ${user} ${typing}`);
  }
  async onPresence(user: string, presence: string) {
    await this.record(`presence ${user} ${presence}`);
  }

  private async record(call: string): Promise<void> {
    if (this.slowNext > 0) {
      const ms = this.slowNext;
      this.slowNext = 0;
      await new Promise((r) => setTimeout(r, ms));
    }
    if (this.failNext) {
      this.failNext = false;
      throw new Error("the core failed (test)");
    }
    this.calls.push(call);
    for (const wake of this.waiters.splice(0)) wake();
  }

  async count(n: number): Promise<string[]> {
    while (this.calls.length < n) await new Promise<void>((r) => this.waiters.push(r));
    return this.calls;
  }
}

function intake(): { intake: EphemeralIntake; sink: Recorder } {
  const i = new EphemeralIntake({ isBridgeUser: (u) => u === PUPPET || u === "@bot:hs" });
  const sink = new Recorder();
  i.setSink(sink);
  return { intake: i, sink };
}

const typing = (userIds: string[]) => ({
  type: "m.typing",
  room_id: ROOM,
  content: { user_ids: userIds },
});

describe("ephemeral intake", () => {
  it("turns m.typing's lists into starts and stops of real users", async () => {
    const { intake: i, sink } = intake();
    i.handle([typing([ALICE, PUPPET])]);
    i.handle([typing([ALICE, BOB])]);
    i.handle([typing([])]);
    expect(await sink.count(4)).toEqual([
      `typing ${ROOM} ${ALICE} true`,
      `typing ${ROOM} ${BOB} true`,
      `typing ${ROOM} ${ALICE} false`,
      `typing ${ROOM} ${BOB} false`,
    ]);
  });

  it("passes on public read receipts of real users and never private ones", async () => {
    const { intake: i, sink } = intake();
    i.handle([
      {
        type: "m.receipt",
        room_id: ROOM,
        content: {
          $one: { "m.read.private": { [ALICE]: { ts: 1 } }, "m.read": { [PUPPET]: { ts: 2 } } },
          $two: { "m.read": { [ALICE]: { ts: 3, thread_id: "main" } } },
        },
      },
    ]);
    i.handle([typing([BOB])]); // a fence: same room, so handled after the receipts
    expect(await sink.count(2)).toEqual([
      `receipt ${ROOM} ${ALICE} $two 3`,
      `typing ${ROOM} ${BOB} true`,
    ]);
  });

  it("passes on presence of real users only", async () => {
    const { intake: i, sink } = intake();
    i.handle([
      { type: "m.presence", sender: PUPPET, content: { presence: "online" } },
      { type: "m.presence", sender: ALICE, content: { presence: "busy" } },
      { type: "m.presence", sender: ALICE, content: { presence: "unavailable" } },
    ]);
    expect(await sink.count(1)).toEqual([`presence ${ALICE} unavailable`]);
  });

  it("keeps a room's order when the core is slow, and goes on after a failure", async () => {
    const { intake: i, sink } = intake();
    sink.slowNext = 50;
    i.handle([typing([ALICE])]);
    i.handle([typing([])]);
    expect(await sink.count(2)).toEqual([
      `typing ${ROOM} ${ALICE} true`,
      `typing ${ROOM} ${ALICE} false`,
    ]);
    sink.failNext = true;
    i.handle([typing([BOB]), typing([BOB, ALICE])]);
    expect((await sink.count(3)).slice(2)).toEqual([`typing ${ROOM} ${ALICE} true`]);
  });

  it("ignores malformed data and drops everything once stopped", async () => {
    const { intake: i, sink } = intake();
    i.handle([
      { type: "m.typing", content: { user_ids: [ALICE] } },
      { type: "m.receipt", room_id: ROOM, content: "nonsense" },
      { type: "m.presence", content: { presence: "online" } },
    ]);
    await i.stop();
    i.handle([typing([ALICE])]);
    await i.stop(); // waits for anything still queued
    expect(sink.calls).toEqual([]);
  });
});
