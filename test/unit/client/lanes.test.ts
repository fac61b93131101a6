import { describe, expect, it } from "vitest";
import { KeyedLanes } from "../../../src/gatekeeper/client/lanes.js";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lets every promise callback that is ready run (tasks start after a microtask hop). */
const settled = () => tick(0);

/** A task that logs its start and end and finishes only when released. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const open = new Promise<void>((r) => (release = r));
  const task = async () => {
    log.push(`start ${name}`);
    await open;
    log.push(`end ${name}`);
  };
  return { task, release };
}

const noErrors = (err: unknown) => {
  throw new Error(`unexpected task failure: ${String(err)}`);
};

describe("KeyedLanes", () => {
  it("runs the tasks of one key one after the other, in push order", async () => {
    const lanes = new KeyedLanes(4);
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await tick(ms);
      log.push(`end ${name}`);
    };
    lanes.push("alice", task("1", 30), noErrors);
    lanes.push("alice", task("2", 1), noErrors);
    lanes.push("alice", task("3", 10), noErrors);
    await lanes.idle();
    expect(log).toEqual(["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  it("runs other keys while one key's task is stalled; the stalled key's later tasks wait", async () => {
    const lanes = new KeyedLanes(4);
    const log: string[] = [];
    const stalled = gate(log, "a1");
    lanes.push("a", stalled.task, noErrors);
    lanes.push("a", async () => void log.push("a2"), noErrors);
    lanes.push("b", async () => void log.push("b1"), noErrors);
    lanes.push("b", async () => void log.push("b2"), noErrors);
    await settled();
    expect(log).toEqual(["start a1", "b1", "b2"]);
    expect(lanes.size).toBe(2);

    stalled.release();
    await lanes.idle();
    expect(log).toEqual(["start a1", "b1", "b2", "end a1", "a2"]);
    expect(lanes.size).toBe(0);
  });

  it("runs at most maxRunning tasks at once; a stalled key holds one slot only", async () => {
    const lanes = new KeyedLanes(2);
    const log: string[] = [];
    const a = gate(log, "a");
    const b = gate(log, "b");
    lanes.push("a", a.task, noErrors);
    lanes.push("a", async () => void log.push("a again"), noErrors);
    lanes.push("b", b.task, noErrors);
    lanes.push("c", async () => void log.push("c"), noErrors);
    await settled();
    expect(log).toEqual(["start a", "start b"]); // c waits for a slot

    b.release();
    await settled();
    // c gets b's slot; "a again" still waits behind the stalled a, in a's lane.
    expect(log).toEqual(["start a", "start b", "end b", "c"]);

    a.release();
    await lanes.idle();
    expect(log.slice(4)).toEqual(["end a", "a again"]);
  });

  it("gives a slot back after every task, so a long lane takes turns with the others", async () => {
    const lanes = new KeyedLanes(1);
    const log: string[] = [];
    for (const i of [1, 2, 3]) lanes.push("busy", async () => void log.push(`busy ${i}`), noErrors);
    lanes.push("quiet", async () => void log.push("quiet"), noErrors);
    await lanes.idle();
    expect(log).toEqual(["busy 1", "quiet", "busy 2", "busy 3"]);
  });

  it("runs a barrier after everything pushed before it, without holding up what came after", async () => {
    const lanes = new KeyedLanes(4);
    const log: string[] = [];
    const a = gate(log, "a");
    lanes.push("a", a.task, noErrors);
    lanes.push("b", async () => void log.push("b"), noErrors);
    lanes.barrier(async () => void log.push("barrier"), noErrors);
    lanes.push("c", async () => void log.push("c after"), noErrors);
    lanes.push("a", async () => void log.push("a after"), noErrors);
    await settled();
    expect(log).toEqual(["start a", "b", "c after"]);

    a.release();
    await lanes.idle();
    // The barrier and "a after" are not ordered against each other: both only follow "end a".
    expect(log.slice(0, 4)).toEqual(["start a", "b", "c after", "end a"]);
    expect(log.slice(4).sort()).toEqual(["a after", "barrier"]);
  });

  it("idle() waits for every lane and for barriers", async () => {
    const lanes = new KeyedLanes(4);
    const log: string[] = [];
    const a = gate(log, "a");
    lanes.push("a", a.task, noErrors);
    lanes.push("b", async () => void log.push("b"), noErrors);
    lanes.barrier(async () => void log.push("barrier"), noErrors);
    let idle = false;
    const waiting = lanes.idle().then(() => (idle = true));
    await tick(20);
    expect(idle).toBe(false);

    a.release();
    await waiting;
    expect(log).toEqual(["start a", "b", "end a", "barrier"]);
    await expect(new KeyedLanes(1).idle()).resolves.toBeUndefined();
  });

  it("reports a failing task and goes on with its lane; a throwing reporter frees the slot", async () => {
    const lanes = new KeyedLanes(1);
    const log: string[] = [];
    const errors: string[] = [];
    const report = (err: unknown) => void errors.push((err as Error).message);
    lanes.push("a", async () => Promise.reject(new Error("a1 failed")), report);
    lanes.push("a", async () => void log.push("a2"), report);
    lanes.push(
      "b",
      async () => Promise.reject(new Error("b1 failed")),
      () => {
        throw new Error("the reporter failed too");
      },
    );
    lanes.push("b", async () => void log.push("b2"), report);
    lanes.barrier(async () => Promise.reject(new Error("barrier failed")), report);
    await lanes.idle();
    expect(log).toEqual(["a2", "b2"]);
    expect(errors).toEqual(["a1 failed", "barrier failed"]);
    expect(lanes.size).toBe(0);
  });

  it("refuses a bound that would run nothing", () => {
    expect(() => new KeyedLanes(0)).toThrow(RangeError);
  });
});
