import { describe, expect, it } from "vitest";
import { KeyedLock, SerialQueue } from "../../../src/gatekeeper/client/serial.js";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("KeyedLock", () => {
  it("runs tasks of one key one after the other, in call order", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await tick(ms);
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      lock.run("k", task("1", 30)),
      lock.run("k", task("2", 1)),
      lock.run("k", task("3", 1)),
    ]);
    expect(results).toEqual(["1", "2", "3"]);
    expect(log).toEqual(["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  it("does not hold up other keys, and a failed task releases the lock", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const slow = lock.run("a", async () => {
      await tick(30);
      log.push("a");
    });
    await lock.run("b", async () => void log.push("b"));
    await slow;
    expect(log).toEqual(["b", "a"]);
    await expect(lock.run("a", async () => Promise.reject(new Error("boom")))).rejects.toThrow(
      "boom",
    );
    await expect(lock.run("a", async () => "after")).resolves.toBe("after");
  });
});

describe("SerialQueue", () => {
  it("runs tasks in order, reports failures and goes on", async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    const errors: unknown[] = [];
    queue.push(
      async () => {
        await tick(20);
        log.push("1");
      },
      (e) => errors.push(e),
    );
    queue.push(
      async () => Promise.reject(new Error("2 failed")),
      (e) => errors.push(e),
    );
    queue.push(
      async () => void log.push("3"),
      (e) => errors.push(e),
    );
    expect(queue.size).toBe(3);
    await queue.idle();
    expect(log).toEqual(["1", "3"]);
    expect(errors.map((e) => (e as Error).message)).toEqual(["2 failed"]);
    expect(queue.size).toBe(0);
  });
});
